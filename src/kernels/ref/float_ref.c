/* float_ref.c — reference kernels of the float weight types f32, f16, bf16.
 * Their vec_dot takes the f32 activation row as is (vec_dot_type f32): one
 * conversion per weight and no rounding of activations. The references sum
 * in double, so they are at least as exact as any SIMD order of summation. */
#include "kernels/ref/quant_ref.h"
#include "tensor/quant.h"

void sl_to_float_f32_ref(float *y, const void *x, int64_t n) { memcpy(y, x, (size_t)n * sizeof *y); }

void sl_from_float_f32_ref(void *y, const float *x, int64_t n) { memcpy(y, x, (size_t)n * sizeof *x); }

void sl_vec_dot_f32_ref(float *s, const void *vx, const void *vy, int64_t n) {
    const float *x = vx, *y = vy;
    double sum = 0;
    for (int64_t i = 0; i < n; i++) sum += (double)x[i] * y[i];
    *s = (float)sum;
}

void sl_to_float_f16_ref(float *y, const void *vx, int64_t n) {
    const uint16_t *x = vx;
    for (int64_t i = 0; i < n; i++) y[i] = sl_fp16_to_fp32(x[i]);
}

void sl_from_float_f16_ref(void *vy, const float *x, int64_t n) {
    uint16_t *y = vy;
    for (int64_t i = 0; i < n; i++) y[i] = sl_fp32_to_fp16(x[i]);
}

void sl_vec_dot_f16_ref(float *s, const void *vx, const void *vy, int64_t n) {
    const uint16_t *x = vx;
    const float *y = vy;
    double sum = 0;
    for (int64_t i = 0; i < n; i++) sum += (double)sl_fp16_to_fp32(x[i]) * y[i];
    *s = (float)sum;
}

void sl_to_float_bf16_ref(float *y, const void *vx, int64_t n) {
    const uint16_t *x = vx;
    for (int64_t i = 0; i < n; i++) y[i] = sl_bf16_to_fp32(x[i]);
}

void sl_from_float_bf16_ref(void *vy, const float *x, int64_t n) {
    uint16_t *y = vy;
    for (int64_t i = 0; i < n; i++) y[i] = sl_fp32_to_bf16(x[i]);
}

void sl_vec_dot_bf16_ref(float *s, const void *vx, const void *vy, int64_t n) {
    const uint16_t *x = vx;
    const float *y = vy;
    double sum = 0;
    for (int64_t i = 0; i < n; i++) sum += (double)sl_bf16_to_fp32(x[i]) * y[i];
    *s = (float)sum;
}
