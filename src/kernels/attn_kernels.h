/* attn_kernels.h — the inner loops of attention over rows of the KV cache,
 * for each element type of the cache (f32, f16, q8_0), plus the softmax
 * exponential. Scalar references always compiled (kernels/ref/attn_ref.c);
 * AVX2+FMA+F16C versions (kernels/x86/attn_avx2.c) are chosen at start-up
 * and give the same bits; SL_FORCE_REF=1 forces the references.
 *
 * Letters: D head_dim, n keys. Key and value rows of one head are stride
 * bytes apart (the cache's row of all kv heads). A q8_0 row is q8_0 blocks
 * of 32 elements (f16 scale, 32 int8), so D must be a multiple of 32.
 *
 * Summation order (shared by reference and SIMD): dot products keep eight
 * lanes along D (lane j sums elements j, j+8, ... with fused multiply-adds;
 * q8_0 adds d * (q * k) block by block), summed as
 * ((l0+l4)+(l2+l6)) + ((l1+l5)+(l3+l7)); D % 8 is zero for the SIMD path
 * (other D use the references). */
#ifndef SL_KERNELS_ATTN_H
#define SL_KERNELS_ATTN_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    /* s[i] = scale * dot(q, key i), i < n; key i at k + i * stride bytes */
    void (*scores)(float *s, const float *q, const void *k, size_t stride, int n, int D, float scale);
    /* o[d] += sum_i w[i] * value_i[d], keys in order i = 0 .. n-1 */
    void (*accum)(float *o, const float *w, const void *v, size_t stride, int n, int D);
    /* y (D elements of the cache type) = x (D floats) */
    void (*store)(void *y, const float *x, int D);
} sl_attn_row_ops;

typedef struct {
    sl_attn_row_ops row[3]; /* by sl_kv_type: f32, f16, q8_0 */
    /* max of x[0..n), n >= 1 */
    float (*max)(const float *x, int n);
    /* x[i] = exp(x[i] - mx) for i < n; returns the sum (8 lanes, then the tail) */
    float (*exp_sum)(float *x, int n, float mx);
} sl_attn_kernels;

const sl_attn_kernels *sl_attn_kernels_get(void);
const sl_attn_kernels *sl_attn_kernels_ref(void);
/* The AVX2+FMA+F16C table; NULL on non-x86 builds. Call only when the CPU has them. */
const sl_attn_kernels *sl_attn_kernels_avx2(void);

/* The exponential both tables use, one element (Cephes' expf polynomial with
 * fused multiply-adds; x <= 0 here; relative error below 2e-7). */
float sl_attn_expf(float x);

#endif
