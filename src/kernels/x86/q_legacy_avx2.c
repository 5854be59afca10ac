/* q_legacy_avx2.c — the AVX2 quantizers of rows to q8_0 and q8_1 (the
 * weight table's from_float; bit-exact with the references). The products
 * are tile kernels (kernels/gemm.h): no vec_dot here. */
#include "kernels/quant_isa.h"
#include "kernels/x86/avx2_util.h"
#include "tensor/quant.h"
#include "tensor/quant_blocks.h"

void sl_from_float_q8_0_avx2(void *vy, const float *x, int64_t n) {
    sl_block_q8_0 *y = vy;
    for (int64_t i = 0; i < n / SL_QK8_0; i++, x += SL_QK8_0) {
        const float d = sl_block_absmax32(x) / 127;
        const float id = d ? 1.0f / d : 0.0f;
        y[i].d = sl_fp32_to_fp16(d);
        _mm256_storeu_si256((__m256i *)y[i].qs, sl_block_round32(x, id, NULL));
    }
}

void sl_from_float_q8_1_avx2(void *vy, const float *x, int64_t n) {
    sl_block_q8_1 *y = vy;
    for (int64_t i = 0; i < n / SL_QK8_1; i++, x += SL_QK8_1) {
        const float d = sl_block_absmax32(x) / 127;
        const float id = d ? 1.0f / d : 0.0f;
        __m256i sum32;
        _mm256_storeu_si256((__m256i *)y[i].qs, sl_block_round32(x, id, &sum32));
        y[i].d = sl_fp32_to_fp16(d);
        y[i].s = sl_fp32_to_fp16((float)sl_hsum_epi32(sum32) * d);
    }
}
