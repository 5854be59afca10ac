/* quant_neon.c — AArch64 NEON: the q8_0 row quantizer (vcvtaq rounds ties
 * away from zero, as roundf, so it is bit-exact with the reference). Arm
 * has no tile kernels of its own: its products run the scalar references
 * of kernels/gemm.h, correct and slow; NEON tile kernels are not written. */
#include <arm_neon.h>

#include "kernels/quant_isa.h"
#include "tensor/quant.h"
#include "tensor/quant_blocks.h"

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
