/* gemm_f32_avx512.c — the f32 kernel's prefill with 512-bit registers,
 * rows as stored, f32t activations: the arithmetic of the AVX2 kernel and
 * the reference (8 lanes along K, one FMA chain per lane, the fixed lane
 * sum, then the tail; kernels/gemm.h), so the same bits.
 *
 * A vector holds the 8 lanes of two rows (row 2i in the low half, 2i + 1
 * in the high), multiplied by a token's 8 columns broadcast to both halves.
 * A register tile of 4 row pairs x 6 tokens (two f32t tiles) keeps 24
 * accumulators in the 32 registers: per 8 columns it loads 8 rows' 32 bytes
 * and 6 tokens' 32 bytes for 24 FMAs of 16 lanes, 1.2 bytes a multiply-add
 * where the AVX2 tile of 4 rows x 3 tokens (16 registers) needs 2.3. That
 * traffic, not the multipliers, held the AVX2 tile to two thirds of the FMA
 * peak at K = 4096 on a Zen 4. Decode (one token) stays the AVX2 kernel's:
 * it waits on memory either way. */
#include <immintrin.h>
#include <stdbool.h>
#include <stddef.h>

#include "kernels/gemm.h"
#include "kernels/x86/f32_lanes.h"

#define FZ_P 4  /* row pairs in a register tile: 8 rows */
#define FZ_T 6  /* tokens in a register tile: two f32t tiles */
#define FZ_RB 16 /* rows per job */
#define FZ_TB 36 /* tokens per job: a multiple of FZ_T */

/* a[i][j]: rows w[2i], w[2i+1] times token j (its 8-column groups at
 * x[j / 3] + 24 s + 8 (j % 3)), over K8 columns. */
INLINE void f32_tile(__m512 a[FZ_P][FZ_T], const char *const *w, const float *const *x, int K8) {
    UNROLL
    for (int i = 0; i < FZ_P; i++)
        UNROLL
        for (int j = 0; j < FZ_T; j++) a[i][j] = _mm512_setzero_ps();
    for (int k = 0; k < K8; k += 8) {
        __m512 wv[FZ_P];
        UNROLL
        for (int i = 0; i < FZ_P; i++)
            wv[i] = _mm512_insertf32x8(_mm512_castps256_ps512(load_w(w[2 * i], k)), load_w(w[2 * i + 1], k), 1);
        UNROLL
        for (int j = 0; j < FZ_T; j++) {
            const float *xj = x[j / SL_F32T_TOKENS] + (size_t)k * SL_F32T_TOKENS + 8 * (j % SL_F32T_TOKENS);
            const __m512 xb = _mm512_broadcast_f32x8(_mm256_loadu_ps(xj));
            UNROLL
            for (int i = 0; i < FZ_P; i++) a[i][j] = _mm512_fmadd_ps(wv[i], xb, a[i][j]);
        }
    }
}

/* nt >= 2, K8 > 0: jobs of FZ_RB rows x FZ_TB tokens, as the AVX2 kernel's;
 * in a job, 8 rows at a time against every 6-token tile (tokens past nt
 * repeat token nt - 1 and are never stored; rows past nr repeat nr - 1). */
static void f32_prefill(float *y, size_t ldy, const char *W, size_t w_row, const char *xq, size_t x_row, int nr,
                        int nt, int K, bool acc) {
    const int K8 = K & ~7;
    for (int r0 = 0; r0 < nr; r0 += FZ_RB)
        for (int t0 = 0; t0 < nt; t0 += FZ_TB) {
            const int t1 = t0 + FZ_TB < nt ? t0 + FZ_TB : nt;
            for (int r = r0; r < r0 + FZ_RB && r < nr; r += 8) {
                const int n = nr - r < 8 ? nr - r : 8;
                const char *w[8];
                for (int i = 0; i < 8; i++) w[i] = W + (size_t)(r + i < nr ? r + i : nr - 1) * w_row;
                for (int t = t0; t < t1; t += FZ_T) {
                    const int t2 = t + SL_F32T_TOKENS < nt ? t + SL_F32T_TOKENS : t; /* a lone tile reads itself twice */
                    const float *x[2] = {sl_f32t_main(xq, x_row, t, nt), sl_f32t_main(xq, x_row, t2, nt)};
                    __m512 a[FZ_P][FZ_T];
                    f32_tile(a, w, x, K8);
                    for (int j = 0; j < FZ_T && t + j < t1; j++) {
                        __m256 v[8];
                        for (int i = 0; i < FZ_P; i++) {
                            v[2 * i] = _mm512_castps512_ps256(a[i][j]);
                            v[2 * i + 1] = _mm512_extractf32x8_ps(a[i][j], 1);
                        }
                        float_finish8(y + (size_t)(t + j) * ldy + r, v, n, W + (size_t)r * w_row, w_row,
                                      sl_f32t_tail(xq, x_row, t + j, nt, K), K8, K, acc);
                    }
                }
            }
        }
}

void sl_gemm_f32_avx512(float *y, size_t ldy, const void *W, size_t w_row, const void *xq,
                        size_t x_row, int nr, int nt, int K, bool acc) {
    if (nt >= 2 && K >= 8) f32_prefill(y, ldy, W, w_row, xq, x_row, nr, nt, K, acc);
    else sl_gemm_f32_avx2(y, ldy, W, w_row, xq, x_row, nr, nt, K, acc);
}
