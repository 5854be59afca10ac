/* gemm_half_avx512.c — the f16 kernel (f32x4 activations) on x16 groups
 * (kernels/gemm.h) with 512-bit FMA: one fused multiply-add chain per
 * output over the columns in order, the same bits as kernels/ref/gemm_ref.c
 * and the AVX2 kernels.
 *
 * Sixteen rows sit in the lanes of a vector: a group's column is one
 * 32-byte load, converted exactly to 16 floats, and each token's value of
 * the column is broadcast from memory inside the multiply-add (an embedded
 * broadcast: no register and no shuffle for it). A register tile of 3
 * groups x 8 tokens (two f32x4 tiles) holds 24 accumulators and 3 weight
 * vectors of the 32 registers: per column 3 vector loads and 8 scalar
 * broadcasts for 24 multiply-adds, 12 cycles of the two 512-bit FMA pipes,
 * and 24 independent chains cover the FMA latency (4 cycles x 2 pipes).
 *
 * On a Zen 4 the 512-bit FMA is two 256-bit halves, so this tile peaks
 * where the AVX2 one does (32 flops a cycle) with fewer instructions; on
 * a Zen 5 or a server Intel core it has twice the multipliers. bf16 has its
 * own x16 kernel, with vdpbf16ps (x86/gemm_bf16_avx512.c). */
#include <immintrin.h>
#include <stdbool.h>
#include <stddef.h>

#include "kernels/gemm.h"
#include "kernels/x86/x16_avx512.h"

#define INLINE static inline __attribute__((always_inline))
#define UNROLL _Pragma("GCC unroll 8")


#define HZ_G 3    /* groups of 16 rows in a prefill register tile */
#define HZ_T 8    /* tokens in a prefill register tile: two f32x4 tiles */
#define HZ_MAXG 4 /* decode: up to 4 groups x 1 token */
/* Decode: the call's groups as HZ_DG runs side by side with a software
 * prefetch HZ_AHEAD bytes ahead in each (x86/gemm_q8s_avx512.c says why). */
#define HZ_DG 3
#define HZ_AHEAD 2048

/* The 16 values of a group's column as floats (exact). */
INLINE __m512 col16(const char *p) { return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(const void *)p)); }

/* One register tile: G groups (column k of group g at w[g] + 32 k) x NT
 * tokens (token j's column k at x[j / 4][xs k + j % 4]), all K columns in
 * order from 0; the results of tokens j < ntok go to y[j * ldy + 16 g + i],
 * added to y when add. */
INLINE void tile_run(float *y, size_t ldy, size_t ystep, const char *const *w, const float *const *x, size_t xs, int K, bool add,
                     int ntok, const int G, const int NT) {
    __m512 a[HZ_MAXG][HZ_T];
    UNROLL
    for (int g = 0; g < G; g++)
        UNROLL
        for (int j = 0; j < NT; j++) a[g][j] = _mm512_setzero_ps();
    for (int k = 0; k < K; k++) {
        __m512 wv[HZ_MAXG];
        if (NT == 1 && k % 2 == 0) /* decode: one line of each run per 2 columns */
            UNROLL
            for (int g = 0; g < G; g++) _mm_prefetch(w[g] + (size_t)k * SL_X16_HALF_COL + HZ_AHEAD, _MM_HINT_T0);
        UNROLL
        for (int g = 0; g < G; g++) wv[g] = col16(w[g] + (size_t)k * SL_X16_HALF_COL);
        UNROLL
        for (int j = 0; j < NT; j++) {
            const __m512 b = _mm512_set1_ps(x[j / SL_F32X4_TOKENS][(size_t)k * xs + j % SL_F32X4_TOKENS]);
            UNROLL
            for (int g = 0; g < G; g++) a[g][j] = _mm512_fmadd_ps(wv[g], b, a[g][j]);
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

INLINE void tile_any(float *y, size_t ldy, size_t ystep, const char *const *w, const float *const *x, size_t xs, int K, bool add,
                     int ntok, int G, int NT) {
#define TILE(g, n) tile_run(y, ldy, ystep, w, x, xs, K, add, ntok, g, n)
    if (NT == 1) {
        if (G == 4) TILE(4, 1);
        else if (G == 3) TILE(3, 1);
        else if (G == 2) TILE(2, 1);
        else TILE(1, 1);
    } else if (NT == 4) {
        if (G == 3) TILE(3, 4);
        else if (G == 2) TILE(2, 4);
        else TILE(1, 4);
    } else {
        if (G == 3) TILE(3, 8);
        else if (G == 2) TILE(2, 8);
        else TILE(1, 8);
    }
#undef TILE
}

/* Row tiles of up to 3 groups, each against every token tile in turn, so
 * the tile's 48 rows (192 KB of f16 at K = 2048, in a 1 MB L2) stay close
 * while the activations stream by. nr % 16 == 0. */
INLINE void f16_x16(float *y, size_t ldy, const char *W, size_t w_row, const char *xq, size_t x_row, int nr,
                     int nt, int K, bool acc) {
    const size_t xs = (size_t)sl_f32x4_width(nt);
    if (nt == 1) { /* decode: HZ_DG runs of h groups, then the groups left over one by one */
        const float *x[2] = {(const float *)(const void *)xq, (const float *)(const void *)xq};
        const int ng = nr / 16, h = ng / HZ_DG;
        for (int i = 0, G, g0; x16_decode_tile(i, ng, HZ_DG, &G, &g0); i++) {
            const char *w[HZ_MAXG] = {0};
            for (int g = 0; g < G; g++) w[g] = W + (size_t)16 * (size_t)(g0 + g * h) * w_row;
            tile_any(y + 16 * (size_t)g0, ldy, (size_t)16 * (size_t)h, w, x, 1, K, acc, 1, G, 1);
        }
        return;
    }
    for (int r = 0; r < nr;) {
        const int left = (nr - r) / 16;
        const int G = left < HZ_G ? left : HZ_G;
        const char *w[HZ_MAXG] = {0};
        for (int g = 0; g < G; g++) w[g] = W + (size_t)(r + 16 * g) * w_row;
        for (int t = 0; t < nt;) {
            const int ntok = nt - t < HZ_T ? nt - t : HZ_T;
            const int NT = ntok <= SL_F32X4_TOKENS ? SL_F32X4_TOKENS : HZ_T;
            const float *x[2] = {sl_f32x4_at(xq, x_row, t, nt),
                                 sl_f32x4_at(xq, x_row, t + SL_F32X4_TOKENS < nt ? t + SL_F32X4_TOKENS : t, nt)};
            tile_any(y + (size_t)t * ldy + r, ldy, 16, w, x, xs, K, acc, ntok, G, NT);
            t += ntok;
        }
        r += 16 * G;
    }
}

void sl_gemm_f16x16_avx512(float *y, size_t ldy, const void *W, size_t w_row, const void *xq,
                           size_t x_row, int nr, int nt, int K, bool acc) {
    f16_x16(y, ldy, W, w_row, xq, x_row, nr, nt, K, acc);
}
