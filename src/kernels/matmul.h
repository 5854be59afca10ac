/* matmul.h — the products every layer runs, multithreaded over a pool.
 *
 * Letters: T tokens in the batch, N output rows (weight rows), K inner dim.
 * Weights are row-major (N, K) in any sl_type; activations and outputs f32. */
#ifndef SL_KERNELS_MATMUL_H
#define SL_KERNELS_MATMUL_H

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
 * (runs on the caller). */
int sl_matmul(sl_pool *pool, sl_matmul_scratch *scratch, float *y, const void *W, sl_type wtype,
              const float *x, int T, int N, int K);

/* Reference used by tests: dequantize each row and dot in double. */
void sl_matmul_ref(float *y, const void *W, sl_type wtype, const float *x, int T, int N, int K);

#endif
