/* gemm_half_avx2.c — the half kernels (f16 and bf16 weights, f32x4
 * activations; kernels/gemm.h): one fused multiply-add chain per output
 * over the columns in order, the same bits as kernels/ref/gemm_ref.c.
 *
 * Eight rows sit in the lanes of a vector: an x8 group's column is one
 * 16-byte load, converted exactly to 8 floats, and each token's value of
 * that column is broadcast to all lanes. A register tile of 3 groups x 4
 * tokens (12 accumulators, 3 weight vectors, 1 broadcast: the 16 ymm
 * registers) does 12 multiply-adds per 3 vector loads and 4 scalar loads,
 * 76 bytes, where lanes along K (the f32 kernels' way: 4 rows x 3 tokens)
 * need 4 + 3 vector loads, 160 bytes of f32 activations and f16 weights,
 * more than L2 delivers to keep the multipliers busy. Two one-thread
 * processes side by side (K = 2048 and 5632, N = 2048 and 5632, T = 128)
 * ran the 3 x 4 outer product at 36-44 GMAC/s each, the lanes tile at
 * 29-40; 1.1B f16 prefill went from about 73 to 89 tok/s.
 *
 * The rows as stored (a matrix of rows not a multiple of 8, or all of them
 * under SL_NO_REPACK) are transposed into x8 runs on the stack, HR_KB
 * columns at a time, and go through the same tiles; the partial sums wait
 * in a small array between column blocks, so each output is still one
 * chain. That costs little in prefill (1.1B f16 pp128 0.9x of x8) but half
 * of decode's speed, which is why a tied f16 or bf16 embedding is repacked
 * too (model/model_repack.c). */
#include <immintrin.h>
#include <stdalign.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "kernels/gemm.h"
#include "kernels/x86/avx2_util.h"

#define INLINE static inline __attribute__((always_inline))
#define UNROLL _Pragma("GCC unroll 8")

enum { EL_F16, EL_BF16 };

#define HT_G 3 /* groups of 8 rows in a prefill register tile */
#define HT_T SL_F32X4_TOKENS
#define HT_MAXG 4 /* decode: 4 groups x 1 token, 4 chains */
#define HT_MAXT 8 /* a lone group takes two token tiles: 8 chains */
#define HR_KB 256 /* rows as stored: columns per transposed block (4 KB per group) */
#define HR_TC 32  /* rows as stored: tokens per block of partial sums */

/* The 8 values of a group's column as floats (exact). */
INLINE __m256 col8(const char *p, const int el) {
    const __m128i h = _mm_loadu_si128((const __m128i *)(const void *)p);
    if (el == EL_F16) return _mm256_cvtph_ps(h);
    /* bf16 is the top half of an f32: widen and shift */
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}

/* Lanes i < n (n may be <= 0 or > 8) of a mask for maskload/maskstore. */
INLINE __m256i row_mask(int n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

/* One register tile: G groups (column k of group g at w[g] + 16 k) x NT
 * tokens (token j's column k at x[j / 4][xs k + j % 4]; NT = 8 reads two
 * f32x4 tiles), columns 0 .. nk - 1 in order. The chains start at 0 (start) or
 * at the partial sums in y, and end in y[j * ldy + 8 g + i] for tokens
 * j < ntok and rows 8 g + i < nrow: added to y when add, else stored.
 * (Decode streams G = 4 groups from memory, four sequential runs the
 * hardware prefetchers follow: a software prefetch SL_X8_AHEAD bytes ahead
 * of each measured the same, 1.01-1.03x without it in model pairs; 8
 * groups at a time ran 0.88-0.94x of 4.) */
INLINE void tile_run(float *y, size_t ldy, const char *const *w, const float *const *x, size_t xs, int nk, bool start,
                     bool add, int nrow, int ntok, const int G, const int NT, const int el) {
    /* the loops over g and j unroll whole, so a[][] lives in registers; a
     * cut tile's rows past nrow are masked, its tokens past ntok skipped */
    __m256 a[HT_MAXG][HT_MAXT];
    UNROLL
    for (int g = 0; g < G; g++)
        UNROLL
        for (int j = 0; j < NT; j++)
            a[g][j] = start || j >= ntok   ? _mm256_setzero_ps()
                      : nrow >= 8 * g + 8 ? _mm256_loadu_ps(y + j * ldy + 8 * g)
                                          : _mm256_maskload_ps(y + j * ldy + 8 * g, row_mask(nrow - 8 * g));
    for (int k = 0; k < nk; k++) {
        __m256 wv[HT_MAXG];
        UNROLL
        for (int g = 0; g < G; g++) wv[g] = col8(w[g] + (size_t)k * SL_X8_HALF_COL, el);
        UNROLL
        for (int j = 0; j < NT; j++) {
            const __m256 b = _mm256_broadcast_ss(x[j / HT_T] + (size_t)k * xs + j % HT_T);
            UNROLL
            for (int g = 0; g < G; g++) a[g][j] = _mm256_fmadd_ps(wv[g], b, a[g][j]);
        }
    }
    /* (plain stores where all 8 rows are real: an all-ones mask would be a
     * constant the compiler keeps in a register through the loop, where 12
     * accumulators, 3 weights and a broadcast take all 16) */
    UNROLL
    for (int g = 0; g < G; g++)
        UNROLL
        for (int j = 0; j < NT; j++) {
            if (j >= ntok) continue;
            float *o = y + j * ldy + 8 * g;
            if (nrow >= 8 * g + 8) {
                _mm256_storeu_ps(o, add ? _mm256_add_ps(_mm256_loadu_ps(o), a[g][j]) : a[g][j]);
            } else {
                const __m256i m = row_mask(nrow - 8 * g);
                _mm256_maskstore_ps(o, m, add ? _mm256_add_ps(_mm256_maskload_ps(o, m), a[g][j]) : a[g][j]);
            }
        }
}

/* The tile shapes in use, chosen at run time (G groups, NT tokens). */
INLINE void tile_any(float *y, size_t ldy, const char *const *w, const float *const *x, size_t xs, int nk, bool start,
                     bool add, int nrow, int ntok, int G, int NT, const int el) {
#define TILE(g, n) tile_run(y, ldy, w, x, xs, nk, start, add, nrow, ntok, g, n, el)
    if (NT == 1) {
        if (G == 4) TILE(4, 1);
        else if (G == 3) TILE(3, 1);
        else if (G == 2) TILE(2, 1);
        else TILE(1, 1);
    } else if (G == 3) {
        TILE(3, 4);
    } else if (G == 2) {
        TILE(2, 4);
    } else if (NT == 8) {
        TILE(1, 8);
    } else {
        TILE(1, 4);
    }
#undef TILE
}

/* Groups per tile and tokens per tile for nt tokens and ng groups left. */
INLINE int tile_groups(int ng, int nt) { return nt == 1 ? (ng < HT_MAXG ? ng : HT_MAXG) : ng < HT_G ? ng : HT_G; }
INLINE int tile_tokens(int G, int nt) { return nt == 1 ? 1 : G == 1 ? 2 * HT_T : HT_T; }

/* x8 groups (nr % 8 == 0): row tiles of 3 groups, each against every token
 * tile in turn, so the tile's 24 rows (96 KB of f16 at K = 2048) stay in L2
 * while the activations stream by; splitting rows or tokens further into
 * blocks measured the same. */
INLINE void half_x8(float *y, size_t ldy, const char *W, size_t w_row, const char *xq, size_t x_row, int nr, int nt,
                    int K, bool acc, const int el) {
    const size_t xs = (size_t)sl_f32x4_width(nt);
    for (int r = 0; r < nr;) {
        const int G = tile_groups((nr - r) / 8, nt), NT = tile_tokens(G, nt);
        const char *w[HT_MAXG];
        for (int g = 0; g < G; g++) w[g] = W + (size_t)(r + 8 * g) * w_row;
        for (int t = 0; t < nt; t += NT) {
            const float *x[2] = {sl_f32x4_at(xq, x_row, t, nt),
                                 sl_f32x4_at(xq, x_row, t + HT_T < nt ? t + HT_T : t, nt)};
            const int ntok = nt - t < NT ? nt - t : NT;
            tile_any(y + (size_t)t * ldy + r, ldy, w, x, xs, K, true, acc, 8 * G, ntok, G, NT, el);
        }
        r += 8 * G;
    }
}

/* r[i] = 8 values of row i in, c[j] = column j of the 8 rows out (16-bit
 * values): pairs of rows, then quads, then all 8. */
INLINE void transpose8x8(const __m128i r[8], __m128i c[8]) {
    __m128i p[8], q[8];
    UNROLL
    for (int i = 0; i < 4; i++) {
        p[i] = _mm_unpacklo_epi16(r[2 * i], r[2 * i + 1]);     /* rows 2i, 2i+1 of columns 0..3 */
        p[i + 4] = _mm_unpackhi_epi16(r[2 * i], r[2 * i + 1]); /* of columns 4..7 */
    }
    /* q[4h + 2i + e]: rows 4i..4i+3 of columns 4h + 2e and 4h + 2e + 1 */
    UNROLL
    for (int h = 0; h < 2; h++)
        UNROLL
        for (int i = 0; i < 2; i++) {
            q[4 * h + 2 * i] = _mm_unpacklo_epi32(p[4 * h + 2 * i], p[4 * h + 2 * i + 1]);
            q[4 * h + 2 * i + 1] = _mm_unpackhi_epi32(p[4 * h + 2 * i], p[4 * h + 2 * i + 1]);
        }
    UNROLL
    for (int h = 0; h < 2; h++)
        UNROLL
        for (int e = 0; e < 2; e++) {
            c[4 * h + 2 * e] = _mm_unpacklo_epi64(q[4 * h + e], q[4 * h + 2 + e]);
            c[4 * h + 2 * e + 1] = _mm_unpackhi_epi64(q[4 * h + e], q[4 * h + 2 + e]);
        }
}

/* The 8 rows' (row i at w[i]) 16-bit values of columns k .. k + 7. */
INLINE void load8x8(__m128i r[8], const char *const *w, int k) {
    UNROLL
    for (int i = 0; i < 8; i++) r[i] = _mm_loadu_si128((const __m128i *)(const void *)(w[i] + 2 * (size_t)k));
}

/* Columns [k0, k0 + kb) of 8 rows (row i at w[i]) as one x8 run at dst,
 * 8 columns at a time, then the last kb % 8 one by one. */
static void transpose8(char *dst, const char *const *w, int k0, int kb) {
    int k = 0;
    for (; k + 8 <= kb; k += 8) {
        if (k % 32 == 0) /* each row's line one block ahead: 8 rows are 8 short streams */
            for (int i = 0; i < 8; i++) _mm_prefetch(w[i] + 2 * (size_t)(k0 + k + HR_KB), _MM_HINT_T0);
        __m128i r[8], c[8];
        load8x8(r, w, k0 + k);
        transpose8x8(r, c);
        for (int j = 0; j < 8; j++) _mm_storeu_si128((__m128i *)(void *)(dst + (size_t)(k + j) * SL_X8_HALF_COL), c[j]);
    }
    for (; k < kb; k++)
        for (int i = 0; i < 8; i++) memcpy(dst + (size_t)k * SL_X8_HALF_COL + 2 * i, w[i] + 2 * (size_t)(k0 + k), 2);
}

/* Rows as stored (any nr): per tile row of up to 3 groups and block of up
 * to HR_TC tokens, each HR_KB columns transposed once and run against every
 * token tile of the block; rows past nr repeat row nr - 1 and are never
 * stored. */
INLINE void half_rows(float *y, size_t ldy, const char *W, size_t w_row, const char *xq, size_t x_row, int nr,
                      int nt, int K, bool acc, const int el) {
    alignas(64) char buf[HT_G][HR_KB * SL_X8_HALF_COL];
    alignas(32) float part[HR_TC * 8 * HT_G];
    const size_t xs = (size_t)sl_f32x4_width(nt), ldp = 8 * HT_G;
    for (int r = 0; r < nr; r += 8 * HT_G) {
        const int nrow = nr - r < 8 * HT_G ? nr - r : 8 * HT_G, ng = (nrow + 7) / 8;
        const int G = ng, NT = tile_tokens(G, nt);
        const char *rows[HT_G][8];
        for (int g = 0; g < G; g++)
            for (int i = 0; i < 8; i++) rows[g][i] = W + (size_t)(r + 8 * g + i < nr ? r + 8 * g + i : nr - 1) * w_row;
        for (int t0 = 0; t0 < nt; t0 += HR_TC) {
            const int tc = nt - t0 < HR_TC ? nt - t0 : HR_TC;
            for (int k0 = 0; k0 < K; k0 += HR_KB) {
                const int kb = K - k0 < HR_KB ? K - k0 : HR_KB;
                const char *w[HT_MAXG];
                for (int g = 0; g < G; g++) {
                    transpose8(buf[g], rows[g], k0, kb);
                    w[g] = buf[g]; /* column k0 + k at w[g] + 16 k */
                }
                for (int t = t0; t < t0 + tc; t += NT) {
                    const float *x[2] = {sl_f32x4_at(xq, x_row, t, nt) + (size_t)k0 * xs,
                                         sl_f32x4_at(xq, x_row, t + HT_T < nt ? t + HT_T : t, nt) + (size_t)k0 * xs};
                    const int ntok = t0 + tc - t < NT ? t0 + tc - t : NT;
                    tile_any(part + (size_t)(t - t0) * ldp, ldp, w, x, xs, kb, k0 == 0, false, nrow, ntok, G, NT, el);
                }
            }
            for (int j = 0; j < tc; j++)
                for (int i = 0; i < nrow; i++) {
                    float *o = y + (size_t)(t0 + j) * ldy + r + i;
                    *o = acc ? *o + part[(size_t)j * ldp + i] : part[(size_t)j * ldp + i];
                }
        }
    }
}

void sl_gemm_f16_avx2(float *y, size_t ldy, const void *W, size_t w_row, const void *xq,
                      size_t x_row, int nr, int nt, int K, bool acc) {
    half_rows(y, ldy, W, w_row, xq, x_row, nr, nt, K, acc, EL_F16);
}

void sl_gemm_bf16_avx2(float *y, size_t ldy, const void *W, size_t w_row, const void *xq,
                       size_t x_row, int nr, int nt, int K, bool acc) {
    half_rows(y, ldy, W, w_row, xq, x_row, nr, nt, K, acc, EL_BF16);
}

/* x8 (kernels/gemm.h): nr % 8 == 0 (sl_repack_x8 makes no other). */
void sl_gemm_f16x8_avx2(float *y, size_t ldy, const void *W, size_t w_row, const void *xq,
                        size_t x_row, int nr, int nt, int K, bool acc) {
    half_x8(y, ldy, W, w_row, xq, x_row, nr, nt, K, acc, EL_F16);
}

void sl_gemm_bf16x8_avx2(float *y, size_t ldy, const void *W, size_t w_row, const void *xq,
                         size_t x_row, int nr, int nt, int K, bool acc) {
    half_x8(y, ldy, W, w_row, xq, x_row, nr, nt, K, acc, EL_BF16);
}
