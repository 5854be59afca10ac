/* q_k_avx2.c — the AVX2 quantizer of rows to q8_K, the K-quant tile
 * kernels' activations (bit-exact with the reference). The products are
 * tile kernels (x86/gemm_k_avx2.c): no vec_dot here. */
#include "kernels/quant_isa.h"
#include "kernels/x86/avx2_util.h"
#include "tensor/quant.h"
#include "tensor/quant_blocks.h"

void sl_from_float_q8_k_avx2(void *vy, const float *x, int64_t n) {
    sl_block_q8_k *y = vy;
    const __m256 absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7FFFFFFF));
    for (int64_t i = 0; i < n / SL_QK_K; i++, x += SL_QK_K) {
        __m256 m = _mm256_setzero_ps();
        for (int k = 0; k < SL_QK_K; k += 8) m = _mm256_max_ps(m, _mm256_and_ps(_mm256_loadu_ps(x + k), absmask));
        __m128 h = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
        h = _mm_max_ps(h, _mm_movehl_ps(h, h));
        h = _mm_max_ss(h, _mm_movehdup_ps(h));
        const float amax = _mm_cvtss_f32(h);
        if (amax == 0) {
            memset(&y[i], 0, sizeof y[i]);
            continue;
        }
        /* the first element of that magnitude decides the sign, as in the reference */
        int idx = 0;
        const __m256 va = _mm256_set1_ps(amax);
        for (int k = 0; k < SL_QK_K; k += 8) {
            int mask = _mm256_movemask_ps(_mm256_cmp_ps(_mm256_and_ps(_mm256_loadu_ps(x + k), absmask), va, _CMP_EQ_OQ));
            if (mask) {
                idx = k + __builtin_ctz((unsigned)mask);
                break;
            }
        }
        const float iscale = -127.f / x[idx];
        const __m256 vis = _mm256_set1_ps(iscale);
        const __m256i lim = _mm256_set1_epi32(127);
        for (int g = 0; g < SL_QK_K; g += 32) {
            __m256i q[4];
            for (int k = 0; k < 4; k++) {
                __m256 v = _mm256_round_ps(_mm256_mul_ps(_mm256_loadu_ps(x + g + 8 * k), vis),
                                           _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
                q[k] = _mm256_min_epi32(_mm256_cvtps_epi32(v), lim);
            }
            y[i].bsums[g / 16] = (int16_t)sl_hsum_epi32(_mm256_add_epi32(q[0], q[1]));
            y[i].bsums[g / 16 + 1] = (int16_t)sl_hsum_epi32(_mm256_add_epi32(q[2], q[3]));
            _mm256_storeu_si256((__m256i *)(y[i].qs + g), sl_pack_i32x4_i8(q[0], q[1], q[2], q[3]));
        }
        y[i].d = 1 / iscale;
    }
}
