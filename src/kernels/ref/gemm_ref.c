/* gemm_ref.c — scalar references of the tile kernels (kernels/gemm.h).
 * They do the very arithmetic of the SIMD kernels, in the same order, so the
 * two agree bit for bit: integer block sums (exact) and one fused
 * multiply-add chain per row for the q8s kernels; eight emulated lanes and
 * the fixed lane sum for the float kernels. fmaf is the C library's fused
 * multiply-add, rounded once like the vector instruction. */
#include <math.h>
#include <string.h>

#include "kernels/attn_exp.h"
#include "kernels/gemm.h"
#include "kernels/ref/quant_ref.h"
#include "tensor/quant_blocks.h"

/* The parts of a q8s row (see gemm.h). */
static inline const int8_t *q8s_q(const void *row) { return row; }
static inline const float *q8s_d(const void *row, int K) {
    return (const float *)(const void *)((const char *)row + K);
}
static inline const int32_t *q8s_s(const void *row, int K) {
    return (const int32_t *)(const void *)((const char *)row + K + (size_t)(K / 32) * 4);
}

void sl_quant_q8s_ref(void *xq, const float *x, int K) {
    int8_t *q = xq;
    float *d = (float *)(void *)((char *)xq + K);
    int32_t *s = (int32_t *)(void *)((char *)xq + K + (size_t)(K / 32) * 4);
    for (int b = 0; b < K / 32; b++) {
        const float *xb = x + 32 * b;
        float amax = 0;
        for (int j = 0; j < 32; j++) amax = fmaxf(amax, fabsf(xb[j]));
        const float db = amax / 127, id = db ? 1.0f / db : 0.0f;
        int32_t sum = 0;
        for (int j = 0; j < 32; j++) {
            int v = (int)roundf(xb[j] * id);
            q[32 * b + j] = (int8_t)v;
            sum += v;
        }
        d[b] = sl_fp16_to_fp32(sl_fp32_to_fp16(db));
        s[b] = sum;
    }
}

static inline void store(float *y, float v, bool acc) { *y = acc ? *y + v : v; }

/* q4_0, q4_1, q5_0 and q5_1 (wt): the sum of the nibbles (as 0..15, with
 * the fifth bit 0..31) times the block's q8s quants; q4_0 and q5_0 take
 * their offsets of 8 and 16 through the block sum s, the types with a min
 * m add m_w (d_x s) (their weight is d * q + m). */
static void legacy_ref(float *y, size_t ldy, const void *W, size_t w_row, const void *xq, size_t x_row, int nr,
                       int nt, int K, bool acc, sl_type wt) {
    const int nb = K / 32;
    const size_t bs = sl_type_block_bytes(wt);
    for (int t = 0; t < nt; t++) {
        const void *xr = (const char *)xq + (size_t)t * x_row;
        const int8_t *q = q8s_q(xr);
        const float *d = q8s_d(xr, K);
        const int32_t *s = q8s_s(xr, K);
        for (int r = 0; r < nr; r++) {
            const char *row = (const char *)W + (size_t)r * w_row;
            float a = 0;
            for (int b = 0; b < nb; b++) {
                const void *blk = row + (size_t)b * bs;
                const uint8_t *qs;
                uint16_t dh, mh = 0;
                uint32_t qh = 0;
                if (wt == SL_TYPE_Q4_0) {
                    const sl_block_q4_0 *w = blk;
                    dh = w->d, qs = w->qs;
                } else if (wt == SL_TYPE_Q4_1) {
                    const sl_block_q4_1 *w = blk;
                    dh = w->d, mh = w->m, qs = w->qs;
                } else if (wt == SL_TYPE_Q5_0) {
                    const sl_block_q5_0 *w = blk;
                    dh = w->d, qs = w->qs;
                    memcpy(&qh, w->qh, 4);
                } else {
                    const sl_block_q5_1 *w = blk;
                    dh = w->d, mh = w->m, qs = w->qs;
                    memcpy(&qh, w->qh, 4);
                }
                int32_t isum = 0;
                for (int j = 0; j < 16; j++) {
                    const int lo = (qs[j] & 0xF) | (int)((qh >> j) & 1) << 4;
                    const int hi = (qs[j] >> 4) | (int)((qh >> (j + 16)) & 1) << 4;
                    isum += lo * q[32 * b + j] + hi * q[32 * b + j + 16];
                }
                if (wt == SL_TYPE_Q4_0 || wt == SL_TYPE_Q5_0) isum -= (wt == SL_TYPE_Q4_0 ? 8 : 16) * s[b];
                a = fmaf((float)isum, sl_fp16_to_fp32(dh) * d[b], a);
                if (wt == SL_TYPE_Q4_1 || wt == SL_TYPE_Q5_1) a = fmaf(sl_fp16_to_fp32(mh), d[b] * (float)s[b], a);
            }
            store(&y[(size_t)t * ldy + r], a, acc);
        }
    }
}

void sl_gemm_q4_0_ref(float *y, size_t ldy, const void *W, size_t w_row, const void *xq,
                      size_t x_row, int nr, int nt, int K, bool acc) {
    legacy_ref(y, ldy, W, w_row, xq, x_row, nr, nt, K, acc, SL_TYPE_Q4_0);
}

void sl_gemm_q4_1_ref(float *y, size_t ldy, const void *W, size_t w_row, const void *xq,
                      size_t x_row, int nr, int nt, int K, bool acc) {
    legacy_ref(y, ldy, W, w_row, xq, x_row, nr, nt, K, acc, SL_TYPE_Q4_1);
}

void sl_gemm_q5_0_ref(float *y, size_t ldy, const void *W, size_t w_row, const void *xq,
                      size_t x_row, int nr, int nt, int K, bool acc) {
    legacy_ref(y, ldy, W, w_row, xq, x_row, nr, nt, K, acc, SL_TYPE_Q5_0);
}

void sl_gemm_q5_1_ref(float *y, size_t ldy, const void *W, size_t w_row, const void *xq,
                      size_t x_row, int nr, int nt, int K, bool acc) {
    legacy_ref(y, ldy, W, w_row, xq, x_row, nr, nt, K, acc, SL_TYPE_Q5_1);
}

void sl_gemm_q8_0_ref(float *y, size_t ldy, const void *W, size_t w_row, const void *xq,
                      size_t x_row, int nr, int nt, int K, bool acc) {
    const int nb = K / 32;
    for (int t = 0; t < nt; t++) {
        const void *xr = (const char *)xq + (size_t)t * x_row;
        const int8_t *q = q8s_q(xr);
        const float *d = q8s_d(xr, K);
        for (int r = 0; r < nr; r++) {
            const sl_block_q8_0 *w = (const void *)((const char *)W + (size_t)r * w_row);
            float a = 0;
            for (int b = 0; b < nb; b++) {
                int32_t isum = 0;
                for (int j = 0; j < 32; j++) isum += w[b].qs[j] * q[32 * b + j];
                a = fmaf((float)isum, sl_fp16_to_fp32(w[b].d) * d[b], a);
            }
            store(&y[(size_t)t * ldy + r], a, acc);
        }
    }
}

/* ---- f32 kernels, f32t activations ---- */

void sl_pack_f32t(void *xq, const float *x, int t, int T, int K) {
    const size_t tb = sl_f32t_tile_bytes(K);
    const int K8 = K & ~7, w = sl_f32t_width(T);
    /* the last token also stands in for the empty slots of its tile */
    const int t1 = t == T - 1 ? (t / w + 1) * w : t + 1;
    for (int u = t; u < t1; u++) {
        float *tile = (float *)(void *)((char *)xq + (size_t)(u / w) * tb);
        const int j = u % w;
        for (int k = 0; k < K8; k += 8) memcpy(tile + (size_t)k * w + j * 8, x + k, 8 * sizeof *x);
        memcpy(tile + (size_t)w * K8 + (size_t)j * (K - K8), x + K8, (size_t)(K - K8) * sizeof *x);
    }
}

void sl_pack_f32x4(void *xq, const float *x, int t, int T, int K) {
    const size_t tb = sl_f32x4_tile_bytes(K);
    const int w = sl_f32x4_width(T);
    const int t1 = t == T - 1 ? (t / w + 1) * w : t + 1;
    for (int u = t; u < t1; u++) {
        float *tile = (float *)(void *)((char *)xq + (size_t)(u / w) * tb);
        for (int k = 0; k < K; k++) tile[(size_t)k * w + u % w] = x[k];
    }
}

/* Eight lanes along K, summed as the AVX2 horizontal sum does, then the
 * tail; x is one token's f32t groups (xm, group s at xm + 8 xw s) and tail (xt). */
static inline float lanes_dot(const float *w, const float *xm, int xw, const float *xt, int K) {
    float l[8] = {0};
    const int K8 = K & ~7;
    for (int k = 0; k < K8; k++) l[k & 7] = fmaf(w[k], xm[(k >> 3) * 8 * xw + (k & 7)], l[k & 7]);
    float s = ((l[0] + l[4]) + (l[2] + l[6])) + ((l[1] + l[5]) + (l[3] + l[7]));
    for (int k = K8; k < K; k++) s = fmaf(w[k], xt[k - K8], s);
    return s;
}

void sl_gemm_f32_ref(float *y, size_t ldy, const void *W, size_t w_row, const void *xq,
                     size_t x_row, int nr, int nt, int K, bool acc) {
    for (int t = 0; t < nt; t++)
        for (int r = 0; r < nr; r++) {
            const float *w = (const float *)(const void *)((const char *)W + (size_t)r * w_row);
            store(&y[(size_t)t * ldy + r],
                  lanes_dot(w, sl_f32t_main(xq, x_row, t, nt), sl_f32t_width(nt), sl_f32t_tail(xq, x_row, t, nt, K), K),
                  acc);
        }
}

/* ---- half kernels (f16, bf16), f32x4 activations: one chain per output ---- */

static void half_ref(float *y, size_t ldy, const void *W, size_t w_row, const void *xq, size_t x_row, int nr,
                     int nt, int K, bool acc, sl_type wt) {
    const int xs = sl_f32x4_width(nt);
    for (int t = 0; t < nt; t++)
        for (int r = 0; r < nr; r++) {
            const void *w = (const char *)W + (size_t)r * w_row;
            const float *x = sl_f32x4_at(xq, x_row, t, nt);
            float a = 0;
            for (int k = 0; k < K; k++) {
                const uint16_t h = ((const uint16_t *)w)[k];
                a = fmaf(wt == SL_TYPE_BF16 ? sl_bf16_to_fp32(h) : sl_fp16_to_fp32(h), x[(size_t)k * xs], a);
            }
            store(&y[(size_t)t * ldy + r], a, acc);
        }
}

void sl_gemm_f16_ref(float *y, size_t ldy, const void *W, size_t w_row, const void *xq,
                     size_t x_row, int nr, int nt, int K, bool acc) {
    half_ref(y, ldy, W, w_row, xq, x_row, nr, nt, K, acc, SL_TYPE_F16);
}

void sl_gemm_bf16_ref(float *y, size_t ldy, const void *W, size_t w_row, const void *xq,
                      size_t x_row, int nr, int nt, int K, bool acc) {
    half_ref(y, ldy, W, w_row, xq, x_row, nr, nt, K, acc, SL_TYPE_BF16);
}

/* ---- bf16 with vdpbf16ps semantics, bf16p activations ---- */

static inline uint32_t f32_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

void sl_quant_bf16p_ref(void *xq, const float *x, int K) {
    uint16_t *q = xq;
    for (int k = 0; k < K; k++) {
        const uint32_t u = f32_bits(x[k]);
        /* nearest, ties to even; a NaN keeps its sign and becomes quiet */
        q[k] = (u & 0x7FFFFFFFu) > 0x7F800000u ? (uint16_t)(u >> 16 | 0x40) : (uint16_t)((u + 0x7FFFu + (u >> 16 & 1)) >> 16);
    }
    if (K % 2) q[K] = 0;
}

/* Subnormals to (signed) zero: the instruction's DAZ and FTZ. */
static inline float flush(float f) { return (f32_bits(f) & 0x7F800000u) == 0 ? copysignf(0.0f, f) : f; }

/* One step of the chain: acc + w x rounded once (the product of two bf16 is
 * exact, so fmaf rounds only the sum), inputs and result flushed. */
static inline float dp_step(float acc, uint16_t w, uint16_t x) {
    return flush(fmaf(flush(sl_bf16_to_fp32(w)), flush(sl_bf16_to_fp32(x)), acc));
}

void sl_gemm_bf16_dp_ref(float *y, size_t ldy, const void *W, size_t w_row, const void *xq,
                         size_t x_row, int nr, int nt, int K, bool acc) {
    for (int t = 0; t < nt; t++) {
        const uint16_t *x = (const uint16_t *)(const void *)((const char *)xq + (size_t)t * x_row);
        for (int r = 0; r < nr; r++) {
            const uint16_t *w = (const uint16_t *)(const void *)((const char *)W + (size_t)r * w_row);
            float a = 0;
            for (int k = 0; k < K; k += 2) { /* the odd column of the pair first */
                a = dp_step(a, k + 1 < K ? w[k + 1] : 0, x[k + 1]);
                a = dp_step(a, w[k], x[k]);
            }
            store(&y[(size_t)t * ldy + r], a, acc);
        }
    }
}

void sl_swiglu_ref(float *g, const float *u, int n) {
    for (int i = 0; i < n; i++) g[i] = g[i] / (1.0f + sl_expf_cephes(-g[i])) * u[i];
}
