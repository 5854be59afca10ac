/* attn_ref.c — scalar references for kernels/attn_kernels.h. */
#include "kernels/attn_kernels.h"
#include "tensor/quant.h"

static float dot_f32(const float *q, const float *k, int n) {
    float s = 0;
    for (int i = 0; i < n; i++) s += q[i] * k[i];
    return s;
}
static float dot_f16(const float *q, const uint16_t *k, int n) {
    float s = 0;
    for (int i = 0; i < n; i++) s += q[i] * sl_fp16_to_fp32(k[i]);
    return s;
}
static void axpy_f32(float *y, float a, const float *x, int n) {
    for (int i = 0; i < n; i++) y[i] += a * x[i];
}
static void axpy_f16(float *y, float a, const uint16_t *x, int n) {
    for (int i = 0; i < n; i++) y[i] += a * sl_fp16_to_fp32(x[i]);
}

static const sl_attn_kernels REF = {dot_f32, dot_f16, axpy_f32, axpy_f16};
const sl_attn_kernels *sl_attn_kernels_ref(void) { return &REF; }
