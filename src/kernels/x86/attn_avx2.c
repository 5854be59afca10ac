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
#define UNROLL _Pragma("GCC unroll 8")

INLINE __m256 load8(const void *p, int k, const int half) {
    if (half) return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)((const uint16_t *)p + k)));
    return _mm256_loadu_ps((const float *)p + k);
}
INLINE float at(const void *p, int k, const int half) {
    return half ? sl_h2f(((const uint16_t *)p)[k]) : ((const float *)p)[k];
}

/* Rows of one head are stride bytes apart (the cache row holds every kv
 * head), a pattern the hardware prefetchers follow poorly: fetch rows
 * PF_AHEAD keys ahead, every line of them. */
#define PF_AHEAD 8
INLINE void prefetch_rows(const char *p, int rows, size_t stride, size_t bytes) {
    for (int r = 0; r < rows; r++, p += stride)
        for (size_t o = 0; o < bytes; o += 64) _mm_prefetch(p + o, _MM_HINT_T0);
}

/* Lane j of the result is sl_hsum_ps(a[j]) for eight keys at once: the
 * same additions in the same order (halves, then pairs, then the last two),
 * arranged as a transpose. */
INLINE __m256 hsum8(const __m256 a[8]) {
    __m256 h[4]; /* key j in the low half, key j + 4 in the high half: (l0+l4, l1+l5, l2+l6, l3+l7) */
    UNROLL
    for (int j = 0; j < 4; j++)
        h[j] = _mm256_add_ps(_mm256_permute2f128_ps(a[j], a[j + 4], 0x20), _mm256_permute2f128_ps(a[j], a[j + 4], 0x31));
    /* per half: (s0+s2, s1+s3) of two keys */
    const __m256 p01 = _mm256_add_ps(_mm256_shuffle_ps(h[0], h[1], 0x44), _mm256_shuffle_ps(h[0], h[1], 0xEE));
    const __m256 p23 = _mm256_add_ps(_mm256_shuffle_ps(h[2], h[3], 0x44), _mm256_shuffle_ps(h[2], h[3], 0xEE));
    return _mm256_add_ps(_mm256_shuffle_ps(p01, p23, 0x88), _mm256_shuffle_ps(p01, p23, 0xDD));
}

/* One key, D with a tail: lanes, their sum, then the tail in order. */
INLINE float dot1(const float *q, const void *kr, int D, const int half) {
    const int D8 = D & ~7;
    __m256 acc = _mm256_setzero_ps();
    for (int d = 0; d < D8; d += 8) acc = _mm256_fmadd_ps(_mm256_loadu_ps(q + d), load8(kr, d, half), acc);
    float v = sl_hsum_ps(acc);
    for (int d = D8; d < D; d++) v = fmaf(q[d], at(kr, d, half), v);
    return v;
}

/* Eight keys' dots with q (D % 8 == 0), rows r[0..7], summed by hsum8. */
INLINE __m256 dot8(const float *q, const char *const r[8], int D, const int half) {
    __m256 a[8];
    UNROLL
    for (int j = 0; j < 8; j++) a[j] = _mm256_setzero_ps();
    for (int d = 0; d < D; d += 8) {
        const __m256 qv = _mm256_loadu_ps(q + d);
        UNROLL
        for (int j = 0; j < 8; j++) a[j] = _mm256_fmadd_ps(qv, load8(r[j], d, half), a[j]);
    }
    return hsum8(a);
}

/* D % 8 == 0: eight keys per step, eight independent chains along D, summed
 * together (hsum8). A tail of 3..7 keys repeats its last row in the unused
 * lanes and stores only its own; one or two keys go alone. With head_dim 8
 * a key is one multiply-add, so this is what keeps the per-key cost low. */
INLINE void scores_float(float *s, const float *q, const void *k, size_t stride, int n, int D, float scale,
                         const int half) {
    const size_t bytes = (size_t)D * (half ? 2 : 4);
    const char *kc = k;
    int i = 0;
    if ((D & 7) == 0) {
        const __m256 vs = _mm256_set1_ps(scale);
        for (; i + 8 <= n; i += 8) {
            const char *k0 = kc + (size_t)i * stride;
            if (i + 8 + PF_AHEAD <= n) prefetch_rows(k0 + (size_t)PF_AHEAD * stride, 8, stride, bytes);
            const char *r[8];
            UNROLL
            for (int j = 0; j < 8; j++) r[j] = k0 + (size_t)j * stride;
            _mm256_storeu_ps(s + i, _mm256_mul_ps(dot8(q, r, D, half), vs));
        }
        if (n - i >= 3) {
            const int nk = n - i;
            const char *k0 = kc + (size_t)i * stride, *r[8];
            UNROLL
            for (int j = 0; j < 8; j++) r[j] = k0 + (size_t)(j < nk ? j : nk - 1) * stride;
            const __m256i m = _mm256_cmpgt_epi32(_mm256_set1_epi32(nk), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
            _mm256_maskstore_ps(s + i, m, _mm256_mul_ps(dot8(q, r, D, half), vs));
            return;
        }
    }
    for (; i < n; i++) {
        const char *kr = kc + (size_t)i * stride;
        if (i + PF_AHEAD < n) prefetch_rows(kr + (size_t)PF_AHEAD * stride, 1, stride, bytes);
        s[i] = dot1(q, kr, D, half) * scale;
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
        const char *kr = (const char *)k + (size_t)i * stride;
        if (i + PF_AHEAD < n) prefetch_rows(kr + (size_t)PF_AHEAD * stride, 1, stride, (size_t)D / 32 * sizeof(sl_block_q8_0));
        const sl_block_q8_0 *b = (const void *)kr;
        __m256 acc = _mm256_setzero_ps();
        for (int j = 0; j < D / 32; j++) {
            const __m256 d = _mm256_set1_ps(sl_h2f(b[j].d));
            for (int e = 0; e < 32; e += 8)
                acc = _mm256_fmadd_ps(_mm256_mul_ps(_mm256_loadu_ps(q + 32 * j + e), d), i8x8(b[j].qs + e), acc);
        }
        s[i] = sl_hsum_ps(acc) * scale;
    }
}

/* The chains' sum (attn_kernels.h): c0, c0 + c1, or (c0 + c1) + (c2 + c3). */
INLINE __m256 chains_sum(const __m256 *c, const int C) {
    if (C == 4) return _mm256_add_ps(_mm256_add_ps(c[0], c[1]), _mm256_add_ps(c[2], c[3]));
    if (C == 2) return _mm256_add_ps(c[0], c[1]);
    return c[0];
}

/* acc[.][k] = acc[.][(k + R) % C]: register moves, R a constant. */
INLINE void rotate_by(__m256 acc[8][4], const int NV, const int C, const int R) {
    UNROLL
    for (int c = 0; c < NV; c++) {
        __m256 t[4];
        UNROLL
        for (int k = 0; k < C; k++) t[k] = acc[c][(k + R) % C];
        UNROLL
        for (int k = 0; k < C; k++) acc[c][k] = t[k];
    }
}
INLINE void rotate_chains(__m256 acc[8][4], const int NV, const int C, int r) {
    if (C == 4) {
        if (r == 1) rotate_by(acc, NV, 4, 1);
        else if (r == 2) rotate_by(acc, NV, 4, 2);
        else if (r == 3) rotate_by(acc, NV, 4, 3);
    } else if (C == 2 && r == 1) {
        rotate_by(acc, NV, 2, 1);
    }
}

/* o (NV vectors) = the weighted sum of the rows of every run, each at column
 * offset col bytes, in registers (C * NV <= 8). acc[.][k] always holds the
 * chain of the next key plus k, so a run ending mid-step just renames the
 * registers. Rows are prefetched when bytes (a row's size) is not 0. */
INLINE void accum_vecs(float *o, const float *w, float ws, const sl_attn_rows *r, int nr, size_t stride, size_t col,
                       size_t bytes, const int NV, const int C, const int half) {
    __m256 acc[8][4]; /* [vector][chain] */
    UNROLL
    for (int c = 0; c < NV; c++)
        UNROLL
        for (int k = 0; k < C; k++) acc[c][k] = _mm256_setzero_ps();
    /* C keys, key i + k into acc[.][k] */
#define ACCUM_STEP(PF)                                                                            \
    do {                                                                                          \
        UNROLL                                                                                    \
        for (int k = 0; k < C; k++) {                                                             \
            const char *vr = v + (size_t)k * stride;                                              \
            if (PF) prefetch_rows(vr - col + (size_t)PF_AHEAD * stride, 1, stride, bytes);        \
            const __m256 wi = _mm256_set1_ps(w[i + k] * ws);                                      \
            UNROLL                                                                                \
            for (int c = 0; c < NV; c++) acc[c][k] = _mm256_fmadd_ps(wi, load8(vr, 8 * c, half), acc[c][k]); \
        }                                                                                         \
    } while (0)
    int keys = 0;
    for (int j = 0; j < nr; j++) {
        const int n = r[j].n;
        const char *v = (const char *)r[j].p + col;
        int i = 0;
        if (bytes)
            for (; i + C + PF_AHEAD <= n; i += C, v += (size_t)C * stride) ACCUM_STEP(1);
        for (; i + C <= n; i += C, v += (size_t)C * stride) ACCUM_STEP(0);
        UNROLL
        for (int k = 0; k < C - 1; k++) /* the run's last n % C keys */
            if (i + k < n) {
                const __m256 wi = _mm256_set1_ps(w[i + k] * ws);
                UNROLL
                for (int c = 0; c < NV; c++)
                    acc[c][k] = _mm256_fmadd_ps(wi, load8(v + (size_t)k * stride, 8 * c, half), acc[c][k]);
            }
        rotate_chains(acc, NV, C, n - i);
        keys += n;
        w += n;
    }
#undef ACCUM_STEP
    rotate_chains(acc, NV, C, (C - keys % C) % C); /* back to acc[.][k] = chain k */
    UNROLL
    for (int c = 0; c < NV; c++) _mm256_storeu_ps(o + 8 * c, chains_sum(acc[c], C));
}

/* Columns in strips of up to 8 / C registers, each strip over every key;
 * the rows are prefetched on the first strip's pass. */
INLINE void accum_float(float *o, const float *w, float ws, const sl_attn_rows *r, int nr, size_t stride, int D,
                        const int half) {
    const int D8 = D & ~7, C = sl_attn_accum_chains(D), es = half ? 2 : 4;
    const size_t bytes = (size_t)D * (size_t)es;
    for (int d0 = 0; d0 < D8; d0 += 64 / C) {
        const size_t col = (size_t)d0 * (size_t)es, pf = d0 == 0 ? bytes : 0;
        const int nv = (D8 - d0) / 8;
        if (C == 4) { /* D <= 16 */
            if (nv == 1) accum_vecs(o + d0, w, ws, r, nr, stride, col, pf, 1, 4, half);
            else accum_vecs(o + d0, w, ws, r, nr, stride, col, pf, 2, 4, half);
        } else if (C == 2) { /* D <= 32 */
            if (nv == 3) accum_vecs(o + d0, w, ws, r, nr, stride, col, pf, 3, 2, half);
            else accum_vecs(o + d0, w, ws, r, nr, stride, col, pf, 4, 2, half);
        } else {
            switch (nv < 8 ? nv : 8) {
            case 1: accum_vecs(o + d0, w, ws, r, nr, stride, col, pf, 1, 1, half); break;
            case 2: accum_vecs(o + d0, w, ws, r, nr, stride, col, pf, 2, 1, half); break;
            case 3: accum_vecs(o + d0, w, ws, r, nr, stride, col, pf, 3, 1, half); break;
            case 4: accum_vecs(o + d0, w, ws, r, nr, stride, col, pf, 4, 1, half); break;
            case 5: accum_vecs(o + d0, w, ws, r, nr, stride, col, pf, 5, 1, half); break;
            case 6: accum_vecs(o + d0, w, ws, r, nr, stride, col, pf, 6, 1, half); break;
            case 7: accum_vecs(o + d0, w, ws, r, nr, stride, col, pf, 7, 1, half); break;
            default: accum_vecs(o + d0, w, ws, r, nr, stride, col, pf, 8, 1, half); break;
            }
        }
    }
    for (int d = D8; d < D; d++) { /* the tail columns, chains as the reference */
        float c[4] = {0, 0, 0, 0};
        for (int j = 0, i = 0; j < nr; j++)
            for (int k = 0; k < r[j].n; k++, i++)
                c[i % C] = fmaf(w[i] * ws, at((const char *)r[j].p + (size_t)k * stride, d, half), c[i % C]);
        o[d] = C == 4 ? (c[0] + c[1]) + (c[2] + c[3]) : C == 2 ? c[0] + c[1] : c[0];
    }
}
static void accum_f32(float *o, const float *w, float ws, const sl_attn_rows *r, int nr, size_t stride, int D) {
    accum_float(o, w, ws, r, nr, stride, D, 0);
}
static void accum_f16(float *o, const float *w, float ws, const sl_attn_rows *r, int nr, size_t stride, int D) {
    accum_float(o, w, ws, r, nr, stride, D, 1);
}

/* Block by block (32 columns, four registers per chain); D % 32 == 0, so
 * one chain, or two when D is 32. */
INLINE void accum_q8_0_chains(float *o, const float *w, float ws, const sl_attn_rows *r, int nr, size_t stride,
                              int D, const int C) {
    const size_t bytes = (size_t)D / 32 * sizeof(sl_block_q8_0);
    for (int b = 0; b < D / 32; b++) {
        __m256 acc[4][2]; /* [vector][chain] */
        for (int c = 0; c < 4; c++) acc[c][0] = acc[c][1] = _mm256_setzero_ps();
        for (int j = 0, i = 0; j < nr; j++)
            for (int k = 0; k < r[j].n; k++, i++) {
                const char *vr = (const char *)r[j].p + (size_t)k * stride;
                if (b == 0 && k + PF_AHEAD < r[j].n) prefetch_rows(vr + (size_t)PF_AHEAD * stride, 1, stride, bytes);
                const sl_block_q8_0 *blk = (const sl_block_q8_0 *)(const void *)vr + b;
                const __m256 wd = _mm256_set1_ps(w[i] * ws * sl_h2f(blk->d));
                if (C == 2 && (i & 1))
                    for (int c = 0; c < 4; c++) acc[c][1] = _mm256_fmadd_ps(wd, i8x8(blk->qs + 8 * c), acc[c][1]);
                else
                    for (int c = 0; c < 4; c++) acc[c][0] = _mm256_fmadd_ps(wd, i8x8(blk->qs + 8 * c), acc[c][0]);
            }
        for (int c = 0; c < 4; c++) _mm256_storeu_ps(o + 32 * b + 8 * c, chains_sum(acc[c], C));
    }
}
static void accum_q8_0(float *o, const float *w, float ws, const sl_attn_rows *r, int nr, size_t stride, int D) {
    if (sl_attn_accum_chains(D) == 2) accum_q8_0_chains(o, w, ws, r, nr, stride, D, 2);
    else accum_q8_0_chains(o, w, ws, r, nr, stride, D, 1);
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

static float exp_sum_avx2(float *x, int n, float mx) {
    const __m256 vm = _mm256_set1_ps(mx);
    __m256 acc = _mm256_setzero_ps();
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 e = sl_exp8_ps(_mm256_sub_ps(_mm256_loadu_ps(x + i), vm));
        _mm256_storeu_ps(x + i, e);
        acc = _mm256_add_ps(acc, e);
    }
    float s = sl_hsum_ps(acc);
    if (i < n) {
        /* the tail's exponentials on masked lanes (exp8 is sl_expf_cephes
         * lane by lane), then added one by one as the reference does */
        const __m256i m = _mm256_cmpgt_epi32(_mm256_set1_epi32(n - i), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
        _mm256_maskstore_ps(x + i, m, sl_exp8_ps(_mm256_sub_ps(_mm256_maskload_ps(x + i, m), vm)));
        for (; i < n; i++) s += x[i];
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
