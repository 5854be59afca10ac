/* gemm_q8s_avx512.c — the q8_0 and q4_0 kernels on x16 groups
 * (kernels/gemm.h) with AVX512-VNNI: the same bits as kernels/ref/gemm_ref.c.
 *
 * A 64-byte load of an x16 block holds 4 consecutive values of each of the
 * 16 rows, one row per 32-bit lane; vpdpbusd multiplies them by the token's
 * matching 4 quants, broadcast from memory, and adds the 4 products into the
 * row's lane: 64 multiply-adds per instruction, no shuffle, no horizontal
 * sum. vpdpbusd takes unsigned times signed bytes, so:
 *  - q4_0's nibbles are 0..15 as they are, and the offset of 8 comes from
 *    the block sum: each lane starts at -8 s_x;
 *  - q8_0's signed quants are flipped to unsigned (q + 128, an xor with
 *    0x80) and each lane starts at -128 s_x.
 * Either way the block's integer sum is exact, and then, per block,
 *     acc = fma((float)isum, d_w * d_x, acc)
 * as the reference does. A register tile of 2 groups x 4 tokens keeps 8
 * integer sums, 8 float accumulators and the weights of a chunk (4 vectors
 * for q4_0's low and high nibbles) in registers. */
#include <immintrin.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "kernels/gemm.h"

#define INLINE static inline __attribute__((always_inline))
#define UNROLL _Pragma("GCC unroll 8")

enum { W_Q8_0, W_Q4_0 };

#define QZ_G 2    /* groups of 16 rows in a prefill register tile */
#define QZ_T 4    /* tokens in a prefill register tile */
#define QZ_MAXG 4 /* decode: 4 groups x 1 token */

/* The 4 quants of a q8s row at q + i, broadcast to every lane. */
INLINE __m512i bcast4(const int8_t *q) {
    int32_t v;
    memcpy(&v, q, 4);
    return _mm512_set1_epi32(v);
}

/* One register tile: G groups (group g's blocks from w[g]) x NT tokens
 * (q8s rows x[j]; tokens j >= ntok are computed but not stored), all nb
 * blocks of K = 32 nb columns. */
INLINE void tile_run(float *y, size_t ldy, const char *const *w, const char *const *x, int K, bool add, int ntok,
                     const int G, const int NT, const int wt) {
    const int nb = K / 32;
    const size_t bb = wt == W_Q8_0 ? SL_X16_BLOCK_Q8_0 : SL_X16_BLOCK_Q4_0;
    const int off = wt == W_Q8_0 ? 128 : 8;
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
        __m512i s[QZ_MAXG][QZ_T];
        UNROLL
        for (int j = 0; j < NT; j++) {
            const __m512i s0 = _mm512_set1_epi32(-off * sx[j][b]);
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
                    v[g] = _mm512_xor_si512(_mm512_loadu_si512(w[g] + (size_t)b * bb + 32 + 64 * c), flip);
                UNROLL
                for (int j = 0; j < NT; j++) {
                    const __m512i xb = bcast4(q[j] + 32 * b + 4 * c);
                    UNROLL
                    for (int g = 0; g < G; g++) s[g][j] = _mm512_dpbusd_epi32(s[g][j], v[g], xb);
                }
            }
        } else {
            const __m512i lo4 = _mm512_set1_epi8(0x0F);
            UNROLL
            for (int m = 0; m < 4; m++) {
                __m512i lo[QZ_MAXG], hi[QZ_MAXG];
                UNROLL
                for (int g = 0; g < G; g++) {
                    const __m512i v = _mm512_loadu_si512(w[g] + (size_t)b * bb + 32 + 64 * m);
                    lo[g] = _mm512_and_si512(v, lo4);
                    hi[g] = _mm512_and_si512(_mm512_srli_epi16(v, 4), lo4);
                }
                UNROLL
                for (int j = 0; j < NT; j++) {
                    const __m512i xl = bcast4(q[j] + 32 * b + 4 * m), xh = bcast4(q[j] + 32 * b + 16 + 4 * m);
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
            UNROLL
            for (int j = 0; j < NT; j++)
                a[g][j] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s[g][j]), _mm512_mul_ps(dw, _mm512_set1_ps(dx[j][b])), a[g][j]);
        }
    }
    UNROLL
    for (int g = 0; g < G; g++)
        UNROLL
        for (int j = 0; j < NT; j++) {
            if (j >= ntok) continue;
            float *o = y + j * ldy + 16 * g;
            _mm512_storeu_ps(o, add ? _mm512_add_ps(_mm512_loadu_ps(o), a[g][j]) : a[g][j]);
        }
}

INLINE void tile_any(float *y, size_t ldy, const char *const *w, const char *const *x, int K, bool add, int ntok,
                     int G, int NT, const int wt) {
#define TILE(g, n) tile_run(y, ldy, w, x, K, add, ntok, g, n, wt)
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
    for (int r = 0; r < nr;) {
        const int left = (nr - r) / 16;
        const int G = nt == 1 ? (left < QZ_MAXG ? left : QZ_MAXG) : left < QZ_G ? left : QZ_G;
        const char *w[QZ_MAXG] = {0};
        for (int g = 0; g < G; g++) w[g] = W + (size_t)(r + 16 * g) * w_row;
        for (int t = 0; t < nt;) {
            const int NT = nt == 1 ? 1 : QZ_T, ntok = nt - t < NT ? nt - t : NT;
            const char *x[QZ_T];
            for (int j = 0; j < NT; j++) x[j] = xq + (size_t)(t + (j < ntok ? j : ntok - 1)) * x_row;
            tile_any(y + (size_t)t * ldy + r, ldy, w, x, K, acc, ntok, G, NT, wt);
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
