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
 * ((l0+l4)+(l2+l6)) + ((l1+l5)+(l3+l7)), then the D % 8 tail in order.
 * The SIMD scores do eight keys at a time and sum their lanes together
 * (a transpose), in that same order. Weighted sums: one fused multiply-add
 * per key and element, with the weight (w[i] * ws) rounded first, in
 * C = sl_attn_accum_chains(D) chains from 0: key i goes to chain i % C
 * (i counting across all runs of the call, so how the keys are split into
 * runs never changes the bits), and the chains end as c0, c0 + c1 or
 * (c0 + c1) + (c2 + c3). A short row (head_dim 8) would otherwise wait out
 * the latency of one multiply-add per key. */
#ifndef SL_KERNELS_ATTN_H
#define SL_KERNELS_ATTN_H

#include <stddef.h>
#include <stdint.h>

/* A run of n rows of one head from p on, the call's stride apart. */
typedef struct {
    const void *p;
    int n;
} sl_attn_rows;

typedef struct {
    /* s[i] = scale * dot(q, key i), i < n; key i at k + i * stride bytes */
    void (*scores)(float *s, const float *q, const void *k, size_t stride, int n, int D, float scale);
    /* o[d] = sum_i (w[i] * ws) * value_i[d] (chains above) over the keys of
     * runs r[0..nr) in order, i counting across them; ws: the softmax's
     * 1 / sum, so the weights need no pass of their own */
    void (*accum)(float *o, const float *w, float ws, const sl_attn_rows *r, int nr, size_t stride, int D);
    /* y (D elements of the cache type) = x (D floats) */
    void (*store)(void *y, const float *x, int D);
    /* The query heads of one kv group at once (GQA), nh <= SL_ATTN_GROUP:
     * each key and value row is read (and converted) once for all of them
     * instead of once per head. The same bits as scores and accum per head
     * (with ws = 1: the weights come scaled).
     *   s[h * lds + i] = scale * dot(q[h], key i)
     *   o[h * ldo + d] = sum_i w[h * ldw + i] * value_i[d] */
    void (*scores_group)(float *s, size_t lds, const float *const *q, int nh, const void *k, size_t stride, int n,
                         int D, float scale);
    void (*accum_group)(float *o, size_t ldo, const float *w, size_t ldw, int nh, const sl_attn_rows *r, int nr,
                        size_t stride, int D);
} sl_attn_row_ops;

/* Heads per scores_group / accum_group call, at most. */
#define SL_ATTN_GROUP 8

typedef struct {
    sl_attn_row_ops row[3]; /* by sl_kv_type: f32, f16, q8_0 */
    /* max of x[0..n), n >= 1 */
    float (*max)(const float *x, int n);
    /* x[i] = exp(x[i] - mx) for i < n; returns the sum (8 lanes, then the tail) */
    float (*exp_sum)(float *x, int n, float mx);
} sl_attn_kernels;

/* Chains per weighted sum (above): as many as keep up to 8 registers of
 * accumulators busy, at most 4. */
static inline int sl_attn_accum_chains(int D) { return D <= 16 ? 4 : D <= 32 ? 2 : 1; }

const sl_attn_kernels *sl_attn_kernels_get(void);
const sl_attn_kernels *sl_attn_kernels_ref(void);
/* The AVX2+FMA+F16C table; NULL on non-x86 builds. Call only when the CPU has them. */
const sl_attn_kernels *sl_attn_kernels_avx2(void);

/* The exponential both tables use, one element (Cephes' expf polynomial with
 * fused multiply-adds; x <= 0 here; relative error below 2e-7). */
float sl_attn_expf(float x);

#endif
