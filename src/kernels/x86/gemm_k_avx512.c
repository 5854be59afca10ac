/* gemm_k_avx512.c — the q4_K, q5_K and q6_K kernels on x16 groups
 * (kernels/gemm.h) with AVX512-VNNI: the same bits as kernels/ref/gemm_k_ref.c.
 *
 * As in x86/gemm_q8s_avx512.c, a 64-byte load of an x16 super-block holds
 * 4 consecutive quants of each of the 16 rows, one row per 32-bit lane, and
 * vpdpbusd adds their products with the token's matching 4 q8_K quants
 * (broadcast) into the row's lane: no shuffle, no horizontal sum. Per
 * sub-block j (32 elements for q4_K/q5_K, 16 for q6_K) the lane sums
 * S_j (int32, exact) are then weighted by the rows' scales sc_j with one
 * vpmulld and added into isum. vpdpbusd takes unsigned times signed bytes:
 *  - q4_K's nibbles are 0..15 as they are, q5_K's fifth bit makes 0..31
 *    (qh bit j of byte l moved to bit 4 of quant l of sub-block j);
 *  - q6_K's quants count as q - 32: the kernel multiplies the unsigned q
 *    (0..63) and starts S_j at -32 times the sub-block's q8_K bsum, so
 *    S_j = sum (q - 32) a exactly; q6_K's scales are signed bytes, sign
 *    extended per lane.
 * q4_K's and q5_K's 6-bit scales and mins are decoded from the 12 bytes of
 * each row (3 dwords, one vector each, lane = row) for all 16 rows at once,
 * as sl_k4_scale_min does it one at a time. The min term
 *     msum = sum_j m_j (bsum_2j + bsum_2j+1)
 * is 4 vpdpwssd on int16 pairs (m_2p, m_2p+1) against the token's pairs of
 * 32-element bsums (|bsum| <= 32 * 127, within int16). Then per super-block,
 * in the reference's order,
 *     acc = fma(-(float)msum, dmin_w d_x, acc)        (q4_K, q5_K)
 *     acc = fma((float)isum,  d_w d_x,    acc)
 * Bounds: |S_j| <= 32 * 31 * 127 (q5_K) or 16 * 64 * 127 (q6_K); |isum| <=
 * 8 * 63 * 126k or 16 * 128 * 130k, within int32.
 *
 * Shapes: a prefill register tile is 2 groups (32 rows) x 4 tokens, 8
 * integer S, 8 isum and 8 float accumulators; one sub-block at a time, so
 * that only a group's weight vector of the current piece and one broadcast
 * are live besides. Decode (one token) tiles take one group from each of
 * 3 (q4_K, q5_K) or 2 (q6_K) runs of the call's groups, each run read in
 * order with a software prefetch ahead; q6_K's decode reads each of its
 * pieces once for all 4 parts that share it (4 S per group), in the order
 * the x16 layout stores them.
 * q6_K is not in the kernel table yet (kernels/gemm_dispatch.c): it
 * prefills 1.5x faster than the x8 kernel but decodes ~20% slower from DRAM
 * (about 20 against 25 GB/s on one Zen 4 core), where q4_K decodes faster
 * (26-27 against 21-22 GB/s) and q5_K about as fast (21-23 against 22-23). */
#include <immintrin.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "kernels/gemm.h"
#include "kernels/x86/x16_avx512.h"
#include "tensor/quant_blocks.h"

#define INLINE static inline __attribute__((always_inline))
#define UNROLL _Pragma("GCC unroll 8")

#define KZ_G 2    /* groups of 16 rows in a prefill register tile */
#define KZ_T 4    /* tokens in a prefill register tile */
#define KZ_MAXG 4 /* decode: up to 4 groups x 1 token */
/* Decode streams: the call's groups in D runs side by side, one group of
 * each per tile; more runs keep more reads in flight (q4_K: 20 GB/s as 4
 * adjacent groups, 28 as 3 runs, weights from DRAM, 1 thread), but q6_K's
 * unpacking of 4 parts per piece spills with more than 2. */
#define KZ_DG4 3 /* q4_K */
#define KZ_DG5 3 /* q5_K (2 and 4 measured no better) */
#define KZ_DG6 2 /* q6_K */

/* Decode prefetch: part `part` of `parts` of the bytes `ahead` past a
 * group's super-block at gb (sb bytes), asked for while the super-block is
 * worked on (the 16-row streams are too short for the hardware prefetchers
 * to learn in time). 2048 bytes ahead measured best of 1024..16384. */
#define KZ_AHEAD 2048
INLINE void prefetch_part(const char *gb, size_t sb, const int part, const int parts, const size_t ahead) {
    const char *a = gb + ahead + sb * (size_t)part / (size_t)parts, *e = gb + ahead + sb * (size_t)(part + 1) / (size_t)parts;
    for (const char *l = a; l < e; l += 64) _mm_prefetch(l, _MM_HINT_T0);
}

INLINE __m512i load(const char *p) { return _mm512_loadu_si512((const void *)p); }

/* Byte b (0..3) of every dword as an int32 0..255 (the 0x80 indices
 * clear), or bytes b and b + 1 as two int16 (pair = true). */
INLINE __m512i pick_bytes(__m512i v, const int b, const bool pair) {
    const unsigned lo = pair ? ((unsigned)b | 0x8000u | (unsigned)(b + 1) << 16 | 0x80000000u) : ((unsigned)b | 0x80808000u);
    const __m512i idx = _mm512_add_epi32(_mm512_set1_epi32((int)lo), _mm512_set4_epi32(0x0C0C0C0C, 0x08080808, 0x04040404, 0));
    return _mm512_shuffle_epi8(v, idx);
}

/* Bit b of every byte of h at bit 4 (q5_K's fifth bits). A 32-bit shift by
 * at most 4 brings nothing from a neighbouring byte into bit 4. */
INLINE __m512i bit_to_4(__m512i h, const int b) {
    const __m512i v = b < 4 ? _mm512_slli_epi32(h, 4 - b) : b > 4 ? _mm512_srli_epi32(h, b - 4) : h;
    return _mm512_and_si512(v, _mm512_set1_epi8(0x10));
}

/* q6_K: piece w (0: ql bytes 64h + 4k .., 1: ql bytes 64h + 32 + 4k ..,
 * 2: qh bytes 32h + 4k ..) of elements l = 4k .. 4k + 3 of half h. */
INLINE const char *q6_at(const char *gb, const int h, const int k, const int w) {
    return gb + SL_X16Q6_QS + (size_t)((8 * h + k) * 3 + w) * 64;
}

/* The unsigned quants (0..63) of part p (elements 32p + l of a half) from
 * its ql piece v and the qh piece hb: v's low or high nibbles, bits 2p and
 * 2p + 1 of hb at bits 4 and 5 (a 32-bit shift by 4 or 2 brings nothing from
 * a neighbouring byte into them). */
INLINE __m512i q6_quant(__m512i v, __m512i hb, const int p) {
    const __m512i l = _mm512_and_si512(p < 2 ? v : _mm512_srli_epi16(v, 4), _mm512_set1_epi8(0x0F));
    const __m512i hs = p == 0 ? _mm512_slli_epi32(hb, 4) : p == 1 ? _mm512_slli_epi32(hb, 2) : p == 2 ? hb : _mm512_srli_epi32(hb, 2);
    return _mm512_ternarylogic_epi32(l, hs, _mm512_set1_epi8(0x30), 0xF8); /* l | (hs & 0x30) */
}

/* The signed scale j of every row (int32): its byte to the top of the
 * lane, shifted back arithmetically. */
INLINE __m512i q6_scale(const char *gb, const int j) {
    const __m512i sw = load(gb + SL_X16Q6_SCALES + (size_t)(j / 4) * 64);
    return _mm512_srai_epi32(_mm512_slli_epi32(sw, 24 - 8 * (j % 4)), 24);
}

/* One register tile of q4_K (kind 4), q5_K (5) or q6_K (6): G groups (group
 * g's super-blocks from w[g]) x NT tokens (q8_K rows x[j]; tokens j >= ntok
 * are computed but not stored), nb super-blocks. */
INLINE void tile_run(float *y, size_t ldy, size_t ystep, const char *const *w, const char *const *x, int nb, bool add, int ntok,
                     const int G, const int NT, const int kind) {
    const size_t sb = 16 * (kind == 4 ? sizeof(sl_block_q4_k) : kind == 5 ? sizeof(sl_block_q5_k) : sizeof(sl_block_q6_k));
    const size_t oqs = kind == 5 ? SL_X16K5_QS : SL_X16K_QS;
    const __m512i lo4 = _mm512_set1_epi8(0x0F), m30 = _mm512_set1_epi8(0x30);
    __m512 a[KZ_MAXG][KZ_T];
    UNROLL
    for (int g = 0; g < G; g++)
        UNROLL
        for (int j = 0; j < NT; j++) a[g][j] = _mm512_setzero_ps();
    for (int i = 0; i < nb; i++) {
        const sl_block_q8_k *xb[KZ_T];
        UNROLL
        for (int t = 0; t < NT; t++) xb[t] = (const sl_block_q8_k *)(const void *)x[t] + i;
        const char *gb[KZ_MAXG];
        UNROLL
        for (int g = 0; g < G; g++) gb[g] = w[g] + (size_t)i * sb;
        __m512i isum[KZ_MAXG][KZ_T], sc[KZ_MAXG][2];
        if (kind != 6) {
            /* the token's 32-element bsums as int16 pairs (2p, 2p + 1) */
            int32_t bp[KZ_T][4];
            UNROLL
            for (int t = 0; t < NT; t++)
                UNROLL
                for (int p = 0; p < 4; p++) {
                    const int16_t *b = xb[t]->bsums + 4 * p;
                    bp[t][p] = (int32_t)((uint32_t)(uint16_t)(b[0] + b[1]) | (uint32_t)(uint16_t)(b[2] + b[3]) << 16);
                }
            UNROLL
            for (int g = 0; g < G; g++) {
                /* sl_k4_scale_min on all rows: bytes sc0..3, sc4..7, m0..3, m4..7 */
                const __m512i u0 = load(gb[g] + SL_X16K_SCALES), u1 = load(gb[g] + SL_X16K_SCALES + 64),
                              u2 = load(gb[g] + SL_X16K_SCALES + 128);
                const __m512i m3f = _mm512_set1_epi8(0x3F);
                sc[g][0] = _mm512_and_si512(u0, m3f);
                sc[g][1] = _mm512_or_si512(_mm512_and_si512(u2, lo4), _mm512_and_si512(_mm512_srli_epi32(u0, 2), m30));
                const __m512i mlo = _mm512_and_si512(u1, m3f);
                const __m512i mhi = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi32(u2, 4), lo4),
                                                    _mm512_and_si512(_mm512_srli_epi32(u1, 2), m30));
                const __m512i mp[4] = {pick_bytes(mlo, 0, true), pick_bytes(mlo, 2, true), pick_bytes(mhi, 0, true),
                                       pick_bytes(mhi, 2, true)};
                const __m512 dmin = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(const void *)(gb[g] + SL_X16K_DMIN)));
                UNROLL
                for (int t = 0; t < NT; t++) {
                    __m512i ms = _mm512_setzero_si512();
                    UNROLL
                    for (int p = 0; p < 4; p++) ms = _mm512_dpwssd_epi32(ms, mp[p], _mm512_set1_epi32(bp[t][p]));
                    a[g][t] = _mm512_fnmadd_ps(_mm512_cvtepi32_ps(ms), _mm512_mul_ps(dmin, _mm512_set1_ps(xb[t]->d)), a[g][t]);
                    isum[g][t] = _mm512_setzero_si512();
                }
            }
            UNROLL
            for (int j = 0; j < 8; j++) { /* sub-block j: chunk j / 2, low or high nibbles */
                __m512i s[KZ_MAXG][KZ_T];
                UNROLL
                for (int g = 0; g < G; g++) {
                    if (NT == 1) prefetch_part(gb[g], sb, j, 8, KZ_AHEAD);
                    UNROLL
                    for (int t = 0; t < NT; t++) s[g][t] = _mm512_setzero_si512();
                }
                UNROLL
                for (int k = 0; k < 8; k++) { /* quants 4k .. 4k + 3 of the sub-block */
                    __m512i q[KZ_MAXG];
                    UNROLL
                    for (int g = 0; g < G; g++) {
                        const __m512i v = load(gb[g] + oqs + (size_t)(8 * (j / 2) + k) * 64);
                        q[g] = _mm512_and_si512(j % 2 ? _mm512_srli_epi16(v, 4) : v, lo4);
                        if (kind == 5) q[g] = _mm512_or_si512(q[g], bit_to_4(load(gb[g] + SL_X16K5_QH + (size_t)k * 64), j));
                    }
                    UNROLL
                    for (int t = 0; t < NT; t++) {
                        const __m512i xv = x16_bcast4(xb[t]->qs + 32 * j + 4 * k);
                        UNROLL
                        for (int g = 0; g < G; g++) s[g][t] = _mm512_dpbusd_epi32(s[g][t], q[g], xv);
                    }
                }
                UNROLL
                for (int g = 0; g < G; g++) {
                    const __m512i scj = pick_bytes(sc[g][j / 4], j % 4, false);
                    UNROLL
                    for (int t = 0; t < NT; t++) isum[g][t] = _mm512_add_epi32(isum[g][t], _mm512_mullo_epi32(s[g][t], scj));
                }
            }
        } else {
            UNROLL
            for (int g = 0; g < G; g++)
                UNROLL
                for (int t = 0; t < NT; t++) isum[g][t] = _mm512_setzero_si512();
            if (NT == 1) { /* decode: the pieces in the order stored, each loaded once */
                UNROLL
                for (int h = 0; h < 2; h++)
                    UNROLL
                    for (int m = 0; m < 2; m++) { /* sub-blocks 8h + 2p + m, p = 0..3 */
                        __m512i s[4][KZ_MAXG];
                        UNROLL
                        for (int p = 0; p < 4; p++) {
                            const __m512i s0 = _mm512_set1_epi32(-32 * xb[0]->bsums[8 * h + 2 * p + m]);
                            UNROLL
                            for (int g = 0; g < G; g++) s[p][g] = s0;
                        }
                        UNROLL
                        for (int g = 0; g < G; g++) prefetch_part(gb[g], sb, 2 * h + m, 4, KZ_AHEAD);
                        UNROLL
                        for (int k = 4 * m; k < 4 * m + 4; k++) {
                            __m512i xv[4];
                            UNROLL
                            for (int p = 0; p < 4; p++) xv[p] = x16_bcast4(xb[0]->qs + 128 * h + 32 * p + 4 * k);
                            UNROLL
                            for (int g = 0; g < G; g++) {
                                const __m512i A = load(q6_at(gb[g], h, k, 0)), B = load(q6_at(gb[g], h, k, 1)),
                                              H = load(q6_at(gb[g], h, k, 2));
                                UNROLL
                                for (int p = 0; p < 4; p++) s[p][g] = _mm512_dpbusd_epi32(s[p][g], q6_quant(p & 1 ? B : A, H, p), xv[p]);
                            }
                        }
                        UNROLL
                        for (int p = 0; p < 4; p++)
                            UNROLL
                            for (int g = 0; g < G; g++)
                                isum[g][0] = _mm512_add_epi32(isum[g][0], _mm512_mullo_epi32(s[p][g], q6_scale(gb[g], 8 * h + 2 * p + m)));
                    }
            } else {
                UNROLL
                for (int h = 0; h < 2; h++)
                    UNROLL
                    for (int p = 0; p < 4; p++)
                        UNROLL
                        for (int m = 0; m < 2; m++) {
                            const int j = 8 * h + 2 * p + m; /* elements 128h + 32p + 16m .. + 15 */
                            __m512i s[KZ_MAXG][KZ_T];
                            UNROLL
                            for (int t = 0; t < NT; t++) {
                                const __m512i s0 = _mm512_set1_epi32(-32 * xb[t]->bsums[j]);
                                UNROLL
                                for (int g = 0; g < G; g++) s[g][t] = s0;
                            }
                            UNROLL
                            for (int k = 4 * m; k < 4 * m + 4; k++) { /* l = 4k .. 4k + 3 */
                                __m512i q[KZ_MAXG];
                                UNROLL
                                for (int g = 0; g < G; g++)
                                    q[g] = q6_quant(load(q6_at(gb[g], h, k, p & 1)), load(q6_at(gb[g], h, k, 2)), p);
                                UNROLL
                                for (int t = 0; t < NT; t++) {
                                    const __m512i xv = x16_bcast4(xb[t]->qs + 128 * h + 32 * p + 4 * k);
                                    UNROLL
                                    for (int g = 0; g < G; g++) s[g][t] = _mm512_dpbusd_epi32(s[g][t], q[g], xv);
                                }
                            }
                            UNROLL
                            for (int g = 0; g < G; g++) {
                                const __m512i scj = q6_scale(gb[g], j);
                                UNROLL
                                for (int t = 0; t < NT; t++) isum[g][t] = _mm512_add_epi32(isum[g][t], _mm512_mullo_epi32(s[g][t], scj));
                            }
                        }
            }
        }
        UNROLL
        for (int g = 0; g < G; g++) {
            const __m512 dw = _mm512_cvtph_ps(
                _mm256_loadu_si256((const __m256i *)(const void *)(gb[g] + (kind == 6 ? SL_X16Q6_D : SL_X16K_D))));
            UNROLL
            for (int t = 0; t < NT; t++)
                a[g][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum[g][t]), _mm512_mul_ps(dw, _mm512_set1_ps(xb[t]->d)), a[g][t]);
        }
    }
    UNROLL
    for (int g = 0; g < G; g++)
        UNROLL
        for (int t = 0; t < NT; t++) {
            if (t >= ntok) continue;
            float *o = y + t * ldy + ystep * g;
            _mm512_storeu_ps(o, add ? _mm512_add_ps(_mm512_loadu_ps(o), a[g][t]) : a[g][t]);
        }
}

INLINE void tile_any(float *y, size_t ldy, size_t ystep, const char *const *w, const char *const *x, int nb, bool add, int ntok,
                     int G, int NT, const int kind) {
#define TILE(g, n) tile_run(y, ldy, ystep, w, x, nb, add, ntok, g, n, kind)
    if (NT == 1) {
        if (G == 4) TILE(4, 1);
        else if (G == 3) TILE(3, 1);
        else if (G == 2) TILE(2, 1);
        else TILE(1, 1);
    } else if (G == 2) {
        TILE(2, 4);
    } else {
        TILE(1, 4);
    }
#undef TILE
}

/* Row tiles of up to 2 groups (prefill) or 4 (decode), each against every
 * token tile in turn. nr % 16 == 0. */
INLINE void gemm_k_x16(float *y, size_t ldy, const char *W, size_t w_row, const char *xq, size_t x_row, int nr,
                       int nt, int K, bool acc, const int kind) {
    const int nb = K / SL_QK_K;
    if (nt == 1) { /* decode: D streams, each through its share of the groups in order */
        const int D = kind == 6 ? KZ_DG6 : kind == 5 ? KZ_DG5 : KZ_DG4, ng = nr / 16, h = ng / D;
        for (int i = 0, G, g0; x16_decode_tile(i, ng, D, &G, &g0); i++) {
            const char *w[KZ_MAXG] = {0};
            for (int g = 0; g < G; g++) w[g] = W + (size_t)16 * (size_t)(g0 + g * h) * w_row;
            tile_any(y + 16 * (size_t)g0, ldy, (size_t)16 * (size_t)h, w, (const char *const *)&xq, nb, acc, 1, G, 1, kind);
        }
        return;
    }
    for (int r = 0; r < nr;) {
        const int left = (nr - r) / 16, G = left < KZ_G ? left : KZ_G;
        const char *w[KZ_MAXG] = {0};
        for (int g = 0; g < G; g++) w[g] = W + (size_t)(r + 16 * g) * w_row;
        for (int t = 0; t < nt;) {
            const int ntok = nt - t < KZ_T ? nt - t : KZ_T;
            const char *x[KZ_T];
            for (int j = 0; j < KZ_T; j++) x[j] = xq + (size_t)(t + (j < ntok ? j : ntok - 1)) * x_row;
            tile_any(y + (size_t)t * ldy + r, ldy, 16, w, x, nb, acc, ntok, G, KZ_T, kind);
            t += ntok;
        }
        r += 16 * G;
    }
}

void sl_gemm_q4_kx16_avx512(float *y, size_t ldy, const void *W, size_t w_row, const void *xq,
                            size_t x_row, int nr, int nt, int K, bool acc) {
    gemm_k_x16(y, ldy, W, w_row, xq, x_row, nr, nt, K, acc, 4);
}

void sl_gemm_q5_kx16_avx512(float *y, size_t ldy, const void *W, size_t w_row, const void *xq,
                            size_t x_row, int nr, int nt, int K, bool acc) {
    gemm_k_x16(y, ldy, W, w_row, xq, x_row, nr, nt, K, acc, 5);
}

void sl_gemm_q6_kx16_avx512(float *y, size_t ldy, const void *W, size_t w_row, const void *xq,
                            size_t x_row, int nr, int nt, int K, bool acc) {
    gemm_k_x16(y, ldy, W, w_row, xq, x_row, nr, nt, K, acc, 6);
}
