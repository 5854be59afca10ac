/* q_legacy_avx2.c — AVX2 kernels of the 32-element block types: dot products
 * of q4_0/q4_1/q5_0/q5_1/q8_0 with q8_0/q8_1 activations, and the activation
 * quantizers to q8_0 and q8_1 (bit-exact with the references).
 *
 * Each block: unpack the weights to 32 bytes, multiply-add bytes pairwise
 * (vpmaddubsw, vpmaddwd) into 8 exact int32 sums, convert, and accumulate
 * scale * sum with FMA. Only the float accumulation order differs from the
 * reference. */
#include "kernels/quant_isa.h"
#include "kernels/x86/avx2_util.h"
#include "tensor/quant.h"
#include "tensor/quant_blocks.h"

static inline __m256i load32(const int8_t *p) { return _mm256_loadu_si256((const __m256i *)p); }

void sl_vec_dot_q4_0_avx2(float *s, const void *vx, const void *vy, int64_t n) {
    const sl_block_q4_0 *x = vx;
    const sl_block_q8_0 *y = vy;
    const int64_t nb = n / SL_QK4_0;
    __m256 acc = _mm256_setzero_ps();
    for (int64_t i = 0; i < nb; i++) {
        const __m256 d = _mm256_set1_ps(sl_h2f(x[i].d) * sl_h2f(y[i].d));
        const __m256i qx = _mm256_sub_epi8(sl_nibbles32(x[i].qs), _mm256_set1_epi8(8));
        acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(sl_dot_i8(qx, load32(y[i].qs))), acc);
    }
    *s = sl_hsum_ps(acc);
}

void sl_vec_dot_q4_1_avx2(float *s, const void *vx, const void *vy, int64_t n) {
    const sl_block_q4_1 *x = vx;
    const sl_block_q8_1 *y = vy;
    const int64_t nb = n / SL_QK4_1;
    __m256 acc = _mm256_setzero_ps();
    float summ = 0; /* the min terms: m * d_y * sum(q_y) = m * s_y */
    for (int64_t i = 0; i < nb; i++) {
        const __m256 d = _mm256_set1_ps(sl_h2f(x[i].d) * sl_h2f(y[i].d));
        const __m256i qx = sl_nibbles32(x[i].qs);
        acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(sl_dot_u8i8(qx, load32(y[i].qs))), acc);
        summ += sl_h2f(x[i].m) * sl_h2f(y[i].s);
    }
    *s = sl_hsum_ps(acc) + summ;
}

/* The 32 five-bit quants of a q5 block: nibble | (bit of qh) << 4. */
static inline __m256i q5_unpack(const uint8_t *qs, const uint8_t *qh) {
    const __m256i hi = _mm256_and_si256(sl_bits32_to_bytes(qh), _mm256_set1_epi8(0x10));
    return _mm256_or_si256(sl_nibbles32(qs), hi);
}

void sl_vec_dot_q5_0_avx2(float *s, const void *vx, const void *vy, int64_t n) {
    const sl_block_q5_0 *x = vx;
    const sl_block_q8_0 *y = vy;
    const int64_t nb = n / SL_QK5_0;
    __m256 acc = _mm256_setzero_ps();
    for (int64_t i = 0; i < nb; i++) {
        const __m256 d = _mm256_set1_ps(sl_h2f(x[i].d) * sl_h2f(y[i].d));
        const __m256i qx = _mm256_sub_epi8(q5_unpack(x[i].qs, x[i].qh), _mm256_set1_epi8(16));
        acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(sl_dot_i8(qx, load32(y[i].qs))), acc);
    }
    *s = sl_hsum_ps(acc);
}

void sl_vec_dot_q5_1_avx2(float *s, const void *vx, const void *vy, int64_t n) {
    const sl_block_q5_1 *x = vx;
    const sl_block_q8_1 *y = vy;
    const int64_t nb = n / SL_QK5_1;
    __m256 acc = _mm256_setzero_ps();
    float summ = 0;
    for (int64_t i = 0; i < nb; i++) {
        const __m256 d = _mm256_set1_ps(sl_h2f(x[i].d) * sl_h2f(y[i].d));
        const __m256i qx = q5_unpack(x[i].qs, x[i].qh);
        acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(sl_dot_u8i8(qx, load32(y[i].qs))), acc);
        summ += sl_h2f(x[i].m) * sl_h2f(y[i].s);
    }
    *s = sl_hsum_ps(acc) + summ;
}

void sl_vec_dot_q8_0_avx2(float *s, const void *vx, const void *vy, int64_t n) {
    const sl_block_q8_0 *x = vx;
    const sl_block_q8_0 *y = vy;
    const int64_t nb = n / SL_QK8_0;
    __m256 acc0 = _mm256_setzero_ps(), acc1 = acc0;
    int64_t i = 0;
    for (; i + 2 <= nb; i += 2) { /* two chains hide the FMA latency */
        const __m256 d0 = _mm256_set1_ps(sl_h2f(x[i].d) * sl_h2f(y[i].d));
        const __m256 d1 = _mm256_set1_ps(sl_h2f(x[i + 1].d) * sl_h2f(y[i + 1].d));
        acc0 = _mm256_fmadd_ps(d0, _mm256_cvtepi32_ps(sl_dot_i8(load32(x[i].qs), load32(y[i].qs))), acc0);
        acc1 = _mm256_fmadd_ps(d1, _mm256_cvtepi32_ps(sl_dot_i8(load32(x[i + 1].qs), load32(y[i + 1].qs))), acc1);
    }
    if (i < nb) {
        const __m256 d0 = _mm256_set1_ps(sl_h2f(x[i].d) * sl_h2f(y[i].d));
        acc0 = _mm256_fmadd_ps(d0, _mm256_cvtepi32_ps(sl_dot_i8(load32(x[i].qs), load32(y[i].qs))), acc0);
    }
    *s = sl_hsum_ps(_mm256_add_ps(acc0, acc1));
}

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
