/* attn_kernels.h — the two inner loops of attention over cached rows that
 * are f32 or f16: a dot product and an axpy. Scalar references always
 * compiled (kernels/ref/attn_ref.c), AVX2+F16C versions chosen at start-up
 * (kernels/x86/attn_avx2.c); SL_FORCE_REF=1 forces the references. */
#ifndef SL_KERNELS_ATTN_H
#define SL_KERNELS_ATTN_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    float (*dot_f32)(const float *q, const float *k, int n);    /* sum q[i]*k[i] */
    float (*dot_f16)(const float *q, const uint16_t *k, int n);
    void (*axpy_f32)(float *y, float a, const float *x, int n); /* y += a*x */
    void (*axpy_f16)(float *y, float a, const uint16_t *x, int n);
} sl_attn_kernels;

const sl_attn_kernels *sl_attn_kernels_get(void);
const sl_attn_kernels *sl_attn_kernels_ref(void);
/* The AVX2+FMA+F16C table; NULL on non-x86 builds. Call only when the CPU has them. */
const sl_attn_kernels *sl_attn_kernels_avx2(void);

#endif
