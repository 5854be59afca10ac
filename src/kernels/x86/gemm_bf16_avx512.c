/* gemm_bf16_avx512.c — the bf16 kernel on x16 groups with AVX512-BF16
 * (vdpbf16ps), bf16p activations (kernels/gemm.h): the same bits as
 * sl_gemm_bf16_dp_ref.
 *
 * An x16 group's column pair is one 64-byte load: row i's two bf16 values
 * in 32-bit lane i. vdpbf16ps multiplies them by the token's pair,
 * broadcast from memory, and adds both products into the lane: 32
 * multiply-adds per instruction where an FMA does 16 (on a Zen 4 both are
 * two 256-bit halves: twice the FMA's work per cycle). The price is the
 * activations rounded to bf16 (kernels/gemm.h). A register tile of
 * 3 groups x 8 tokens, as the f16 kernel's: 24 accumulators, 3 weight
 * vectors. */
#include <immintrin.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "kernels/gemm.h"
#include "kernels/x86/x16_avx512.h"

#define INLINE static inline __attribute__((always_inline))
#define UNROLL _Pragma("GCC unroll 8")

#define BZ_G 3    /* groups of 16 rows in a prefill register tile */
#define BZ_T 8    /* tokens in a prefill register tile */
#define BZ_MAXG 4 /* decode: up to 4 groups x 1 token */
/* Decode: the call's groups as BZ_DG runs side by side with a software
 * prefetch BZ_AHEAD bytes ahead in each (x86/gemm_q8s_avx512.c says why). */
#define BZ_DG 3
#define BZ_AHEAD 2048

/* Token pair p of a bf16p row, in every lane. */
INLINE __m512bh pair(const char *x, int p) {
    int32_t v;
    memcpy(&v, x + 4 * (size_t)p, 4);
    return (__m512bh)_mm512_set1_epi32(v);
}

/* G groups (pair p of group g at w[g] + 64 p) x NT tokens (bf16p rows
 * x[j]; tokens j >= ntok computed, not stored), all K / 2 pairs in order. */
INLINE void tile_run(float *y, size_t ldy, size_t ystep, const char *const *w, const char *const *x, int np, bool add,
                     int ntok, const int G, const int NT) {
    __m512 a[BZ_MAXG][BZ_T];
    UNROLL
    for (int g = 0; g < G; g++)
        UNROLL
        for (int j = 0; j < NT; j++) a[g][j] = _mm512_setzero_ps();
    for (int p = 0; p < np; p++) {
        __m512bh wv[BZ_MAXG];
        if (NT == 1) /* decode: one line of each run per pair */
            UNROLL
            for (int g = 0; g < G; g++) _mm_prefetch(w[g] + (size_t)p * 64 + BZ_AHEAD, _MM_HINT_T0);
        UNROLL
        for (int g = 0; g < G; g++) wv[g] = (__m512bh)_mm512_loadu_si512(w[g] + (size_t)p * 64);
        UNROLL
        for (int j = 0; j < NT; j++) {
            const __m512bh b = pair(x[j], p);
            UNROLL
            for (int g = 0; g < G; g++) a[g][j] = _mm512_dpbf16_ps(a[g][j], wv[g], b);
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

INLINE void tile_any(float *y, size_t ldy, size_t ystep, const char *const *w, const char *const *x, int np, bool add,
                     int ntok, int G, int NT) {
#define TILE(g, n) tile_run(y, ldy, ystep, w, x, np, add, ntok, g, n)
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

/* nr % 16 == 0, K even (sl_repack_x16 makes no other). */
void sl_gemm_bf16x16_avx512(float *y, size_t ldy, const void *W, size_t w_row, const void *xq,
                            size_t x_row, int nr, int nt, int K, bool acc) {
    const char *Wc = W, *xc = xq;
    if (nt == 1) { /* decode: BZ_DG runs of h groups, then the groups left over one by one */
        const int ng = nr / 16, h = ng / BZ_DG;
        for (int i = 0, G, g0; x16_decode_tile(i, ng, BZ_DG, &G, &g0); i++) {
            const char *w[BZ_MAXG] = {0};
            for (int g = 0; g < G; g++) w[g] = Wc + (size_t)16 * (size_t)(g0 + g * h) * w_row;
            tile_any(y + 16 * (size_t)g0, ldy, (size_t)16 * (size_t)h, w, &xc, K / 2, acc, 1, G, 1);
        }
        return;
    }
    for (int r = 0; r < nr;) {
        const int left = (nr - r) / 16;
        const int G = left < BZ_G ? left : BZ_G;
        const char *w[BZ_MAXG] = {0};
        for (int g = 0; g < G; g++) w[g] = Wc + (size_t)(r + 16 * g) * w_row;
        for (int t = 0; t < nt;) {
            const int ntok = nt - t < BZ_T ? nt - t : BZ_T;
            const int NT = ntok <= 4 ? 4 : BZ_T;
            const char *x[BZ_T];
            for (int j = 0; j < NT; j++) x[j] = xc + (size_t)(t + (j < ntok ? j : ntok - 1)) * x_row;
            tile_any(y + (size_t)t * ldy + r, ldy, 16, w, x, K / 2, acc, ntok, G, NT);
            t += ntok;
        }
        r += 16 * G;
    }
}

/* bf16p rows (kernels/gemm.h) 16 values at a time: the reference's
 * rounding in integer lanes (nearest, ties to even; a NaN keeps its sign
 * and top bits and turns quiet), so the same bits for every input. */
void sl_quant_bf16p_avx512(void *xq, const float *x, int K) {
    uint16_t *q = xq;
    const __m512i half = _mm512_set1_epi32(0x7FFF), one = _mm512_set1_epi32(1), quiet = _mm512_set1_epi32(0x40);
    const __m512i abs = _mm512_set1_epi32(0x7FFFFFFF), inf = _mm512_set1_epi32(0x7F800000);
    int k = 0;
    for (; k + 16 <= K; k += 16) {
        const __m512i u = _mm512_castps_si512(_mm512_loadu_ps(x + k));
        const __m512i r = _mm512_srli_epi32(_mm512_add_epi32(_mm512_add_epi32(u, half), _mm512_and_si512(_mm512_srli_epi32(u, 16), one)), 16);
        const __mmask16 nan = _mm512_cmpgt_epi32_mask(_mm512_and_si512(u, abs), inf);
        const __m512i v = _mm512_mask_mov_epi32(r, nan, _mm512_or_si512(_mm512_srli_epi32(u, 16), quiet));
        _mm256_storeu_si256((__m256i *)(void *)(q + k), _mm512_cvtepi32_epi16(v));
    }
    if (k < K) sl_quant_bf16p_ref(q + k, x + k, K - k); /* the tail, and the odd K's pad */
}
