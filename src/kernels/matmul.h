/* matmul.h — the products every layer runs, multithreaded over a pool.
 *
 * Letters: T tokens in the batch, N output rows (weight rows), K inner dim.
 * Weights are row-major (N, K) in any sl_type; activations and outputs f32. */
#ifndef SL_KERNELS_MATMUL_H
#define SL_KERNELS_MATMUL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/thread_pool.h"
#include "tensor/quant.h"

/* Scratch for quantized activations; grow-only, owned by the caller (one per
 * session). sl_matmul_scratch_free is safe on a zeroed struct. */
typedef struct {
    void *buf;
    size_t cap;
} sl_matmul_scratch;
void sl_matmul_scratch_free(sl_matmul_scratch *s);

/* y (T, N) = x (T, K) · W(N, K)^T.  K must be a multiple of W's block size.
 * T == 1 is the decode matvec; T > 1 is prefill (cache-blocked).
 * Returns 0, or -1 when scratch cannot grow (out of memory), the type has no
 * dot product, or K is not a multiple of its block size. pool may be NULL
 * (runs on the caller). A token's outputs are the same bits whatever T, the
 * thread count and its place in the batch. */
int sl_matmul(sl_pool *pool, sl_matmul_scratch *scratch, float *y, const void *W, sl_type wtype,
              const float *x, int T, int N, int K);

/* One weight matrix of a fused product: y (T, ldy), columns [0, N). */
typedef struct {
    const void *W;  /* (N, K) */
    sl_type type;
    int N;
    float *y;       /* row t of the output at y + t * ldy */
    size_t ldy;
    bool acc;       /* y += W x (a residual add) instead of y = W x */
    int group;      /* W's layout: rows as stored (0) or row-interleaved
                       groups of 8 or 16 rows (kernels/gemm.h,
                       sl_repack_grouped); N % group == 0 */
} sl_mm_part;

typedef enum {
    SL_MM_PLAIN = 0,
    SL_MM_SWIGLU, /* two parts, gate then up, same N: part 0's y becomes silu(gate) * up */
} sl_mm_epilogue;

/* Several products of the same x in one pass over the pool: x is quantized
 * once per activation format, the rows of all parts are split across the
 * threads together (q, k and v in one dispatch; gate and up in one, with the
 * SwiGLU applied by the thread that computed the rows). At most 4 parts.
 * Errors as sl_matmul, and -1 for a grouped part without a kernel for its
 * layout (sl_gemm_get_grouped) or with N % group != 0. */
int sl_matmul_parts(sl_pool *pool, sl_matmul_scratch *scratch, const float *x, int T, int K,
                    const sl_mm_part *parts, int n_parts, sl_mm_epilogue ep);

/* Reference used by tests: dequantize each row and dot in double. */
void sl_matmul_ref(float *y, const void *W, sl_type wtype, const float *x, int T, int N, int K);

#endif
