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

/* ---- the heads of a kv group at once ----
 * Below GROUP_MIN heads the one-head kernels run head by head: their eight
 * keys per step amortize the lane sums better than a group that small. */
#define GROUP_MIN 3

/* NH (4 or 8) heads' dots with the key row kr, the key converted once:
 * head h's lanes chain along D as in dot8, and hsum8 sums the heads' lanes
 * together (head h in lane h; heads past nh repeat the last one). */
INLINE __m256 heads_dot(const float *const *qh, const char *kr, int D, const int NH, const int half) {
    __m256 a[8];
    UNROLL
    for (int h = 0; h < NH; h++) a[h] = _mm256_setzero_ps();
    for (int d = 0; d < D; d += 8) {
        const __m256 kv = load8(kr, d, half);
        UNROLL
        for (int h = 0; h < NH; h++) a[h] = _mm256_fmadd_ps(_mm256_loadu_ps(qh[h] + d), kv, a[h]);
    }
    UNROLL
    for (int h = NH; h < 8; h++) a[h] = a[h - NH];
    return hsum8(a);
}

/* heads_dot (NH = 4) of two keys at once: per 8 columns, 2 key vectors and
 * 4 query vectors feed 8 FMAs (6 loads per 8 FMAs, against 5 per 4 for one
 * key). Each head's chain per key is heads_dot's, and so are the bits. One
 * thread, 3 or 4 heads per group, 37..2048 keys: scores 12-23% faster. With
 * 8 heads, two passes of 4 (each key converted twice) were 4-9% slower than
 * heads_dot, so 8 heads keep one key at a time. */
INLINE void heads_dot2x4(const float *const *qh, const char *k0, const char *k1, int D, const int half, __m256 *r0,
                         __m256 *r1) {
    __m256 a0[8], a1[8];
    UNROLL
    for (int h = 0; h < 4; h++) a0[h] = a1[h] = _mm256_setzero_ps();
    for (int d = 0; d < D; d += 8) {
        const __m256 x0 = load8(k0, d, half), x1 = load8(k1, d, half);
        UNROLL
        for (int h = 0; h < 4; h++) {
            const __m256 qv = _mm256_loadu_ps(qh[h] + d);
            a0[h] = _mm256_fmadd_ps(qv, x0, a0[h]);
            a1[h] = _mm256_fmadd_ps(qv, x1, a1[h]);
        }
    }
    UNROLL
    for (int h = 4; h < 8; h++) a0[h] = a0[h - 4], a1[h] = a1[h - 4];
    *r0 = hsum8(a0);
    *r1 = hsum8(a1);
}

/* r[j] = column j of the 8 x 8 matrix whose row i is a[i]. */
INLINE void transpose8(__m256 r[8], const __m256 a[8]) {
    const __m256 t0 = _mm256_unpacklo_ps(a[0], a[1]), t1 = _mm256_unpackhi_ps(a[0], a[1]);
    const __m256 t2 = _mm256_unpacklo_ps(a[2], a[3]), t3 = _mm256_unpackhi_ps(a[2], a[3]);
    const __m256 t4 = _mm256_unpacklo_ps(a[4], a[5]), t5 = _mm256_unpackhi_ps(a[4], a[5]);
    const __m256 t6 = _mm256_unpacklo_ps(a[6], a[7]), t7 = _mm256_unpackhi_ps(a[6], a[7]);
    const __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
    const __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
    const __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
    const __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
    r[0] = _mm256_permute2f128_ps(u0, u4, 0x20), r[4] = _mm256_permute2f128_ps(u0, u4, 0x31);
    r[1] = _mm256_permute2f128_ps(u1, u5, 0x20), r[5] = _mm256_permute2f128_ps(u1, u5, 0x31);
    r[2] = _mm256_permute2f128_ps(u2, u6, 0x20), r[6] = _mm256_permute2f128_ps(u2, u6, 0x31);
    r[3] = _mm256_permute2f128_ps(u3, u7, 0x20), r[7] = _mm256_permute2f128_ps(u3, u7, 0x31);
}

/* Eight keys per step: their heads_dot vectors, transposed, are each
 * head's scores of the eight keys, stored as one vector per head. */
INLINE void scores_heads(float *s, size_t lds, const float *const *q, int nh, const char *k, size_t stride, int n,
                         int D, float scale, const int NH, const int half) {
    const size_t bytes = (size_t)D * (half ? 2 : 4);
    const float *qh[8];
    UNROLL
    for (int h = 0; h < 8; h++) qh[h] = q[h < nh ? h : nh - 1];
    const __m256 vs = _mm256_set1_ps(scale);
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        const char *k0 = k + (size_t)i * stride;
        if (i + 8 + PF_AHEAD <= n) prefetch_rows(k0 + (size_t)PF_AHEAD * stride, 8, stride, bytes);
        __m256 a[8], t[8];
        if (NH == 4) {
            for (int j = 0; j < 8; j += 2) {
                heads_dot2x4(qh, k0 + (size_t)j * stride, k0 + (size_t)(j + 1) * stride, D, half, &a[j], &a[j + 1]);
                a[j] = _mm256_mul_ps(a[j], vs);
                a[j + 1] = _mm256_mul_ps(a[j + 1], vs);
            }
        } else {
            for (int j = 0; j < 8; j++) a[j] = _mm256_mul_ps(heads_dot(qh, k0 + (size_t)j * stride, D, NH, half), vs);
        }
        transpose8(t, a);
        for (int h = 0; h < nh; h++) _mm256_storeu_ps(s + (size_t)h * lds + i, t[h]);
    }
    for (; i < n; i++) {
        float v[8];
        _mm256_storeu_ps(v, _mm256_mul_ps(heads_dot(qh, k + (size_t)i * stride, D, NH, half), vs));
        for (int h = 0; h < nh; h++) s[(size_t)h * lds + i] = v[h];
    }
}
INLINE void scores_group_float(float *s, size_t lds, const float *const *q, int nh, const void *k, size_t stride,
                               int n, int D, float scale, const int half) {
    if ((D & 7) != 0 || nh < GROUP_MIN) {
        for (int h = 0; h < nh; h++) scores_float(s + (size_t)h * lds, q[h], k, stride, n, D, scale, half);
    } else if (nh <= 4) {
        scores_heads(s, lds, q, nh, k, stride, n, D, scale, 4, half);
    } else {
        scores_heads(s, lds, q, nh, k, stride, n, D, scale, 8, half);
    }
}
static void scores_group_f32(float *s, size_t lds, const float *const *q, int nh, const void *k, size_t stride, int n,
                             int D, float scale) {
    scores_group_float(s, lds, q, nh, k, stride, n, D, scale, 0);
}
static void scores_group_f16(float *s, size_t lds, const float *const *q, int nh, const void *k, size_t stride, int n,
                             int D, float scale) {
    scores_group_float(s, lds, q, nh, k, stride, n, D, scale, 1);
}
static void scores_group_q8_0(float *s, size_t lds, const float *const *q, int nh, const void *k, size_t stride,
                              int n, int D, float scale) {
    for (int h = 0; h < nh; h++) scores_q8_0(s + (size_t)h * lds, q[h], k, stride, n, D, scale);
}

/* HN <= 4 heads x NV <= 2 vectors of columns (o, v at the strip's first
 * column) over n value rows: each row's strip converted once for the HN
 * heads. The accumulators start from 0 (first) or carry on from o: a
 * float stored and loaded is the same float, so blocking the keys leaves
 * each chain as one pass would run it. */
INLINE void accum_strip(float *o, size_t ldo, const float *w, size_t ldw, const char *v, int n, size_t stride,
                        bool first, const int HN, const int NV, const int half) {
    __m256 acc[4][2];
    UNROLL
    for (int h = 0; h < HN; h++)
        UNROLL
        for (int c = 0; c < NV; c++)
            acc[h][c] = first ? _mm256_setzero_ps() : _mm256_loadu_ps(o + (size_t)h * ldo + 8 * c);
    for (int k = 0; k < n; k++, v += stride) {
        __m256 x[2];
        UNROLL
        for (int c = 0; c < NV; c++) x[c] = load8(v, 8 * c, half);
        UNROLL
        for (int h = 0; h < HN; h++) {
            const __m256 wk = _mm256_broadcast_ss(w + (size_t)h * ldw + k);
            UNROLL
            for (int c = 0; c < NV; c++) acc[h][c] = _mm256_fmadd_ps(wk, x[c], acc[h][c]);
        }
    }
    UNROLL
    for (int h = 0; h < HN; h++)
        UNROLL
        for (int c = 0; c < NV; c++) _mm256_storeu_ps(o + (size_t)h * ldo + 8 * c, acc[h][c]);
}
INLINE void accum_strip_nh(float *o, size_t ldo, const float *w, size_t ldw, const char *v, int n, size_t stride,
                           bool first, int hn, const int NV, const int half) {
    switch (hn) {
    case 1: accum_strip(o, ldo, w, ldw, v, n, stride, first, 1, NV, half); break;
    case 2: accum_strip(o, ldo, w, ldw, v, n, stride, first, 2, NV, half); break;
    case 3: accum_strip(o, ldo, w, ldw, v, n, stride, first, 3, NV, half); break;
    default: accum_strip(o, ldo, w, ldw, v, n, stride, first, 4, NV, half); break;
    }
}

/* Keys in blocks of GROUP_KEYS rows (f16, D = 64: 4 KB of one head's
 * values, in L1 for the strips after the first); per block, strips of 16
 * columns for 4 heads at a time. One chain per column (D > 32), as the
 * one-head kernel; the weights come scaled. */
#define GROUP_KEYS 32
INLINE void accum_group_float(float *o, size_t ldo, const float *w, size_t ldw, int nh, const sl_attn_rows *r,
                              int nr, size_t stride, int D, const int half) {
    if ((D & 7) != 0 || sl_attn_accum_chains(D) != 1 || nh < GROUP_MIN) {
        for (int h = 0; h < nh; h++) accum_float(o + (size_t)h * ldo, w + (size_t)h * ldw, 1.0f, r, nr, stride, D, half);
        return;
    }
    const size_t es = half ? 2 : 4, bytes = (size_t)D * es;
    bool first = true;
    for (int j = 0, i0 = 0; j < nr; i0 += r[j].n, j++)
        for (int b = 0; b < r[j].n; b += GROUP_KEYS) {
            const int nb = r[j].n - b < GROUP_KEYS ? r[j].n - b : GROUP_KEYS;
            const char *vb = (const char *)r[j].p + (size_t)b * stride;
            if (b + GROUP_KEYS < r[j].n) /* the next block, while this one is worked on */
                prefetch_rows(vb + (size_t)GROUP_KEYS * stride,
                              r[j].n - b - GROUP_KEYS < GROUP_KEYS ? r[j].n - b - GROUP_KEYS : GROUP_KEYS, stride, bytes);
            for (int h0 = 0; h0 < nh; h0 += 4) {
                const int hn = nh - h0 < 4 ? nh - h0 : 4;
                float *oh = o + (size_t)h0 * ldo;
                const float *wh = w + (size_t)h0 * ldw + i0 + b;
                int d0 = 0;
                for (; d0 + 16 <= D; d0 += 16)
                    accum_strip_nh(oh + d0, ldo, wh, ldw, vb + (size_t)d0 * es, nb, stride, first, hn, 2, half);
                if (d0 < D) accum_strip_nh(oh + d0, ldo, wh, ldw, vb + (size_t)d0 * es, nb, stride, first, hn, 1, half);
            }
            first = false;
        }
    if (first) /* no keys */
        for (int h = 0; h < nh; h++) memset(o + (size_t)h * ldo, 0, (size_t)D * sizeof *o);
}
static void accum_group_f32(float *o, size_t ldo, const float *w, size_t ldw, int nh, const sl_attn_rows *r, int nr,
                            size_t stride, int D) {
    accum_group_float(o, ldo, w, ldw, nh, r, nr, stride, D, 0);
}
static void accum_group_f16(float *o, size_t ldo, const float *w, size_t ldw, int nh, const sl_attn_rows *r, int nr,
                            size_t stride, int D) {
    accum_group_float(o, ldo, w, ldw, nh, r, nr, stride, D, 1);
}
static void accum_group_q8_0(float *o, size_t ldo, const float *w, size_t ldw, int nh, const sl_attn_rows *r, int nr,
                             size_t stride, int D) {
    for (int h = 0; h < nh; h++) accum_q8_0(o + (size_t)h * ldo, w + (size_t)h * ldw, 1.0f, r, nr, stride, D);
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
    .row = {{scores_f32, accum_f32, store_f32, scores_group_f32, accum_group_f32},
            {scores_f16, accum_f16, store_f16, scores_group_f16, accum_group_f16},
            {scores_q8_0, accum_q8_0, store_q8_0, scores_group_q8_0, accum_group_q8_0}},
    .max = max_avx2,
    .exp_sum = exp_sum_avx2,
};

/* The caller (attn_dispatch.c) checks the CPU first. */
const sl_attn_kernels *sl_attn_kernels_avx2(void) { return &AVX2; }
