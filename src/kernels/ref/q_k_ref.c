/* q_k_ref.c — reference dequantization and dot products of the K-quants
 * (super-blocks of 256) and the q8_K activation type they are dotted with.
 * Quantizers of q4_K/q5_K/q6_K are in q_k_quantize.c.
 *
 * q4_K: 8 sub-blocks of 32; sub-block j has 6-bit scale sc[j] and min m[j]
 *   (sl_k4_scale_min). Element l of 64-chunk c: qs[32c + l] low nibble is
 *   sub-block 2c, high nibble sub-block 2c+1.  x = d*sc*q - dmin*m.
 * q5_K: as q4_K; the fifth bit of chunk c element l is qh[l] bit 2c (first
 *   32) or bit 2c+1 (second 32).
 * q6_K: 16 sub-blocks of 16 with int8 scales; each half of 128 elements uses
 *   ql[64], qh[32] and scales[8]: for l < 32,
 *     q(l)    = ql[l]    & 15 | (qh[l] >> 0 & 3) << 4     scale[l/16]
 *     q(l+32) = ql[l+32] & 15 | (qh[l] >> 2 & 3) << 4     scale[l/16 + 2]
 *     q(l+64) = ql[l]    >> 4 | (qh[l] >> 4 & 3) << 4     scale[l/16 + 4]
 *     q(l+96) = ql[l+32] >> 4 | (qh[l] >> 6 & 3) << 4     scale[l/16 + 6]
 *   x = d * scale * (q - 32).
 * q8_K: float d, 256 int8, and the sums of each 16 quants (bsums) so the min
 *   terms of q4_K/q5_K cost 8 multiplies per super-block. */
#include "kernels/ref/quant_ref.h"
#include "tensor/quant.h"
#include "tensor/quant_blocks.h"

#define H2F sl_fp16_to_fp32

/* ---- q8_K ---------------------------------------------------------------- */

void sl_to_float_q8_k_ref(float *y, const void *vx, int64_t n) {
    const sl_block_q8_k *x = vx;
    for (int64_t i = 0; i < n / SL_QK_K; i++, y += SL_QK_K)
        for (int j = 0; j < SL_QK_K; j++) y[j] = x[i].d * x[i].qs[j];
}

/* As ggml: the element of largest magnitude maps to -127 (d may be negative),
 * rounding ties to even. */
void sl_from_float_q8_k_ref(void *vy, const float *x, int64_t n) {
    sl_block_q8_k *y = vy;
    for (int64_t i = 0; i < n / SL_QK_K; i++, x += SL_QK_K) {
        float amax = 0, max = 0;
        for (int j = 0; j < SL_QK_K; j++) {
            if (fabsf(x[j]) > amax) {
                amax = fabsf(x[j]);
                max = x[j];
            }
        }
        if (amax == 0) {
            memset(&y[i], 0, sizeof y[i]);
            continue;
        }
        const float iscale = -127.f / max;
        for (int j = 0; j < SL_QK_K; j++) {
            int v = sl_nearest_int(iscale * x[j]);
            y[i].qs[j] = (int8_t)(v > 127 ? 127 : v);
        }
        for (int g = 0; g < SL_QK_K / 16; g++) {
            int sum = 0;
            for (int j = 0; j < 16; j++) sum += y[i].qs[16 * g + j];
            y[i].bsums[g] = (int16_t)sum;
        }
        y[i].d = 1 / iscale;
    }
}

/* ---- q4_K ---------------------------------------------------------------- */

void sl_to_float_q4_k_ref(float *y, const void *vx, int64_t n) {
    const sl_block_q4_k *x = vx;
    for (int64_t i = 0; i < n / SL_QK_K; i++) {
        const float d = H2F(x[i].d), dmin = H2F(x[i].dmin);
        const uint8_t *q = x[i].qs;
        for (int c = 0; c < 4; c++, q += 32) {
            uint8_t sc0, m0, sc1, m1;
            sl_k4_scale_min(2 * c, x[i].scales, &sc0, &m0);
            sl_k4_scale_min(2 * c + 1, x[i].scales, &sc1, &m1);
            const float d0 = d * sc0, mm0 = dmin * m0, d1 = d * sc1, mm1 = dmin * m1;
            for (int l = 0; l < 32; l++) *y++ = d0 * (q[l] & 0xF) - mm0;
            for (int l = 0; l < 32; l++) *y++ = d1 * (q[l] >> 4) - mm1;
        }
    }
}

void sl_vec_dot_q4_k_ref(float *s, const void *vx, const void *vy, int64_t n) {
    const sl_block_q4_k *x = vx;
    const sl_block_q8_k *y = vy;
    float sum = 0;
    for (int64_t i = 0; i < n / SL_QK_K; i++) {
        const uint8_t *q = x[i].qs;
        const int8_t *a = y[i].qs;
        int sumi = 0, summ = 0;
        for (int c = 0; c < 4; c++, q += 32, a += 64) {
            uint8_t sc0, m0, sc1, m1;
            sl_k4_scale_min(2 * c, x[i].scales, &sc0, &m0);
            sl_k4_scale_min(2 * c + 1, x[i].scales, &sc1, &m1);
            int s0 = 0, s1 = 0;
            for (int l = 0; l < 32; l++) {
                s0 += (q[l] & 0xF) * a[l];
                s1 += (q[l] >> 4) * a[l + 32];
            }
            sumi += sc0 * s0 + sc1 * s1;
            const int16_t *bs = y[i].bsums + 4 * c;
            summ += m0 * (bs[0] + bs[1]) + m1 * (bs[2] + bs[3]);
        }
        sum += y[i].d * H2F(x[i].d) * sumi - y[i].d * H2F(x[i].dmin) * summ;
    }
    *s = sum;
}

/* ---- q5_K ---------------------------------------------------------------- */

void sl_to_float_q5_k_ref(float *y, const void *vx, int64_t n) {
    const sl_block_q5_k *x = vx;
    for (int64_t i = 0; i < n / SL_QK_K; i++) {
        const float d = H2F(x[i].d), dmin = H2F(x[i].dmin);
        const uint8_t *q = x[i].qs, *qh = x[i].qh;
        for (int c = 0; c < 4; c++, q += 32) {
            uint8_t sc0, m0, sc1, m1;
            sl_k4_scale_min(2 * c, x[i].scales, &sc0, &m0);
            sl_k4_scale_min(2 * c + 1, x[i].scales, &sc1, &m1);
            const float d0 = d * sc0, mm0 = dmin * m0, d1 = d * sc1, mm1 = dmin * m1;
            for (int l = 0; l < 32; l++) *y++ = d0 * ((q[l] & 0xF) | ((qh[l] >> (2 * c)) & 1) << 4) - mm0;
            for (int l = 0; l < 32; l++) *y++ = d1 * ((q[l] >> 4) | ((qh[l] >> (2 * c + 1)) & 1) << 4) - mm1;
        }
    }
}

void sl_vec_dot_q5_k_ref(float *s, const void *vx, const void *vy, int64_t n) {
    const sl_block_q5_k *x = vx;
    const sl_block_q8_k *y = vy;
    float sum = 0;
    for (int64_t i = 0; i < n / SL_QK_K; i++) {
        const uint8_t *q = x[i].qs, *qh = x[i].qh;
        const int8_t *a = y[i].qs;
        int sumi = 0, summ = 0;
        for (int c = 0; c < 4; c++, q += 32, a += 64) {
            uint8_t sc0, m0, sc1, m1;
            sl_k4_scale_min(2 * c, x[i].scales, &sc0, &m0);
            sl_k4_scale_min(2 * c + 1, x[i].scales, &sc1, &m1);
            int s0 = 0, s1 = 0;
            for (int l = 0; l < 32; l++) {
                s0 += ((q[l] & 0xF) | ((qh[l] >> (2 * c)) & 1) << 4) * a[l];
                s1 += ((q[l] >> 4) | ((qh[l] >> (2 * c + 1)) & 1) << 4) * a[l + 32];
            }
            sumi += sc0 * s0 + sc1 * s1;
            const int16_t *bs = y[i].bsums + 4 * c;
            summ += m0 * (bs[0] + bs[1]) + m1 * (bs[2] + bs[3]);
        }
        sum += y[i].d * H2F(x[i].d) * sumi - y[i].d * H2F(x[i].dmin) * summ;
    }
    *s = sum;
}

/* ---- q6_K ---------------------------------------------------------------- */

/* The four 6-bit quants (0..63) at l, l+32, l+64, l+96 of one 128-half. */
static inline void q6_quads(const uint8_t *ql, const uint8_t *qh, int l, int q[4]) {
    q[0] = (ql[l] & 0xF) | ((qh[l] >> 0) & 3) << 4;
    q[1] = (ql[l + 32] & 0xF) | ((qh[l] >> 2) & 3) << 4;
    q[2] = (ql[l] >> 4) | ((qh[l] >> 4) & 3) << 4;
    q[3] = (ql[l + 32] >> 4) | ((qh[l] >> 6) & 3) << 4;
}

void sl_to_float_q6_k_ref(float *y, const void *vx, int64_t n) {
    const sl_block_q6_k *x = vx;
    for (int64_t i = 0; i < n / SL_QK_K; i++) {
        const float d = H2F(x[i].d);
        for (int h = 0; h < 2; h++, y += 128) {
            const uint8_t *ql = x[i].ql + 64 * h, *qh = x[i].qh + 32 * h;
            const int8_t *sc = x[i].scales + 8 * h;
            for (int l = 0; l < 32; l++) {
                int q[4];
                q6_quads(ql, qh, l, q);
                for (int k = 0; k < 4; k++) y[l + 32 * k] = d * sc[l / 16 + 2 * k] * (q[k] - 32);
            }
        }
    }
}

void sl_vec_dot_q6_k_ref(float *s, const void *vx, const void *vy, int64_t n) {
    const sl_block_q6_k *x = vx;
    const sl_block_q8_k *y = vy;
    float sum = 0;
    for (int64_t i = 0; i < n / SL_QK_K; i++) {
        int sumi = 0;
        for (int h = 0; h < 2; h++) {
            const uint8_t *ql = x[i].ql + 64 * h, *qh = x[i].qh + 32 * h;
            const int8_t *sc = x[i].scales + 8 * h;
            const int8_t *a = y[i].qs + 128 * h;
            int sub[8] = {0}; /* sums per 16-element sub-block of this half */
            for (int l = 0; l < 32; l++) {
                int q[4];
                q6_quads(ql, qh, l, q);
                for (int k = 0; k < 4; k++) sub[l / 16 + 2 * k] += (q[k] - 32) * a[l + 32 * k];
            }
            for (int k = 0; k < 8; k++) sumi += sc[k] * sub[k];
        }
        sum += H2F(x[i].d) * y[i].d * sumi;
    }
    *s = sum;
}
