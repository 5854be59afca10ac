/* gemm_k_ref.c — scalar references of the K-quant tile kernels (q4_K, q5_K,
 * q6_K weights, q8_K activations; kernels/gemm.h). Each output is
 *
 *     acc = 0
 *     for every super-block i (256 elements):
 *         msum = sum_j m[j] * (bsums of sub-block j)           (q4_K, q5_K)
 *         acc  = fma(-(float)msum, f16(dmin) * a.d, acc)
 *         isum = sum_j sc[j] * sum_l q[j][l] * a[j][l]        (exact, int32)
 *         acc  = fma((float)isum,  f16(d) * a.d,    acc)
 *
 * with q6_K's quants taken as q - 32 and no min term. The integer sums are
 * exact whatever order a SIMD kernel forms them in, and the two (or one)
 * float operations per super-block are the only roundings, so the AVX2
 * tiles (x86/gemm_k_avx2.c) give these bits exactly, whatever the row group
 * or token tile an output falls in. */
#include <math.h>

#include "kernels/gemm.h"
#include "kernels/ref/quant_ref.h"
#include "tensor/quant_blocks.h"

static inline void store(float *y, float v, bool acc) { *y = acc ? *y + v : v; }

/* Sum of q8_K's bsums over 32-element sub-block j (q4_K/q5_K min terms). */
static inline int bsum32(const sl_block_q8_k *a, int j) { return a->bsums[2 * j] + a->bsums[2 * j + 1]; }

/* One output of q4_K (hbits NULL) or q5_K (hbits = the qh array). */
static float dot_k4(const void *row, const sl_block_q8_k *a, int nb, bool five) {
    float acc = 0;
    for (int i = 0; i < nb; i++) {
        const uint8_t *qs, *qh = NULL, *scales;
        uint16_t d, dmin;
        if (five) {
            const sl_block_q5_k *x = (const sl_block_q5_k *)row + i;
            qs = x->qs, qh = x->qh, scales = x->scales, d = x->d, dmin = x->dmin;
        } else {
            const sl_block_q4_k *x = (const sl_block_q4_k *)row + i;
            qs = x->qs, scales = x->scales, d = x->d, dmin = x->dmin;
        }
        int32_t isum = 0, msum = 0;
        for (int j = 0; j < 8; j++) {
            uint8_t sc, m;
            sl_k4_scale_min(j, scales, &sc, &m);
            const int c = j / 2, shift = 4 * (j & 1); /* chunk c: low nibbles, then high */
            int32_t s = 0;
            for (int l = 0; l < 32; l++) {
                int q = (qs[32 * c + l] >> shift) & 0xF;
                if (qh) q |= ((qh[l] >> j) & 1) << 4;
                s += q * a[i].qs[32 * j + l];
            }
            isum += sc * s;
            msum += m * bsum32(&a[i], j);
        }
        acc = fmaf(-(float)msum, sl_fp16_to_fp32(dmin) * a[i].d, acc);
        acc = fmaf((float)isum, sl_fp16_to_fp32(d) * a[i].d, acc);
    }
    return acc;
}

static float dot_q6k(const sl_block_q6_k *x, const sl_block_q8_k *a, int nb) {
    float acc = 0;
    for (int i = 0; i < nb; i++) {
        int32_t isum = 0;
        for (int h = 0; h < 2; h++) {
            const uint8_t *ql = x[i].ql + 64 * h, *qh = x[i].qh + 32 * h;
            const int8_t *y = a[i].qs + 128 * h;
            for (int p = 0; p < 4; p++) /* part p: elements 32p..32p+31 of the half */
                for (int m = 0; m < 2; m++) {
                    int32_t s = 0;
                    for (int l = 16 * m; l < 16 * m + 16; l++) {
                        const int lo = p & 1 ? ql[l + 32] : ql[l];
                        const int q = ((p < 2 ? lo : lo >> 4) & 0xF) | ((qh[l] >> (2 * p)) & 3) << 4;
                        s += (q - 32) * y[32 * p + l];
                    }
                    isum += x[i].scales[8 * h + 2 * p + m] * s;
                }
        }
        acc = fmaf((float)isum, sl_fp16_to_fp32(x[i].d) * a[i].d, acc);
    }
    return acc;
}

/* type: 4 (q4_K), 5 (q5_K) or 6 (q6_K) */
static void gemm_k(int type, float *y, size_t ldy, const void *W, size_t w_row, const void *xq, size_t x_row, int nr,
                   int nt, int K, bool acc) {
    const int nb = K / SL_QK_K;
    for (int t = 0; t < nt; t++) {
        const sl_block_q8_k *a = (const void *)((const char *)xq + (size_t)t * x_row);
        for (int r = 0; r < nr; r++) {
            const void *w = (const char *)W + (size_t)r * w_row;
            const float v = type == 6 ? dot_q6k(w, a, nb) : dot_k4(w, a, nb, type == 5);
            store(&y[(size_t)t * ldy + r], v, acc);
        }
    }
}

void sl_gemm_q4_k_ref(float *y, size_t ldy, const void *W, size_t w_row, const void *xq, size_t x_row, int nr, int nt,
                      int K, bool acc) {
    gemm_k(4, y, ldy, W, w_row, xq, x_row, nr, nt, K, acc);
}

void sl_gemm_q5_k_ref(float *y, size_t ldy, const void *W, size_t w_row, const void *xq, size_t x_row, int nr, int nt,
                      int K, bool acc) {
    gemm_k(5, y, ldy, W, w_row, xq, x_row, nr, nt, K, acc);
}

void sl_gemm_q6_k_ref(float *y, size_t ldy, const void *W, size_t w_row, const void *xq, size_t x_row, int nr, int nt,
                      int K, bool acc) {
    gemm_k(6, y, ldy, W, w_row, xq, x_row, nr, nt, K, acc);
}
