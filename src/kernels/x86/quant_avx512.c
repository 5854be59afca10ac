/* quant_avx512.c — AVX-512 (F, BW, VL, DQ) dot products for the types that
 * dominate decode: f32, f16 (with f32 activations), q4_0 and q8_0 (with q8_0
 * activations). Other types use the AVX2 kernels on AVX-512 machines.
 * Float kernels take 16 lanes per step and finish with a masked load; block
 * kernels take two 32-blocks per 512-bit register, each half scaled by its
 * own block's d, and an odd last block with AVX2. */
#include "kernels/quant_isa.h"
#include "kernels/x86/avx2_util.h"
#include "tensor/quant.h"
#include "tensor/quant_blocks.h"

void sl_vec_dot_f32_avx512(float *s, const void *vx, const void *vy, int64_t n) {
    const float *x = vx, *y = vy;
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    int64_t i = 0;
    for (; i + 64 <= n; i += 64) {
        a0 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i), _mm512_loadu_ps(y + i), a0);
        a1 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i + 16), _mm512_loadu_ps(y + i + 16), a1);
        a2 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i + 32), _mm512_loadu_ps(y + i + 32), a2);
        a3 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i + 48), _mm512_loadu_ps(y + i + 48), a3);
    }
    for (; i + 16 <= n; i += 16) a0 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i), _mm512_loadu_ps(y + i), a0);
    if (i < n) {
        const __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
        a1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, x + i), _mm512_maskz_loadu_ps(m, y + i), a1);
    }
    *s = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)));
}

void sl_vec_dot_f16_avx512(float *s, const void *vx, const void *vy, int64_t n) {
    const uint16_t *x = vx;
    const float *y = vy;
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
#define LOADH(p) _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(p)))
    int64_t i = 0;
    for (; i + 64 <= n; i += 64) {
        a0 = _mm512_fmadd_ps(LOADH(x + i), _mm512_loadu_ps(y + i), a0);
        a1 = _mm512_fmadd_ps(LOADH(x + i + 16), _mm512_loadu_ps(y + i + 16), a1);
        a2 = _mm512_fmadd_ps(LOADH(x + i + 32), _mm512_loadu_ps(y + i + 32), a2);
        a3 = _mm512_fmadd_ps(LOADH(x + i + 48), _mm512_loadu_ps(y + i + 48), a3);
    }
    for (; i + 16 <= n; i += 16) a0 = _mm512_fmadd_ps(LOADH(x + i), _mm512_loadu_ps(y + i), a0);
#undef LOADH
    if (i < n) {
        const __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
        const __m512 h = _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, x + i));
        a1 = _mm512_fmadd_ps(h, _mm512_maskz_loadu_ps(m, y + i), a1);
    }
    *s = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)));
}

/* 16 int32 lanes of sums of signed byte products: |x| times y with x's sign. */
static inline __m512i dot_i8_512(__m512i x, __m512i y) {
    const __mmask64 neg = _mm512_movepi8_mask(x);
    const __m512i sy = _mm512_mask_sub_epi8(y, neg, _mm512_setzero_si512(), y);
    return _mm512_madd_epi16(_mm512_maddubs_epi16(_mm512_abs_epi8(x), sy), _mm512_set1_epi16(1));
}

static inline __m512i join256(__m256i lo, __m256i hi) {
    return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
}

/* Lanes 0..7 scaled by a, lanes 8..15 by b. */
static inline __m512 scale2(float a, float b) {
    return _mm512_insertf32x8(_mm512_castps256_ps512(_mm256_set1_ps(a)), _mm256_set1_ps(b), 1);
}

static inline __m256i load32(const int8_t *p) { return _mm256_loadu_si256((const __m256i *)p); }

void sl_vec_dot_q8_0_avx512(float *s, const void *vx, const void *vy, int64_t n) {
    const sl_block_q8_0 *x = vx;
    const sl_block_q8_0 *y = vy;
    const int64_t nb = n / SL_QK8_0;
    __m512 acc = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 2 <= nb; i += 2) {
        const __m512i qx = join256(load32(x[i].qs), load32(x[i + 1].qs));
        const __m512i qy = join256(load32(y[i].qs), load32(y[i + 1].qs));
        const __m512 d = scale2(sl_h2f(x[i].d) * sl_h2f(y[i].d), sl_h2f(x[i + 1].d) * sl_h2f(y[i + 1].d));
        acc = _mm512_fmadd_ps(d, _mm512_cvtepi32_ps(dot_i8_512(qx, qy)), acc);
    }
    float sum = _mm512_reduce_add_ps(acc);
    if (i < nb) {
        const __m256 p = _mm256_cvtepi32_ps(sl_dot_i8(load32(x[i].qs), load32(y[i].qs)));
        sum += sl_h2f(x[i].d) * sl_h2f(y[i].d) * sl_hsum_ps(p);
    }
    *s = sum;
}

void sl_vec_dot_q4_0_avx512(float *s, const void *vx, const void *vy, int64_t n) {
    const sl_block_q4_0 *x = vx;
    const sl_block_q8_0 *y = vy;
    const int64_t nb = n / SL_QK4_0;
    const __m512i eight = _mm512_set1_epi8(8);
    __m512 acc = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 2 <= nb; i += 2) {
        const __m512i qx = _mm512_sub_epi8(join256(sl_nibbles32(x[i].qs), sl_nibbles32(x[i + 1].qs)), eight);
        const __m512i qy = join256(load32(y[i].qs), load32(y[i + 1].qs));
        const __m512 d = scale2(sl_h2f(x[i].d) * sl_h2f(y[i].d), sl_h2f(x[i + 1].d) * sl_h2f(y[i + 1].d));
        acc = _mm512_fmadd_ps(d, _mm512_cvtepi32_ps(dot_i8_512(qx, qy)), acc);
    }
    float sum = _mm512_reduce_add_ps(acc);
    if (i < nb) {
        const __m256i qx = _mm256_sub_epi8(sl_nibbles32(x[i].qs), _mm256_set1_epi8(8));
        const __m256 p = _mm256_cvtepi32_ps(sl_dot_i8(qx, load32(y[i].qs)));
        sum += sl_h2f(x[i].d) * sl_h2f(y[i].d) * sl_hsum_ps(p);
    }
    *s = sum;
}
