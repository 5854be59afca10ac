/* repack.c — weights into the row-interleaved x8 and x16 layouts (kernels/gemm.h),
 * once at load time. Portable C: it runs once per matrix, at memory speed
 * for 8-byte copies. */
#include <stddef.h>
#include <string.h>

#include "kernels/gemm.h"
#include "tensor/quant_blocks.h"

/* Rows of a group in the order the kernels keep them in a vector's lanes. */
static const int LANE_ROW[8] = {0, 1, 4, 5, 2, 3, 6, 7};

/* One q4_0, q4_1, q5_0, q5_1 or q8_0 group of 8 rows (src rows w_row apart)
 * into x8 blocks at dst, each field of the 8 rows at 8 times its offset in
 * a block: d, then q4_1's and q5_1's m, in lane order; q5's fifth bits,
 * rows in order; the quants (each block's last C * 8 bytes) in quad
 * pieces. */
static void repack_group(char *dst, const char *src, size_t w_row, int nb, sl_type t) {
    const size_t bb = sl_type_block_bytes(t);
    const int C = t == SL_TYPE_Q8_0 ? 4 : 2;
    const bool min = t == SL_TYPE_Q4_1 || t == SL_TYPE_Q5_1, five = t == SL_TYPE_Q5_0 || t == SL_TYPE_Q5_1;
    const size_t qs = bb - (size_t)8 * C, m = offsetof(sl_block_q4_1, m);
    const size_t qh = min ? offsetof(sl_block_q5_1, qh) : offsetof(sl_block_q5_0, qh);
    for (int b = 0; b < nb; b++) {
        char *o = dst + (size_t)b * 8 * bb;
        const char *blk = src + (size_t)b * bb;
        for (int i = 0; i < 8; i++) {
            memcpy(o + 2 * i, blk + (size_t)LANE_ROW[i] * w_row, 2);
            if (min) memcpy(o + 8 * m + 2 * i, blk + (size_t)LANE_ROW[i] * w_row + m, 2);
            if (five) memcpy(o + 8 * qh + 4 * i, blk + (size_t)i * w_row + qh, 4);
        }
        for (int h = 0; h < 2; h++)
            for (int c = 0; c < C; c++)
                for (int i = 0; i < 4; i++)
                    memcpy(o + 8 * qs + (size_t)((h * C + c) * 4 + i) * 8, blk + (size_t)(4 * h + i) * w_row + qs + 8 * c, 8);
    }
}

/* One q4_K (five = false) or q5_K group: per super-block the scales in lane
 * order, the 12 scale bytes of each row, q5_K's fifth bits in quad pieces,
 * then the quants in quad pieces. (d, dmin and scales sit at the same
 * offsets in both block types.) */
static void repack_group_q45_k(char *dst, const char *src, size_t w_row, int nb, bool five) {
    const size_t bb = five ? sizeof(sl_block_q5_k) : sizeof(sl_block_q4_k);
    const size_t qs = five ? offsetof(sl_block_q5_k, qs) : offsetof(sl_block_q4_k, qs);
    const size_t oqs = five ? SL_X8K5_QS : SL_X8K_QS;
    for (int b = 0; b < nb; b++) {
        char *o = dst + (size_t)b * 8 * bb;
        for (int i = 0; i < 8; i++) {
            const char *blk = src + (size_t)LANE_ROW[i] * w_row + (size_t)b * bb;
            memcpy(o + SL_X8K_D + 2 * i, blk + offsetof(sl_block_q4_k, d), 2);
            memcpy(o + SL_X8K_DMIN + 2 * i, blk + offsetof(sl_block_q4_k, dmin), 2);
            memcpy(o + SL_X8K_SCALES + 12 * i, src + (size_t)i * w_row + (size_t)b * bb + offsetof(sl_block_q4_k, scales), 12);
        }
        for (int h = 0; h < 2; h++)
            for (int k = 0; five && k < 4; k++)
                for (int i = 0; i < 4; i++)
                    memcpy(o + SL_X8K5_QH + (size_t)((h * 4 + k) * 4 + i) * 8,
                           src + (size_t)(4 * h + i) * w_row + (size_t)b * bb + offsetof(sl_block_q5_k, qh) + 8 * k, 8);
        for (int h = 0; h < 2; h++)
            for (int c = 0; c < 4; c++)
                for (int k = 0; k < 4; k++)
                    for (int i = 0; i < 4; i++)
                        memcpy(o + oqs + (size_t)(((h * 4 + c) * 4 + k) * 4 + i) * 8,
                               src + (size_t)(4 * h + i) * w_row + (size_t)b * bb + qs + 32 * c + 8 * k, 8);
    }
}

/* One q6_K group: the scales in lane order, each row's 16 scales, then the
 * quants in the pieces the quad path loads. */
static void repack_group_q6_k(char *dst, const char *src, size_t w_row, int nb) {
    const size_t bb = sizeof(sl_block_q6_k);
    for (int b = 0; b < nb; b++) {
        char *o = dst + (size_t)b * 8 * bb;
        for (int i = 0; i < 8; i++) {
            memcpy(o + SL_X8Q6_D + 2 * i, src + (size_t)LANE_ROW[i] * w_row + (size_t)b * bb + offsetof(sl_block_q6_k, d), 2);
            memcpy(o + SL_X8Q6_SCALES + 16 * i, src + (size_t)i * w_row + (size_t)b * bb + offsetof(sl_block_q6_k, scales), 16);
        }
        for (int h = 0; h < 2; h++)
            for (int e = 0; e < 2; e++)
                for (int m = 0; m < 2; m++)
                    for (int j = 0; j < 6; j++)
                        for (int i = 0; i < 4; i++) {
                            const size_t at = j < 4 ? offsetof(sl_block_q6_k, ql) + 64 * e + 16 * m + 32 * (j / 2) + 8 * (j % 2)
                                                    : offsetof(sl_block_q6_k, qh) + 32 * e + 16 * m + 8 * (j - 4);
                            memcpy(o + SL_X8Q6_QS + (size_t)((((h * 2 + e) * 2 + m) * 6 + j) * 4 + i) * 8,
                                   src + (size_t)(4 * h + i) * w_row + (size_t)b * bb + at, 8);
                        }
    }
}

bool sl_repack_x8(sl_type t, void *dst, const void *src, int N, int K) {
    if (t == SL_TYPE_Q4_K || t == SL_TYPE_Q5_K || t == SL_TYPE_Q6_K) {
        if (N < 0 || N % 8 != 0 || K <= 0 || K % SL_QK_K != 0) return false;
        const size_t w_row = (size_t)(K / SL_QK_K) * sl_type_block_bytes(t);
        for (int g = 0; g < N / 8; g++) {
            char *d = (char *)dst + (size_t)g * 8 * w_row;
            const char *s = (const char *)src + (size_t)g * 8 * w_row;
            if (t == SL_TYPE_Q6_K) repack_group_q6_k(d, s, w_row, K / SL_QK_K);
            else repack_group_q45_k(d, s, w_row, K / SL_QK_K, t == SL_TYPE_Q5_K);
        }
        return true;
    }
    if (t == SL_TYPE_F16 || t == SL_TYPE_BF16) { /* 2-byte values: the same layout */
        if (N < 0 || N % 8 != 0 || K <= 0) return false;
        const size_t w_row = (size_t)K * 2;
        for (int g = 0; g < N / 8; g++) {
            char *d = (char *)dst + (size_t)g * 8 * w_row;
            const char *s = (const char *)src + (size_t)g * 8 * w_row;
            for (int k = 0; k < K; k++)
                for (int i = 0; i < 8; i++) memcpy(d + (size_t)k * SL_X8_HALF_COL + 2 * i, s + (size_t)i * w_row + 2 * (size_t)k, 2);
        }
        return true;
    }
    if (t != SL_TYPE_Q4_0 && t != SL_TYPE_Q4_1 && t != SL_TYPE_Q5_0 && t != SL_TYPE_Q5_1 && t != SL_TYPE_Q8_0)
        return false;
    if (N < 0 || N % 8 != 0 || K <= 0 || K % 32 != 0) return false;
    const int nb = K / 32;
    const size_t w_row = (size_t)nb * sl_type_block_bytes(t);
    for (int g = 0; g < N / 8; g++)
        repack_group((char *)dst + (size_t)g * 8 * w_row, (const char *)src + (size_t)g * 8 * w_row, w_row, nb, t);
    return true;
}

/* x16 (kernels/gemm.h): one q8_0 (C = 8 chunks) or q4_0..q5_1 (C = 4)
 * group of 16 rows: the 16 scales in row order, the mins, the fifth bits,
 * then chunk j's 4 bytes of each row. */
static void repack_group_x16(char *dst, const char *src, size_t w_row, int nb, sl_type t) {
    const size_t bb = sl_type_block_bytes(t);
    const int C = t == SL_TYPE_Q8_0 ? 8 : 4;
    const bool min = t == SL_TYPE_Q4_1 || t == SL_TYPE_Q5_1, five = t == SL_TYPE_Q5_0 || t == SL_TYPE_Q5_1;
    const size_t m = offsetof(sl_block_q4_1, m), qs = bb - (size_t)4 * C;
    const size_t qh = min ? offsetof(sl_block_q5_1, qh) : offsetof(sl_block_q5_0, qh);
    for (int b = 0; b < nb; b++) {
        char *o = dst + (size_t)b * 16 * bb;
        for (int i = 0; i < 16; i++) {
            const char *blk = src + (size_t)i * w_row + (size_t)b * bb;
            memcpy(o + 2 * i, blk, 2); /* d leads every block type */
            if (min) memcpy(o + 16 * m + 2 * i, blk + m, 2);
            if (five) memcpy(o + 16 * qh + 4 * i, blk + qh, 4);
            for (int j = 0; j < C; j++) memcpy(o + 16 * qs + (size_t)(j * 16 + i) * 4, blk + qs + 4 * j, 4);
        }
    }
}

/* x16 (kernels/gemm.h): one q4_K, q5_K or q6_K group of 16 rows, each
 * field of the 16 rows as 4-byte pieces (2 for the f16 scales), piece n of
 * row i at 64 n + 4 i from the field's start. */
static void repack_group_k_x16(char *dst, const char *src, size_t w_row, int nb, sl_type t) {
    const size_t bb = sl_type_block_bytes(t);
    const bool five = t == SL_TYPE_Q5_K;
    const size_t qs = five ? offsetof(sl_block_q5_k, qs) : offsetof(sl_block_q4_k, qs);
    for (int b = 0; b < nb; b++) {
        char *o = dst + (size_t)b * 16 * bb;
        for (int i = 0; i < 16; i++) {
            const char *blk = src + (size_t)i * w_row + (size_t)b * bb;
            if (t == SL_TYPE_Q6_K) {
                for (int h = 0; h < 2; h++)
                    for (int k = 0; k < 8; k++)
                        for (int w = 0; w < 3; w++) {
                            const size_t at = w < 2 ? offsetof(sl_block_q6_k, ql) + 64 * h + 32 * w + 4 * k
                                                    : offsetof(sl_block_q6_k, qh) + 32 * h + 4 * k;
                            memcpy(o + SL_X16Q6_QS + (size_t)((8 * h + k) * 3 + w) * 64 + 4 * i, blk + at, 4);
                        }
                for (int n = 0; n < 4; n++)
                    memcpy(o + SL_X16Q6_SCALES + 64 * n + 4 * i, blk + offsetof(sl_block_q6_k, scales) + 4 * n, 4);
                memcpy(o + SL_X16Q6_D + 2 * i, blk + offsetof(sl_block_q6_k, d), 2);
                continue;
            }
            memcpy(o + SL_X16K_D + 2 * i, blk + offsetof(sl_block_q4_k, d), 2);
            memcpy(o + SL_X16K_DMIN + 2 * i, blk + offsetof(sl_block_q4_k, dmin), 2);
            for (int n = 0; n < 3; n++) memcpy(o + SL_X16K_SCALES + 64 * n + 4 * i, blk + offsetof(sl_block_q4_k, scales) + 4 * n, 4);
            for (int n = 0; five && n < 8; n++) memcpy(o + SL_X16K5_QH + 64 * n + 4 * i, blk + offsetof(sl_block_q5_k, qh) + 4 * n, 4);
            for (int n = 0; n < 32; n++) memcpy(o + (five ? SL_X16K5_QS : SL_X16K_QS) + 64 * n + 4 * i, blk + qs + 4 * n, 4);
        }
    }
}

/* Where column k of row i of an f16 or bf16 x16 group sits in the group. */
static inline size_t x16_half_at(sl_type t, int k, int i) {
    return t == SL_TYPE_BF16 ? (size_t)(k / 2) * 64 + 4 * (size_t)i + 2 * (size_t)(k % 2)
                             : (size_t)k * SL_X16_HALF_COL + 2 * (size_t)i;
}

bool sl_repack_x16(sl_type t, void *dst, const void *src, int N, int K) {
    if (N < 0 || N % 16 != 0 || K <= 0) return false;
    if (t == SL_TYPE_F16 || t == SL_TYPE_BF16) { /* f16 by column, bf16 by column pair */
        if (t == SL_TYPE_BF16 && K % 2 != 0) return false;
        const size_t w_row = (size_t)K * 2;
        for (int g = 0; g < N / 16; g++) {
            char *d = (char *)dst + (size_t)g * 16 * w_row;
            const char *s = (const char *)src + (size_t)g * 16 * w_row;
            for (int k = 0; k < K; k++)
                for (int i = 0; i < 16; i++) memcpy(d + x16_half_at(t, k, i), s + (size_t)i * w_row + 2 * (size_t)k, 2);
        }
        return true;
    }
    if (t == SL_TYPE_Q4_K || t == SL_TYPE_Q5_K || t == SL_TYPE_Q6_K) {
        if (K % SL_QK_K != 0) return false;
        const size_t w_row = (size_t)(K / SL_QK_K) * sl_type_block_bytes(t);
        for (int g = 0; g < N / 16; g++)
            repack_group_k_x16((char *)dst + (size_t)g * 16 * w_row, (const char *)src + (size_t)g * 16 * w_row, w_row,
                               K / SL_QK_K, t);
        return true;
    }
    if ((t != SL_TYPE_Q8_0 && t != SL_TYPE_Q4_0 && t != SL_TYPE_Q4_1 && t != SL_TYPE_Q5_0 && t != SL_TYPE_Q5_1) ||
        K % 32 != 0)
        return false;
    const size_t w_row = (size_t)(K / 32) * sl_type_block_bytes(t);
    for (int g = 0; g < N / 16; g++)
        repack_group_x16((char *)dst + (size_t)g * 16 * w_row, (const char *)src + (size_t)g * 16 * w_row, w_row, K / 32, t);
    return true;
}

bool sl_repack_grouped(sl_type t, int group, void *dst, const void *src, int N, int K) {
    return group == SL_ROWS_X8 ? sl_repack_x8(t, dst, src, N, K) : group == SL_ROWS_X16 && sl_repack_x16(t, dst, src, N, K);
}

void sl_grouped_half_row(float *y, const void *W, sl_type t, int group, int K, int r) {
    const char *g = (const char *)W + (size_t)(r / group) * (size_t)group * 2 * (size_t)K;
    for (int k = 0; k < K; k++) {
        uint16_t h;
        memcpy(&h, g + (group == SL_ROWS_X16 ? x16_half_at(t, k, r % group) : (size_t)k * SL_X8_HALF_COL + 2 * (size_t)(r % 8)), 2);
        y[k] = t == SL_TYPE_BF16 ? sl_bf16_to_fp32(h) : sl_fp16_to_fp32(h);
    }
}
