/* gemm.h — the tile kernels behind sl_matmul: many weight rows against many
 * tokens per call, so each weight row is unpacked once for several tokens
 * and each activation block is loaded once for several rows.
 *
 * Letters: T tokens, N weight rows, K inner dimension.
 *
 * A kernel computes, for r < nr and t < nt,
 *     y[t * ldy + r]  =  (or +=, when acc)  dot(W row r, x row t)
 * from weight rows at W + r * w_row and activation rows at xq + t * x_row,
 * prepared by the kernel's activation quantizer. Every output is computed by
 * the same sequence of operations whatever nr, nt and the tile it falls in,
 * so a token gives the same bits alone (decode) as inside a batch (prefill),
 * and the row and token split across threads never changes a result.
 *
 * Two families:
 *  - Q8S kernels (q4_0, q8_0 weights): activations in the q8s row format
 *    below. Per 32-element block, the integer dot of weights and activation
 *    quants is exact; each row keeps one float accumulator over blocks:
 *        acc = fma((float)isum_b, d_w[b] * d_x[b], acc)
 *    SIMD versions put 8 weight rows in the 8 lanes of a vector, so there is
 *    no horizontal sum per row and one scale vector serves 8 rows; the
 *    scalar references do the same arithmetic and give the same bits.
 *  - Float kernels (f32, f16 weights, f32 activations): 8 lanes along K, one
 *    fused multiply-add chain per lane, the lanes summed as
 *    ((l0+l4)+(l2+l6)) + ((l1+l5)+(l3+l7)), then the K % 8 tail in order.
 *    The references emulate the lanes exactly.
 *  - q4_K: its AVX2 vec_dot's very arithmetic per output (q8_K activations),
 *    each weight row unpacked once for 4 tokens; the reference is the
 *    reference vec_dot per output.
 * Other types have no tile kernel here: sl_matmul runs their vec_dot per
 * output (see matmul.c). */
#ifndef SL_KERNELS_GEMM_H
#define SL_KERNELS_GEMM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tensor/quant.h"

/* How a kernel wants its activations. */
typedef enum {
    SL_ACT_F32 = 0, /* x as is */
    SL_ACT_Q8S,     /* q8s rows, below */
    SL_ACT_Q8K,     /* q8_K blocks (the K-quants' vec_dot type) */
    SL_ACT_COUNT
} sl_act_format;

/* q8s: one row of K floats (K % 32 == 0) as nb = K / 32 blocks:
 *   int8  q[K]     q = roundf(x * (1 / d)), d = amax_block / 127 (q = 0 when d = 0)
 *   float d[nb]    the scale rounded to f16, as q8_0 stores it: the same
 *                  numbers as the GGUF ecosystem's q8_0 activations
 *   int32 s[nb]    sum of the block's q (for the q4_0 offset of 8)
 * stored back to back; rows are sl_q8s_row_bytes(K) apart (64-aligned). */
static inline size_t sl_q8s_row_bytes(int K) {
    size_t b = (size_t)K + (size_t)(K / 32) * 8;
    return (b + 63) & ~(size_t)63;
}

typedef void (*sl_act_quant_fn)(void *xq, const float *x, int K);
typedef void (*sl_gemm_fn)(float *y, size_t ldy, const void *W, size_t w_row, const void *xq,
                           size_t x_row, int nr, int nt, int K, bool acc);

typedef struct {
    sl_gemm_fn gemm;
    sl_act_format act;
    int row_align; /* rows per SIMD group: splits across threads are multiples of it */
} sl_gemm_kernel;

/* The active kernel of a weight type, or NULL (no tile kernel: use vec_dot).
 * Honours SL_FORCE_REF like the weight table. */
const sl_gemm_kernel *sl_gemm_get(sl_type t);
/* The scalar reference kernel, for tests; NULL as above. */
const sl_gemm_kernel *sl_gemm_get_ref(sl_type t);
/* Activation quantizer of a format (NULL for SL_ACT_F32), active or reference. */
sl_act_quant_fn sl_act_quant_get(sl_act_format f);
sl_act_quant_fn sl_act_quant_get_ref(sl_act_format f);
/* Bytes per activation row of K elements in format f. */
size_t sl_act_row_bytes(sl_act_format f, int K);

/* ---- references (kernels/ref/gemm_ref.c) and SIMD versions ---- */
void sl_quant_q8s_ref(void *xq, const float *x, int K);
void sl_gemm_q4_0_ref(float *y, size_t ldy, const void *W, size_t w_row, const void *xq,
                      size_t x_row, int nr, int nt, int K, bool acc);
void sl_gemm_q8_0_ref(float *y, size_t ldy, const void *W, size_t w_row, const void *xq,
                      size_t x_row, int nr, int nt, int K, bool acc);
void sl_gemm_f32_ref(float *y, size_t ldy, const void *W, size_t w_row, const void *xq,
                     size_t x_row, int nr, int nt, int K, bool acc);
void sl_gemm_f16_ref(float *y, size_t ldy, const void *W, size_t w_row, const void *xq,
                     size_t x_row, int nr, int nt, int K, bool acc);
void sl_gemm_q4_k_ref(float *y, size_t ldy, const void *W, size_t w_row, const void *xq,
                      size_t x_row, int nr, int nt, int K, bool acc);

void sl_quant_q8s_avx2(void *xq, const float *x, int K);
void sl_gemm_q4_0_avx2(float *y, size_t ldy, const void *W, size_t w_row, const void *xq,
                       size_t x_row, int nr, int nt, int K, bool acc);
void sl_gemm_q8_0_avx2(float *y, size_t ldy, const void *W, size_t w_row, const void *xq,
                       size_t x_row, int nr, int nt, int K, bool acc);
void sl_gemm_f32_avx2(float *y, size_t ldy, const void *W, size_t w_row, const void *xq,
                      size_t x_row, int nr, int nt, int K, bool acc);
void sl_gemm_f16_avx2(float *y, size_t ldy, const void *W, size_t w_row, const void *xq,
                      size_t x_row, int nr, int nt, int K, bool acc);
void sl_gemm_q4_k_avx2(float *y, size_t ldy, const void *W, size_t w_row, const void *xq,
                       size_t x_row, int nr, int nt, int K, bool acc);

#endif
