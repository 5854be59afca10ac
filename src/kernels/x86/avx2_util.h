/* avx2_util.h — small AVX2 helpers shared by the *_avx2.c and *_avx512.c
 * kernels (and only them: it needs -mavx2 -mfma -mf16c). */
#ifndef SL_KERNELS_X86_AVX2_UTIL_H
#define SL_KERNELS_X86_AVX2_UTIL_H

#include <immintrin.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "kernels/attn_exp.h"

static inline float sl_hsum_ps(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

static inline int sl_hsum_epi32(__m256i v) {
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(1, 0, 3, 2)));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(2, 3, 0, 1)));
    return _mm_cvtsi128_si32(s);
}

static inline __m256i sl_combine128(__m128i lo, __m128i hi) {
    return _mm256_inserti128_si256(_mm256_castsi128_si256(lo), hi, 1);
}

static inline float sl_h2f(uint16_t h) { return _cvtsh_ss(h); }

/* Decode from repacked (x8) weights: a call's row groups follow one another,
 * one sequential run, so the kernel asks for the lines SL_X8_AHEAD bytes
 * past the bytes [p, p + n) it is about to read. Prefetching all of the next
 * group instead put up to a whole group (25 KB of q4_0 or q4_K at K = 5632,
 * 48 KB of q8_0) through L1 before its lines were used. Paired rounds in one
 * process (2 threads, weights from DRAM, K = 2048 and 5632): q4_0 1-16%,
 * q8_0 0-17%, q5_K 1-16% and q6_K 3-13% faster, q4_K within noise (it streams
 * about 30 GB/s with its weights in cache, so memory, not its arithmetic, sets
 * its pace); 512, 2048 and 4096 bytes ahead were no better. Past the
 * call's rows the prefetch reads another thread's rows or past the matrix:
 * harmless, a prefetch never faults.
 * The x8 decode kernels read two groups at once, half the call's rows apart:
 * two sequential streams per thread keep more reads in flight than one (a
 * 2-thread read of 2-8 runs side by side measured 13-20% faster than of one
 * run, whatever the prefetch distance). In-process pairs, 1.1B decode:
 * q4_0 +10-11%, q8_0 +10-12%, Q4_K_M +7-10%, the same bits. The half kernels
 * read four (x86/gemm_half_avx2.c). */
#define SL_X8_AHEAD 1024
static inline void sl_prefetch_x8_ahead(const char *p, size_t n) {
    const uintptr_t a = (uintptr_t)p + SL_X8_AHEAD;
    for (uintptr_t l = a & ~(uintptr_t)63; l < a + n; l += 64) _mm_prefetch((const char *)l, _MM_HINT_T0);
}

/* 8 int32 lanes of pairwise sums of 32 unsigned (x, < 128 as used here) times
 * signed (y) byte products. */
static inline __m256i sl_dot_u8i8(__m256i x, __m256i y) {
    return _mm256_madd_epi16(_mm256_maddubs_epi16(x, y), _mm256_set1_epi16(1));
}

/* The same for two signed byte vectors: move x's sign onto y. */
static inline __m256i sl_dot_i8(__m256i x, __m256i y) {
    return sl_dot_u8i8(_mm256_sign_epi8(x, x), _mm256_sign_epi8(y, x));
}

/* 32 nibbles of a 16-byte q4 array as bytes 0..15: low nibbles in elements
 * 0..15, high nibbles in elements 16..31 (the q4_0/q4_1/q5 layout). */
static inline __m256i sl_nibbles32(const uint8_t *qs) {
    const __m128i v = _mm_loadu_si128((const __m128i *)qs);
    return _mm256_and_si256(sl_combine128(v, _mm_srli_epi16(v, 4)), _mm256_set1_epi8(0x0F));
}

/* Byte i = 0xFF when bit i of the little-endian 32-bit word at p is set. */
static inline __m256i sl_bits32_to_bytes(const uint8_t *p) {
    uint32_t w;
    memcpy(&w, p, 4);
    const __m256i shuf = _mm256_setr_epi64x(0, 0x0101010101010101LL, 0x0202020202020202LL,
                                            0x0303030303030303LL);
    const __m256i bit = _mm256_set1_epi64x((long long)0x8040201008040201ULL);
    __m256i v = _mm256_shuffle_epi8(_mm256_set1_epi32((int)w), shuf);
    return _mm256_cmpeq_epi8(_mm256_and_si256(v, bit), bit);
}

/* roundf (ties away from zero) of floats of magnitude < 2^22: add the float
 * just below 0.5 with x's sign and truncate; the addition's own rounding
 * carries exact .5 cases up. Matches the scalar quantizers bit for bit. */
static inline __m256 sl_roundf_ps(__m256 x) {
    const __m256 sign = _mm256_and_ps(x, _mm256_set1_ps(-0.0f));
    const __m256 half = _mm256_or_ps(sign, _mm256_set1_ps(0x1.fffffep-2f));
    return _mm256_round_ps(_mm256_add_ps(x, half), _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
}

/* Packs 4 x 8 int32 (each in -128..127) into 32 int8 in order. */
static inline __m256i sl_pack_i32x4_i8(__m256i a, __m256i b, __m256i c, __m256i d) {
    __m256i ab = _mm256_packs_epi32(a, b); /* lane-interleaved: a0 b0 | a1 b1 */
    __m256i cd = _mm256_packs_epi32(c, d);
    __m256i v = _mm256_packs_epi16(ab, cd); /* a0 b0 c0 d0 | a1 b1 c1 d1 (4-byte groups) */
    return _mm256_permutevar8x32_epi32(v, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

/* max |x[k]| over one 32-float block. */
static inline float sl_block_absmax32(const float *x) {
    const __m256 absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7FFFFFFF));
    __m256 m = _mm256_and_ps(_mm256_loadu_ps(x), absmask);
    m = _mm256_max_ps(m, _mm256_and_ps(_mm256_loadu_ps(x + 8), absmask));
    m = _mm256_max_ps(m, _mm256_and_ps(_mm256_loadu_ps(x + 16), absmask));
    m = _mm256_max_ps(m, _mm256_and_ps(_mm256_loadu_ps(x + 24), absmask));
    __m128 h = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
    h = _mm_max_ps(h, _mm_movehl_ps(h, h));
    h = _mm_max_ss(h, _mm_movehdup_ps(h));
    return _mm_cvtss_f32(h);
}

/* The block's 32 int8 quants roundf(x * id); *sum32 (when non-NULL) gets
 * their sum spread over 8 lanes. */
static inline __m256i sl_block_round32(const float *x, float id, __m256i *sum32) {
    const __m256 vid = _mm256_set1_ps(id);
    __m256i q[4];
    for (int k = 0; k < 4; k++)
        q[k] = _mm256_cvtps_epi32(sl_roundf_ps(_mm256_mul_ps(_mm256_loadu_ps(x + 8 * k), vid)));
    if (sum32) *sum32 = _mm256_add_epi32(_mm256_add_epi32(q[0], q[1]), _mm256_add_epi32(q[2], q[3]));
    return sl_pack_i32x4_i8(q[0], q[1], q[2], q[3]);
}

/* Writes lanes of v (lane i = output row i of an 8-row tile) to y[0..n),
 * adding to what is there when acc. */
static inline void sl_store_rows8(float *y, __m256 v, int n, bool acc) {
    if (n == 8) {
        if (acc) v = _mm256_add_ps(v, _mm256_loadu_ps(y));
        _mm256_storeu_ps(y, v);
        return;
    }
    float tmp[8];
    _mm256_storeu_ps(tmp, v);
    for (int i = 0; i < n; i++) y[i] = acc ? y[i] + tmp[i] : tmp[i];
}

/* Eight f16 values at p as floats (the x8 weight layouts keep a group's
 * eight scales side by side in lane order, kernels/gemm.h). */
static inline __m256 sl_load_f16x8(const void *p) { return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p)); }

/* sl_expf_cephes (kernels/attn_exp.h) on 8 lanes, operation for operation:
 * the same bits. */
static inline __m256 sl_exp8_ps(__m256 x) {
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

#endif
