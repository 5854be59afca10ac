/* q_k_avx2.c — AVX2 dot products of the K-quants with q8_K activations and
 * the q8_K quantizer (bit-exact with the reference).
 *
 * Per super-block: integer products of each 32 (q4_K, q5_K) or 16 (q6_K)
 * element sub-block are summed pairwise by vpmaddubsw, weighted by the
 * sub-block scale with vpmaddwd, and accumulated in int32 (exact); the
 * q4_K/q5_K min terms come from q8_K's bsums. Bounds: pairwise sums stay
 * within int16 (31*127*2, and 63*127*2 + 32*127*2 for q6_K). */
#include "kernels/quant_isa.h"
#include "kernels/x86/avx2_util.h"
#include "tensor/quant.h"
#include "tensor/quant_blocks.h"

static inline __m256i load32(const void *p) { return _mm256_loadu_si256((const __m256i *)p); }

/* The 8 scales (*sc, byte j = scale j) and 8 mins (*mn) of a q4_K/q5_K
 * block (see sl_k4_scale_min), four at a time from the 12 packed bytes, kept
 * in general registers: going through a byte array would make an 8-byte
 * load read two 4-byte stores, which store forwarding cannot serve. */
static inline void k4_unpack(const uint8_t *packed, uint64_t *sc, uint64_t *mn) {
    uint32_t u[3];
    memcpy(u, packed, 12);
    const uint32_t s0 = u[0] & 0x3F3F3F3Fu;                                           /* sc 0..3 */
    const uint32_t s1 = (u[2] & 0x0F0F0F0Fu) | ((u[0] >> 6) & 0x03030303u) << 4;      /* sc 4..7 */
    const uint32_t m0 = u[1] & 0x3F3F3F3Fu;                                           /* m 0..3 */
    const uint32_t m1 = ((u[2] >> 4) & 0x0F0F0F0Fu) | ((u[1] >> 6) & 0x03030303u) << 4; /* m 4..7 */
    *sc = (uint64_t)s0 | (uint64_t)s1 << 32;
    *mn = (uint64_t)m0 | (uint64_t)m1 << 32;
}

/* sum_j mn[j] * (bsums[2j] + bsums[2j+1]), vectorized: the mins widened to
 * int16, the bsums added in pairs, one vpmaddwd. */
static inline int k4_mins_dot(uint64_t mn, const int16_t *bsums) {
    const __m128i m = _mm_cvtepu8_epi16(_mm_cvtsi64_si128((long long)mn));
    const __m128i b = _mm_hadd_epi16(_mm_loadu_si128((const __m128i *)bsums), _mm_loadu_si128((const __m128i *)(bsums + 8)));
    __m128i p = _mm_madd_epi16(m, b);
    p = _mm_add_epi32(p, _mm_shuffle_epi32(p, _MM_SHUFFLE(1, 0, 3, 2)));
    p = _mm_add_epi32(p, _mm_shuffle_epi32(p, _MM_SHUFFLE(2, 3, 0, 1)));
    return _mm_cvtsi128_si32(p);
}

/* The 8 scales as int16 in both 128-bit lanes; shuffle masks then pick
 * sub-block j's scale into all 16 int16 lanes with one vpshufb. */
static inline __m256i k4_scales16(uint64_t sc) {
    return _mm256_broadcastsi128_si256(_mm_cvtepu8_epi16(_mm_cvtsi64_si128((long long)sc)));
}
static inline __m256i pick16(__m256i v, int j) { /* int16 element j of each lane, everywhere */
    return _mm256_shuffle_epi8(v, _mm256_set1_epi16((short)((2 * j + 1) << 8 | 2 * j)));
}

void sl_vec_dot_q4_k_avx2(float *s, const void *vx, const void *vy, int64_t n) {
    const sl_block_q4_k *x = vx;
    const sl_block_q8_k *y = vy;
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    __m256 acc = _mm256_setzero_ps();
    float accm = 0;
    for (int64_t i = 0; i < n / SL_QK_K; i++) {
        uint64_t sc, mn;
        k4_unpack(x[i].scales, &sc, &mn);
        const float d = y[i].d * sl_h2f(x[i].d);
        accm += y[i].d * sl_h2f(x[i].dmin) * k4_mins_dot(mn, y[i].bsums);
        const __m256i sc16 = k4_scales16(sc);
        __m256i sumi = _mm256_setzero_si256();
        for (int c = 0; c < 4; c++) {
            const __m256i q = load32(x[i].qs + 32 * c);
            const __m256i lo = _mm256_and_si256(q, m4);
            const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);
            __m256i p0 = _mm256_maddubs_epi16(lo, load32(y[i].qs + 64 * c));
            __m256i p1 = _mm256_maddubs_epi16(hi, load32(y[i].qs + 64 * c + 32));
            p0 = _mm256_madd_epi16(p0, pick16(sc16, 2 * c));
            p1 = _mm256_madd_epi16(p1, pick16(sc16, 2 * c + 1));
            sumi = _mm256_add_epi32(sumi, _mm256_add_epi32(p0, p1));
        }
        acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
    }
    *s = sl_hsum_ps(acc) - accm;
}

void sl_vec_dot_q5_k_avx2(float *s, const void *vx, const void *vy, int64_t n) {
    const sl_block_q5_k *x = vx;
    const sl_block_q8_k *y = vy;
    const __m256i m4 = _mm256_set1_epi8(0x0F), one = _mm256_set1_epi8(1);
    __m256 acc = _mm256_setzero_ps();
    float accm = 0;
    for (int64_t i = 0; i < n / SL_QK_K; i++) {
        uint64_t sc, mn;
        k4_unpack(x[i].scales, &sc, &mn);
        const float d = y[i].d * sl_h2f(x[i].d);
        accm += y[i].d * sl_h2f(x[i].dmin) * k4_mins_dot(mn, y[i].bsums);
        const __m256i sc16 = k4_scales16(sc);
        __m256i hb = load32(x[i].qh); /* shifted right by 2 per chunk: bits 0, 1 are live */
        __m256i sumi = _mm256_setzero_si256();
        for (int c = 0; c < 4; c++) {
            const __m256i q = load32(x[i].qs + 32 * c);
            const __m256i h0 = _mm256_slli_epi16(_mm256_and_si256(hb, one), 4);
            const __m256i h1 = _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 1), one), 4);
            hb = _mm256_srli_epi16(hb, 2);
            const __m256i lo = _mm256_or_si256(_mm256_and_si256(q, m4), h0);
            const __m256i hi = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(q, 4), m4), h1);
            __m256i p0 = _mm256_maddubs_epi16(lo, load32(y[i].qs + 64 * c));
            __m256i p1 = _mm256_maddubs_epi16(hi, load32(y[i].qs + 64 * c + 32));
            p0 = _mm256_madd_epi16(p0, pick16(sc16, 2 * c));
            p1 = _mm256_madd_epi16(p1, pick16(sc16, 2 * c + 1));
            sumi = _mm256_add_epi32(sumi, _mm256_add_epi32(p0, p1));
        }
        acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
    }
    *s = sl_hsum_ps(acc) - accm;
}

/* q6_K: per 32-element part, (q - 32) * a summed in pairs by vpmaddubsw
 * (q - 32 as q * a - 32 * a, both exact in int16: 63*127*2, 32*127*2) and
 * weighted by the two 16-element sub-block scales with vpmaddwd. The scales,
 * 16 signed bytes, are widened to int16 once per half; vpshufb then puts
 * scale 2k in the low and 2k+1 in the high 128 bits of part k. */
void sl_vec_dot_q6_k_avx2(float *s, const void *vx, const void *vy, int64_t n) {
    const sl_block_q6_k *x = vx;
    const sl_block_q8_k *y = vy;
    const __m256i m4 = _mm256_set1_epi8(0x0F), m2 = _mm256_set1_epi8(3), k32 = _mm256_set1_epi8(32);
    /* int16 2k of the lane into the low lane, 2k + 1 into the high lane */
    const __m256i pick[4] = {
        _mm256_setr_epi8(0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3),
        _mm256_setr_epi8(4, 5, 4, 5, 4, 5, 4, 5, 4, 5, 4, 5, 4, 5, 4, 5, 6, 7, 6, 7, 6, 7, 6, 7, 6, 7, 6, 7, 6, 7, 6, 7),
        _mm256_setr_epi8(8, 9, 8, 9, 8, 9, 8, 9, 8, 9, 8, 9, 8, 9, 8, 9, 10, 11, 10, 11, 10, 11, 10, 11, 10, 11, 10, 11,
                         10, 11, 10, 11),
        _mm256_setr_epi8(12, 13, 12, 13, 12, 13, 12, 13, 12, 13, 12, 13, 12, 13, 12, 13, 14, 15, 14, 15, 14, 15, 14, 15,
                         14, 15, 14, 15, 14, 15, 14, 15)};
    __m256 acc = _mm256_setzero_ps();
    for (int64_t i = 0; i < n / SL_QK_K; i++) {
        const __m128i sc8 = _mm_loadu_si128((const __m128i *)x[i].scales);
        __m256i sumi = _mm256_setzero_si256();
        for (int h = 0; h < 2; h++) {
            const uint8_t *ql = x[i].ql + 64 * h, *qhp = x[i].qh + 32 * h;
            const int8_t *a = y[i].qs + 128 * h;
            /* scales 8h..8h+7 as int16 in both lanes */
            const __m256i sch = _mm256_broadcastsi128_si256(_mm_cvtepi8_epi16(h ? _mm_srli_si128(sc8, 8) : sc8));
            const __m256i la = load32(ql), lb = load32(ql + 32), qh = load32(qhp);
            const __m256i q[4] = {
                _mm256_or_si256(_mm256_and_si256(la, m4), _mm256_slli_epi16(_mm256_and_si256(qh, m2), 4)),
                _mm256_or_si256(_mm256_and_si256(lb, m4), _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2), m2), 4)),
                _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(la, 4), m4),
                                _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 4), m2), 4)),
                _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(lb, 4), m4),
                                _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 6), m2), 4))};
            for (int k = 0; k < 4; k++) {
                const __m256i av = load32(a + 32 * k);
                const __m256i p = _mm256_sub_epi16(_mm256_maddubs_epi16(q[k], av), _mm256_maddubs_epi16(k32, av));
                sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(p, _mm256_shuffle_epi8(sch, pick[k])));
            }
        }
        acc = _mm256_fmadd_ps(_mm256_set1_ps(y[i].d * sl_h2f(x[i].d)), _mm256_cvtepi32_ps(sumi), acc);
    }
    *s = sl_hsum_ps(acc);
}

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
