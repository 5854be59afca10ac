/* repack.c — weights into the row-interleaved x8 layout (kernels/gemm.h),
 * once at load time. Portable C: it runs once per matrix, at memory speed
 * for 8-byte copies. */
#include <string.h>

#include "kernels/gemm.h"
#include "tensor/quant_blocks.h"

/* Rows of a group in the order the kernels keep them in a vector's lanes. */
static const int LANE_ROW[8] = {0, 1, 4, 5, 2, 3, 6, 7};

/* One group of 8 rows (src rows w_row apart) into x8 blocks at dst. Each
 * source block is bb bytes: a 2-byte f16 scale, then C * 8 bytes of quants. */
static void repack_group(char *dst, const char *src, size_t w_row, int nb, size_t bb, int C) {
    const size_t xb = 16 + (size_t)64 * C; /* 8 * bb */
    for (int b = 0; b < nb; b++) {
        char *o = dst + (size_t)b * xb;
        for (int i = 0; i < 8; i++) memcpy(o + 2 * i, src + (size_t)LANE_ROW[i] * w_row + (size_t)b * bb, 2);
        for (int h = 0; h < 2; h++)
            for (int c = 0; c < C; c++)
                for (int i = 0; i < 4; i++)
                    memcpy(o + 16 + (size_t)((h * C + c) * 4 + i) * 8,
                           src + (size_t)(4 * h + i) * w_row + (size_t)b * bb + 2 + 8 * c, 8);
    }
}

bool sl_repack_x8(sl_type t, void *dst, const void *src, int N, int K) {
    int C;
    size_t bb;
    if (t == SL_TYPE_Q4_0) C = 2, bb = sizeof(sl_block_q4_0);
    else if (t == SL_TYPE_Q8_0) C = 4, bb = sizeof(sl_block_q8_0);
    else return false;
    if (N < 0 || N % 8 != 0 || K <= 0 || K % 32 != 0) return false;
    const int nb = K / 32;
    const size_t w_row = (size_t)nb * bb;
    for (int g = 0; g < N / 8; g++)
        repack_group((char *)dst + (size_t)g * 8 * w_row, (const char *)src + (size_t)g * 8 * w_row, w_row, nb, bb, C);
    return true;
}
