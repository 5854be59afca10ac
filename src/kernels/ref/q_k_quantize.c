/* q_k_quantize.c — quantizers for q4_K, q5_K and q6_K (our own, simple and
 * sound; not ggml's importance-weighted search, so files differ bit-wise from
 * llama-quantize's but decode with the same formulas).
 *
 * Each sub-block gets the (scale, offset) that minimizes the squared error
 * over a small sweep of candidate scales, each refitted by least squares on
 * its integer levels. The sub-block scales (and mins) are then quantized
 * against one f16 super-scale, and the elements are re-quantized with the
 * scales exactly as a decoder will see them, so the rounding of the scales
 * costs as little as possible. Inputs must be finite. */
#include "kernels/ref/quant_ref.h"
#include "tensor/quant.h"
#include "tensor/quant_blocks.h"

#define H2F sl_fp16_to_fp32
#define F2H sl_fp32_to_fp16

/* Candidate scales tried around the plain min/max one: nmax + STEP * k. */
#define SWEEP 8
#define STEP 0.125f

static inline int clampi(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

/* Fits x[i] ~ scale * L[i] - off with L in 0..nmax, scale >= 0 and off >= 0
 * (the block's minimum is <= 0, so a decoder's "- dmin * m" can reach it).
 * Returns scale; *off_out gets off. */
static float fit_affine(const float *x, int n, int nmax, float *off_out) {
    float mn = x[0], mx = x[0];
    for (int i = 1; i < n; i++) {
        mn = x[i] < mn ? x[i] : mn;
        mx = x[i] > mx ? x[i] : mx;
    }
    if (mn > 0) mn = 0;
    *off_out = -mn;
    if (mx <= mn) return 0;
    float best_err = INFINITY, best_scale = (mx - mn) / nmax, best_off = -mn;
    for (int k = -SWEEP; k <= SWEEP; k++) {
        const float iscale = (nmax + STEP * k) / (mx - mn);
        /* levels for this candidate, then the least-squares scale and offset */
        float sl = 0, sl2 = 0, sx = 0, slx = 0;
        int L[32];
        for (int i = 0; i < n; i++) {
            L[i] = clampi(sl_nearest_int(iscale * (x[i] - mn)), 0, nmax);
            sl += L[i];
            sl2 += (float)L[i] * L[i];
            sx += x[i];
            slx += L[i] * x[i];
        }
        const float det = n * sl2 - sl * sl;
        if (det <= 0) continue;
        float scale = (n * slx - sl * sx) / det;
        float base = (sl2 * sx - sl * slx) / det; /* x ~ scale * L + base */
        if (base > 0) { /* the offset must stay <= 0: refit the scale alone */
            base = 0;
            scale = sl2 > 0 ? slx / sl2 : 0;
        }
        if (scale < 0) continue;
        float err = 0;
        for (int i = 0; i < n; i++) {
            float e = scale * L[i] + base - x[i];
            err += e * e;
        }
        if (err < best_err) {
            best_err = err;
            best_scale = scale;
            best_off = -base;
        }
    }
    *off_out = best_off;
    return best_scale;
}

/* Fits x[i] ~ scale * L[i] with L in -nmax..nmax-1; scale may be negative so
 * the value of largest magnitude can use the level -nmax. */
static float fit_symmetric(const float *x, int n, int nmax) {
    float amax = 0, max = 0;
    for (int i = 0; i < n; i++) {
        if (fabsf(x[i]) > amax) {
            amax = fabsf(x[i]);
            max = x[i];
        }
    }
    if (amax == 0) return 0;
    float best_err = INFINITY, best_scale = max / -nmax;
    for (int k = -SWEEP; k <= SWEEP; k++) {
        const float iscale = -(nmax + STEP * k) / max;
        float sl2 = 0, slx = 0;
        int L[16];
        for (int i = 0; i < n; i++) {
            L[i] = clampi(sl_nearest_int(iscale * x[i]), -nmax, nmax - 1);
            sl2 += (float)L[i] * L[i];
            slx += L[i] * x[i];
        }
        if (sl2 <= 0) continue;
        const float scale = slx / sl2;
        float err = 0;
        for (int i = 0; i < n; i++) {
            float e = scale * L[i] - x[i];
            err += e * e;
        }
        if (err < best_err) {
            best_err = err;
            best_scale = scale;
        }
    }
    return best_scale;
}

/* Packs sub-block j's 6-bit scale and min into the 12 bytes (see
 * sl_k4_scale_min, which reads them back). scales must start zeroed. */
static void k4_pack(uint8_t *scales, int j, int ls, int lm) {
    if (j < 4) {
        scales[j] |= (uint8_t)ls;
        scales[j + 4] |= (uint8_t)lm;
    } else {
        scales[j + 4] = (uint8_t)((ls & 0xF) | (lm & 0xF) << 4);
        scales[j - 4] |= (uint8_t)((ls >> 4) << 6);
        scales[j] |= (uint8_t)((lm >> 4) << 6);
    }
}

/* Squared error of 32 elements quantized as ds * L - dm, L in 0..nmax;
 * stores the levels in L when non-NULL. */
static float k4_error(const float *x, float ds, float dm, int nmax, uint8_t *L) {
    float err = 0;
    for (int i = 0; i < 32; i++) {
        const int l = ds > 0 ? clampi(sl_nearest_int((x[i] + dm) / ds), 0, nmax) : 0;
        const float e = ds * l - dm - x[i];
        err += e * e;
        if (L) L[i] = (uint8_t)l;
    }
    return err;
}

/* Shared by q4_K (nmax 15) and q5_K (nmax 31): fills d, dmin, scales and the
 * levels L[256] of one super-block. */
static void quantize_k4_block(const float *x, int nmax, uint16_t *d_out, uint16_t *dmin_out,
                              uint8_t scales[SL_K_SCALE_SIZE], uint8_t L[SL_QK_K]) {
    float sc[8], off[8], max_sc = 0, max_off = 0;
    for (int j = 0; j < 8; j++) {
        sc[j] = fit_affine(x + 32 * j, 32, nmax, &off[j]);
        max_sc = sc[j] > max_sc ? sc[j] : max_sc;
        max_off = off[j] > max_off ? off[j] : max_off;
    }
    *d_out = F2H(max_sc / 63);
    *dmin_out = F2H(max_off / 63);
    const float d = H2F(*d_out), dmin = H2F(*dmin_out);
    memset(scales, 0, SL_K_SCALE_SIZE);
    for (int j = 0; j < 8; j++) {
        /* of the 6-bit scale and min just below and above the fitted ones,
         * keep the pair whose re-quantized sub-block has the least error */
        const float *xj = x + 32 * j;
        const int ls0 = d > 0 ? clampi((int)floorf(sc[j] / d), 0, 63) : 0;
        const int lm0 = dmin > 0 ? clampi((int)floorf(off[j] / dmin), 0, 63) : 0;
        float best = INFINITY;
        int best_ls = 0, best_lm = 0;
        for (int ls = ls0; ls <= ls0 + 1 && ls <= 63; ls++) {
            for (int lm = lm0; lm <= lm0 + 1 && lm <= 63; lm++) {
                const float err = k4_error(xj, d * ls, dmin * lm, nmax, NULL);
                if (err < best) best = err, best_ls = ls, best_lm = lm;
            }
        }
        k4_pack(scales, j, best_ls, best_lm);
        k4_error(xj, d * best_ls, dmin * best_lm, nmax, L + 32 * j);
    }
}

void sl_from_float_q4_k_ref(void *vy, const float *x, int64_t n) {
    sl_block_q4_k *y = vy;
    uint8_t L[SL_QK_K];
    for (int64_t i = 0; i < n / SL_QK_K; i++, x += SL_QK_K) {
        quantize_k4_block(x, 15, &y[i].d, &y[i].dmin, y[i].scales, L);
        for (int c = 0; c < 4; c++)
            for (int l = 0; l < 32; l++)
                y[i].qs[32 * c + l] = (uint8_t)(L[64 * c + l] | L[64 * c + 32 + l] << 4);
    }
}

void sl_from_float_q5_k_ref(void *vy, const float *x, int64_t n) {
    sl_block_q5_k *y = vy;
    uint8_t L[SL_QK_K];
    for (int64_t i = 0; i < n / SL_QK_K; i++, x += SL_QK_K) {
        quantize_k4_block(x, 31, &y[i].d, &y[i].dmin, y[i].scales, L);
        memset(y[i].qh, 0, sizeof y[i].qh);
        for (int c = 0; c < 4; c++) {
            for (int l = 0; l < 32; l++) {
                int a = L[64 * c + l], b = L[64 * c + 32 + l];
                y[i].qs[32 * c + l] = (uint8_t)((a & 0xF) | (b & 0xF) << 4);
                y[i].qh[l] |= (uint8_t)((a >> 4) << (2 * c) | (b >> 4) << (2 * c + 1));
            }
        }
    }
}

/* Squared error of 16 elements quantized as ds * (L - 32), L in 0..63. */
static float q6_error(const float *x, float ds, uint8_t *L) {
    float err = 0;
    for (int i = 0; i < 16; i++) {
        const int l = ds != 0 ? clampi(sl_nearest_int(x[i] / ds), -32, 31) : 0;
        const float e = ds * l - x[i];
        err += e * e;
        if (L) L[i] = (uint8_t)(l + 32);
    }
    return err;
}

void sl_from_float_q6_k_ref(void *vy, const float *x, int64_t n) {
    sl_block_q6_k *y = vy;
    for (int64_t i = 0; i < n / SL_QK_K; i++, x += SL_QK_K) {
        float sc[16], amax = 0, max = 0;
        for (int j = 0; j < 16; j++) {
            sc[j] = fit_symmetric(x + 16 * j, 16, 32);
            if (fabsf(sc[j]) > amax) {
                amax = fabsf(sc[j]);
                max = sc[j];
            }
        }
        memset(&y[i], 0, sizeof y[i]);
        if (amax == 0) continue; /* all zero: d = 0, every level 0 */
        /* the largest scale maps to -128, the full int8 range */
        const float iscale = -128.f / max;
        y[i].d = F2H(1 / iscale);
        const float d = H2F(y[i].d);
        uint8_t L[SL_QK_K];
        for (int j = 0; j < 16; j++) {
            /* the int8 scale just below or above, whichever decodes better */
            const float *xj = x + 16 * j;
            const int s0 = clampi((int)floorf(iscale * sc[j]), -128, 127);
            float best = INFINITY;
            for (int s = s0; s <= s0 + 1 && s <= 127; s++) {
                const float err = q6_error(xj, d * s, NULL);
                if (err < best) best = err, y[i].scales[j] = (int8_t)s;
            }
            q6_error(xj, d * y[i].scales[j], L + 16 * j);
        }
        for (int h = 0; h < 2; h++) {
            const uint8_t *Lh = L + 128 * h;
            uint8_t *ql = y[i].ql + 64 * h, *qh = y[i].qh + 32 * h;
            for (int l = 0; l < 32; l++) {
                ql[l] = (uint8_t)((Lh[l] & 0xF) | (Lh[l + 64] & 0xF) << 4);
                ql[l + 32] = (uint8_t)((Lh[l + 32] & 0xF) | (Lh[l + 96] & 0xF) << 4);
                qh[l] = (uint8_t)((Lh[l] >> 4) | (Lh[l + 32] >> 4) << 2 | (Lh[l + 64] >> 4) << 4 |
                                  (Lh[l + 96] >> 4) << 6);
            }
        }
    }
}
