/* gemm_k_avx2.c — AVX2 tile kernels of the K-quants (q4_K, q5_K, q6_K
 * weights against q8_K activations; kernels/gemm.h). The scalar references
 * in kernels/ref/gemm_k_ref.c give the same bits (tests/unit/test_gemm.c).
 *
 * Eight weight rows live in the eight lanes of a vector, as in the q4_0 tile
 * (x86/gemm_avx2.c): each row's super-block sum is an exact int32, formed
 * with vpmaddubsw (quants times activations, in pairs) and vpmaddwd (times
 * the sub-block scales), and one vphaddd step leaves the eight rows' sums in
 * the lane order [r0 r1 r4 r5 | r2 r3 r6 r7]. The float work per super-block
 * (int-to-float, one scale vector, one FMA per term) is shared by eight
 * rows, the scales and mins are unpacked for all rows at once, and nothing
 * is summed horizontally per row. Since the sums are exact, two layouts of
 * the same sums give the same bits, and each path uses the cheaper one:
 *  - prefill (tiles of 8 or 4 tokens): quads of rows a, b, c, d interleaved
 *    in 8-byte pieces [a b | c d] once per super-block; a vpmaddubsw with a
 *    broadcast 8-byte activation piece serves four rows of a token;
 *  - decode (one token): pairs of rows unpacked in-lane from plain 32-byte
 *    loads, [a(0..7) b(0..7) | a(16..23) b(16..23)], against the token's
 *    activations unpacked the same way once for all pairs (k4_pairs_isum,
 *    q6_pairs_isum): fewer shuffles, and no broadcasts.
 *
 * While a group of 8 rows is computed, the next one (a contiguous run of
 * 8 * w_row bytes) is prefetched at the pace the group is consumed, spread
 * over the super-block in decode: the eight row streams of a group are too
 * short for the hardware prefetchers to learn in time. Decode from repacked
 * rows, one sequential run, prefetches a short way ahead instead
 * (sl_prefetch_x8_ahead).
 *
 * int16 bounds of the vpmaddubsw sums (activations within +-127): an int16
 * lane adds at most 8 products of q4_K or q5_K quants, 8 * 31 * 127 = 31496,
 * and at most 4 of q6_K's, 4 * 63 * 127 = 32004 (q6_K's offset of 32 goes
 * through the q8_K bsums: sum (q - 32) a = sum q a - 32 sum a). */
#include <immintrin.h>

#include "kernels/gemm.h"
#include "kernels/x86/avx2_util.h"
#include "tensor/quant_blocks.h"

#define INLINE static inline __attribute__((always_inline))
/* Loops with compile-time trip counts; unrolled, their arrays live in registers. */
#define UNROLL _Pragma("GCC unroll 8")
/* An empty asm that claims to change v: the compiler must have v in a
 * register here and cannot regroup the sums around this point, which keeps
 * it from hoisting a whole unrolled block's loads and spilling them. */
#define SEQ(v) __asm__("" : "+x"(v))

/* ---- shared pieces ------------------------------------------------------------------- */

INLINE __m256i load2x128(const void *lo, const void *hi) {
    return sl_combine128(_mm_loadu_si128((const __m128i *)lo), _mm_loadu_si128((const __m128i *)hi));
}

/* 8 activation bytes in every 64-bit piece. */
INLINE __m256i bcast8(const int8_t *p) {
    long long v;
    memcpy(&v, p, sizeof v);
    return _mm256_set1_epi64x(v);
}

/* 16 bytes at p of four rows (byte offset off in each) as two vectors of
 * 8-byte pieces: X[0] = [a(0..7) b(0..7) | c(0..7) d(0..7)], X[1] the same
 * of bytes 8..15. */
INLINE void quad16(const char *const *r, size_t off, __m256i X[2]) {
    const __m256i ac = load2x128(r[0] + off, r[2] + off), bd = load2x128(r[1] + off, r[3] + off);
    X[0] = _mm256_unpacklo_epi64(ac, bd);
    X[1] = _mm256_unpackhi_epi64(ac, bd);
}

/* Lines [i * n + j0, i * n + j0 + m) of the next row group (pf), when
 * there is one: super-block i of a group consumes 8 blocks, so n >=
 * 8 * block bytes / 64 lines per super-block keep pace with it (PF_Q4K...
 * below, slightly ahead). Decode spreads each super-block's n lines over its
 * work in m-line parts rather than asking for them all at once: a burst of
 * misses waits on the few miss buffers while the rest of the super-block
 * has none in flight. Prefetches past the matrix never fault. */
#define PF_Q4K 20 /* 8 * 144 / 64 = 18 */
#define PF_Q5K 24 /* 8 * 176 / 64 = 22 */
#define PF_Q6K 28 /* 8 * 210 / 64 = 26.25 */
INLINE void prefetch_next(const char *pf, int i, const int n, const int j0, const int m) {
    if (!pf) return;
    UNROLL
    for (int j = j0; j < j0 + m; j++) _mm_prefetch(pf + ((size_t)i * n + j) * 64, _MM_HINT_T0);
}

/* Eight f16 values, one per row, at byte off of each row's block i, as
 * floats in lane order [r0 r1 r4 r5 | r2 r3 r6 r7]. Packed in general
 * registers: inserting into a vector element by element would queue on
 * the few ports that move data across. */
INLINE uint64_t half_at(const char *p) {
    uint16_t h;
    memcpy(&h, p, 2);
    return h;
}
INLINE __m256 halves8(const char *const *w, size_t off) {
    const uint64_t lo = half_at(w[0] + off) | half_at(w[1] + off) << 16 | half_at(w[4] + off) << 32 |
                        half_at(w[5] + off) << 48;
    const uint64_t hi = half_at(w[2] + off) | half_at(w[3] + off) << 16 | half_at(w[6] + off) << 32 |
                        half_at(w[7] + off) << 48;
    return _mm256_cvtph_ps(_mm_set_epi64x((long long)hi, (long long)lo));
}

/* Sums of the eight row lanes, [r0 r1 r4 r5 | r2 r3 r6 r7], from the two
 * quads' [a a b b | c c d d] partial sums. */
INLINE __m256i rows8(__m256i q0, __m256i q1) { return _mm256_hadd_epi32(q0, q1); }

/* ---- q4_K and q5_K ------------------------------------------------------------------- */

/* The 8 scales and 8 mins of rows a and c (12 packed bytes each at pa, pc)
 * as bytes [sc_a(8) m_a(8) | sc_c(8) m_c(8)]: sl_k4_scale_min for every j
 * at once, on 32-bit words u0 u1 u2 of each row:
 *   sc 0..3 = u0 & 0x3F..   sc 4..7 = u2 & 0x0F.. | (u0 >> 6 & 0x03..) << 4
 *   m  0..3 = u1 & 0x3F..   m  4..7 = u2 >> 4 & 0x0F.. | (u1 >> 6 & 0x03..) << 4
 * Reads 16 bytes at each; the 4 after the scales are the block's own. */
INLINE __m256i k4_scales_pair(const char *pa, const char *pc) {
    const __m256i u = load2x128(pa, pc);
    const __m256i low = _mm256_and_si256(u, _mm256_set1_epi8(0x3F));
    const __m256i u2 = _mm256_srlv_epi32(_mm256_shuffle_epi32(u, 0xAA), _mm256_setr_epi32(0, 4, 0, 4, 0, 4, 0, 4));
    const __m256i top = _mm256_slli_epi32(_mm256_and_si256(_mm256_srli_epi32(u, 6), _mm256_set1_epi8(3)), 4);
    const __m256i high = _mm256_or_si256(_mm256_and_si256(u2, _mm256_set1_epi8(0x0F)), top);
    return _mm256_unpacklo_epi32(low, high); /* words [sc0..3 sc4..7 m0..3 m4..7] */
}

/* Scale of sub-block j for the four rows of a quad, as int16
 * [sa x4 sb x4 | sc x4 sd x4] (zero high bytes through the 0x80 indices). */
INLINE __m256i k4_pick(__m256i sc, const int j) {
    const long long lo = (long long)(0x0001000100010001ULL * (0x8000u | (unsigned)j));
    const long long hi = (long long)(0x0001000100010001ULL * (0x8000u | (unsigned)(8 + j)));
    return _mm256_shuffle_epi8(sc, _mm256_setr_epi64x(lo, hi, lo, hi));
}

/* Bit b of each byte of h moved to bit 4 (q5_K's fifth bits); shifts of
 * 16-bit lanes are safe here: what crosses a byte boundary lands on other
 * bits than bit 4. */
INLINE __m256i bit_to_4(__m256i h, const int b) {
    const __m256i v = b < 4 ? _mm256_slli_epi16(h, 4 - b) : b > 4 ? _mm256_srli_epi16(h, b - 4) : h;
    return _mm256_and_si256(v, _mm256_set1_epi8(0x10));
}

/* Decode (one token) arithmetic of a q4_K/q5_K super-block: the same exact
 * sums as the quad layout, formed with fewer shuffles. Rows go in pairs
 * (r0 r1) (r4 r5) (r2 r3) (r6 r7); two 32-byte loads and two in-lane
 * unpacks give [a(0..7) b(0..7) | a(16..23) b(16..23)] and the same of
 * bytes 8..15 and 24..31, and the token's 32 activation bytes unpacked the
 * same way, [y(0..7) x2 | y(16..23) x2], serve all four pairs. The int16
 * pair sums [a x4 b x4 | a x4 b x4] take [sa x4 sb x4 | sa x4 sb x4]; at
 * the end vphaddd and a sum of the two 128-bit lanes leave the rows in the
 * tile's lane order [r0 r1 r4 r5 | r2 r3 r6 r7]. sc: the quads' scale bytes.
 * int16 bounds: 4 products per lane, 4 * 31 * 127 at most. */
INLINE __m256i k4_pairs_isum(const char *const *w, size_t off, size_t qs_off, const int8_t *y, const __m256i sc[2],
                             const bool five, const char *pf, int i) {
    const int npf = five ? PF_Q5K : PF_Q4K;
    static const int PAIR[4][2] = {{0, 1}, {4, 5}, {2, 3}, {6, 7}};
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    const __m256i SP[4] = {_mm256_permute4x64_epi64(sc[0], 0x44), _mm256_permute4x64_epi64(sc[1], 0x44),
                           _mm256_permute4x64_epi64(sc[0], 0xEE), _mm256_permute4x64_epi64(sc[1], 0xEE)};
    __m256i S[4];
    UNROLL
    for (int p = 0; p < 4; p++) S[p] = _mm256_setzero_si256();
    UNROLL
    for (int c = 0; c < 4; c++) {
        prefetch_next(pf, i, npf, c * npf / 4, npf / 4);
        const __m256i Y0 = _mm256_loadu_si256((const __m256i *)(y + 64 * c));
        const __m256i Y1 = _mm256_loadu_si256((const __m256i *)(y + 64 * c + 32));
        const __m256i y0l = _mm256_unpacklo_epi64(Y0, Y0), y0h = _mm256_unpackhi_epi64(Y0, Y0);
        const __m256i y1l = _mm256_unpacklo_epi64(Y1, Y1), y1h = _mm256_unpackhi_epi64(Y1, Y1);
        UNROLL
        for (int p = 0; p < 4; p++) {
            const char *ra = w[PAIR[p][0]] + off, *rb = w[PAIR[p][1]] + off;
            const __m256i va = _mm256_loadu_si256((const __m256i *)(ra + qs_off + 32 * c));
            const __m256i vb = _mm256_loadu_si256((const __m256i *)(rb + qs_off + 32 * c));
            const __m256i L = _mm256_unpacklo_epi64(va, vb), H = _mm256_unpackhi_epi64(va, vb);
            __m256i lL = _mm256_and_si256(L, m4), lH = _mm256_and_si256(H, m4);
            __m256i hL = _mm256_and_si256(_mm256_srli_epi16(L, 4), m4), hH = _mm256_and_si256(_mm256_srli_epi16(H, 4), m4);
            if (five) {
                const __m256i ha = _mm256_loadu_si256((const __m256i *)(ra + offsetof(sl_block_q5_k, qh)));
                const __m256i hb = _mm256_loadu_si256((const __m256i *)(rb + offsetof(sl_block_q5_k, qh)));
                const __m256i qL = _mm256_unpacklo_epi64(ha, hb), qH = _mm256_unpackhi_epi64(ha, hb);
                lL = _mm256_or_si256(lL, bit_to_4(qL, 2 * c));
                lH = _mm256_or_si256(lH, bit_to_4(qH, 2 * c));
                hL = _mm256_or_si256(hL, bit_to_4(qL, 2 * c + 1));
                hH = _mm256_or_si256(hH, bit_to_4(qH, 2 * c + 1));
            }
            const __m256i p0 = _mm256_add_epi16(_mm256_maddubs_epi16(lL, y0l), _mm256_maddubs_epi16(lH, y0h));
            const __m256i p1 = _mm256_add_epi16(_mm256_maddubs_epi16(hL, y1l), _mm256_maddubs_epi16(hH, y1h));
            S[p] = _mm256_add_epi32(S[p], _mm256_add_epi32(_mm256_madd_epi16(p0, k4_pick(SP[p], 2 * c)),
                                                           _mm256_madd_epi16(p1, k4_pick(SP[p], 2 * c + 1))));
        }
    }
    const __m256i q1 = _mm256_hadd_epi32(S[0], S[1]), q2 = _mm256_hadd_epi32(S[2], S[3]);
    return _mm256_add_epi32(_mm256_permute2x128_si256(q1, q2, 0x20), _mm256_permute2x128_si256(q1, q2, 0x31));
}

/* One tile of q4_K (five = false) or q5_K: 8 rows (block pointers w) x RN
 * tokens. bytes: block size. With x8, the group's blocks are
 * row-interleaved at g (kernels/gemm.h) and every token count takes the
 * quad path, whose weight vectors (and q5_K's fifth bits) are then plain
 * loads. */
INLINE void k4_tile(__m256 *out, const char *const *w, const char *const *g, const int G, const char *xq,
                    size_t x_row, int nb, const int RN, const bool five, const char *pf, const bool x8) {
    const size_t bytes = five ? sizeof(sl_block_q5_k) : sizeof(sl_block_q4_k);
    const size_t qs_off = five ? offsetof(sl_block_q5_k, qs) : offsetof(sl_block_q4_k, qs);
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    __m256 acc[8];
    UNROLL
    for (int t = 0; t < RN + G - 1; t++) acc[t] = _mm256_setzero_ps();
    for (int i = 0; i < nb; i++) {
        const int npf = five ? PF_Q5K : PF_Q4K;
        if (RN > 1) prefetch_next(pf, i, npf, 0, npf);
        const size_t off = (size_t)i * bytes;
        const sl_block_q8_k *a[8];
        UNROLL
        for (int t = 0; t < RN; t++) a[t] = (const sl_block_q8_k *)(const void *)(xq + (size_t)t * x_row) + i;
        UNROLL
        for (int s = 0; s < G; s++) { /* accumulators acc[s + t]: G > 1 only when RN == 1 */
            const char *gb = g[s] + 8 * off; /* x8: the group's super-block i */
            /* scales and mins; the min term goes first, so that its vectors are
             * dead before the quants are unpacked */
            __m256i sc[2], mac[2], mbd[2];
            UNROLL
            for (int q = 0; q < 2; q++) {
                const char *const *r = w + 4 * q;
                const char *sq = gb + SL_X8K_SCALES + 12 * 4 * q; /* x8: the quad's 4 x 12 scale bytes */
                const __m256i ac = x8 ? k4_scales_pair(sq, sq + 24) : k4_scales_pair(r[0] + off + 4, r[2] + off + 4);
                const __m256i bd = x8 ? k4_scales_pair(sq + 12, sq + 36) : k4_scales_pair(r[1] + off + 4, r[3] + off + 4);
                sc[q] = _mm256_unpacklo_epi64(ac, bd); /* [sa sb | sc sd] */
                /* 64-bit words 1 and 3 (the mins of both lanes) widened: [ma | mc], [mb | md] */
                mac[q] = _mm256_cvtepu8_epi16(_mm256_castsi256_si128(_mm256_permute4x64_epi64(ac, 0x0D)));
                mbd[q] = _mm256_cvtepu8_epi16(_mm256_castsi256_si128(_mm256_permute4x64_epi64(bd, 0x0D)));
            }
            const __m256 dmin = x8 ? sl_load_f16x8(gb + SL_X8K_DMIN) : halves8(w, off + 2);
            UNROLL
            for (int t = 0; t < RN; t++) {
                /* m_j against the bsums of each 32-element sub-block */
                const __m128i b2 = _mm_hadd_epi16(_mm_loadu_si128((const __m128i *)a[t]->bsums),
                                                  _mm_loadu_si128((const __m128i *)(a[t]->bsums + 8)));
                const __m256i B = _mm256_broadcastsi128_si256(b2);
                const __m256i m0 = _mm256_hadd_epi32(_mm256_madd_epi16(mac[0], B), _mm256_madd_epi16(mbd[0], B));
                const __m256i m1 = _mm256_hadd_epi32(_mm256_madd_epi16(mac[1], B), _mm256_madd_epi16(mbd[1], B));
                acc[s + t] = _mm256_fnmadd_ps(_mm256_cvtepi32_ps(rows8(m0, m1)), _mm256_mul_ps(dmin, _mm256_set1_ps(a[t]->d)),
                                          acc[s + t]);
            }
            const __m256 d = x8 ? sl_load_f16x8(gb + SL_X8K_D) : halves8(w, off);
            if (RN == 1 && !x8) {
                const __m256i isum = k4_pairs_isum(w, off, qs_off, a[0]->qs, sc, five, pf, i);
                acc[s] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum), _mm256_mul_ps(d, _mm256_set1_ps(a[0]->d)), acc[s]);
                continue;
            }
            __m256i S[8][2];
            UNROLL
            for (int q = 0; q < 2; q++) {
                const char *const *r = w + 4 * q;
                /* the activations seen through an opaque pointer per quad: the
                 * compiler would otherwise load every broadcast once for both
                 * quads and spill them all in between */
                const char *xa = (const char *)a[0];
                __asm__("" : "+r"(xa));
                UNROLL
                for (int t = 0; t < RN; t++) S[t][q] = _mm256_setzero_si256();
                __m256i H[4];
                if (five && x8) {
                    UNROLL
                    for (int k = 0; k < 4; k++)
                        H[k] = _mm256_loadu_si256((const __m256i *)(const void *)(gb + SL_X8K5_QH + (size_t)(q * 4 + k) * 32));
                } else if (five) {
                    quad16(r, off + offsetof(sl_block_q5_k, qh), H);
                    quad16(r, off + offsetof(sl_block_q5_k, qh) + 16, H + 2);
                }
                UNROLL
                for (int c = 0; c < 4; c++) {
                    /* Two passes over the tokens, low nibbles (sub-block 2c) then
                     * high ones (2c + 1), so that at most 4 weight vectors, the
                     * RN accumulators and a few temporaries are live: the low
                     * nibbles are masked per token from the raw bytes, the high
                     * ones unpacked once after. */
                    __m256i X[4], hi[4];
                    if (x8) {
                        if (RN == 1 && q == 0) sl_prefetch_x8_ahead(gb + c * 2 * bytes, 2 * bytes); /* part c of 4 */
                        UNROLL
                        for (int k = 0; k < 4; k++)
                            X[k] = _mm256_loadu_si256(
                                (const __m256i *)(const void *)(gb + (five ? SL_X8K5_QS : SL_X8K_QS) + (size_t)((q * 4 + c) * 4 + k) * 32));
                    } else {
                        quad16(r, off + qs_off + 32 * c, X);
                        quad16(r, off + qs_off + 32 * c + 16, X + 2);
                    }
                    const __m256i s_lo = k4_pick(sc[q], 2 * c);
                    UNROLL
                    for (int t = 0; t < RN; t++) {
                        const int8_t *y = ((const sl_block_q8_k *)(const void *)(xa + (size_t)t * x_row))->qs + 64 * c;
                        __m256i p = _mm256_setzero_si256();
                        UNROLL
                        for (int k = 0; k < 4; k++) {
                            __m256i lo = _mm256_and_si256(X[k], m4);
                            if (five) lo = _mm256_or_si256(lo, bit_to_4(H[k], 2 * c));
                            p = _mm256_add_epi16(p, _mm256_maddubs_epi16(lo, bcast8(y + 8 * k)));
                        }
                        S[t][q] = _mm256_add_epi32(S[t][q], _mm256_madd_epi16(p, s_lo));
                        SEQ(S[t][q]);
                    }
                    UNROLL
                    for (int k = 0; k < 4; k++) {
                        hi[k] = _mm256_and_si256(_mm256_srli_epi16(X[k], 4), m4);
                        if (five) hi[k] = _mm256_or_si256(hi[k], bit_to_4(H[k], 2 * c + 1));
                    }
                    const __m256i s_hi = k4_pick(sc[q], 2 * c + 1);
                    UNROLL
                    for (int t = 0; t < RN; t++) {
                        const int8_t *y = ((const sl_block_q8_k *)(const void *)(xa + (size_t)t * x_row))->qs + 64 * c + 32;
                        __m256i p = _mm256_setzero_si256();
                        UNROLL
                        for (int k = 0; k < 4; k++) p = _mm256_add_epi16(p, _mm256_maddubs_epi16(hi[k], bcast8(y + 8 * k)));
                        S[t][q] = _mm256_add_epi32(S[t][q], _mm256_madd_epi16(p, s_hi));
                        SEQ(S[t][q]);
                    }
                }
            }
            UNROLL
            for (int t = 0; t < RN; t++)
                acc[s + t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(rows8(S[t][0], S[t][1])), _mm256_mul_ps(d, _mm256_set1_ps(a[t]->d)),
                                         acc[s + t]);
        }
    }
    const __m256i perm = _mm256_setr_epi32(0, 1, 4, 5, 2, 3, 6, 7);
    UNROLL
    for (int t = 0; t < RN + G - 1; t++) out[t] = _mm256_permutevar8x32_ps(acc[t], perm);
}

/* ---- q6_K ---------------------------------------------------------------------------- */

/* The 16 signed scales of a quad's rows as int16, in quarters:
 * Q[j] = [sa(4j..4j+3) sb(..) | sc(..) sd(..)]. */
INLINE void q6_scales(const char *ra, const char *rb, const char *rc, const char *rd, __m256i Q[4]) {
    const __m256i ac = load2x128(ra, rc), bd = load2x128(rb, rd);
    const __m256i l = _mm256_unpacklo_epi32(ac, bd), h = _mm256_unpackhi_epi32(ac, bd);
    /* a byte paired with itself, shifted right arithmetically: sign-extended */
    Q[0] = _mm256_srai_epi16(_mm256_unpacklo_epi8(l, l), 8);
    Q[1] = _mm256_srai_epi16(_mm256_unpackhi_epi8(l, l), 8);
    Q[2] = _mm256_srai_epi16(_mm256_unpacklo_epi8(h, h), 8);
    Q[3] = _mm256_srai_epi16(_mm256_unpackhi_epi8(h, h), 8);
}

/* Scale j (0..3) of a quarter for the four rows: [sa x4 sb x4 | sc x4 sd x4]. */
INLINE __m256i q6_pick(__m256i Q, const int j) {
    const long long lo = (long long)(0x0001000100010001ULL * (unsigned)(2 * j | (2 * j + 1) << 8));
    const long long hi = (long long)(0x0001000100010001ULL * (unsigned)((8 + 2 * j) | (9 + 2 * j) << 8));
    return _mm256_shuffle_epi8(Q, _mm256_setr_epi64x(lo, hi, lo, hi));
}

/* Decode arithmetic of a q6_K super-block, in the pair layout of
 * k4_pairs_isum: the 32 bytes l = 0..31 of ql, ql + 32 and qh of rows a and
 * b unpacked to [a(0..7) b(0..7) | a(16..23) b(16..23)] and the same of
 * bytes 8..15 and 24..31. The low 128-bit lane then covers elements 0..15
 * of a part, sub-block 2p of the half, the high lane 16..31, sub-block
 * 2p + 1, so the scale vector of part p is [sa(2p) x4 sb(2p) x4 |
 * sa(2p+1) x4 sb(2p+1) x4], picked from SRC = [sa(0 2 4 6) sb(0 2 4 6) |
 * sa(1 3 5 7) sb(1 3 5 7)] (int16, per half). The offset of 32 goes through
 * the bsums in the same even/odd order: - sum_s 32 sc_s bsum_s, exact in
 * int16 (32 * 128) and int32. int16 bounds: 4 products per lane, 4 * 63 * 127. */
INLINE __m256i q6_pairs_isum(const char *const *w, size_t off, const sl_block_q8_k *a, const char *pf, int i) {
    static const int PAIR[4][2] = {{0, 1}, {4, 5}, {2, 3}, {6, 7}};
    const __m256i m4 = _mm256_set1_epi8(0x0F), m30 = _mm256_set1_epi8(0x30);
    /* even elements (bytes or int16 pairs) to the low lane, odd ones to the high lane */
    const __m256i ev8 = _mm256_setr_epi8(0, 2, 4, 6, 8, 10, 12, 14, 0, 2, 4, 6, 8, 10, 12, 14, 1, 3, 5, 7, 9, 11, 13, 15,
                                         1, 3, 5, 7, 9, 11, 13, 15);
    const __m256i ev16 = _mm256_setr_epi8(0, 1, 4, 5, 8, 9, 12, 13, 0, 1, 4, 5, 8, 9, 12, 13, 2, 3, 6, 7, 10, 11, 14, 15,
                                          2, 3, 6, 7, 10, 11, 14, 15);
    /* the token's activations, unpacked once for the four pairs */
    __m256i Y[2][4][2], B[2];
    UNROLL
    for (int h = 0; h < 2; h++) {
        UNROLL
        for (int p = 0; p < 4; p++) {
            const __m256i v = _mm256_loadu_si256((const __m256i *)(a->qs + 128 * h + 32 * p));
            Y[h][p][0] = _mm256_unpacklo_epi64(v, v);
            Y[h][p][1] = _mm256_unpackhi_epi64(v, v);
        }
        B[h] = _mm256_shuffle_epi8(
            _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(a->bsums + 8 * h))), ev16);
    }
    __m256i S[4];
    UNROLL
    for (int q = 0; q < 4; q++) {
        prefetch_next(pf, i, PF_Q6K, q * PF_Q6K / 4, PF_Q6K / 4);
        const char *ra = w[PAIR[q][0]] + off, *rb = w[PAIR[q][1]] + off;
        const size_t sco = offsetof(sl_block_q6_k, scales);
        const __m256i sa = _mm256_shuffle_epi8(_mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(ra + sco))), ev8);
        const __m256i sb = _mm256_shuffle_epi8(_mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(rb + sco))), ev8);
        const __m256i s8 = _mm256_unpacklo_epi32(sa, sb); /* bytes: [a even h0, b even h0, a even h1, b even h1 | odd] */
        /* a byte paired with itself, shifted right arithmetically: sign-extended */
        const __m256i SRC[2] = {_mm256_srai_epi16(_mm256_unpacklo_epi8(s8, s8), 8),
                                _mm256_srai_epi16(_mm256_unpackhi_epi8(s8, s8), 8)};
        __m256i acc = _mm256_setzero_si256();
        UNROLL
        for (int h = 0; h < 2; h++) {
            const char *qa = ra + offsetof(sl_block_q6_k, ql) + 64 * h, *qb = rb + offsetof(sl_block_q6_k, ql) + 64 * h;
            const char *ha = ra + offsetof(sl_block_q6_k, qh) + 32 * h, *hb = rb + offsetof(sl_block_q6_k, qh) + 32 * h;
            const __m256i va = _mm256_loadu_si256((const __m256i *)qa), vb = _mm256_loadu_si256((const __m256i *)qb);
            const __m256i wa = _mm256_loadu_si256((const __m256i *)(qa + 32)), wb = _mm256_loadu_si256((const __m256i *)(qb + 32));
            const __m256i xa = _mm256_loadu_si256((const __m256i *)ha), xb = _mm256_loadu_si256((const __m256i *)hb);
            const __m256i V[2] = {_mm256_unpacklo_epi64(va, vb), _mm256_unpackhi_epi64(va, vb)};
            const __m256i W[2] = {_mm256_unpacklo_epi64(wa, wb), _mm256_unpackhi_epi64(wa, wb)};
            const __m256i X[2] = {_mm256_unpacklo_epi64(xa, xb), _mm256_unpackhi_epi64(xa, xb)};
            __m256i d16[4];
            UNROLL
            for (int k = 0; k < 2; k++) {
                const __m256i q0 = _mm256_or_si256(_mm256_and_si256(V[k], m4), _mm256_and_si256(_mm256_slli_epi16(X[k], 4), m30));
                const __m256i q1 = _mm256_or_si256(_mm256_and_si256(W[k], m4), _mm256_and_si256(_mm256_slli_epi16(X[k], 2), m30));
                const __m256i q2 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(V[k], 4), m4), _mm256_and_si256(X[k], m30));
                const __m256i q3 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(W[k], 4), m4),
                                                   _mm256_and_si256(_mm256_srli_epi16(X[k], 2), m30));
                const __m256i pr[4] = {_mm256_maddubs_epi16(q0, Y[h][0][k]), _mm256_maddubs_epi16(q1, Y[h][1][k]),
                                       _mm256_maddubs_epi16(q2, Y[h][2][k]), _mm256_maddubs_epi16(q3, Y[h][3][k])};
                UNROLL
                for (int p = 0; p < 4; p++) d16[p] = k ? _mm256_add_epi16(d16[p], pr[p]) : pr[p];
            }
            UNROLL
            for (int p = 0; p < 4; p++) acc = _mm256_add_epi32(acc, _mm256_madd_epi16(d16[p], q6_pick(SRC[h], p)));
            acc = _mm256_sub_epi32(acc, _mm256_madd_epi16(_mm256_slli_epi16(SRC[h], 5), B[h]));
            SEQ(acc);
        }
        S[q] = acc;
    }
    const __m256i q1 = _mm256_hadd_epi32(S[0], S[1]), q2 = _mm256_hadd_epi32(S[2], S[3]);
    return _mm256_add_epi32(_mm256_permute2x128_si256(q1, q2, 0x20), _mm256_permute2x128_si256(q1, q2, 0x31));
}

/* With x8, the group's blocks are row-interleaved at g (kernels/gemm.h)
 * and every token count takes the quad path, on plain loads. */
INLINE void q6k_tile(__m256 *out, const char *const *w, const char *const *g, const int G, const char *xq,
                     size_t x_row, int nb, const int RN, const char *pf, const bool x8) {
    const __m256i m4 = _mm256_set1_epi8(0x0F), m30 = _mm256_set1_epi8(0x30);
    __m256 acc[8];
    UNROLL
    for (int t = 0; t < RN + G - 1; t++) acc[t] = _mm256_setzero_ps();
    for (int i = 0; i < nb; i++) {
        if (RN > 1) prefetch_next(pf, i, PF_Q6K, 0, PF_Q6K);
        const size_t off = (size_t)i * sizeof(sl_block_q6_k);
        const sl_block_q8_k *a[8];
        UNROLL
        for (int t = 0; t < RN; t++) a[t] = (const sl_block_q8_k *)(const void *)(xq + (size_t)t * x_row) + i;
        UNROLL
        for (int s = 0; s < G; s++) { /* accumulators acc[s + t]: G > 1 only when RN == 1 */
            const char *gb = g[s] + 8 * off; /* x8: the group's super-block i */
            if (RN == 1 && !x8) {
                const __m256 dw = halves8(w, off + offsetof(sl_block_q6_k, d));
                acc[s] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(q6_pairs_isum(w, off, a[0], pf, i)), _mm256_mul_ps(dw, _mm256_set1_ps(a[0]->d)),
                                         acc[s]);
                continue;
            }
            __m256i S[8][2];
            UNROLL
            for (int q = 0; q < 2; q++) {
                const char *const *r = w + 4 * q;
                /* the activations through an opaque pointer per quad (see k4_tile) */
                const char *xa = (const char *)a[0];
                __asm__("" : "+r"(xa));
                __m256i Q[4];
                const size_t so = off + offsetof(sl_block_q6_k, scales);
                const char *sq = gb + SL_X8Q6_SCALES + 16 * 4 * q; /* x8: the quad's 4 x 16 scales */
                if (x8) q6_scales(sq, sq + 16, sq + 32, sq + 48, Q);
                else q6_scales(r[0] + so, r[1] + so, r[2] + so, r[3] + so, Q);
                UNROLL
                for (int t = 0; t < RN; t++) {
                    /* the offset of 32 first: - sum_s 32 sc_s bsum_s (32 sc within int16) */
                    const int16_t *bs = ((const sl_block_q8_k *)(const void *)(xa + (size_t)t * x_row))->bsums;
                    __m256i b = _mm256_madd_epi16(_mm256_slli_epi16(Q[0], 5), bcast8((const int8_t *)bs));
                    UNROLL
                    for (int j = 1; j < 4; j++)
                        b = _mm256_add_epi32(b, _mm256_madd_epi16(_mm256_slli_epi16(Q[j], 5), bcast8((const int8_t *)(bs + 4 * j))));
                    S[t][q] = _mm256_sub_epi32(_mm256_setzero_si256(), b);
                    SEQ(S[t][q]);
                }
                UNROLL
                for (int h = 0; h < 2; h++)
                    UNROLL
                    for (int m = 0; m < 2; m++) {
                        /* elements l = 16m..16m+15 of half h: ql[l], ql[l + 32], qh[l]; parts in
                         * the order 0 2 1 3, so that X is dead after the first two */
                        __m256i X[2], Y[2], Hb[2];
                        if (x8) {
                            if (RN == 1 && q == 0) /* part 2h + m of 4 */
                                sl_prefetch_x8_ahead(gb + (2 * h + m) * 2 * sizeof(sl_block_q6_k), 2 * sizeof(sl_block_q6_k));
                            const char *v = gb + SL_X8Q6_QS + (size_t)((q * 2 + h) * 2 + m) * 6 * 32;
                            UNROLL
                            for (int k = 0; k < 2; k++) {
                                X[k] = _mm256_loadu_si256((const __m256i *)(const void *)(v + 32 * k));
                                Y[k] = _mm256_loadu_si256((const __m256i *)(const void *)(v + 64 + 32 * k));
                                Hb[k] = _mm256_loadu_si256((const __m256i *)(const void *)(v + 128 + 32 * k));
                            }
                        } else {
                            quad16(r, off + offsetof(sl_block_q6_k, ql) + 64 * h + 16 * m, X);
                            quad16(r, off + offsetof(sl_block_q6_k, ql) + 64 * h + 32 + 16 * m, Y);
                            quad16(r, off + offsetof(sl_block_q6_k, qh) + 32 * h + 16 * m, Hb);
                        }
                        static const int ORDER[4] = {0, 2, 1, 3};
                        UNROLL
                        for (int pi = 0; pi < 4; pi++) {
                            const int p = ORDER[pi], sb = 8 * h + 2 * p + m; /* part p: elements 32p + l */
                            __m256i qv[2];
                            UNROLL
                            for (int k = 0; k < 2; k++) {
                                const __m256i lo4 = p & 1 ? Y[k] : X[k];
                                const __m256i lo = _mm256_and_si256(p < 2 ? lo4 : _mm256_srli_epi16(lo4, 4), m4);
                                const __m256i hb = p == 0 ? _mm256_slli_epi16(Hb[k], 4) : p == 1 ? _mm256_slli_epi16(Hb[k], 2)
                                                 : p == 2 ? Hb[k] : _mm256_srli_epi16(Hb[k], 2);
                                qv[k] = _mm256_or_si256(lo, _mm256_and_si256(hb, m30));
                            }
                            const __m256i sc = q6_pick(Q[sb / 4], sb % 4);
                            UNROLL
                            for (int t = 0; t < RN; t++) {
                                const int8_t *y = ((const sl_block_q8_k *)(const void *)(xa + (size_t)t * x_row))->qs + 128 * h + 32 * p + 16 * m;
                                const __m256i d16 = _mm256_add_epi16(_mm256_maddubs_epi16(qv[0], bcast8(y)),
                                                                     _mm256_maddubs_epi16(qv[1], bcast8(y + 8)));
                                S[t][q] = _mm256_add_epi32(S[t][q], _mm256_madd_epi16(d16, sc));
                                SEQ(S[t][q]);
                            }
                        }
                    }
            }
            const __m256 dw = x8 ? sl_load_f16x8(gb + SL_X8Q6_D) : halves8(w, off + offsetof(sl_block_q6_k, d));
            UNROLL
            for (int t = 0; t < RN; t++) {
                acc[s + t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(rows8(S[t][0], S[t][1])), _mm256_mul_ps(dw, _mm256_set1_ps(a[t]->d)),
                                         acc[s + t]);
            }
        }
    }
    const __m256i perm = _mm256_setr_epi32(0, 1, 4, 5, 2, 3, 6, 7);
    UNROLL
    for (int t = 0; t < RN + G - 1; t++) out[t] = _mm256_permutevar8x32_ps(acc[t], perm);
}

/* ---- drivers ------------------------------------------------------------------------- */

/* One tile of kind 4, 5 or 6 (q4_K, q5_K, q6_K). */
INLINE void tile_k(const int kind, __m256 *out, const char *const *w, const char *const *g, const int G, const char *x,
                   size_t x_row, int nb, const int RN, const char *pf, const bool x8) {
    if (kind == 6) q6k_tile(out, w, g, G, x, x_row, nb, RN, pf, x8);
    else k4_tile(out, w, g, G, x, x_row, nb, RN, kind == 5, pf, x8);
}

/* Row groups of 8 (rows past nr repeat the last, their lanes are not
 * stored), tokens in tiles of 8 (q4_K only: with q5_K's and q6_K's larger
 * unpacking, 8 accumulators spill and 4 measured faster), 4, then 1. */
INLINE void gemm_k(const int kind, float *y, size_t ldy, const void *W, size_t w_row, const void *xq, size_t x_row,
                   int nr, int nt, int K, bool acc, const bool x8) {
    const int nb = K / SL_QK_K;
    if (x8 && nt == 1) { /* two groups at a time (sl_prefetch_x8_ahead) */
        const int ng = nr / 8, h = ng / 2;
        for (int i = 0; i < h + ng % 2; i++) {
            const int ra = 8 * (i < h ? i : 2 * h), rb = 8 * (i + h);
            const char *g[2] = {(const char *)W + (size_t)ra * w_row, (const char *)W + (size_t)rb * w_row};
            const char *w[8]; /* (not read from x8 groups) */
            for (int r = 0; r < 8; r++) w[r] = g[0];
            __m256 out[2];
            if (i < h) tile_k(kind, out, w, g, 2, xq, x_row, nb, 1, NULL, true);
            else tile_k(kind, out, w, g, 1, xq, x_row, nb, 1, NULL, true);
            sl_store_rows8(y + ra, out[0], 8, acc);
            if (i < h) sl_store_rows8(y + rb, out[1], 8, acc);
        }
        return;
    }
    for (int r0 = 0; r0 < nr; r0 += 8) {
        const char *g[1] = {(const char *)W + (size_t)r0 * w_row};
        const char *w[8];
        for (int i = 0; i < 8; i++) w[i] = (const char *)W + (size_t)(r0 + i < nr ? r0 + i : nr - 1) * w_row;
        /* the next group, when this call has one (another thread may own the rows after) */
        const char *pf = r0 + 8 < nr ? (const char *)W + (size_t)(r0 + 8) * w_row : NULL;
        if (r0 == 0 && nt == 1) {
            /* decode: the first group had no one to prefetch it; ask for all
             * of it at once rather than as eight rows' demand misses */
            const size_t n = (size_t)(nr < 8 ? nr : 8) * w_row;
            for (size_t o = 0; o < n; o += 64) _mm_prefetch((const char *)W + o, _MM_HINT_T0);
        }
        const int n = nr - r0 < 8 ? nr - r0 : 8;
        __m256 out[8];
        int t = 0;
        for (; kind == 4 && t + 8 <= nt; t += 8) {
            tile_k(kind, out, w, g, 1, (const char *)xq + (size_t)t * x_row, x_row, nb, 8, pf, x8);
            for (int j = 0; j < 8; j++) sl_store_rows8(y + (size_t)(t + j) * ldy + r0, out[j], n, acc);
        }
        for (; t + 4 <= nt; t += 4) {
            tile_k(kind, out, w, g, 1, (const char *)xq + (size_t)t * x_row, x_row, nb, 4, pf, x8);
            for (int j = 0; j < 4; j++) sl_store_rows8(y + (size_t)(t + j) * ldy + r0, out[j], n, acc);
        }
        for (; t < nt; t++) {
            tile_k(kind, out, w, g, 1, (const char *)xq + (size_t)t * x_row, x_row, nb, 1, pf, x8);
            sl_store_rows8(y + (size_t)t * ldy + r0, out[0], n, acc);
        }
    }
}

void sl_gemm_q4_k_avx2(float *y, size_t ldy, const void *W, size_t w_row, const void *xq, size_t x_row, int nr,
                       int nt, int K, bool acc) {
    gemm_k(4, y, ldy, W, w_row, xq, x_row, nr, nt, K, acc, false);
}

void sl_gemm_q4_kx8_avx2(float *y, size_t ldy, const void *W, size_t w_row, const void *xq, size_t x_row, int nr,
                         int nt, int K, bool acc) {
    gemm_k(4, y, ldy, W, w_row, xq, x_row, nr, nt, K, acc, true);
}

void sl_gemm_q5_kx8_avx2(float *y, size_t ldy, const void *W, size_t w_row, const void *xq, size_t x_row, int nr,
                         int nt, int K, bool acc) {
    gemm_k(5, y, ldy, W, w_row, xq, x_row, nr, nt, K, acc, true);
}

void sl_gemm_q6_kx8_avx2(float *y, size_t ldy, const void *W, size_t w_row, const void *xq, size_t x_row, int nr,
                         int nt, int K, bool acc) {
    gemm_k(6, y, ldy, W, w_row, xq, x_row, nr, nt, K, acc, true);
}

void sl_gemm_q5_k_avx2(float *y, size_t ldy, const void *W, size_t w_row, const void *xq, size_t x_row, int nr,
                       int nt, int K, bool acc) {
    gemm_k(5, y, ldy, W, w_row, xq, x_row, nr, nt, K, acc, false);
}

void sl_gemm_q6_k_avx2(float *y, size_t ldy, const void *W, size_t w_row, const void *xq, size_t x_row, int nr,
                       int nt, int K, bool acc) {
    gemm_k(6, y, ldy, W, w_row, xq, x_row, nr, nt, K, acc, false);
}
