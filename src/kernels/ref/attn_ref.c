/* attn_ref.c — scalar references for kernels/attn_kernels.h, written to do
 * the very operations of the AVX2 kernels in the same order (eight lanes
 * along D, fused multiply-adds), so the two give the same bits. */
#include "kernels/attn_exp.h"
#include "kernels/attn_kernels.h"
#include "kernels/ref/quant_ref.h"
#include "tensor/quant.h"
#include "tensor/quant_blocks.h"

static inline float lanes_sum(const float l[8]) {
    return ((l[0] + l[4]) + (l[2] + l[6])) + ((l[1] + l[5]) + (l[3] + l[7]));
}

/* One key's dot with q; half: the key is f16, else f32. */
static inline float dot_float(const float *q, const void *k, int D, int half) {
    float l[8] = {0};
    const int D8 = D & ~7;
    for (int d = 0; d < D8; d++)
        l[d & 7] = fmaf(q[d], half ? sl_fp16_to_fp32(((const uint16_t *)k)[d]) : ((const float *)k)[d], l[d & 7]);
    float s = lanes_sum(l);
    for (int d = D8; d < D; d++)
        s = fmaf(q[d], half ? sl_fp16_to_fp32(((const uint16_t *)k)[d]) : ((const float *)k)[d], s);
    return s;
}

static void scores_f32(float *s, const float *q, const void *k, size_t stride, int n, int D, float scale) {
    for (int i = 0; i < n; i++) s[i] = dot_float(q, (const char *)k + (size_t)i * stride, D, 0) * scale;
}
static void scores_f16(float *s, const float *q, const void *k, size_t stride, int n, int D, float scale) {
    for (int i = 0; i < n; i++) s[i] = dot_float(q, (const char *)k + (size_t)i * stride, D, 1) * scale;
}
static void scores_q8_0(float *s, const float *q, const void *k, size_t stride, int n, int D, float scale) {
    for (int i = 0; i < n; i++) {
        const sl_block_q8_0 *b = (const void *)((const char *)k + (size_t)i * stride);
        float l[8] = {0};
        for (int j = 0; j < D / 32; j++) {
            const float d = sl_fp16_to_fp32(b[j].d);
            for (int e = 0; e < 32; e++) l[e & 7] = fmaf(q[32 * j + e] * d, (float)b[j].qs[e], l[e & 7]);
        }
        s[i] = lanes_sum(l) * scale;
    }
}

/* Element k of value row i as a float (type kt: 0 f32, 1 f16, 2 q8_0), times
 * the weight the kernels use for it: wi, or wi * d for a q8_0 block. */
static inline float value_at(const char *vr, int k, int kt, float wi, float *wk) {
    if (kt == 2) {
        const sl_block_q8_0 *b = (const void *)vr;
        *wk = wi * sl_fp16_to_fp32(b[k / 32].d);
        return (float)b[k / 32].qs[k % 32];
    }
    *wk = wi;
    return kt == 1 ? sl_fp16_to_fp32(((const uint16_t *)(const void *)vr)[k]) : ((const float *)(const void *)vr)[k];
}

/* Column by column: the keys of every run in order, in C chains. */
static void accum_rows(float *o, const float *w, float ws, const sl_attn_rows *r, int nr, size_t stride, int D,
                       int kt) {
    const int C = sl_attn_accum_chains(D);
    for (int d = 0; d < D; d++) {
        float c[4] = {0, 0, 0, 0};
        for (int j = 0, i = 0; j < nr; j++)
            for (int k = 0; k < r[j].n; k++, i++) {
                float wk;
                const float x = value_at((const char *)r[j].p + (size_t)k * stride, d, kt, w[i] * ws, &wk);
                c[i % C] = fmaf(wk, x, c[i % C]);
            }
        o[d] = C == 4 ? (c[0] + c[1]) + (c[2] + c[3]) : C == 2 ? c[0] + c[1] : c[0];
    }
}
static void accum_f32(float *o, const float *w, float ws, const sl_attn_rows *r, int nr, size_t stride, int D) {
    accum_rows(o, w, ws, r, nr, stride, D, 0);
}
static void accum_f16(float *o, const float *w, float ws, const sl_attn_rows *r, int nr, size_t stride, int D) {
    accum_rows(o, w, ws, r, nr, stride, D, 1);
}
static void accum_q8_0(float *o, const float *w, float ws, const sl_attn_rows *r, int nr, size_t stride, int D) {
    accum_rows(o, w, ws, r, nr, stride, D, 2);
}

/* The group ops head by head (their definition). */
#define GROUP_OPS(T)                                                                                            \
    static void scores_group_##T(float *s, size_t lds, const float *const *q, int nh, const void *k, size_t stride, \
                                 int n, int D, float scale) {                                                   \
        for (int h = 0; h < nh; h++) scores_##T(s + (size_t)h * lds, q[h], k, stride, n, D, scale);             \
    }                                                                                                           \
    static void accum_group_##T(float *o, size_t ldo, const float *w, size_t ldw, int nh, const sl_attn_rows *r,  \
                                int nr, size_t stride, int D) {                                                 \
        for (int h = 0; h < nh; h++) accum_##T(o + (size_t)h * ldo, w + (size_t)h * ldw, 1.0f, r, nr, stride, D); \
    }
GROUP_OPS(f32)
GROUP_OPS(f16)
GROUP_OPS(q8_0)

static void store_f32(void *y, const float *x, int D) { memcpy(y, x, (size_t)D * sizeof *x); }
static void store_f16(void *y, const float *x, int D) { sl_from_float_f16_ref(y, x, D); }
static void store_q8_0(void *y, const float *x, int D) { sl_from_float_q8_0_ref(y, x, D); }

static float max_ref(const float *x, int n) {
    float m = x[0];
    for (int i = 1; i < n; i++) m = x[i] > m ? x[i] : m;
    return m;
}

static float exp_sum_ref(float *x, int n, float mx) {
    float l[8] = {0};
    const int n8 = n & ~7;
    for (int i = 0; i < n8; i++) {
        x[i] = sl_expf_cephes(x[i] - mx);
        l[i & 7] += x[i];
    }
    float s = lanes_sum(l);
    for (int i = n8; i < n; i++) {
        x[i] = sl_expf_cephes(x[i] - mx);
        s += x[i];
    }
    return s;
}

float sl_attn_expf(float x) { return sl_expf_cephes(x); }

static const sl_attn_kernels REF = {
    .row = {{scores_f32, accum_f32, store_f32, scores_group_f32, accum_group_f32},
            {scores_f16, accum_f16, store_f16, scores_group_f16, accum_group_f16},
            {scores_q8_0, accum_q8_0, store_q8_0, scores_group_q8_0, accum_group_q8_0}},
    .max = max_ref,
    .exp_sum = exp_sum_ref,
};
const sl_attn_kernels *sl_attn_kernels_ref(void) { return &REF; }
