/* gemm_avx2.c — AVX2 tile kernels (kernels/gemm.h); references in
 * kernels/ref/gemm_ref.c give the same bits (tests/unit/test_gemm.c).
 *
 * q4_0 and q8_0: eight weight rows live in the eight lanes of a vector.
 * Per 32-element block each row's integer dot with the activation quants is
 * formed with vpmaddubsw / vpmaddwd and the rows' partial sums are folded
 * together by vphaddd, so one int->float conversion, one scale vector (eight
 * row scales times the block's activation scale) and one FMA serve eight
 * rows, with no horizontal sum per row. Tokens of a tile reuse the unpacked
 * weights; rows of a group reuse each activation load.
 *
 * q4_0 nibbles go in unsigned (0..15) and the offset of 8 is taken off the
 * exact integer sum as 8 * (sum of the activation quants): the pair sums of
 * vpmaddubsw stay within 2 * 15 * 127 (two of them added, 4 * 15 * 127).
 * q8_0 uses |w| and sign(x, w): pair sums within 2 * 128 * 127.
 *
 * f32: eight lanes along K, one FMA chain per lane of each output, lanes
 * summed in sl_hsum_ps's order. Decode streams 8 rows straight from W;
 * prefill runs 4 x 3 register tiles over the whole of K, activations in
 * f32t tiles (see float_prefill). f16 and bf16: x86/gemm_half_avx2.c. */
#include <immintrin.h>
#include <math.h>
#include <stddef.h>

#include "kernels/gemm.h"
#include "kernels/x86/avx2_util.h"
#include "kernels/x86/f32_lanes.h"
#include "tensor/quant_blocks.h"

#define INLINE static inline __attribute__((always_inline))
/* The tile loops have compile-time trip counts; unrolled, their accumulator
 * arrays live in registers. */
#define UNROLL _Pragma("GCC unroll 8")

/* ---- activations ---------------------------------------------------------------- */

void sl_quant_q8s_avx2(void *xq, const float *x, int K) {
    int8_t *q = xq;
    float *d = (float *)(void *)((char *)xq + K);
    int32_t *s = (int32_t *)(void *)((char *)xq + K + (size_t)(K / 32) * 4);
    for (int b = 0; b < K / 32; b++, x += 32) {
        const float db = sl_block_absmax32(x) / 127;
        const float id = db ? 1.0f / db : 0.0f;
        __m256i sum32;
        _mm256_storeu_si256((__m256i *)(q + 32 * b), sl_block_round32(x, id, &sum32));
        d[b] = sl_h2f(sl_fp32_to_fp16(db));
        s[b] = sl_hsum_epi32(sum32);
    }
}

/* ---- shared pieces of the 8-row kernels --------------------------------------------- */

/* Eight f16 scales, in this lane order, as floats. Packed in general
 * registers first: the integer units are idle here, while inserting into a
 * vector element by element queues on the few ports that move data across. */
INLINE __m256 scales8(uint16_t a, uint16_t b, uint16_t c, uint16_t d, uint16_t e, uint16_t f, uint16_t g,
                      uint16_t h) {
    const uint64_t lo = (uint64_t)a | (uint64_t)b << 16 | (uint64_t)c << 32 | (uint64_t)d << 48;
    const uint64_t hi = (uint64_t)e | (uint64_t)f << 16 | (uint64_t)g << 32 | (uint64_t)h << 48;
    return _mm256_cvtph_ps(_mm_set_epi64x((long long)hi, (long long)lo));
}

/* x8 blocks (kernels/gemm.h): a quad's nibbles as q4_quad leaves them,
 * from two plain 32-byte loads. */
INLINE void x8_nibbles(const char *p, __m256i q[4]) {
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    const __m256i x0 = _mm256_loadu_si256((const __m256i *)(const void *)p);
    const __m256i x1 = _mm256_loadu_si256((const __m256i *)(const void *)(p + 32));
    q[0] = _mm256_and_si256(x0, m4);
    q[1] = _mm256_and_si256(x1, m4);
    q[2] = _mm256_and_si256(_mm256_srli_epi16(x0, 4), m4);
    q[3] = _mm256_and_si256(_mm256_srli_epi16(x1, 4), m4);
}

/* The q8s parts of activation row t. */
typedef struct {
    const int8_t *q;
    const float *d;
    const int32_t *s;
} q8s_row;

INLINE q8s_row q8s_at(const void *xq, size_t x_row, int t, int K) {
    const char *p = (const char *)xq + (size_t)t * x_row;
    q8s_row r = {(const int8_t *)p, (const float *)(const void *)(p + K),
                 (const int32_t *)(const void *)(p + K + (size_t)(K / 32) * 4)};
    return r;
}

/* Software prefetch of the next 8-row group while this one is computed: the
 * group's rows are 8 short streams (one row each) that the hardware
 * prefetchers learn too late, while the next group is one contiguous run of
 * 8 * w_row bytes. Per block the kernel consumes 8 blocks (8 * 18 to 8 * 34
 * bytes); n lines (n * 64 bytes) per block keep ahead of that. Prefetches
 * past the matrix are harmless (they never fault). */
INLINE void prefetch_next(const char *pf, int b, const int n) {
    if (!pf) return;
    UNROLL
    for (int i = 0; i < n; i++) _mm_prefetch(pf + ((size_t)b * n + i) * 64, _MM_HINT_T0);
}

/* ---- q4_0, q4_1, q5_0 and q5_1 -------------------------------------------------------- */

/* Four rows a, b, c, d of one block (their 16 bytes of nibbles) as four
 * vectors of 8-element chunks: q[c] = [a(8c..8c+7) b(..) | c(..) d(..)],
 * nibbles as 0..15. (Elements 0..15 are the low nibbles of qs[0..15],
 * 16..31 the high ones.) */
INLINE void q4_quad(const uint8_t *a, const uint8_t *b, const uint8_t *c, const uint8_t *d, __m256i q[4]) {
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    const __m256i ac = sl_combine128(_mm_loadu_si128((const __m128i *)a), _mm_loadu_si128((const __m128i *)c));
    const __m256i bd = sl_combine128(_mm_loadu_si128((const __m128i *)b), _mm_loadu_si128((const __m128i *)d));
    const __m256i x0 = _mm256_unpacklo_epi64(ac, bd), x1 = _mm256_unpackhi_epi64(ac, bd);
    q[0] = _mm256_and_si256(x0, m4);
    q[1] = _mm256_and_si256(x1, m4);
    q[2] = _mm256_and_si256(_mm256_srli_epi16(x0, 4), m4);
    q[3] = _mm256_and_si256(_mm256_srli_epi16(x1, 4), m4);
}

/* 16 int16 sums, 4 per row in [a b | c d] order, of one quad and one token's
 * 8-byte activation chunks y[c] (each repeated 4 times). */
INLINE __m256i q4_quad_dot16(const __m256i q[4], const __m256i y[4]) {
    const __m256i s01 = _mm256_add_epi16(_mm256_maddubs_epi16(q[0], y[0]), _mm256_maddubs_epi16(q[1], y[1]));
    const __m256i s23 = _mm256_add_epi16(_mm256_maddubs_epi16(q[2], y[2]), _mm256_maddubs_epi16(q[3], y[3]));
    return _mm256_add_epi16(s01, s23);
}

/* The fifth bits of a quad (q4_quad's layout) from the rows' qh words
 * (bit e: element e): byte c of each row's qh spread over its 8 bytes of
 * chunk c, 0x10 where the bit is set. */
INLINE void q5_high(__m256i q[4], const uint8_t *a, const uint8_t *b, const uint8_t *c, const uint8_t *d) {
    uint32_t h[4];
    memcpy(&h[0], a, 4), memcpy(&h[1], b, 4), memcpy(&h[2], c, 4), memcpy(&h[3], d, 4);
    const __m256i v = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(const void *)h));
    const __m256i bits = _mm256_set1_epi64x((long long)0x8040201008040201ULL), b5 = _mm256_set1_epi8(0x10);
    const long long rep = 0x0101010101010101LL;
    UNROLL
    for (int k = 0; k < 4; k++) {
        /* low lane: bytes k of rows a, b; high lane: of rows c, d */
        const __m256i sel = _mm256_setr_epi64x(k * rep, (4 + k) * rep, (8 + k) * rep, (12 + k) * rep);
        const __m256i on = _mm256_cmpeq_epi8(_mm256_and_si256(_mm256_shuffle_epi8(v, sel), bits), bits);
        q[k] = _mm256_or_si256(q[k], _mm256_and_si256(on, b5));
    }
}

/* The legacy 32-element block types the tile below runs (q4_0, q4_1, q5_0,
 * q5_1): block bytes and where the nibbles and the fifth bits start (the
 * f16 d leads each block, the min m follows it in q4_1 and q5_1; in x8
 * groups each field starts at 8 times its offset). Constants here, so that
 * each kernel's copy of the tile folds them. */
INLINE size_t lq_block_bytes(sl_type lq) {
    return lq == SL_TYPE_Q4_0 ? sizeof(sl_block_q4_0) : lq == SL_TYPE_Q4_1 ? sizeof(sl_block_q4_1)
         : lq == SL_TYPE_Q5_0 ? sizeof(sl_block_q5_0) : sizeof(sl_block_q5_1);
}
INLINE size_t lq_qs_at(sl_type lq) {
    return lq == SL_TYPE_Q4_0 ? offsetof(sl_block_q4_0, qs) : lq == SL_TYPE_Q4_1 ? offsetof(sl_block_q4_1, qs)
         : lq == SL_TYPE_Q5_0 ? offsetof(sl_block_q5_0, qs) : offsetof(sl_block_q5_1, qs);
}
INLINE size_t lq_qh_at(sl_type lq) { /* q5_0, q5_1 */
    return lq == SL_TYPE_Q5_1 ? offsetof(sl_block_q5_1, qh) : offsetof(sl_block_q5_0, qh);
}

/* The f16 at byte at of each of 8 blocks, in the tiles' lane order. */
INLINE __m256 scales8_at(const uint8_t *const *r, size_t at) {
    uint16_t h[8];
    UNROLL
    for (int i = 0; i < 8; i++) memcpy(&h[i], r[i] + at, 2);
    return scales8(h[0], h[1], h[4], h[5], h[2], h[3], h[6], h[7]);
}

/* An x8 block's scales (dw; mw: q4_1's and q5_1's mins) and its quants as
 * q4_quad leaves them (q0, q1), q5's fifth bits spread in. */
INLINE void q4x8_unpack(const char *blk, __m256 *dw, __m256 *mw, __m256i q0[4], __m256i q1[4], const sl_type lq) {
    const bool has_min = lq == SL_TYPE_Q4_1 || lq == SL_TYPE_Q5_1, five = lq == SL_TYPE_Q5_0 || lq == SL_TYPE_Q5_1;
    const size_t qs = 8 * lq_qs_at(lq);
    *dw = sl_load_f16x8(blk);
    if (has_min) *mw = sl_load_f16x8(blk + 8 * offsetof(sl_block_q4_1, m));
    x8_nibbles(blk + qs, q0);
    x8_nibbles(blk + qs + 64, q1);
    if (five) {
        const uint8_t *qh = (const uint8_t *)blk + 8 * lq_qh_at(lq); /* rows 0..7, 4 bytes each */
        q5_high(q0, qh, qh + 4, qh + 8, qh + 12);
        q5_high(q1, qh + 16, qh + 20, qh + 24, qh + 28);
    }
}

/* acc plus block b of 8 unpacked rows (dw, mw, q0, q1) times token x. */
INLINE __m256 q4_block_fma(__m256 acc, const __m256i q0[4], const __m256i q1[4], __m256 dw, __m256 mw,
                           const q8s_row *x, int b, const sl_type lq) {
    const bool has_min = lq == SL_TYPE_Q4_1 || lq == SL_TYPE_Q5_1, five = lq == SL_TYPE_Q5_0 || lq == SL_TYPE_Q5_1;
    const __m256i ones = _mm256_set1_epi16(1);
    const int8_t *yq = x->q + 32 * b;
    __m256i y[4];
    UNROLL
    for (int c = 0; c < 4; c++) {
        long long v;
        memcpy(&v, yq + 8 * c, sizeof v);
        y[c] = _mm256_set1_epi64x(v);
    }
    __m256i isum;
    if (five)
        isum = _mm256_hadd_epi32(_mm256_madd_epi16(q4_quad_dot16(q0, y), ones),
                                 _mm256_madd_epi16(q4_quad_dot16(q1, y), ones));
    else
        isum = _mm256_madd_epi16(_mm256_hadd_epi16(q4_quad_dot16(q0, y), q4_quad_dot16(q1, y)), ones);
    if (!has_min) isum = _mm256_sub_epi32(isum, _mm256_slli_epi32(_mm256_set1_epi32(x->s[b]), five ? 4 : 3));
    const __m256 scale = _mm256_mul_ps(dw, _mm256_set1_ps(x->d[b]));
    acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum), scale, acc);
    if (has_min) acc = _mm256_fmadd_ps(mw, _mm256_set1_ps(x->d[b] * (float)x->s[b]), acc);
    return acc;
}

/* Accumulators in lane order -> row order. */
INLINE __m256 lanes_to_rows(__m256 a) {
    return _mm256_permutevar8x32_ps(a, _mm256_setr_epi32(0, 1, 4, 5, 2, 3, 6, 7));
}

/* One tile: 8 rows (w) x RN tokens, accumulators in lane order
 * [r0 r1 r4 r5 r2 r3 r6 r7], where one horizontal add of the two quads
 * leaves the rows. The eight rows are unpacked once per block for all RN
 * tokens. The int16 sums stay exact: a vpmaddubsw pair is at most 2 * 15 *
 * 127, four chunks add up to 8 * 15 * 127 and vphaddw doubles that, to
 * 30480. With fifth bits a chunk sum reaches 8 * 31 * 127 = 31496, so the
 * q5 types widen to int32 before the horizontal add.
 * q4_0 and q5_0 take their offset (8, 16) through the token's block sum s;
 * q4_1 and q5_1 add min * (d_x * s) per block after the scaled sum, as
 * their references do. */
INLINE void q4_tile(__m256 *out, const char *const *w, const char *g, const void *xq, size_t x_row, int t0, int K,
                    const int RN, const char *pf, const bool x8, const sl_type lq) {
    const bool has_min = lq == SL_TYPE_Q4_1 || lq == SL_TYPE_Q5_1, five = lq == SL_TYPE_Q5_0 || lq == SL_TYPE_Q5_1;
    const int nb = K / 32;
    q8s_row x[8];
    __m256 acc[8];
    UNROLL
    for (int j = 0; j < RN; j++) {
        x[j] = q8s_at(xq, x_row, t0 + j, K);
        acc[j] = _mm256_setzero_ps();
    }
    for (int b = 0; b < nb; b++) {
        if (!x8 || RN > 1) prefetch_next(pf, b, 3);
        __m256 dw, mw = _mm256_setzero_ps();
        __m256i q0[4], q1[4];
        if (x8) {
            const size_t xb = 8 * lq_block_bytes(lq);
            const char *blk = g + (size_t)b * xb;
            if (RN == 1) sl_prefetch_x8_ahead(blk, xb);
            q4x8_unpack(blk, &dw, &mw, q0, q1, lq);
        } else {
            const uint8_t *r[8]; /* the rows' block b */
            UNROLL
            for (int i = 0; i < 8; i++) r[i] = (const uint8_t *)w[i] + (size_t)b * lq_block_bytes(lq);
            dw = scales8_at(r, 0); /* d leads every block */
            if (has_min) mw = scales8_at(r, offsetof(sl_block_q4_1, m));
            const size_t qs = lq_qs_at(lq);
            q4_quad(r[0] + qs, r[1] + qs, r[2] + qs, r[3] + qs, q0);
            q4_quad(r[4] + qs, r[5] + qs, r[6] + qs, r[7] + qs, q1);
            if (five) {
                const size_t qh = lq_qh_at(lq);
                q5_high(q0, r[0] + qh, r[1] + qh, r[2] + qh, r[3] + qh);
                q5_high(q1, r[4] + qh, r[5] + qh, r[6] + qh, r[7] + qh);
            }
        }
        UNROLL
        for (int j = 0; j < RN; j++) acc[j] = q4_block_fma(acc[j], q0, q1, dw, mw, &x[j], b, lq);
    }
    UNROLL
    for (int j = 0; j < RN; j++) out[j] = lanes_to_rows(acc[j]);
}

/* Decode from S (1 or 2) x8 groups at once (g[s]), each a sequential run
 * prefetched ahead (sl_prefetch_x8_ahead). The arithmetic of each group is
 * q4_tile's: the same bits. */
INLINE void q4x8_decode(__m256 *out, const char *const *g, const int S, const void *xq, size_t x_row, int K,
                        const sl_type lq) {
    const size_t xb = 8 * lq_block_bytes(lq);
    const q8s_row x = q8s_at(xq, x_row, 0, K);
    __m256 acc[2] = {_mm256_setzero_ps(), _mm256_setzero_ps()};
    for (int b = 0; b < K / 32; b++)
        UNROLL
        for (int s = 0; s < S; s++) {
            const char *blk = g[s] + (size_t)b * xb;
            sl_prefetch_x8_ahead(blk, xb);
            __m256 dw, mw = _mm256_setzero_ps();
            __m256i q0[4], q1[4];
            q4x8_unpack(blk, &dw, &mw, q0, q1, lq);
            acc[s] = q4_block_fma(acc[s], q0, q1, dw, mw, &x, b, lq);
        }
    UNROLL
    for (int s = 0; s < S; s++) out[s] = lanes_to_rows(acc[s]);
}

/* x8 decode of the legacy types and q8_0 (below, after the q8_0 tile). */
INLINE void x8_decode(float *y, const void *W, size_t w_row, const void *xq, size_t x_row, int nr, int K, bool acc,
                      const sl_type t);

/* Row pointers of the group starting at r0; rows past nr repeat the last. */
#define GROUP_ROWS(T, w, W, w_row, r0, nr)                                            \
    const T *w[8];                                                                    \
    for (int i_ = 0; i_ < 8; i_++) {                                                  \
        int r_ = (r0) + i_ < (nr) ? (r0) + i_ : (nr) - 1;                             \
        w[i_] = (const T *)(const void *)((const char *)(W) + (size_t)r_ * (w_row)); \
    }

/* Both layouts: x8 (row-interleaved groups, nr % 8 == 0) or rows as stored. */
INLINE void q4_gemm(float *y, size_t ldy, const void *W, size_t w_row, const void *xq, size_t x_row, int nr,
                    int nt, int K, bool acc, const bool x8, const sl_type lq) {
    if (x8 && nt == 1) {
        x8_decode(y, W, w_row, xq, x_row, nr, K, acc, lq);
        return;
    }
    for (int r0 = 0; r0 < nr; r0 += 8) {
        GROUP_ROWS(char, w, W, w_row, r0, nr);
        const char *g = (const char *)W + (size_t)r0 * w_row;
        /* the next group, when this call has one (another thread may own the rows after) */
        const char *pf = r0 + 8 < nr ? (const char *)W + (size_t)(r0 + 8) * w_row : NULL;
        const int n = nr - r0 < 8 ? nr - r0 : 8;
        int t = 0;
        __m256 out[8];
        for (; t + 8 <= nt; t += 8) {
            q4_tile(out, w, g, xq, x_row, t, K, 8, pf, x8, lq);
            for (int j = 0; j < 8; j++) sl_store_rows8(y + (size_t)(t + j) * ldy + r0, out[j], n, acc);
        }
        for (; t + 4 <= nt; t += 4) {
            q4_tile(out, w, g, xq, x_row, t, K, 4, pf, x8, lq);
            for (int j = 0; j < 4; j++) sl_store_rows8(y + (size_t)(t + j) * ldy + r0, out[j], n, acc);
        }
        for (; t < nt; t++) {
            q4_tile(out, w, g, xq, x_row, t, K, 1, pf, x8, lq);
            sl_store_rows8(y + (size_t)t * ldy + r0, out[0], n, acc);
        }
    }
}

void sl_gemm_q4_0_avx2(float *y, size_t ldy, const void *W, size_t w_row, const void *xq,
                       size_t x_row, int nr, int nt, int K, bool acc) {
    q4_gemm(y, ldy, W, w_row, xq, x_row, nr, nt, K, acc, false, SL_TYPE_Q4_0);
}

void sl_gemm_q4_1_avx2(float *y, size_t ldy, const void *W, size_t w_row, const void *xq,
                       size_t x_row, int nr, int nt, int K, bool acc) {
    q4_gemm(y, ldy, W, w_row, xq, x_row, nr, nt, K, acc, false, SL_TYPE_Q4_1);
}

void sl_gemm_q5_0_avx2(float *y, size_t ldy, const void *W, size_t w_row, const void *xq,
                       size_t x_row, int nr, int nt, int K, bool acc) {
    q4_gemm(y, ldy, W, w_row, xq, x_row, nr, nt, K, acc, false, SL_TYPE_Q5_0);
}

void sl_gemm_q5_1_avx2(float *y, size_t ldy, const void *W, size_t w_row, const void *xq,
                       size_t x_row, int nr, int nt, int K, bool acc) {
    q4_gemm(y, ldy, W, w_row, xq, x_row, nr, nt, K, acc, false, SL_TYPE_Q5_1);
}

void sl_gemm_q4_0x8_avx2(float *y, size_t ldy, const void *W, size_t w_row, const void *xq,
                         size_t x_row, int nr, int nt, int K, bool acc) {
    q4_gemm(y, ldy, W, w_row, xq, x_row, nr, nt, K, acc, true, SL_TYPE_Q4_0);
}

void sl_gemm_q4_1x8_avx2(float *y, size_t ldy, const void *W, size_t w_row, const void *xq,
                         size_t x_row, int nr, int nt, int K, bool acc) {
    q4_gemm(y, ldy, W, w_row, xq, x_row, nr, nt, K, acc, true, SL_TYPE_Q4_1);
}

void sl_gemm_q5_0x8_avx2(float *y, size_t ldy, const void *W, size_t w_row, const void *xq,
                         size_t x_row, int nr, int nt, int K, bool acc) {
    q4_gemm(y, ldy, W, w_row, xq, x_row, nr, nt, K, acc, true, SL_TYPE_Q5_0);
}

void sl_gemm_q5_1x8_avx2(float *y, size_t ldy, const void *W, size_t w_row, const void *xq,
                         size_t x_row, int nr, int nt, int K, bool acc) {
    q4_gemm(y, ldy, W, w_row, xq, x_row, nr, nt, K, acc, true, SL_TYPE_Q5_1);
}

/* ---- q8_0 --------------------------------------------------------------------------- */

/* Four rows a, b, c, d of one q8_0 block as four vectors of 8-element
 * chunks: w[c] = [a(8c..8c+7) b(..) | c(..) d(..)] (as q4_quad). */
INLINE void q8_quad(const sl_block_q8_0 *a, const sl_block_q8_0 *b, const sl_block_q8_0 *c,
                    const sl_block_q8_0 *d, __m256i w[4]) {
    const __m256i ac0 = sl_combine128(_mm_loadu_si128((const __m128i *)a->qs), _mm_loadu_si128((const __m128i *)c->qs));
    const __m256i bd0 = sl_combine128(_mm_loadu_si128((const __m128i *)b->qs), _mm_loadu_si128((const __m128i *)d->qs));
    const __m256i ac1 =
        sl_combine128(_mm_loadu_si128((const __m128i *)(a->qs + 16)), _mm_loadu_si128((const __m128i *)(c->qs + 16)));
    const __m256i bd1 =
        sl_combine128(_mm_loadu_si128((const __m128i *)(b->qs + 16)), _mm_loadu_si128((const __m128i *)(d->qs + 16)));
    w[0] = _mm256_unpacklo_epi64(ac0, bd0);
    w[1] = _mm256_unpackhi_epi64(ac0, bd0);
    w[2] = _mm256_unpacklo_epi64(ac1, bd1);
    w[3] = _mm256_unpackhi_epi64(ac1, bd1);
}

/* An x8 block's scales and quants (q0, q1), and the quants' magnitudes. */
INLINE void q8x8_unpack(const char *blk, __m256 *dw, __m256i q0[4], __m256i q1[4], __m256i a0[4], __m256i a1[4]) {
    *dw = sl_load_f16x8(blk);
    UNROLL
    for (int c = 0; c < 4; c++) {
        q0[c] = _mm256_loadu_si256((const __m256i *)(const void *)(blk + 16 + 32 * c));
        q1[c] = _mm256_loadu_si256((const __m256i *)(const void *)(blk + 16 + 128 + 32 * c));
        a0[c] = _mm256_abs_epi8(q0[c]);
        a1[c] = _mm256_abs_epi8(q1[c]);
    }
}

/* acc plus block b of 8 rows (quants q0, q1, magnitudes a0, a1, scales dw)
 * times token x. Per chunk, |w| times the activations with w's sign (pairs
 * within 2 * 128 * 127, so each chunk goes to int32 by vpmaddwd before
 * adding). */
INLINE __m256 q8_block_fma(__m256 acc, const __m256i q0[4], const __m256i q1[4], const __m256i a0[4],
                           const __m256i a1[4], __m256 dw, const q8s_row *x, int b) {
    const __m256i ones = _mm256_set1_epi16(1);
    const int8_t *yq = x->q + 32 * b;
    __m256i s0 = _mm256_setzero_si256(), s1 = _mm256_setzero_si256();
    UNROLL
    for (int c = 0; c < 4; c++) {
        long long v;
        memcpy(&v, yq + 8 * c, sizeof v);
        const __m256i yc = _mm256_set1_epi64x(v);
        s0 = _mm256_add_epi32(s0, _mm256_madd_epi16(_mm256_maddubs_epi16(a0[c], _mm256_sign_epi8(yc, q0[c])), ones));
        s1 = _mm256_add_epi32(s1, _mm256_madd_epi16(_mm256_maddubs_epi16(a1[c], _mm256_sign_epi8(yc, q1[c])), ones));
    }
    return _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_hadd_epi32(s0, s1)), _mm256_mul_ps(dw, _mm256_set1_ps(x->d[b])), acc);
}

/* One tile: 8 rows x RN tokens, lanes [r0 r1 r4 r5 r2 r3 r6 r7] as q4_0. */
INLINE void q8_0_tile(__m256 *out, const sl_block_q8_0 *const *w, const char *g, const void *xq, size_t x_row,
                      int t0, int K, const int RN, const char *pf, const bool x8) {
    const int nb = K / 32;
    q8s_row x[4];
    __m256 acc[4];
    UNROLL
    for (int j = 0; j < RN; j++) {
        x[j] = q8s_at(xq, x_row, t0 + j, K);
        acc[j] = _mm256_setzero_ps();
    }
    for (int b = 0; b < nb; b++) {
        if (!x8 || RN > 1) prefetch_next(pf, b, 5);
        __m256 dw;
        __m256i q0[4], q1[4], a0[4], a1[4];
        if (x8) {
            const char *blk = g + (size_t)b * SL_X8_BLOCK_Q8_0;
            if (RN == 1) sl_prefetch_x8_ahead(blk, SL_X8_BLOCK_Q8_0);
            q8x8_unpack(blk, &dw, q0, q1, a0, a1);
        } else {
            dw = scales8(w[0][b].d, w[1][b].d, w[4][b].d, w[5][b].d, w[2][b].d, w[3][b].d, w[6][b].d, w[7][b].d);
            q8_quad(&w[0][b], &w[1][b], &w[2][b], &w[3][b], q0);
            q8_quad(&w[4][b], &w[5][b], &w[6][b], &w[7][b], q1);
            UNROLL
            for (int c = 0; c < 4; c++) {
                a0[c] = _mm256_abs_epi8(q0[c]);
                a1[c] = _mm256_abs_epi8(q1[c]);
            }
        }
        UNROLL
        for (int j = 0; j < RN; j++) acc[j] = q8_block_fma(acc[j], q0, q1, a0, a1, dw, &x[j], b);
    }
    UNROLL
    for (int j = 0; j < RN; j++) out[j] = lanes_to_rows(acc[j]);
}

/* Decode from S (1 or 2) x8 groups at once, as q4x8_decode: the same bits
 * as q8_0_tile. */
INLINE void q8x8_decode(__m256 *out, const char *const *g, const int S, const void *xq, size_t x_row, int K) {
    const q8s_row x = q8s_at(xq, x_row, 0, K);
    __m256 acc[2] = {_mm256_setzero_ps(), _mm256_setzero_ps()};
    for (int b = 0; b < K / 32; b++)
        UNROLL
        for (int s = 0; s < S; s++) {
            const char *blk = g[s] + (size_t)b * SL_X8_BLOCK_Q8_0;
            sl_prefetch_x8_ahead(blk, SL_X8_BLOCK_Q8_0);
            __m256 dw;
            __m256i q0[4], q1[4], a0[4], a1[4];
            q8x8_unpack(blk, &dw, q0, q1, a0, a1);
            acc[s] = q8_block_fma(acc[s], q0, q1, a0, a1, dw, &x, b);
        }
    UNROLL
    for (int s = 0; s < S; s++) out[s] = lanes_to_rows(acc[s]);
}

/* x8 decode (one token, nr % 8 == 0) of q4_0..q5_1 or q8_0 (t): two groups
 * at a time, half the call's rows apart (sl_prefetch_x8_ahead), then the
 * last group alone when their number is odd. */
INLINE void x8_decode(float *y, const void *W, size_t w_row, const void *xq, size_t x_row, int nr, int K, bool acc,
                      const sl_type t) {
    const int ng = nr / 8, h = ng / 2;
    for (int i = 0; i < h + ng % 2; i++) {
        const bool two = i < h;
        const int ra = 8 * (two ? i : 2 * h), rb = 8 * (i + h);
        const char *g[2] = {(const char *)W + (size_t)ra * w_row, (const char *)W + (size_t)rb * w_row};
        __m256 out[2];
        if (t == SL_TYPE_Q8_0) {
            if (two) q8x8_decode(out, g, 2, xq, x_row, K);
            else q8x8_decode(out, g, 1, xq, x_row, K);
        } else if (two) {
            q4x8_decode(out, g, 2, xq, x_row, K, t);
        } else {
            q4x8_decode(out, g, 1, xq, x_row, K, t);
        }
        sl_store_rows8(y + ra, out[0], 8, acc);
        if (two) sl_store_rows8(y + rb, out[1], 8, acc);
    }
}

INLINE void q8_0_gemm(float *y, size_t ldy, const void *W, size_t w_row, const void *xq, size_t x_row, int nr,
                      int nt, int K, bool acc, const bool x8) {
    if (x8 && nt == 1) {
        x8_decode(y, W, w_row, xq, x_row, nr, K, acc, SL_TYPE_Q8_0);
        return;
    }
    for (int r0 = 0; r0 < nr; r0 += 8) {
        GROUP_ROWS(sl_block_q8_0, w, W, w_row, r0, nr);
        const char *g = (const char *)W + (size_t)r0 * w_row;
        /* the next group, when this call has one (another thread may own the rows after) */
        const char *pf = r0 + 8 < nr ? (const char *)W + (size_t)(r0 + 8) * w_row : NULL;
        const int n = nr - r0 < 8 ? nr - r0 : 8;
        int t = 0;
        __m256 out[4];
        for (; t + 4 <= nt; t += 4) {
            q8_0_tile(out, w, g, xq, x_row, t, K, 4, pf, x8);
            for (int j = 0; j < 4; j++) sl_store_rows8(y + (size_t)(t + j) * ldy + r0, out[j], n, acc);
        }
        for (; t < nt; t++) {
            q8_0_tile(out, w, g, xq, x_row, t, K, 1, pf, x8);
            sl_store_rows8(y + (size_t)t * ldy + r0, out[0], n, acc);
        }
    }
}

void sl_gemm_q8_0_avx2(float *y, size_t ldy, const void *W, size_t w_row, const void *xq,
                       size_t x_row, int nr, int nt, int K, bool acc) {
    q8_0_gemm(y, ldy, W, w_row, xq, x_row, nr, nt, K, acc, false);
}

void sl_gemm_q8_0x8_avx2(float *y, size_t ldy, const void *W, size_t w_row, const void *xq,
                         size_t x_row, int nr, int nt, int K, bool acc) {
    q8_0_gemm(y, ldy, W, w_row, xq, x_row, nr, nt, K, acc, true);
}

/* ---- f32 (f16 and bf16: x86/gemm_half_avx2.c) ------------------------------------ */

/* Decode: 8 rows (n of them real: the others repeat row n - 1) x token t
 * straight from W, 8 chains in flight, with software prefetch (the 8 rows
 * are 8 short streams that the hardware prefetchers pick up too late):
 *  - A group of up to FL_GROUP_L1 bytes (K <= 512) fits in L1 beside the
 *    next, so all of the next group (one contiguous run) is prefetched while
 *    this one is read, at the pace a step reads (4 lines per step).
 *  - A longer group would pass through the 32 KB L1 (64 KB at K = 2048)
 *    between a line's arrival and its use, and most lines were evicted
 *    before they were read. So each row is prefetched FL_AHEAD columns
 *    ahead of its use, one line per row per 64 bytes used; near the rows'
 *    end the prefetch goes on into the first columns of the next 8 rows.
 * Measured in paired rounds in one process, 2 threads, weights from DRAM:
 * rows ahead against the whole next group, 5-50% faster at K = 2048 and
 * 5632 (N = 256..32000; f16 rows, then kernels of this shape, 9-43%), but
 * slower for short rows, hence the two cases. 64 or 384 columns ahead
 * measured slower than 128. pf_ok: this call has 8 more rows past these. */
#define FL_AHEAD 128
#define FL_GROUP_L1 16384
INLINE void float_rows8(float *y, const char *W, size_t w_row, int n, const void *xq, size_t x_row, int t, int nt,
                        int K, bool acc, const bool pf_ok) {
    const float *xm = sl_f32t_main(xq, x_row, t, nt);
    const size_t xs = (size_t)sl_f32t_width(nt); /* floats per column: 1 in decode */
    const size_t es = sizeof(float), rowb = (size_t)K * es;
    const char *w[8];
    __m256 a[8];
    UNROLL
    for (int i = 0; i < 8; i++) {
        w[i] = W + (size_t)(i < n ? i : n - 1) * w_row;
        a[i] = _mm256_setzero_ps();
    }
    const int K8 = K & ~7;
    const bool whole = 8 * rowb <= FL_GROUP_L1;
    const int npf = pf_ok ? (int)es : 0; /* lines per step: 8 rows x 8 columns */
    for (int k = 0; k < K8; k += 8) {
        const size_t b = (size_t)k * es, ahead = b + FL_AHEAD * es;
        if (whole) {
            for (int i = 0; i < npf; i++) _mm_prefetch(W + 8 * w_row + ((size_t)(k / 8) * npf + i) * 64, _MM_HINT_T0);
        } else if (b % 64 == 0) {
            if (ahead < rowb) {
                UNROLL
                for (int i = 0; i < 8; i++) _mm_prefetch(w[i] + ahead, _MM_HINT_T0);
            } else if (pf_ok && ahead - rowb < rowb) {
                UNROLL
                for (int i = 0; i < 8; i++) _mm_prefetch(W + (size_t)(8 + i) * w_row + (ahead - rowb), _MM_HINT_T0);
            }
        }
        const __m256 xv = _mm256_loadu_ps(xm + (size_t)k * xs);
        UNROLL
        for (int i = 0; i < 8; i++) a[i] = _mm256_fmadd_ps(load_w(w[i], k), xv, a[i]);
    }
    float_finish8(y, a, n, W, w_row, sl_f32t_tail(xq, x_row, t, nt, K), K8, K, acc);
}

/* Prefill: register tiles of 4 rows x the 3 tokens of an f32t tile, each
 * run over all of K at once: 12 accumulators, the 3 token vectors and one
 * weight vector fill the 16 ymm registers, and per 8 columns the tile loads
 * 4 weight vectors and 3 token vectors for 12 fused multiply-adds. Each
 * lane's chain runs in the same order as in decode, so the bits are those of
 * float_rows8 and of the reference.
 * Why no blocking of K: carrying the lanes of a block of outputs from one K
 * block to the next cost more than the cache misses it saved (in-process
 * A/B on this Zen 3 at T = 128: within noise at K = 2048, up to 1.3x faster
 * at K = 64). The order of the loops does the caching instead: the FL_RB
 * rows of a job are read once per FL_TB tokens from memory and then from
 * L2 while the tiles of those tokens go by, the hardware prefetchers
 * following the sequential rows. Two 4-row tiles make 8 outputs per token,
 * so the lane sums are one hsum8. */
#define FL_RM 4
#define FL_RN SL_F32T_TOKENS
#define FL_RB 16 /* rows per job */
#define FL_TB 36 /* tokens per job: a multiple of FL_RN */

/* Row pointers of the FL_RM rows from r (past nr: the last row, whose
 * outputs are never stored). */
INLINE void tile_rows(const char **w, const char *W, size_t w_row, int r, int nr) {
    for (int i = 0; i < FL_RM; i++) w[i] = W + (size_t)(r + i < nr ? r + i : nr - 1) * w_row;
}

/* a[i][j] = the lanes of row w[i] times token j of the f32t tile whose
 * 8-column groups start at x (group s at x + 24 s), over K8 columns. */
INLINE void float_tile(__m256 a[FL_RM][FL_RN], const char *const *w, const float *restrict x, int K8) {
    UNROLL
    for (int i = 0; i < FL_RM; i++)
        UNROLL
        for (int j = 0; j < FL_RN; j++) a[i][j] = _mm256_setzero_ps();
    for (int k = 0; k < K8; k += 8) {
        __m256 xv[FL_RN];
        UNROLL
        for (int j = 0; j < FL_RN; j++) xv[j] = _mm256_loadu_ps(x + (size_t)k * FL_RN + j * 8);
        UNROLL
        for (int i = 0; i < FL_RM; i++) {
            const __m256 wv = load_w(w[i], k);
            UNROLL
            for (int j = 0; j < FL_RN; j++) a[i][j] = _mm256_fmadd_ps(wv, xv[j], a[i][j]);
        }
    }
}

/* nt >= 2 tokens, K8 = K & ~7 > 0: jobs of FL_RB rows x FL_TB tokens; in a
 * job, 8 rows at a time against every tile of its tokens (the last tile's
 * tokens past nt repeat token nt - 1 and are never stored). */
static void float_prefill(float *y, size_t ldy, const char *W, size_t w_row, const char *xq, size_t x_row, int nr,
                          int nt, int K, bool acc) {
    const int K8 = K & ~7;
    for (int r0 = 0; r0 < nr; r0 += FL_RB)
        for (int t0 = 0; t0 < nt; t0 += FL_TB) {
            const int t1 = t0 + FL_TB < nt ? t0 + FL_TB : nt;
            for (int r = r0; r < r0 + FL_RB && r < nr; r += 8) {
                const int n = nr - r < 8 ? nr - r : 8;
                const char *w[8];
                tile_rows(w, W, w_row, r, nr);
                tile_rows(w + FL_RM, W, w_row, r + FL_RM, nr);
                for (int t = t0; t < t1; t += FL_RN) {
                    const float *xm = sl_f32t_main(xq, x_row, t, nt);
                    __m256 a[2][FL_RM][FL_RN];
                    float_tile(a[0], w, xm, K8);
                    const int h = n > FL_RM; /* the second 4 rows, when there are any */
                    if (h) float_tile(a[1], w + FL_RM, xm, K8);
                    for (int j = 0; j < FL_RN && t + j < t1; j++) {
                        const __m256 v[8] = {a[0][0][j], a[0][1][j], a[0][2][j], a[0][3][j],
                                             a[h][0][j], a[h][1][j], a[h][2][j], a[h][3][j]};
                        float_finish8(y + (size_t)(t + j) * ldy + r, v, n, W + (size_t)r * w_row, w_row,
                                      sl_f32t_tail(xq, x_row, t + j, nt, K), K8, K, acc);
                    }
                }
            }
        }
}

void sl_gemm_f32_avx2(float *y, size_t ldy, const void *W, size_t w_row, const void *xq,
                      size_t x_row, int nr, int nt, int K, bool acc) {
    if (nt >= 2 && K >= 8) {
        float_prefill(y, ldy, W, w_row, xq, x_row, nr, nt, K, acc);
        return;
    }
    for (int t = 0; t < nt; t++)
        for (int r = 0; r < nr; r += 8)
            float_rows8(y + (size_t)t * ldy + r, (const char *)W + (size_t)r * w_row, w_row, nr - r < 8 ? nr - r : 8,
                        xq, x_row, t, nt, K, acc, r + 16 <= nr);
}
