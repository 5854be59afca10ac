/* quant_neon.c — AArch64 NEON kernels: dot products of f32 and f16 weights
 * with f32 activations, of q4_0 and q8_0 with q8_0 activations, and the q8_0
 * activation quantizer (vcvtaq rounds ties away from zero, as roundf, so it
 * is bit-exact with the reference). Integer products use SDOT when the
 * compiler targets it (+dotprod) and widening multiplies otherwise. */
#include <arm_neon.h>

#include "kernels/quant_isa.h"
#include "tensor/quant.h"
#include "tensor/quant_blocks.h"

void sl_vec_dot_f32_neon(float *s, const void *vx, const void *vy, int64_t n) {
    const float *x = vx, *y = vy;
    float32x4_t a0 = vdupq_n_f32(0), a1 = a0, a2 = a0, a3 = a0;
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        a0 = vfmaq_f32(a0, vld1q_f32(x + i), vld1q_f32(y + i));
        a1 = vfmaq_f32(a1, vld1q_f32(x + i + 4), vld1q_f32(y + i + 4));
        a2 = vfmaq_f32(a2, vld1q_f32(x + i + 8), vld1q_f32(y + i + 8));
        a3 = vfmaq_f32(a3, vld1q_f32(x + i + 12), vld1q_f32(y + i + 12));
    }
    for (; i + 4 <= n; i += 4) a0 = vfmaq_f32(a0, vld1q_f32(x + i), vld1q_f32(y + i));
    float sum = vaddvq_f32(vaddq_f32(vaddq_f32(a0, a1), vaddq_f32(a2, a3)));
    for (; i < n; i++) sum += x[i] * y[i];
    *s = sum;
}

static inline float32x4_t load_f16x4(const uint16_t *p) {
    return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(p)));
}

void sl_vec_dot_f16_neon(float *s, const void *vx, const void *vy, int64_t n) {
    const uint16_t *x = vx;
    const float *y = vy;
    float32x4_t a0 = vdupq_n_f32(0), a1 = a0, a2 = a0, a3 = a0;
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        a0 = vfmaq_f32(a0, load_f16x4(x + i), vld1q_f32(y + i));
        a1 = vfmaq_f32(a1, load_f16x4(x + i + 4), vld1q_f32(y + i + 4));
        a2 = vfmaq_f32(a2, load_f16x4(x + i + 8), vld1q_f32(y + i + 8));
        a3 = vfmaq_f32(a3, load_f16x4(x + i + 12), vld1q_f32(y + i + 12));
    }
    for (; i + 4 <= n; i += 4) a0 = vfmaq_f32(a0, load_f16x4(x + i), vld1q_f32(y + i));
    float sum = vaddvq_f32(vaddq_f32(vaddq_f32(a0, a1), vaddq_f32(a2, a3)));
    for (; i < n; i++) sum += sl_fp16_to_fp32(x[i]) * y[i];
    *s = sum;
}

/* Sum of the 32 products of two signed byte blocks, in 4 int32 lanes. */
static inline int32x4_t dot32(int8x16_t x0, int8x16_t x1, int8x16_t y0, int8x16_t y1) {
#if defined(__ARM_FEATURE_DOTPROD)
    return vdotq_s32(vdotq_s32(vdupq_n_s32(0), x0, y0), x1, y1);
#else
    int32x4_t p = vpaddlq_s16(vmull_s8(vget_low_s8(x0), vget_low_s8(y0)));
    p = vpadalq_s16(p, vmull_high_s8(x0, y0));
    p = vpadalq_s16(p, vmull_s8(vget_low_s8(x1), vget_low_s8(y1)));
    return vpadalq_s16(p, vmull_high_s8(x1, y1));
#endif
}

void sl_vec_dot_q8_0_neon(float *s, const void *vx, const void *vy, int64_t n) {
    const sl_block_q8_0 *x = vx;
    const sl_block_q8_0 *y = vy;
    float32x4_t acc = vdupq_n_f32(0);
    for (int64_t i = 0; i < n / SL_QK8_0; i++) {
        const int32x4_t p = dot32(vld1q_s8(x[i].qs), vld1q_s8(x[i].qs + 16), vld1q_s8(y[i].qs),
                                  vld1q_s8(y[i].qs + 16));
        const float d = sl_fp16_to_fp32(x[i].d) * sl_fp16_to_fp32(y[i].d);
        acc = vfmaq_n_f32(acc, vcvtq_f32_s32(p), d);
    }
    *s = vaddvq_f32(acc);
}

void sl_vec_dot_q4_0_neon(float *s, const void *vx, const void *vy, int64_t n) {
    const sl_block_q4_0 *x = vx;
    const sl_block_q8_0 *y = vy;
    const uint8x16_t m4 = vdupq_n_u8(0x0F);
    const int8x16_t eight = vdupq_n_s8(8);
    float32x4_t acc = vdupq_n_f32(0);
    for (int64_t i = 0; i < n / SL_QK4_0; i++) {
        const uint8x16_t v = vld1q_u8(x[i].qs);
        const int8x16_t lo = vsubq_s8(vreinterpretq_s8_u8(vandq_u8(v, m4)), eight); /* elements 0..15 */
        const int8x16_t hi = vsubq_s8(vreinterpretq_s8_u8(vshrq_n_u8(v, 4)), eight); /* 16..31 */
        const int32x4_t p = dot32(lo, hi, vld1q_s8(y[i].qs), vld1q_s8(y[i].qs + 16));
        const float d = sl_fp16_to_fp32(x[i].d) * sl_fp16_to_fp32(y[i].d);
        acc = vfmaq_n_f32(acc, vcvtq_f32_s32(p), d);
    }
    *s = vaddvq_f32(acc);
}

void sl_from_float_q8_0_neon(void *vy, const float *x, int64_t n) {
    sl_block_q8_0 *y = vy;
    for (int64_t i = 0; i < n / SL_QK8_0; i++, x += SL_QK8_0) {
        float32x4_t v[8], m = vdupq_n_f32(0);
        for (int k = 0; k < 8; k++) {
            v[k] = vld1q_f32(x + 4 * k);
            m = vmaxq_f32(m, vabsq_f32(v[k]));
        }
        const float d = vmaxvq_f32(m) / 127;
        const float id = d ? 1.0f / d : 0.0f;
        y[i].d = sl_fp32_to_fp16(d);
        for (int k = 0; k < 8; k += 2) {
            const int32x4_t a = vcvtaq_s32_f32(vmulq_n_f32(v[k], id));
            const int32x4_t b = vcvtaq_s32_f32(vmulq_n_f32(v[k + 1], id));
            const int16x8_t h = vcombine_s16(vqmovn_s32(a), vqmovn_s32(b));
            vst1_s8(y[i].qs + 4 * k, vqmovn_s16(h));
        }
    }
}
