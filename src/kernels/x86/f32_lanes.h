/* f32_lanes.h — the ends of the f32 kernels' outputs (kernels/gemm.h: 8
 * lanes along K, summed as ((l0+l4)+(l2+l6)) + ((l1+l5)+(l3+l7)), then the
 * K % 8 tail in order), shared by the AVX2 and AVX-512 f32 kernels so both
 * give the reference's bits. Include only from files built with AVX2+FMA. */
#ifndef SL_KERNELS_X86_F32_LANES_H
#define SL_KERNELS_X86_F32_LANES_H

#include <immintrin.h>
#include <math.h>
#include <stdbool.h>
#include <stddef.h>

#ifndef INLINE
#define INLINE static inline __attribute__((always_inline))
#endif
#ifndef UNROLL
#define UNROLL _Pragma("GCC unroll 8")
#endif

INLINE __m256 load_w(const void *w, int k) { return _mm256_loadu_ps((const float *)w + k); }
INLINE float w_at(const void *w, int k) { return ((const float *)w)[k]; }

/* The lane sums of eight outputs at once, each in sl_hsum_ps's order
 * ((l0+l4)+(l2+l6)) + ((l1+l5)+(l3+l7)): the same bits, a quarter of the
 * shuffles. Lane i of the result is output i. */
INLINE __m256 hsum8(const __m256 *v) {
    __m256 h[4]; /* h[i] = [lo(v_i) + hi(v_i) | lo(v_i+4) + hi(v_i+4)] */
    UNROLL
    for (int i = 0; i < 4; i++)
        h[i] = _mm256_add_ps(_mm256_permute2f128_ps(v[i], v[i + 4], 0x20), _mm256_permute2f128_ps(v[i], v[i + 4], 0x31));
    /* transpose each 128-bit half: c[m] holds element m of every h */
    const __m256 t0 = _mm256_unpacklo_ps(h[0], h[1]), t1 = _mm256_unpackhi_ps(h[0], h[1]);
    const __m256 t2 = _mm256_unpacklo_ps(h[2], h[3]), t3 = _mm256_unpackhi_ps(h[2], h[3]);
    const __m256 c0 = _mm256_shuffle_ps(t0, t2, 0x44), c1 = _mm256_shuffle_ps(t0, t2, 0xEE);
    const __m256 c2 = _mm256_shuffle_ps(t1, t3, 0x44), c3 = _mm256_shuffle_ps(t1, t3, 0xEE);
    return _mm256_add_ps(_mm256_add_ps(c0, c2), _mm256_add_ps(c1, c3));
}

/* The ends of n <= 8 outputs of one token, rows w[i] = W + i * w_row: the
 * lane sums, then the K % 8 tail (xt: the token's f32t tail) in order, stored
 * to or added into o[0..n). */
INLINE void float_finish8(float *o, const __m256 *lanes, int n, const char *W, size_t w_row, const float *xt,
                          int K8, int K, bool acc) {
    const __m256 s = hsum8(lanes);
    if (n == 8 && K8 == K) {
        _mm256_storeu_ps(o, acc ? _mm256_add_ps(_mm256_loadu_ps(o), s) : s);
        return;
    }
    float v[8];
    _mm256_storeu_ps(v, s);
    for (int i = 0; i < n; i++) {
        for (int k = K8; k < K; k++) v[i] = fmaf(w_at(W + (size_t)i * w_row, k), xt[k - K8], v[i]);
        o[i] = acc ? o[i] + v[i] : v[i];
    }
}

#endif
