/* float_avx2.c — AVX2+F16C rows of f16 to and from f32 (vcvtph2ps and
 * vcvtps2ph round exactly as sl_fp16_* on finite values) and the SwiGLU
 * epilogue. The products are tile kernels (kernels/gemm.h). */
#include "kernels/gemm.h"
#include "kernels/quant_isa.h"
#include "kernels/x86/avx2_util.h"
#include "tensor/quant.h"

static inline __m256 load_f16(const uint16_t *p) {
    return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p));
}

void sl_to_float_f16_avx2(float *y, const void *vx, int64_t n) {
    const uint16_t *x = vx;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, load_f16(x + i));
    for (; i < n; i++) y[i] = sl_h2f(x[i]);
}

void sl_from_float_f16_avx2(void *vy, const float *x, int64_t n) {
    uint16_t *y = vy;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m128i h = _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        _mm_storeu_si128((__m128i *)(y + i), h);
    }
    for (; i < n; i++) y[i] = sl_fp32_to_fp16(x[i]);
}

/* SwiGLU (kernels/gemm.h): the reference's operations on 8 lanes. */
void sl_swiglu_avx2(float *g, const float *u, int n) {
    const __m256 one = _mm256_set1_ps(1.0f);
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 x = _mm256_loadu_ps(g + i);
        const __m256 e = sl_exp8_ps(_mm256_xor_ps(x, _mm256_set1_ps(-0.0f))); /* -x, as the reference negates */
        _mm256_storeu_ps(g + i, _mm256_mul_ps(_mm256_div_ps(x, _mm256_add_ps(one, e)), _mm256_loadu_ps(u + i)));
    }
    sl_swiglu_ref(g + i, u + i, n - i);
}
