/* attn_avx2.c — AVX2 + FMA + F16C attention inner loops; references in
 * kernels/ref/attn_ref.c do the same operations in the same order (eight
 * lanes along D), tested bit for bit in tests/unit/test_attn_kernels.c. */
#include <immintrin.h>

#include "kernels/attn_exp.h"
#include "kernels/attn_kernels.h"
#include "kernels/quant_isa.h"
#include "kernels/x86/avx2_util.h"
#include "tensor/quant.h"
#include "tensor/quant_blocks.h"

#define INLINE static inline __attribute__((always_inline))

INLINE __m256 load8(const void *p, int k, const int half) {
    if (half) return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)((const uint16_t *)p + k)));
    return _mm256_loadu_ps((const float *)p + k);
}
INLINE float at(const void *p, int k, const int half) {
    return half ? sl_h2f(((const uint16_t *)p)[k]) : ((const float *)p)[k];
}

/* Rows of one head are stride bytes apart (the cache row holds every kv
 * head), a pattern the hardware prefetchers follow poorly: fetch the row
 * PF_AHEAD keys ahead, every line of it. */
#define PF_AHEAD 8
INLINE void prefetch_row(const void *base, int i, int n, size_t stride, size_t bytes) {
    if (i + PF_AHEAD >= n) return;
    const char *p = (const char *)base + (size_t)(i + PF_AHEAD) * stride;
    for (size_t o = 0; o < bytes; o += 64) _mm_prefetch(p + o, _MM_HINT_T0);
}

INLINE void scores_float(float *s, const float *q, const void *k, size_t stride, int n, int D, float scale,
                         const int half) {
    const int D8 = D & ~7;
    const size_t bytes = (size_t)D * (half ? 2 : 4);
    int i = 0;
    /* four keys at a time: four independent chains in flight, each key's
     * chain the same as alone */
    for (; i + 4 <= n; i += 4) {
        for (int j = 0; j < 4; j++) prefetch_row(k, i + j, n, stride, bytes);
        const char *k0 = (const char *)k + (size_t)i * stride;
        __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
        for (int d = 0; d < D8; d += 8) {
            const __m256 qv = _mm256_loadu_ps(q + d);
            a0 = _mm256_fmadd_ps(qv, load8(k0, d, half), a0);
            a1 = _mm256_fmadd_ps(qv, load8(k0 + stride, d, half), a1);
            a2 = _mm256_fmadd_ps(qv, load8(k0 + 2 * stride, d, half), a2);
            a3 = _mm256_fmadd_ps(qv, load8(k0 + 3 * stride, d, half), a3);
        }
        float v[4] = {sl_hsum_ps(a0), sl_hsum_ps(a1), sl_hsum_ps(a2), sl_hsum_ps(a3)};
        for (int j = 0; j < 4; j++) {
            for (int d = D8; d < D; d++) v[j] = fmaf(q[d], at(k0 + (size_t)j * stride, d, half), v[j]);
            s[i + j] = v[j] * scale;
        }
    }
    for (; i < n; i++) {
        prefetch_row(k, i, n, stride, bytes);
        const void *kr = (const char *)k + (size_t)i * stride;
        __m256 acc = _mm256_setzero_ps();
        for (int d = 0; d < D8; d += 8) acc = _mm256_fmadd_ps(_mm256_loadu_ps(q + d), load8(kr, d, half), acc);
        float v = sl_hsum_ps(acc);
        for (int d = D8; d < D; d++) v = fmaf(q[d], at(kr, d, half), v);
        s[i] = v * scale;
    }
}
static void scores_f32(float *s, const float *q, const void *k, size_t stride, int n, int D, float scale) {
    scores_float(s, q, k, stride, n, D, scale, 0);
}
static void scores_f16(float *s, const float *q, const void *k, size_t stride, int n, int D, float scale) {
    scores_float(s, q, k, stride, n, D, scale, 1);
}

/* 8 int8 as 8 floats */
INLINE __m256 i8x8(const int8_t *p) {
    return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)p)));
}

static void scores_q8_0(float *s, const float *q, const void *k, size_t stride, int n, int D, float scale) {
    for (int i = 0; i < n; i++) {
        prefetch_row(k, i, n, stride, (size_t)D / 32 * sizeof(sl_block_q8_0));
        const sl_block_q8_0 *b = (const void *)((const char *)k + (size_t)i * stride);
        __m256 acc = _mm256_setzero_ps();
        for (int j = 0; j < D / 32; j++) {
            const __m256 d = _mm256_set1_ps(sl_h2f(b[j].d));
            for (int e = 0; e < 32; e += 8)
                acc = _mm256_fmadd_ps(_mm256_mul_ps(_mm256_loadu_ps(q + 32 * j + e), d), i8x8(b[j].qs + e), acc);
        }
        s[i] = sl_hsum_ps(acc) * scale;
    }
}

/* o += w[i] * v_i: o in registers for up to 64 dimensions at a time. */
INLINE void accum_float(float *o, const float *w, const void *v, size_t stride, int n, int D, const int half) {
    const int D8 = D & ~7;
    for (int d0 = 0; d0 < D8; d0 += 64) {
        const int nv = (D8 - d0) / 8 < 8 ? (D8 - d0) / 8 : 8;
        __m256 acc[8];
        for (int c = 0; c < nv; c++) acc[c] = _mm256_loadu_ps(o + d0 + 8 * c);
        for (int i = 0; i < n; i++) {
            if (d0 == 0) prefetch_row(v, i, n, stride, (size_t)D * (half ? 2 : 4));
            const void *vr = (const char *)v + (size_t)i * stride;
            const __m256 wi = _mm256_set1_ps(w[i]);
            for (int c = 0; c < nv; c++) acc[c] = _mm256_fmadd_ps(wi, load8(vr, d0 + 8 * c, half), acc[c]);
        }
        for (int c = 0; c < nv; c++) _mm256_storeu_ps(o + d0 + 8 * c, acc[c]);
    }
    for (int d = D8; d < D; d++)
        for (int i = 0; i < n; i++) o[d] = fmaf(w[i], at((const char *)v + (size_t)i * stride, d, half), o[d]);
}
static void accum_f32(float *o, const float *w, const void *v, size_t stride, int n, int D) {
    accum_float(o, w, v, stride, n, D, 0);
}
static void accum_f16(float *o, const float *w, const void *v, size_t stride, int n, int D) {
    accum_float(o, w, v, stride, n, D, 1);
}

static void accum_q8_0(float *o, const float *w, const void *v, size_t stride, int n, int D) {
    for (int j = 0; j < D / 32; j++) {
        __m256 acc[4];
        for (int c = 0; c < 4; c++) acc[c] = _mm256_loadu_ps(o + 32 * j + 8 * c);
        for (int i = 0; i < n; i++) {
            if (j == 0) prefetch_row(v, i, n, stride, (size_t)D / 32 * sizeof(sl_block_q8_0));
            const sl_block_q8_0 *b = (const void *)((const char *)v + (size_t)i * stride);
            const __m256 wd = _mm256_set1_ps(w[i] * sl_h2f(b[j].d));
            for (int c = 0; c < 4; c++) acc[c] = _mm256_fmadd_ps(wd, i8x8(b[j].qs + 8 * c), acc[c]);
        }
        for (int c = 0; c < 4; c++) _mm256_storeu_ps(o + 32 * j + 8 * c, acc[c]);
    }
}

static void store_f32(void *y, const float *x, int D) { memcpy(y, x, (size_t)D * sizeof *x); }
static void store_f16(void *y, const float *x, int D) { sl_from_float_f16_avx2(y, x, D); }
static void store_q8_0(void *y, const float *x, int D) { sl_from_float_q8_0_avx2(y, x, D); }

static float max_avx2(const float *x, int n) {
    int i = 0;
    float m = x[0];
    if (n >= 8) {
        __m256 v = _mm256_loadu_ps(x);
        for (i = 8; i + 8 <= n; i += 8) v = _mm256_max_ps(v, _mm256_loadu_ps(x + i));
        __m128 h = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
        h = _mm_max_ps(h, _mm_movehl_ps(h, h));
        h = _mm_max_ss(h, _mm_movehdup_ps(h));
        m = _mm_cvtss_f32(h);
    }
    for (; i < n; i++) m = x[i] > m ? x[i] : m;
    return m;
}

/* sl_expf_cephes on 8 lanes, operation for operation. */
INLINE __m256 exp8(__m256 x) {
    x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-87.0f)), _mm256_set1_ps(88.0f));
    const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(SL_EXP_LOG2E)),
                                     _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fmadd_ps(n, _mm256_set1_ps(-SL_EXP_LN2_HI), x);
    r = _mm256_fmadd_ps(n, _mm256_set1_ps(-SL_EXP_LN2_LO), r);
    const __m256 z = _mm256_mul_ps(r, r);
    __m256 p = _mm256_set1_ps(SL_EXP_P0);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(SL_EXP_P1));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(SL_EXP_P2));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(SL_EXP_P3));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(SL_EXP_P4));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(SL_EXP_P5));
    const __m256 y = _mm256_add_ps(_mm256_fmadd_ps(p, z, r), _mm256_set1_ps(1.0f));
    const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(y, _mm256_castsi256_ps(e));
}

static float exp_sum_avx2(float *x, int n, float mx) {
    const __m256 vm = _mm256_set1_ps(mx);
    __m256 acc = _mm256_setzero_ps();
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(x + i), vm));
        _mm256_storeu_ps(x + i, e);
        acc = _mm256_add_ps(acc, e);
    }
    float s = sl_hsum_ps(acc);
    for (; i < n; i++) {
        x[i] = sl_expf_cephes(x[i] - mx);
        s += x[i];
    }
    return s;
}

static const sl_attn_kernels AVX2 = {
    .row = {{scores_f32, accum_f32, store_f32}, {scores_f16, accum_f16, store_f16}, {scores_q8_0, accum_q8_0, store_q8_0}},
    .max = max_avx2,
    .exp_sum = exp_sum_avx2,
};

/* The caller (attn_dispatch.c) checks the CPU first. */
const sl_attn_kernels *sl_attn_kernels_avx2(void) { return &AVX2; }
