/* gemm_q8s_avx512.c — the q8_0 and q4_0..q5_1 kernels on x16 groups
 * (kernels/gemm.h) with AVX512-VNNI: the same bits as kernels/ref/gemm_ref.c.
 *
 * A 64-byte load of an x16 block holds 4 consecutive values of each of the
 * 16 rows, one row per 32-bit lane; vpdpbusd multiplies them by the token's
 * matching 4 quants, broadcast from memory, and adds the 4 products into the
 * row's lane: 64 multiply-adds per instruction, no shuffle, no horizontal
 * sum. vpdpbusd takes unsigned times signed bytes, so:
 *  - q4_0's nibbles are 0..15 as they are, and the offset of 8 comes from
 *    the block sum: each lane starts at -8 s_x; q5_0's fifth bits make
 *    them 0..31 and the offset 16; q4_1 and q5_1 have none (their min
 *    term follows the block's sum, as in the reference);
 *  - q8_0's signed quants are flipped to unsigned (q + 128, an xor with
 *    0x80) and each lane starts at -128 s_x.
 * Either way the block's integer sum is exact, and then, per block,
 *     acc = fma((float)isum, d_w * d_x, acc)
 * as the reference does (and acc = fma(m_w, d_x s_x, acc) for q4_1, q5_1).
 * The fifth bits of 4 values (qh bits 4m .. 4m + 3 of each row, a 32-bit
 * lane) become bit 4 of 4 bytes with one multiply: (b & 0xF) * 0x00204081
 * puts bit k at bit 8k (and nowhere else among bits 0, 8, 16, 24), and a
 * mask keeps those. A register tile of 2 groups x 4 tokens keeps 8
 * integer sums, 8 float accumulators and the weights of a chunk (4 vectors
 * for q4_0's low and high nibbles) in registers. */
#include <immintrin.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "kernels/gemm.h"
#include "kernels/x86/x16_avx512.h"

#define INLINE static inline __attribute__((always_inline))
#define UNROLL _Pragma("GCC unroll 8")

enum { W_Q8_0, W_Q4_0, W_Q4_1, W_Q5_0, W_Q5_1 };

#define QZ_G 2    /* groups of 16 rows in a prefill register tile */
#define QZ_T 4    /* tokens in a prefill register tile */
#define QZ_MAXG 4 /* decode: up to 4 groups x 1 token */
/* Decode reads the call's groups as QZ_DG runs side by side, one group of
 * each per tile, each run in order with a software prefetch QZ_AHEAD bytes
 * ahead: a thread's share of a small matrix is a few short 16-row streams,
 * too short for the hardware prefetchers to learn in time (the K-quant
 * x16 decode measured the same, x86/gemm_k_avx512.c). 4 adjacent groups
 * without prefetch decoded the 134m q4_0 model 15% slower than the AVX2 x8
 * kernel. */
#define QZ_DG 3
#define QZ_AHEAD 2048

/* One register tile: G groups (group g's blocks from w[g]) x NT tokens
 * (q8s rows x[j]; tokens j >= ntok are computed but not stored), all nb
 * blocks of K = 32 nb columns. */
INLINE void tile_run(float *y, size_t ldy, size_t ystep, const char *const *w, const char *const *x, int K, bool add,
                     int ntok, const int G, const int NT, const int wt) {
    const int nb = K / 32;
    const bool min = wt == W_Q4_1 || wt == W_Q5_1, five = wt == W_Q5_0 || wt == W_Q5_1;
    /* block bytes, and where the mins, fifth bits and quants start */
    const size_t bb = wt == W_Q8_0 ? 544 : wt == W_Q4_0 ? 288 : wt == W_Q4_1 ? 320 : wt == W_Q5_0 ? 352 : 384;
    const size_t om = 32, oh = wt == W_Q5_1 ? 64 : 32, oq = bb - (wt == W_Q8_0 ? 512 : 256);
    const int off = wt == W_Q8_0 ? 128 : wt == W_Q4_0 ? 8 : wt == W_Q5_0 ? 16 : 0;
    const int8_t *q[QZ_T];
    const float *dx[QZ_T];
    const int32_t *sx[QZ_T];
    UNROLL
    for (int j = 0; j < NT; j++) {
        q[j] = (const int8_t *)x[j];
        dx[j] = (const float *)(const void *)(x[j] + K);
        sx[j] = (const int32_t *)(const void *)(x[j] + K + (size_t)nb * 4);
    }
    __m512 a[QZ_MAXG][QZ_T];
    UNROLL
    for (int g = 0; g < G; g++)
        UNROLL
        for (int j = 0; j < NT; j++) a[g][j] = _mm512_setzero_ps();
    for (int b = 0; b < nb; b++) {
        if (NT == 1) /* decode: the lines QZ_AHEAD past this block of each run */
            UNROLL
            for (int g = 0; g < G; g++)
                for (size_t l = 0; l < bb; l += 64) _mm_prefetch(w[g] + (size_t)b * bb + QZ_AHEAD + l, _MM_HINT_T0);
        __m512i s[QZ_MAXG][QZ_T];
        UNROLL
        for (int j = 0; j < NT; j++) {
            const __m512i s0 = off ? _mm512_set1_epi32(-off * sx[j][b]) : _mm512_setzero_si512();
            UNROLL
            for (int g = 0; g < G; g++) s[g][j] = s0;
        }
        if (wt == W_Q8_0) {
            const __m512i flip = _mm512_set1_epi8((char)0x80);
            UNROLL
            for (int c = 0; c < 8; c++) {
                __m512i v[QZ_MAXG];
                UNROLL
                for (int g = 0; g < G; g++)
                    v[g] = _mm512_xor_si512(_mm512_loadu_si512(w[g] + (size_t)b * bb + oq + 64 * c), flip);
                UNROLL
                for (int j = 0; j < NT; j++) {
                    const __m512i xb = x16_bcast4(q[j] + 32 * b + 4 * c);
                    UNROLL
                    for (int g = 0; g < G; g++) s[g][j] = _mm512_dpbusd_epi32(s[g][j], v[g], xb);
                }
            }
        } else {
            const __m512i lo4 = _mm512_set1_epi8(0x0F), nib = _mm512_set1_epi32(0xF), spread = _mm512_set1_epi32(0x00204081),
                          bit4 = _mm512_set1_epi32(0x10101010);
            __m512i qh[QZ_MAXG];
            UNROLL
            for (int g = 0; g < G; g++)
                qh[g] = five ? _mm512_loadu_si512(w[g] + (size_t)b * bb + oh) : _mm512_setzero_si512();
            UNROLL
            for (int m = 0; m < 4; m++) {
                __m512i lo[QZ_MAXG], hi[QZ_MAXG];
                UNROLL
                for (int g = 0; g < G; g++) {
                    const __m512i v = _mm512_loadu_si512(w[g] + (size_t)b * bb + oq + 64 * m);
                    lo[g] = _mm512_and_si512(v, lo4);
                    hi[g] = _mm512_and_si512(_mm512_srli_epi16(v, 4), lo4);
                    if (five) { /* bits 4m.. and 16 + 4m.. of qh to bit 4 of each byte */
                        const __m512i bl = _mm512_and_si512(_mm512_srli_epi32(qh[g], 4 * m), nib);
                        const __m512i bh = _mm512_and_si512(_mm512_srli_epi32(qh[g], 16 + 4 * m), nib);
                        lo[g] = _mm512_or_si512(lo[g], _mm512_and_si512(_mm512_slli_epi32(_mm512_mullo_epi32(bl, spread), 4), bit4));
                        hi[g] = _mm512_or_si512(hi[g], _mm512_and_si512(_mm512_slli_epi32(_mm512_mullo_epi32(bh, spread), 4), bit4));
                    }
                }
                UNROLL
                for (int j = 0; j < NT; j++) {
                    const __m512i xl = x16_bcast4(q[j] + 32 * b + 4 * m), xh = x16_bcast4(q[j] + 32 * b + 16 + 4 * m);
                    UNROLL
                    for (int g = 0; g < G; g++) {
                        s[g][j] = _mm512_dpbusd_epi32(s[g][j], lo[g], xl);
                        s[g][j] = _mm512_dpbusd_epi32(s[g][j], hi[g], xh);
                    }
                }
            }
        }
        UNROLL
        for (int g = 0; g < G; g++) {
            const __m512 dw = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(const void *)(w[g] + (size_t)b * bb)));
            const __m512 mw = min ? _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(const void *)(w[g] + (size_t)b * bb + om)))
                                  : _mm512_setzero_ps();
            UNROLL
            for (int j = 0; j < NT; j++) {
                a[g][j] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s[g][j]), _mm512_mul_ps(dw, _mm512_set1_ps(dx[j][b])), a[g][j]);
                if (min) a[g][j] = _mm512_fmadd_ps(mw, _mm512_set1_ps(dx[j][b] * (float)sx[j][b]), a[g][j]);
            }
        }
    }
    UNROLL
    for (int g = 0; g < G; g++)
        UNROLL
        for (int j = 0; j < NT; j++) {
            if (j >= ntok) continue;
            float *o = y + j * ldy + ystep * g;
            _mm512_storeu_ps(o, add ? _mm512_add_ps(_mm512_loadu_ps(o), a[g][j]) : a[g][j]);
        }
}

INLINE void tile_any(float *y, size_t ldy, size_t ystep, const char *const *w, const char *const *x, int K, bool add,
                     int ntok, int G, int NT, const int wt) {
#define TILE(g, n) tile_run(y, ldy, ystep, w, x, K, add, ntok, g, n, wt)
    if (NT == 1) {
        if (G == 4) TILE(4, 1);
        else if (G == 3) TILE(3, 1);
        else if (G == 2) TILE(2, 1);
        else TILE(1, 1);
    } else if (G == 2) {
        TILE(2, 4);
    } else {
        TILE(1, 4);
    }
#undef TILE
}

/* Row tiles of up to 2 groups (36 KB of q4_0 at K = 2048: L1), each
 * against every token tile in turn. nr % 16 == 0. */
INLINE void q8s_x16(float *y, size_t ldy, const char *W, size_t w_row, const char *xq, size_t x_row, int nr, int nt,
                    int K, bool acc, const int wt) {
    if (nt == 1) { /* decode: QZ_DG runs of h groups, then the groups left over one by one */
        const int ng = nr / 16, h = ng / QZ_DG;
        for (int i = 0, G, g0; x16_decode_tile(i, ng, QZ_DG, &G, &g0); i++) {
            const char *w[QZ_MAXG] = {0};
            for (int g = 0; g < G; g++) w[g] = W + (size_t)16 * (size_t)(g0 + g * h) * w_row;
            tile_any(y + 16 * (size_t)g0, ldy, (size_t)16 * (size_t)h, w, &xq, K, acc, 1, G, 1, wt);
        }
        return;
    }
    for (int r = 0; r < nr;) {
        const int left = (nr - r) / 16;
        const int G = left < QZ_G ? left : QZ_G;
        const char *w[QZ_MAXG] = {0};
        for (int g = 0; g < G; g++) w[g] = W + (size_t)(r + 16 * g) * w_row;
        for (int t = 0; t < nt;) {
            const int NT = QZ_T, ntok = nt - t < NT ? nt - t : NT;
            const char *x[QZ_T];
            for (int j = 0; j < NT; j++) x[j] = xq + (size_t)(t + (j < ntok ? j : ntok - 1)) * x_row;
            tile_any(y + (size_t)t * ldy + r, ldy, 16, w, x, K, acc, ntok, G, NT, wt);
            t += ntok;
        }
        r += 16 * G;
    }
}

void sl_gemm_q8_0x16_avx512(float *y, size_t ldy, const void *W, size_t w_row, const void *xq,
                            size_t x_row, int nr, int nt, int K, bool acc) {
    q8s_x16(y, ldy, W, w_row, xq, x_row, nr, nt, K, acc, W_Q8_0);
}

void sl_gemm_q4_0x16_avx512(float *y, size_t ldy, const void *W, size_t w_row, const void *xq,
                            size_t x_row, int nr, int nt, int K, bool acc) {
    q8s_x16(y, ldy, W, w_row, xq, x_row, nr, nt, K, acc, W_Q4_0);
}

void sl_gemm_q4_1x16_avx512(float *y, size_t ldy, const void *W, size_t w_row, const void *xq,
                            size_t x_row, int nr, int nt, int K, bool acc) {
    q8s_x16(y, ldy, W, w_row, xq, x_row, nr, nt, K, acc, W_Q4_1);
}

void sl_gemm_q5_0x16_avx512(float *y, size_t ldy, const void *W, size_t w_row, const void *xq,
                            size_t x_row, int nr, int nt, int K, bool acc) {
    q8s_x16(y, ldy, W, w_row, xq, x_row, nr, nt, K, acc, W_Q5_0);
}

void sl_gemm_q5_1x16_avx512(float *y, size_t ldy, const void *W, size_t w_row, const void *xq,
                            size_t x_row, int nr, int nt, int K, bool acc) {
    q8s_x16(y, ldy, W, w_row, xq, x_row, nr, nt, K, acc, W_Q5_1);
}
