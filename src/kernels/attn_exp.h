/* attn_exp.h — the softmax exponential of attention, one element, shared by
 * the reference and the AVX2 kernels so both give the same bits.
 *
 * Cephes' expf: n = round(x / ln 2), r = x - n ln 2 (in two parts), a degree
 * 5 polynomial for e^r, times 2^n built in the exponent bits. Inputs are
 * clamped to [-87, 88] (e^-87 is still a normal float). */
#ifndef SL_KERNELS_ATTN_EXP_H
#define SL_KERNELS_ATTN_EXP_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#define SL_EXP_LOG2E 1.44269504088896341f
#define SL_EXP_LN2_HI 0.693359375f
#define SL_EXP_LN2_LO -2.12194440e-4f
#define SL_EXP_P0 1.9875691500e-4f
#define SL_EXP_P1 1.3981999507e-3f
#define SL_EXP_P2 8.3334519073e-3f
#define SL_EXP_P3 4.1665795894e-2f
#define SL_EXP_P4 1.6666665459e-1f
#define SL_EXP_P5 5.0000001201e-1f

static inline float sl_expf_cephes(float x) {
    /* max then min, as vmaxps/vminps do (a NaN becomes -87); written as
     * comparisons so that no libm call is made */
    x = x > -87.0f ? x : -87.0f;
    x = x < 88.0f ? x : 88.0f;
    const float n = nearbyintf(x * SL_EXP_LOG2E);
    float r = fmaf(n, -SL_EXP_LN2_HI, x);
    r = fmaf(n, -SL_EXP_LN2_LO, r);
    const float z = r * r;
    float p = SL_EXP_P0;
    p = fmaf(p, r, SL_EXP_P1);
    p = fmaf(p, r, SL_EXP_P2);
    p = fmaf(p, r, SL_EXP_P3);
    p = fmaf(p, r, SL_EXP_P4);
    p = fmaf(p, r, SL_EXP_P5);
    const float y = fmaf(p, z, r) + 1.0f;
    const int32_t e = ((int32_t)n + 127) * (1 << 23);
    float scale;
    memcpy(&scale, &e, sizeof scale);
    return y * scale;
}

#endif
