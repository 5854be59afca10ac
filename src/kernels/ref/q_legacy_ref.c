/* q_legacy_ref.c — reference kernels of the 32-element block types q4_0,
 * q4_1, q5_0, q5_1, q8_0 and the activation type q8_1. Quantizers follow
 * ggml's reference formulas so files we write decode the same everywhere:
 *   q4_0/q5_0  d = (value of largest magnitude) / -8 (or -16): that element
 *              lands exactly on the most negative level
 *   q4_1/q5_1  d = (max - min) / 15 (or 31), m = min
 *   q8_0/q8_1  d = amax / 127, q = roundf(x / d)
 * Inputs must be finite. Dot products sum integer products per block, then
 * scale by both blocks' d (and add m * s for the _1 types). */
#include "kernels/ref/quant_ref.h"
#include "tensor/quant.h"
#include "tensor/quant_blocks.h"

#include <float.h>

#define H2F sl_fp16_to_fp32
#define F2H sl_fp32_to_fp16

static inline int imin(int a, int b) { return a < b ? a : b; }

/* Value of largest magnitude in x[0..n) (the first one on ties), with sign. */
static float signed_absmax(const float *x, int n) {
    float amax = 0, max = 0;
    for (int j = 0; j < n; j++) {
        if (amax < fabsf(x[j])) {
            amax = fabsf(x[j]);
            max = x[j];
        }
    }
    return max;
}

static void min_max(const float *x, int n, float *mn, float *mx) {
    float lo = FLT_MAX, hi = -FLT_MAX;
    for (int j = 0; j < n; j++) {
        if (x[j] < lo) lo = x[j];
        if (x[j] > hi) hi = x[j];
    }
    *mn = lo;
    *mx = hi;
}

static inline uint32_t load_qh(const uint8_t qh[4]) {
    return (uint32_t)qh[0] | (uint32_t)qh[1] << 8 | (uint32_t)qh[2] << 16 | (uint32_t)qh[3] << 24;
}
static inline void store_qh(uint8_t qh[4], uint32_t v) {
    for (int i = 0; i < 4; i++) qh[i] = (uint8_t)(v >> (8 * i));
}

/* ---- q4_0 ---------------------------------------------------------------- */

void sl_to_float_q4_0_ref(float *y, const void *vx, int64_t n) {
    const sl_block_q4_0 *x = vx;
    for (int64_t i = 0; i < n / SL_QK4_0; i++, y += SL_QK4_0) {
        const float d = H2F(x[i].d);
        for (int j = 0; j < 16; j++) {
            y[j] = ((x[i].qs[j] & 0xF) - 8) * d;
            y[j + 16] = ((x[i].qs[j] >> 4) - 8) * d;
        }
    }
}

void sl_from_float_q4_0_ref(void *vy, const float *x, int64_t n) {
    sl_block_q4_0 *y = vy;
    for (int64_t i = 0; i < n / SL_QK4_0; i++, x += SL_QK4_0) {
        const float d = signed_absmax(x, SL_QK4_0) / -8;
        const float id = d ? 1.0f / d : 0.0f;
        y[i].d = F2H(d);
        for (int j = 0; j < 16; j++) {
            /* x*id lies in [-8, 8]; +8.5 then truncation rounds half up */
            int q0 = imin(15, (int)(x[j] * id + 8.5f));
            int q1 = imin(15, (int)(x[j + 16] * id + 8.5f));
            y[i].qs[j] = (uint8_t)(q0 | q1 << 4);
        }
    }
}

void sl_vec_dot_q4_0_ref(float *s, const void *vx, const void *vy, int64_t n) {
    const sl_block_q4_0 *x = vx;
    const sl_block_q8_0 *y = vy;
    float sum = 0;
    for (int64_t i = 0; i < n / SL_QK4_0; i++) {
        int sumi = 0;
        for (int j = 0; j < 16; j++) {
            sumi += ((x[i].qs[j] & 0xF) - 8) * y[i].qs[j];
            sumi += ((x[i].qs[j] >> 4) - 8) * y[i].qs[j + 16];
        }
        sum += sumi * (H2F(x[i].d) * H2F(y[i].d));
    }
    *s = sum;
}

/* ---- q4_1 ---------------------------------------------------------------- */

void sl_to_float_q4_1_ref(float *y, const void *vx, int64_t n) {
    const sl_block_q4_1 *x = vx;
    for (int64_t i = 0; i < n / SL_QK4_1; i++, y += SL_QK4_1) {
        const float d = H2F(x[i].d), m = H2F(x[i].m);
        for (int j = 0; j < 16; j++) {
            y[j] = (x[i].qs[j] & 0xF) * d + m;
            y[j + 16] = (x[i].qs[j] >> 4) * d + m;
        }
    }
}

void sl_from_float_q4_1_ref(void *vy, const float *x, int64_t n) {
    sl_block_q4_1 *y = vy;
    for (int64_t i = 0; i < n / SL_QK4_1; i++, x += SL_QK4_1) {
        float mn, mx;
        min_max(x, SL_QK4_1, &mn, &mx);
        const float d = (mx - mn) / 15;
        const float id = d ? 1.0f / d : 0.0f;
        y[i].d = F2H(d);
        y[i].m = F2H(mn);
        for (int j = 0; j < 16; j++) {
            int q0 = imin(15, (int)((x[j] - mn) * id + 0.5f));
            int q1 = imin(15, (int)((x[j + 16] - mn) * id + 0.5f));
            y[i].qs[j] = (uint8_t)(q0 | q1 << 4);
        }
    }
}

void sl_vec_dot_q4_1_ref(float *s, const void *vx, const void *vy, int64_t n) {
    const sl_block_q4_1 *x = vx;
    const sl_block_q8_1 *y = vy;
    float sum = 0;
    for (int64_t i = 0; i < n / SL_QK4_1; i++) {
        int sumi = 0;
        for (int j = 0; j < 16; j++) {
            sumi += (x[i].qs[j] & 0xF) * y[i].qs[j];
            sumi += (x[i].qs[j] >> 4) * y[i].qs[j + 16];
        }
        sum += sumi * (H2F(x[i].d) * H2F(y[i].d)) + H2F(x[i].m) * H2F(y[i].s);
    }
    *s = sum;
}

/* ---- q5_0 ---------------------------------------------------------------- */

void sl_to_float_q5_0_ref(float *y, const void *vx, int64_t n) {
    const sl_block_q5_0 *x = vx;
    for (int64_t i = 0; i < n / SL_QK5_0; i++, y += SL_QK5_0) {
        const float d = H2F(x[i].d);
        const uint32_t qh = load_qh(x[i].qh);
        for (int j = 0; j < 16; j++) {
            int h0 = (qh >> j) & 1, h1 = (qh >> (j + 16)) & 1;
            y[j] = (((x[i].qs[j] & 0xF) | h0 << 4) - 16) * d;
            y[j + 16] = (((x[i].qs[j] >> 4) | h1 << 4) - 16) * d;
        }
    }
}

void sl_from_float_q5_0_ref(void *vy, const float *x, int64_t n) {
    sl_block_q5_0 *y = vy;
    for (int64_t i = 0; i < n / SL_QK5_0; i++, x += SL_QK5_0) {
        const float d = signed_absmax(x, SL_QK5_0) / -16;
        const float id = d ? 1.0f / d : 0.0f;
        y[i].d = F2H(d);
        uint32_t qh = 0;
        for (int j = 0; j < 16; j++) {
            int q0 = imin(31, (int)(x[j] * id + 16.5f));
            int q1 = imin(31, (int)(x[j + 16] * id + 16.5f));
            y[i].qs[j] = (uint8_t)((q0 & 0xF) | (q1 & 0xF) << 4);
            qh |= (uint32_t)(q0 >> 4) << j | (uint32_t)(q1 >> 4) << (j + 16);
        }
        store_qh(y[i].qh, qh);
    }
}

void sl_vec_dot_q5_0_ref(float *s, const void *vx, const void *vy, int64_t n) {
    const sl_block_q5_0 *x = vx;
    const sl_block_q8_0 *y = vy;
    float sum = 0;
    for (int64_t i = 0; i < n / SL_QK5_0; i++) {
        const uint32_t qh = load_qh(x[i].qh);
        int sumi = 0;
        for (int j = 0; j < 16; j++) {
            int h0 = (qh >> j) & 1, h1 = (qh >> (j + 16)) & 1;
            sumi += (((x[i].qs[j] & 0xF) | h0 << 4) - 16) * y[i].qs[j];
            sumi += (((x[i].qs[j] >> 4) | h1 << 4) - 16) * y[i].qs[j + 16];
        }
        sum += sumi * (H2F(x[i].d) * H2F(y[i].d));
    }
    *s = sum;
}

/* ---- q5_1 ---------------------------------------------------------------- */

void sl_to_float_q5_1_ref(float *y, const void *vx, int64_t n) {
    const sl_block_q5_1 *x = vx;
    for (int64_t i = 0; i < n / SL_QK5_1; i++, y += SL_QK5_1) {
        const float d = H2F(x[i].d), m = H2F(x[i].m);
        const uint32_t qh = load_qh(x[i].qh);
        for (int j = 0; j < 16; j++) {
            int h0 = (qh >> j) & 1, h1 = (qh >> (j + 16)) & 1;
            y[j] = ((x[i].qs[j] & 0xF) | h0 << 4) * d + m;
            y[j + 16] = ((x[i].qs[j] >> 4) | h1 << 4) * d + m;
        }
    }
}

void sl_from_float_q5_1_ref(void *vy, const float *x, int64_t n) {
    sl_block_q5_1 *y = vy;
    for (int64_t i = 0; i < n / SL_QK5_1; i++, x += SL_QK5_1) {
        float mn, mx;
        min_max(x, SL_QK5_1, &mn, &mx);
        const float d = (mx - mn) / 31;
        const float id = d ? 1.0f / d : 0.0f;
        y[i].d = F2H(d);
        y[i].m = F2H(mn);
        uint32_t qh = 0;
        for (int j = 0; j < 16; j++) {
            int q0 = imin(31, (int)((x[j] - mn) * id + 0.5f));
            int q1 = imin(31, (int)((x[j + 16] - mn) * id + 0.5f));
            y[i].qs[j] = (uint8_t)((q0 & 0xF) | (q1 & 0xF) << 4);
            qh |= (uint32_t)(q0 >> 4) << j | (uint32_t)(q1 >> 4) << (j + 16);
        }
        store_qh(y[i].qh, qh);
    }
}

void sl_vec_dot_q5_1_ref(float *s, const void *vx, const void *vy, int64_t n) {
    const sl_block_q5_1 *x = vx;
    const sl_block_q8_1 *y = vy;
    float sum = 0;
    for (int64_t i = 0; i < n / SL_QK5_1; i++) {
        const uint32_t qh = load_qh(x[i].qh);
        int sumi = 0;
        for (int j = 0; j < 16; j++) {
            int h0 = (qh >> j) & 1, h1 = (qh >> (j + 16)) & 1;
            sumi += ((x[i].qs[j] & 0xF) | h0 << 4) * y[i].qs[j];
            sumi += ((x[i].qs[j] >> 4) | h1 << 4) * y[i].qs[j + 16];
        }
        sum += sumi * (H2F(x[i].d) * H2F(y[i].d)) + H2F(x[i].m) * H2F(y[i].s);
    }
    *s = sum;
}

/* ---- q8_0 and q8_1 ------------------------------------------------------- */

void sl_to_float_q8_0_ref(float *y, const void *vx, int64_t n) {
    const sl_block_q8_0 *x = vx;
    for (int64_t i = 0; i < n / SL_QK8_0; i++, y += SL_QK8_0) {
        const float d = H2F(x[i].d);
        for (int j = 0; j < SL_QK8_0; j++) y[j] = x[i].qs[j] * d;
    }
}

static float absmax(const float *x, int n) {
    float amax = 0;
    for (int j = 0; j < n; j++) amax = fmaxf(amax, fabsf(x[j]));
    return amax;
}

void sl_from_float_q8_0_ref(void *vy, const float *x, int64_t n) {
    sl_block_q8_0 *y = vy;
    for (int64_t i = 0; i < n / SL_QK8_0; i++, x += SL_QK8_0) {
        const float d = absmax(x, SL_QK8_0) / 127;
        const float id = d ? 1.0f / d : 0.0f;
        y[i].d = F2H(d);
        for (int j = 0; j < SL_QK8_0; j++) y[i].qs[j] = (int8_t)roundf(x[j] * id);
    }
}

void sl_vec_dot_q8_0_ref(float *s, const void *vx, const void *vy, int64_t n) {
    const sl_block_q8_0 *x = vx;
    const sl_block_q8_0 *y = vy;
    float sum = 0;
    for (int64_t i = 0; i < n / SL_QK8_0; i++) {
        int sumi = 0;
        for (int j = 0; j < SL_QK8_0; j++) sumi += x[i].qs[j] * y[i].qs[j];
        sum += sumi * (H2F(x[i].d) * H2F(y[i].d));
    }
    *s = sum;
}

void sl_to_float_q8_1_ref(float *y, const void *vx, int64_t n) {
    const sl_block_q8_1 *x = vx;
    for (int64_t i = 0; i < n / SL_QK8_1; i++, y += SL_QK8_1) {
        const float d = H2F(x[i].d);
        for (int j = 0; j < SL_QK8_1; j++) y[j] = x[i].qs[j] * d;
    }
}

void sl_from_float_q8_1_ref(void *vy, const float *x, int64_t n) {
    sl_block_q8_1 *y = vy;
    for (int64_t i = 0; i < n / SL_QK8_1; i++, x += SL_QK8_1) {
        const float d = absmax(x, SL_QK8_1) / 127;
        const float id = d ? 1.0f / d : 0.0f;
        int sum = 0;
        for (int j = 0; j < SL_QK8_1; j++) {
            y[i].qs[j] = (int8_t)roundf(x[j] * id);
            sum += y[i].qs[j];
        }
        y[i].d = F2H(d);
        y[i].s = F2H((float)sum * d); /* with the unrounded d, as ggml */
    }
}
