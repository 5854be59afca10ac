/* quant_ref.h — the scalar reference kernels of every weight type, always
 * compiled. They define the semantics; SIMD kernels (kernels/x86, kernels/arm)
 * are tested against them. Signatures are those of quant.h:
 *   to_float(y (n), x blocks, n)  from_float(y blocks, x (n), n)
 *   vec_dot(*s, x row of the type, y row of its vec_dot_type, n)
 * n is always a multiple of the type's block size.
 *
 * vec_dot pairs (what matmul quantizes activations to):
 *   f32·f32, f16·f32, bf16·f32   (float weights see the f32 activations as is)
 *   q4_0, q5_0, q8_0 · q8_0      q4_1, q5_1 · q8_1      q4_K, q5_K, q6_K · q8_K */
#ifndef SL_KERNELS_REF_QUANT_REF_H
#define SL_KERNELS_REF_QUANT_REF_H

#include <math.h>
#include <stdint.h>
#include <string.h>

/* Round to nearest, ties to even (as ggml's nearest_int, in the default
 * rounding mode); |f| must be well below 2^22. */
static inline int sl_nearest_int(float f) {
    float v = f + 12582912.f; /* 1.5 * 2^23: pushes the fraction out of the mantissa */
    int32_t i;
    memcpy(&i, &v, sizeof i);
    return (i & 0x007FFFFF) - 0x00400000;
}

#define SL_REF_DECL(t)                                                   \
    void sl_to_float_##t##_ref(float *y, const void *x, int64_t n);     \
    void sl_from_float_##t##_ref(void *y, const float *x, int64_t n);   \
    void sl_vec_dot_##t##_ref(float *s, const void *x, const void *y, int64_t n);

SL_REF_DECL(f32)
SL_REF_DECL(f16)
SL_REF_DECL(bf16)
SL_REF_DECL(q4_0)
SL_REF_DECL(q4_1)
SL_REF_DECL(q5_0)
SL_REF_DECL(q5_1)
SL_REF_DECL(q8_0)
SL_REF_DECL(q4_k)
SL_REF_DECL(q5_k)
SL_REF_DECL(q6_k)
#undef SL_REF_DECL

/* Activation-only types: no vec_dot of their own. */
void sl_to_float_q8_1_ref(float *y, const void *x, int64_t n);
void sl_from_float_q8_1_ref(void *y, const float *x, int64_t n);
void sl_to_float_q8_k_ref(float *y, const void *x, int64_t n);
void sl_from_float_q8_k_ref(void *y, const float *x, int64_t n);

#endif
