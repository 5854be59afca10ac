/* test_gemm.c — every SIMD tile kernel (kernels/gemm.h) against its scalar
 * reference, bit for bit (the attention row kernels: test_attn_kernels.c),
 * at odd sizes: rows not a multiple of the 8-row groups, token counts that
 * leave every tile width's remainder, inner sizes with tails, D with tails.
 * The references do the same integer sums and the same fused multiply-add
 * chains in the same order, so any difference is a bug, not rounding.
 *
 * The references themselves are checked against plain double-precision
 * sums (what the numbers mean): q8s activations dequantize to within half a
 * step of x, tile kernels agree with a dequantize-and-dot in double.
 * Skips (visibly) when the CPU has no AVX2. */
#include <stdint.h>

#include "kernels/gemm.h"
#include "kernels/quant_isa.h"
#include "tensor/quant.h"
#include "tensor/quant_blocks.h"
#include "test_util.h"

static unsigned long long g_seed = 2024;

static bool have_simd(void) { return sl_simd_active() == SL_SIMD_AVX2 || sl_simd_active() == SL_SIMD_AVX512; }

/* Weights (N, K) of type t from floats in [-a, a]; rows of varied scale. */
static char *make_w(sl_type t, int N, int K, float a) {
    const size_t row = sl_row_size(t, K);
    char *W = malloc((size_t)N * row + 64);
    float *f = malloc((size_t)K * sizeof *f);
    for (int r = 0; r < N; r++) {
        const float s = a * (float)(1 + r % 5) / 5;
        for (int k = 0; k < K; k++) f[k] = t_rand_f(&g_seed) * s;
        if (t == SL_TYPE_F32) memcpy(W + (size_t)r * row, f, row);
        else sl_type_get_ref(t)->from_float(W + (size_t)r * row, f, K);
    }
    free(f);
    return W;
}

/* Activations (T, K) in the kernel's format, each row through quant. */
static char *make_x(const sl_gemm_kernel *kern, sl_act_quant_fn quant, const float *x, int T, int K, size_t *x_row) {
    *x_row = sl_act_row_bytes(kern->act, K);
    char *xq = calloc((size_t)T, *x_row);
    for (int t = 0; t < T; t++) {
        if (kern->act == SL_ACT_F32T) sl_pack_f32t(xq, x + (size_t)t * K, t, T, K);
        else if (kern->act == SL_ACT_F32X4) sl_pack_f32x4(xq, x + (size_t)t * K, t, T, K);
        else quant(xq + (size_t)t * *x_row, x + (size_t)t * K, K);
    }
    return xq;
}

static void test_q8s_quantizer(void) {
    if (!have_simd()) T_SKIP("no AVX2 on this CPU");
    const int Ks[] = {32, 96, 2048};
    for (size_t i = 0; i < sizeof Ks / sizeof Ks[0]; i++) {
        const int K = Ks[i];
        float *x = malloc((size_t)K * sizeof *x);
        for (int k = 0; k < K; k++) x[k] = t_rand_f(&g_seed) * (k % 64 < 32 ? 3.0f : 0.01f);
        x[5] = 0.5f * x[0]; /* ties and zeros on purpose */
        for (int k = 64; k < 96 && k < K; k++) x[k] = 0; /* an all-zero block */
        const size_t rb = sl_q8s_row_bytes(K);
        char *a = calloc(1, rb), *b = calloc(1, rb);
        sl_quant_q8s_ref(a, x, K);
        sl_act_quant_get(SL_ACT_Q8S)(b, x, K);
        T_CHECK(!memcmp(a, b, (size_t)K + (size_t)(K / 32) * 8), "K=%d: SIMD q8s differs from the reference", K);
        /* meaning: q * d is within half a step (plus the f16 rounding of d) of x */
        const int8_t *q = (const int8_t *)a;
        const float *d = (const float *)(const void *)(a + K);
        const int32_t *s = (const int32_t *)(const void *)(a + K + (K / 32) * 4);
        for (int blk = 0; blk < K / 32; blk++) {
            float amax = 0;
            int32_t sum = 0;
            for (int j = 0; j < 32; j++) amax = fmaxf(amax, fabsf(x[32 * blk + j]));
            for (int j = 0; j < 32; j++) {
                const double err = fabs((double)q[32 * blk + j] * d[blk] - x[32 * blk + j]);
                T_CHECK(err <= amax / 254 * 1.001 + amax / 2048 + 1e-30, "K=%d x[%d]=%g: q*d off by %g", K,
                        32 * blk + j, x[32 * blk + j], err);
                sum += q[32 * blk + j];
            }
            T_CHECK(s[blk] == sum, "block %d sum %d, want %d", blk, s[blk], sum);
        }
        free(x), free(a), free(b);
    }
}

static void check_gemm(sl_type t, int N, int T, int K) {
    const sl_gemm_kernel *ks = sl_gemm_get(t), *kr = sl_gemm_get_ref(t);
    char *W = make_w(t, N, K, 1.0f);
    float *x = malloc((size_t)T * K * sizeof *x);
    for (int i = 0; i < T * K; i++) x[i] = t_rand_f(&g_seed) * 2;
    size_t x_row;
    char *xq = make_x(kr, sl_act_quant_get_ref(kr->act), x, T, K, &x_row);
    const size_t ldy = (size_t)N + 3; /* a row stride that is not N */
    float *y0 = malloc((size_t)T * ldy * sizeof *y0), *y1 = malloc((size_t)T * ldy * sizeof *y1);
    for (size_t i = 0; i < (size_t)T * ldy; i++) y0[i] = y1[i] = (float)i * 0.25f;
    const size_t w_row = sl_row_size(t, K);
    for (int acc = 0; acc < 2; acc++) {
        kr->gemm(y0, ldy, W, w_row, xq, x_row, N, T, K, acc);
        ks->gemm(y1, ldy, W, w_row, xq, x_row, N, T, K, acc);
        T_CHECK(!memcmp(y0, y1, (size_t)T * ldy * sizeof *y0), "%s N=%d T=%d K=%d acc=%d: SIMD differs",
                sl_type_name(t), N, T, K, acc);
    }
    /* the reference means a dot product: compare with double sums over the
     * dequantized weights and the quantized (q8s) or exact activations */
    float *wd = malloc((size_t)K * sizeof *wd), *xd = malloc((size_t)K * sizeof *xd);
    kr->gemm(y0, ldy, W, w_row, xq, x_row, N, T, K, false);
    for (int tk = 0; tk < T; tk++) {
        const char *xr = xq + (size_t)tk * x_row;
        if (kr->act == SL_ACT_Q8K) sl_type_get_ref(SL_TYPE_Q8_K)->to_float(xd, xr, K);
        else
            for (int k = 0; k < K; k++)
                xd[k] = kr->act == SL_ACT_F32T || kr->act == SL_ACT_F32X4 ? x[(size_t)tk * K + k]
                                              : ((const int8_t *)xr)[k] * ((const float *)(const void *)(xr + K))[k / 32];
        for (int r = 0; r < N; r++) {
            sl_type_get_ref(t)->to_float(wd, W + (size_t)r * w_row, K);
            double sum = 0, mag = 0;
            for (int k = 0; k < K; k++) {
                sum += (double)wd[k] * xd[k];
                mag += fabs((double)wd[k] * xd[k]);
            }
            const double got = y0[(size_t)tk * ldy + r];
            if (fabs(got - sum) > 1e-5 * mag + 1e-6) {
                T_CHECK(0, "%s N=%d T=%d K=%d y[%d][%d] = %.8g, double sum %.8g", sl_type_name(t), N, T, K, tk, r,
                        got, sum);
                tk = T;
                break;
            }
        }
    }
    free(W), free(x), free(xq), free(y0), free(y1), free(wd), free(xd);
}

static void test_gemm_simd_matches_ref(void) {
    if (!have_simd()) T_SKIP("no AVX2 on this CPU");
    const sl_type types[] = {SL_TYPE_Q4_0, SL_TYPE_Q4_1, SL_TYPE_Q5_0, SL_TYPE_Q5_1, SL_TYPE_Q8_0, SL_TYPE_F32,
                             SL_TYPE_F16, SL_TYPE_BF16, SL_TYPE_Q4_K, SL_TYPE_Q5_K, SL_TYPE_Q6_K};
    const int Ns[] = {1, 7, 8, 9, 17, 35};
    const int Ts[] = {1, 2, 3, 4, 5, 9, 13};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        const bool q = sl_type_block_size(types[i]) == 32; /* 1, 3 and 33 blocks */
        const bool kq = sl_type_block_size(types[i]) == SL_QK_K; /* 1, 3 and 11 super-blocks */
        const int Ks[] = {kq ? 256 : q ? 32 : 5, kq ? 768 : q ? 96 : 13, kq ? 2816 : q ? 1056 : 1031};
        for (size_t a = 0; a < sizeof Ns / sizeof Ns[0]; a++)
            for (size_t b = 0; b < sizeof Ts / sizeof Ts[0]; b++)
                for (size_t c = 0; c < 3; c++) check_gemm(types[i], Ns[a], Ts[b], Ks[c]);
    }
}

static char *raw_k_rows(sl_type t, int N, int K, int fill);

/* The x16 kernel under test: the table's, or q6_K's, which is not in the
 * table yet (its decode is slower than the x8 kernel's), called directly
 * where the CPU runs the other K-quant x16 kernels. */
static const sl_gemm_kernel *x16_kernel(sl_type t) {
#if defined(__x86_64__) || defined(__i386__)
    static const sl_gemm_kernel q6 = {sl_gemm_q6_kx16_avx512, SL_ACT_Q8K, 16};
    if (t == SL_TYPE_Q6_K && !sl_gemm_get_x16(t) && sl_gemm_get_x16(SL_TYPE_Q4_K)) return &q6;
#endif
    return sl_gemm_get_x16(t);
}

/* The x8 (group 8) or x16 (group 16) kernels on repacked rows against the
 * reference on the rows as stored: the same bits, for whole matrices and for a call on a later
 * group alone (as a thread's share of the rows is run). Weights include
 * the extremes the int16 sums must hold: all nibbles 15, all q8_0 quants
 * -128 and +127. Fills 4, 5, 6 (K-quants): raw_k_rows' random bytes, all
 * bits set and all clear, against random, all-positive and all-negative
 * activations. */
static void check_grouped(sl_type t, int group, int N, int T, int K, int fill) {
    const sl_gemm_kernel *kx = group == SL_ROWS_X16 ? x16_kernel(t) : sl_gemm_get_grouped(t, group), *kr = group == SL_ROWS_X16 ? sl_gemm_get_x16_ref(t) : sl_gemm_get_ref(t);
    const size_t w_row = sl_row_size(t, K);
    char *W = fill >= 4 ? raw_k_rows(t, N, K, fill - 4) : make_w(t, N, K, 1.0f), *P = malloc((size_t)N * w_row + 64);
    const size_t bs = sl_type_block_bytes(t);
    /* keep the f16 scales (d first; q4_K's dmin and q4_1's and q5_1's m after it; q6_K's d last),
     * set every other byte (q5's fifth bits too) */
    const bool two = t == SL_TYPE_Q4_K || t == SL_TYPE_Q5_K || t == SL_TYPE_Q4_1 || t == SL_TYPE_Q5_1;
    const size_t lo = two ? 4 : t == SL_TYPE_Q6_K ? 0 : 2, hi = t == SL_TYPE_Q6_K ? bs - 2 : bs;
    for (size_t b = 0; fill && fill < 3 && b < (size_t)N * w_row / bs; b++)
        memset(W + b * bs + lo, fill == 1 ? 0xFF : (b % 2 ? 0x80 : 0x7F), hi - lo);
    /* fill 3 (bf16): tiny values of any sign, a quarter of them subnormal, for the
     * flush to zero of inputs and results */
    for (size_t i = 0; fill == 3 && i < (size_t)N * w_row / 2; i++) {
        const uint32_t r = (uint32_t)(t_rand_f(&g_seed) * 1e9f + 1e9f);
        const uint16_t h = (uint16_t)((r & 0x8000) | (r >> 3) % 0x0600 << 4 >> 4 | (r % 4 ? 0x0080 : 0));
        memcpy(W + 2 * i, &h, 2);
    }
    T_CHECK(sl_repack_grouped(t, group, P, W, N, K), "%s x%d N=%d K=%d: repack refused", sl_type_name(t), group, N, K);
    if (t == SL_TYPE_F16 || t == SL_TYPE_BF16) { /* rows looked up in place (a tied embedding) */
        float *a = malloc((size_t)K * sizeof *a), *b = malloc((size_t)K * sizeof *b);
        for (int r = 0; r < N; r++) {
            sl_type_get_ref(t)->to_float(a, W + (size_t)r * w_row, K);
            sl_grouped_half_row(b, P, t, group, K, r);
            T_CHECK(!memcmp(a, b, (size_t)K * sizeof *a), "%s N=%d K=%d: x%d row %d differs", sl_type_name(t), N, K, group, r);
        }
        free(a), free(b);
    }
    float *x = malloc((size_t)T * K * sizeof *x);
    for (int i = 0; i < T * K; i++)
        x[i] = fill == 3 ? t_rand_f(&g_seed) * 8 : fill == 5 ? 0.5f : fill == 6 ? -1.0f
             : fill && fill != 4 ? (i % 3 ? 2.0f : -2.0f) : t_rand_f(&g_seed) * 2;
    size_t x_row;
    char *xq = make_x(kr, sl_act_quant_get_ref(kr->act), x, T, K, &x_row);
    const size_t ldy = (size_t)N + 5;
    float *y0 = malloc((size_t)T * ldy * sizeof *y0), *y1 = malloc((size_t)T * ldy * sizeof *y1);
    for (size_t i = 0; i < (size_t)T * ldy; i++) y0[i] = y1[i] = (float)i * 0.5f;
    for (int acc = 0; acc < 2; acc++) {
        kr->gemm(y0, ldy, W, w_row, xq, x_row, N, T, K, acc);
        kx->gemm(y1, ldy, P, w_row, xq, x_row, N, T, K, acc);
        T_CHECK(!memcmp(y0, y1, (size_t)T * ldy * sizeof *y0), "%s x%d N=%d T=%d K=%d fill=%d acc=%d: differs",
                sl_type_name(t), group, N, T, K, fill, acc);
    }
    if (N > group) { /* the last group alone, into a fresh output */
        const int r0 = N - group;
        memset(y1, 0, (size_t)T * ldy * sizeof *y1);
        kx->gemm(y1 + r0, ldy, P + (size_t)r0 * w_row, w_row, xq, x_row, group, T, K, false);
        kr->gemm(y0, ldy, W, w_row, xq, x_row, N, T, K, false);
        for (int tk = 0; tk < T; tk++)
            T_CHECK(!memcmp(y0 + (size_t)tk * ldy + r0, y1 + (size_t)tk * ldy + r0, (size_t)group * sizeof *y0),
                    "%s x%d N=%d T=%d K=%d: the last group alone differs", sl_type_name(t), group, N, T, K);
    }
    free(W), free(P), free(x), free(xq), free(y0), free(y1);
}

static void test_gemm_x8_matches_ref(void) {
    /* what does not repack, on any CPU */
    char src[8 * 34] = {0}, dst[8 * 34];
    T_CHECK(!sl_repack_x8(SL_TYPE_Q4_0, dst, src, 7, 32) && !sl_repack_x8(SL_TYPE_Q4_0, dst, src, 8, 48) &&
                !sl_repack_x8(SL_TYPE_Q4_K, dst, src, 8, 32) && !sl_repack_x8(SL_TYPE_Q3_K, dst, src, 8, 256) &&
                !sl_repack_x8(SL_TYPE_Q5_1, dst, src, 8, 48) && !sl_repack_x8(SL_TYPE_F16, dst, src, 12, 12) &&
                !sl_repack_x8(SL_TYPE_BF16, dst, src, 4, 12) && !sl_repack_x8(SL_TYPE_F16, dst, src, 8, 0) &&
                !sl_repack_x8(SL_TYPE_F32, dst, src, 8, 32),
            "repack accepted a shape or type it has no layout for");
    T_CHECK(sl_gemm_get_x8(SL_TYPE_Q3_K) == NULL && sl_gemm_get_x8(SL_TYPE_F32) == NULL, "unexpected x8 kernels");
    if (!have_simd()) T_SKIP("no AVX2 on this CPU");
    const sl_type types[] = {SL_TYPE_Q4_0, SL_TYPE_Q4_1, SL_TYPE_Q5_0, SL_TYPE_Q5_1, SL_TYPE_Q8_0,
                             SL_TYPE_Q4_K, SL_TYPE_Q5_K, SL_TYPE_Q6_K, SL_TYPE_F16, SL_TYPE_BF16};
    const int Ns[] = {8, 16, 40, 64}; /* half tiles: 1, 2, 3 + 2 and 3 + 3 + 2 groups */
    const int Ts[] = {1, 2, 3, 4, 5, 8, 9, 13};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        const bool kq = sl_type_block_size(types[i]) == SL_QK_K; /* 1, 3 and 11 super-blocks */
        const bool f16 = types[i] == SL_TYPE_F16 || types[i] == SL_TYPE_BF16; /* any K */
        const int Ks[] = {kq ? 256 : f16 ? 5 : 32, kq ? 768 : f16 ? 97 : 96, kq ? 2816 : f16 ? 1031 : 1056};
        T_CHECK(sl_gemm_get_x8(types[i]) != NULL, "%s: no x8 kernel", sl_type_name(types[i]));
        if (!sl_gemm_get_x8(types[i])) continue;
        for (size_t a = 0; a < sizeof Ns / sizeof Ns[0]; a++)
            for (size_t b = 0; b < sizeof Ts / sizeof Ts[0]; b++)
                for (size_t c = 0; c < sizeof Ks / sizeof Ks[0]; c++) check_grouped(types[i], SL_ROWS_X8, Ns[a], Ts[b], Ks[c], 0);
        for (int fill = 1; fill <= 2 && !f16; fill++) check_grouped(types[i], SL_ROWS_X8, 16, 5, Ks[1], fill);
        for (int fill = 1; fill <= 2 && !f16; fill++) check_grouped(types[i], SL_ROWS_X8, 8, 1, Ks[1], fill);
    }
}

/* What sl_gemm_bf16_dp_ref means: the dot of the bf16 weights and the
 * bf16-rounded activations, to f32 rounding over the chain; and the rounding
 * of bf16p itself (nearest, ties to even, NaN kept, the odd K's pad). */
static void test_bf16_dp_reference(void) {
    const float in[] = {1.0f, 1.00390625f, 1.005859375f, 1.0078125f, -3.0e38f, 1e-40f};
    const uint16_t want[] = {0x3F80, 0x3F80, 0x3F81, 0x3F81, 0xFF62, 0x0001};
    uint16_t q[8];
    sl_quant_bf16p_ref(q, in, 5);
    for (int i = 0; i < 5; i++) T_CHECK(q[i] == want[i], "bf16p of %g: %#x, want %#x", (double)in[i], q[i], want[i]);
    T_CHECK(q[5] == 0, "odd K: the pad is %#x", q[5]);
    const float nan = __builtin_nanf("");
    sl_quant_bf16p_ref(q, &nan, 1);
    T_CHECK((q[0] & 0x7F80) == 0x7F80 && (q[0] & 0x7F), "NaN became %#x", q[0]);
    /* the active quantizer (AVX-512 where it runs) against the reference:
     * random bit patterns (every class: NaNs, infinities, subnormals, ties)
     * at lengths that leave every tail */
    for (int n = 1; n <= 67; n += 11) {
        float v[67];
        uint16_t a[68], b[68];
        for (int i = 0; i < n; i++) {
            const uint32_t u = (uint32_t)(t_rand_f(&g_seed) * 2e9f + 2.1e9f) ^ (i % 5 == 0 ? 0x8000u : 0);
            memcpy(&v[i], &u, 4);
        }
        const uint32_t special[] = {0x3F808000u, 0x3F818000u, 0xFFC00001u, 0x7F800000u, 0x00000001u, 0x7F7FFFFFu};
        for (int i = 0; i < n && i < 6; i++) memcpy(&v[i * 7 % n], &special[i], 4);
        sl_quant_bf16p_ref(a, v, n);
        sl_act_quant_get(SL_ACT_BF16P)(b, v, n);
        T_CHECK(!memcmp(a, b, (size_t)(n + 1) / 2 * 4), "bf16p quantizer (%s) differs at n=%d", sl_simd_level(), n);
    }
    const int N = 5, T = 3, K = 301;
    char *W = make_w(SL_TYPE_BF16, N, K, 1.0f);
    float *x = malloc((size_t)T * K * sizeof *x), y[5 * 3];
    const size_t xr = sl_bf16p_row_bytes(K);
    char *xq = calloc(T, xr);
    for (int i = 0; i < T * K; i++) x[i] = t_rand_f(&g_seed) * 3;
    for (int t = 0; t < T; t++) sl_quant_bf16p_ref(xq + t * xr, x + (size_t)t * K, K);
    sl_gemm_bf16_dp_ref(y, N, W, (size_t)K * 2, xq, xr, N, T, K, false);
    for (int t = 0; t < T; t++)
        for (int r = 0; r < N; r++) {
            double s = 0, mag = 0;
            for (int k = 0; k < K; k++) {
                const double p = (double)sl_bf16_to_fp32(((const uint16_t *)(const void *)(W + (size_t)r * K * 2))[k]) *
                                 sl_bf16_to_fp32(((const uint16_t *)(const void *)(xq + t * xr))[k]);
                s += p, mag += fabs(p);
            }
            T_CHECK(fabs(y[t * N + r] - s) <= K * 6e-8 * mag, "dp ref row %d token %d: %g, double %g", r, t,
                    (double)y[t * N + r], s);
        }
    free(W), free(x), free(xq);
}

/* The AVX-512 x16 kernels, likewise: row tiles of 3, 2 and 1 groups and
 * every token tile's remainder (8-token and 4-token tiles, decode), and
 * the extremes (all nibbles 15; q8_0 quants -128 and +127, which the
 * unsigned flip must carry exactly). */
static void test_gemm_x16_matches_ref(void) {
    char src[16 * 34] = {0}, dst[16 * 34];
    T_CHECK(!sl_repack_x16(SL_TYPE_Q8_0, dst, src, 8, 32) && !sl_repack_x16(SL_TYPE_Q4_0, dst, src, 16, 48) && !sl_repack_x16(SL_TYPE_Q5_1, dst, src, 16, 48) &&
                !sl_repack_x16(SL_TYPE_Q4_K, dst, src, 16, 128) && !sl_repack_x16(SL_TYPE_Q6_K, dst, src, 8, 256) &&
                !sl_repack_x16(SL_TYPE_Q3_K, dst, src, 16, 256) && !sl_repack_x16(SL_TYPE_F16, dst, src, 24, 4) &&
                !sl_repack_x16(SL_TYPE_F32, dst, src, 16, 32) && !sl_repack_grouped(SL_TYPE_Q8_0, 4, dst, src, 16, 32),
            "x16 repack accepted a shape or type it has no layout for");
    if (!sl_gemm_get_x16(SL_TYPE_F16)) T_SKIP("no AVX-512 on this CPU (or SL_ISA caps the level): x16 kernels not run");
    T_CHECK(!sl_repack_x16(SL_TYPE_BF16, dst, src, 16, 5), "bf16 x16 accepted an odd K");
    const sl_type types[] = {SL_TYPE_F16,  SL_TYPE_BF16, SL_TYPE_Q8_0, SL_TYPE_Q4_0, SL_TYPE_Q4_1,
                             SL_TYPE_Q5_0, SL_TYPE_Q5_1, SL_TYPE_Q4_K, SL_TYPE_Q5_K, SL_TYPE_Q6_K};
    const int Ns[] = {16, 32, 48, 80, 112}; /* 1, 2, 3, 3 + 2 and 3 + 3 + 1 groups */
    const int Ts[] = {1, 2, 3, 4, 5, 8, 9, 12, 13, 17};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        const bool f16 = types[i] == SL_TYPE_F16 || types[i] == SL_TYPE_BF16;
        if (!x16_kernel(types[i])) {
            printf("SKIP %s x16: this CPU lacks %s\n", sl_type_name(types[i]), types[i] == SL_TYPE_BF16 ? "AVX512-BF16" : "AVX512-VNNI");
            continue;
        }
        const bool bf16 = types[i] == SL_TYPE_BF16; /* column pairs: even K */
        const bool kq = sl_type_block_size(types[i]) == SL_QK_K; /* 1, 3 and 11 super-blocks */
        const int Ks[] = {kq ? 256 : bf16 ? 6 : f16 ? 5 : 32, kq ? 768 : bf16 ? 98 : f16 ? 97 : 96,
                          kq ? 2816 : bf16 ? 1032 : f16 ? 1031 : 1056};
        for (size_t a = 0; a < sizeof Ns / sizeof Ns[0]; a++)
            for (size_t b = 0; b < sizeof Ts / sizeof Ts[0]; b++)
                for (size_t c = 0; c < sizeof Ks / sizeof Ks[0]; c++)
                    check_grouped(types[i], SL_ROWS_X16, Ns[a], Ts[b], Ks[c], 0);
        for (int n = 0; bf16 && n < 4; n++) check_grouped(types[i], SL_ROWS_X16, 48, 9, Ks[1], 3);
        for (int fill = 1; fill <= 2 && !f16; fill++) check_grouped(types[i], SL_ROWS_X16, 32, 5, Ks[1], fill);
        for (int fill = 1; fill <= 2 && !f16; fill++) check_grouped(types[i], SL_ROWS_X16, 16, 1, Ks[1], fill);
        for (int fill = 4; fill <= 6 && kq; fill++) { /* any scale bytes, every quant at its bound */
            check_grouped(types[i], SL_ROWS_X16, 32, 5, Ks[1], fill);
            check_grouped(types[i], SL_ROWS_X16, 48, 1, Ks[0], fill);
        }
        const int want = types[i] == SL_TYPE_Q6_K && !sl_gemm_get_x16(types[i]) ? SL_ROWS_X8 : SL_ROWS_X16;
        T_CHECK(sl_gemm_best_group(types[i], 64, Ks[1]) == want && sl_gemm_best_group(types[i], 40, Ks[1]) == SL_ROWS_X8,
                "%s: a loaded model would not run the x16 kernel", sl_type_name(types[i]));
    }
}

/* K-quant weights of every extreme the int16 sums must survive: random
 * bytes (any 6-bit scale and min, any signed q6_K scale), all bits set
 * (quants 15, 31, 63; scales and mins 63; q6_K scales -1) and all clear
 * (q6_K quants 0, i.e. -32), with sane f16 super-scales; against
 * activations of one sign (every q8_K quant -127 or +127) and random ones.
 * The SIMD tiles must give the reference's bits, and the reference must
 * mean the dot product of the dequantized rows. */
static char *raw_k_rows(sl_type t, int N, int K, int fill) {
    const size_t row = sl_row_size(t, K), bs = sl_type_block_bytes(t);
    unsigned char *W = malloc((size_t)N * row);
    for (size_t i = 0; i < (size_t)N * row; i++)
        W[i] = fill == 0 ? (unsigned char)t_rand_u64(&g_seed) : fill == 1 ? 0xFF : 0x00;
    for (size_t b = 0; b < (size_t)N * row / bs; b++) {
        const uint16_t d = sl_fp32_to_fp16(0.01f + 0.02f * fabsf(t_rand_f(&g_seed)));
        const uint16_t dmin = sl_fp32_to_fp16(0.01f * t_rand_f(&g_seed));
        unsigned char *blk = W + b * bs;
        if (t == SL_TYPE_Q6_K) {
            memcpy(blk + offsetof(sl_block_q6_k, d), &d, 2);
        } else {
            memcpy(blk, &d, 2);
            memcpy(blk + 2, &dmin, 2);
        }
    }
    return (char *)W;
}

/* The f32 prefill path blocks rows (jobs of 16, 8 at a time as two tiles
 * of 4) and tokens (jobs of 36, tiles of 3) and runs K whole; the half
 * kernels on rows as stored take tiles of 24 rows (the last of 1..23),
 * blocks of 32 tokens and transpose 256 columns at a time: sizes across
 * each of those edges against the reference, and every token of a batch
 * against the same token run alone (the decode path), bit for bit. */
static void test_gemm_float_blocks(void) {
    if (!have_simd()) T_SKIP("no AVX2 on this CPU");
    const sl_type types[] = {SL_TYPE_F32, SL_TYPE_F16, SL_TYPE_BF16};
    const int shapes[][3] = {{33, 70, 1031}, {67, 135, 1547}, {40, 66, 520}, {5, 67, 8}, {64, 2, 2048}, {9, 4, 7},
                              {12, 37, 100}, {21, 36, 64}, {30, 38, 15}, {48, 33, 256}, {47, 31, 257}};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        for (size_t c = 0; c < sizeof shapes / sizeof shapes[0]; c++) {
            const int N = shapes[c][0], T = shapes[c][1], K = shapes[c][2];
            check_gemm(types[i], N, T, K);
            const sl_gemm_kernel *ks = sl_gemm_get(types[i]);
            char *W = make_w(types[i], N, K, 1.0f);
            float *x = malloc((size_t)T * K * sizeof *x);
            for (int k = 0; k < T * K; k++) x[k] = t_rand_f(&g_seed);
            size_t x_row, x1_row;
            char *xq = make_x(ks, NULL, x, T, K, &x_row);
            float *y = malloc((size_t)T * N * sizeof *y), y1[67];
            const size_t w_row = sl_row_size(types[i], K);
            ks->gemm(y, (size_t)N, W, w_row, xq, x_row, N, T, K, false);
            for (int t = 0; t < T; t++) {
                char *x1 = make_x(ks, NULL, x + (size_t)t * K, 1, K, &x1_row);
                ks->gemm(y1, (size_t)N, W, w_row, x1, x1_row, N, 1, K, false);
                T_CHECK(!memcmp(y1, y + (size_t)t * N, (size_t)N * sizeof *y1), "%s N=%d T=%d K=%d: token %d alone differs",
                        sl_type_name(types[i]), N, T, K, t);
                free(x1);
            }
            free(W), free(x), free(xq), free(y);
        }
}

/* f32t as gemm.h documents it: tile u holds v[K8 / 8][w][8] then
 * tail[w][K % 8], w = 3 tokens (1 for a product of one token); the empty
 * slots of the last tile repeat the last token; tokens may be written in
 * any order. */
static void test_f32t_layout(void) {
    const int K = 21, K8 = 16;
    float x[4 * 21];
    for (int i = 0; i < 4 * K; i++) x[i] = (float)(i / K * 100 + i % K);
    const size_t tb = sl_f32t_tile_bytes(K);
    T_CHECK(tb % 64 == 0 && tb >= 3 * K * sizeof(float), "tile bytes %zu", tb);
    T_CHECK(sl_act_row_bytes(SL_ACT_F32T, K) == tb, "row bytes of f32t");
    const int Ts[] = {4, 2, 1};
    for (size_t ti = 0; ti < 3; ti++) {
        const int T = Ts[ti], w = T == 1 ? 1 : 3;
        T_CHECK(sl_f32t_width(T) == w, "T=%d: width %d", T, sl_f32t_width(T));
        char *xq = calloc(2, tb);
        for (int t = T - 1; t >= 0; t--) sl_pack_f32t(xq, x + t * K, t, T, K);
        for (int t = 0; t < (T + w - 1) / w * w; t++) {
            const int src = t < T ? t : T - 1;
            const float *tile = (const float *)(const void *)(xq + (size_t)(t / w) * tb);
            for (int k = 0; k < K; k++) {
                const float got =
                    k < K8 ? tile[(k / 8) * 8 * w + (t % w) * 8 + k % 8] : tile[w * K8 + (t % w) * (K - K8) + k - K8];
                T_CHECK(got == x[src * K + k], "T=%d slot %d column %d: %g, want %g", T, t, k, got, x[src * K + k]);
            }
            if (t < T) {
                const float *m = sl_f32t_main(xq, tb, t, T), *tl = sl_f32t_tail(xq, tb, t, T, K);
                T_CHECK(m[8 * w] == x[src * K + 8] && tl[K - K8 - 1] == x[src * K + K - 1], "T=%d token %d: helpers", T,
                        t);
            }
        }
        free(xq);
    }
}

/* f32x4 as gemm.h documents it: tile u holds v[K][w], w = 4 tokens (1 for
 * a product of one token); the empty slots of the last tile repeat the last
 * token; tokens may be written in any order. */
static void test_f32x4_layout(void) {
    const int K = 13;
    float x[6 * 13];
    for (int i = 0; i < 6 * K; i++) x[i] = (float)(i / K * 100 + i % K);
    const size_t tb = sl_f32x4_tile_bytes(K);
    T_CHECK(tb % 64 == 0 && tb >= 4 * K * sizeof(float), "tile bytes %zu", tb);
    T_CHECK(sl_act_row_bytes(SL_ACT_F32X4, K) == tb, "row bytes of f32x4");
    const int Ts[] = {6, 4, 2, 1};
    for (size_t ti = 0; ti < sizeof Ts / sizeof Ts[0]; ti++) {
        const int T = Ts[ti], w = T == 1 ? 1 : 4;
        T_CHECK(sl_f32x4_width(T) == w, "T=%d: width %d", T, sl_f32x4_width(T));
        char *xq = calloc(2, tb);
        for (int t = T - 1; t >= 0; t--) sl_pack_f32x4(xq, x + t * K, t, T, K);
        for (int t = 0; t < (T + w - 1) / w * w; t++) {
            const int src = t < T ? t : T - 1;
            const float *tile = (const float *)(const void *)(xq + (size_t)(t / w) * tb);
            for (int k = 0; k < K; k++)
                T_CHECK(tile[k * w + t % w] == x[src * K + k], "T=%d slot %d column %d: %g, want %g", T, t, k,
                        tile[k * w + t % w], x[src * K + k]);
            if (t < T)
                T_CHECK(sl_f32x4_at(xq, tb, t, T)[(K - 1) * w] == x[src * K + K - 1], "T=%d token %d: helper", T, t);
        }
        free(xq);
    }
}

/* q4_1, q5_0 and q5_1 rows at their largest quants (every nibble 15 and
 * every fifth bit set: 31) against activations that are all +-127 in q8s
 * (one value per token, of one sign): the int16 chunk sums are at their
 * bound (8 * 31 * 127 = 31496 for the q5 types). SIMD against the
 * reference, bit for bit; and the rows with their quants as made. */
static void test_gemm_legacy_extremes(void) {
    if (!have_simd()) T_SKIP("no AVX2 on this CPU");
    const sl_type types[] = {SL_TYPE_Q4_1, SL_TYPE_Q5_0, SL_TYPE_Q5_1};
    const int N = 16, T = 9, K = 96;
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        const sl_type t = types[i];
        const sl_gemm_kernel *ks = sl_gemm_get(t), *kr = sl_gemm_get_ref(t);
        const size_t w_row = sl_row_size(t, K), bs = sl_type_block_bytes(t);
        const size_t keep = t == SL_TYPE_Q5_0 ? 2 : 4; /* d (and m) stay: the rest is qh and qs */
        for (int fill = 0; fill < 2; fill++) {
            char *W = make_w(t, N, K, 1.0f);
            for (size_t b = 0; fill && b < (size_t)N * w_row / bs; b++) memset(W + b * bs + keep, 0xFF, bs - keep);
            float *x = malloc((size_t)T * K * sizeof *x);
            for (int k = 0; k < T * K; k++) x[k] = k / K % 2 ? 2.0f : -2.0f;
            size_t x_row;
            char *xq = make_x(kr, sl_act_quant_get_ref(kr->act), x, T, K, &x_row);
            float *y0 = malloc((size_t)T * N * sizeof *y0), *y1 = malloc((size_t)T * N * sizeof *y1);
            kr->gemm(y0, (size_t)N, W, w_row, xq, x_row, N, T, K, false);
            ks->gemm(y1, (size_t)N, W, w_row, xq, x_row, N, T, K, false);
            T_CHECK(!memcmp(y0, y1, (size_t)T * N * sizeof *y0), "%s fill=%d: SIMD differs from the reference",
                    sl_type_name(t), fill);
            free(W), free(x), free(xq), free(y0), free(y1);
        }
    }
}

static void test_gemm_k_extremes(void) {
    if (!have_simd()) T_SKIP("no AVX2 on this CPU");
    const sl_type types[] = {SL_TYPE_Q4_K, SL_TYPE_Q5_K, SL_TYPE_Q6_K};
    const int K = 512, N = 11, T = 5;
    for (size_t ti = 0; ti < 3; ti++) {
        const sl_type t = types[ti];
        const sl_gemm_kernel *ks = sl_gemm_get(t), *kr = sl_gemm_get_ref(t);
        T_CHECK(ks && kr && ks->act == SL_ACT_Q8K && kr->act == SL_ACT_Q8K && ks->row_align == 8,
                "%s: q8_K tile kernels", sl_type_name(t));
        if (!ks || !kr) continue;
        const size_t w_row = sl_row_size(t, K);
        for (int fill = 0; fill < 3; fill++)
            for (int xs = 0; xs < 3; xs++) {
                char *W = raw_k_rows(t, N, K, fill);
                float *x = malloc((size_t)T * K * sizeof *x);
                for (int i = 0; i < T * K; i++)
                    x[i] = xs == 0 ? 0.5f : xs == 1 ? -1.0f : t_rand_f(&g_seed); /* q8_K: all -127, all +127, mixed */
                size_t x_row;
                char *xq = make_x(kr, sl_act_quant_get_ref(kr->act), x, T, K, &x_row);
                float *y0 = malloc((size_t)T * N * sizeof *y0), *y1 = malloc((size_t)T * N * sizeof *y1);
                kr->gemm(y0, (size_t)N, W, w_row, xq, x_row, N, T, K, false);
                ks->gemm(y1, (size_t)N, W, w_row, xq, x_row, N, T, K, false);
                T_CHECK(!memcmp(y0, y1, (size_t)T * N * sizeof *y0), "%s fill=%d x=%d: SIMD differs from the reference",
                        sl_type_name(t), fill, xs);
                float *wd = malloc((size_t)K * sizeof *wd), *xd = malloc((size_t)K * sizeof *xd);
                for (int tk = 0; tk < T; tk++) {
                    sl_type_get_ref(SL_TYPE_Q8_K)->to_float(xd, xq + (size_t)tk * x_row, K);
                    for (int r = 0; r < N; r++) {
                        sl_type_get_ref(t)->to_float(wd, W + (size_t)r * w_row, K);
                        double sum = 0, mag = 0;
                        for (int k = 0; k < K; k++) sum += (double)wd[k] * xd[k], mag += fabs((double)wd[k] * xd[k]);
                        const double got = y0[(size_t)tk * N + r];
                        T_CHECK(fabs(got - sum) <= 1e-5 * mag + 1e-6, "%s fill=%d x=%d y[%d][%d] = %.8g, double sum %.8g",
                                sl_type_name(t), fill, xs, tk, r, got, sum);
                    }
                }
                free(W), free(x), free(xq), free(y0), free(y1), free(wd), free(xd);
            }
    }
}

/* SwiGLU: the AVX2 version gives the reference's bits for every length
 * (lanes and tail) and at the exponential's clamps; the reference means
 * g / (1 + e^-g) * u, to a few float steps. */
static void test_swiglu(void) {
    float g[40] = {0}, u[40] = {0}, a[40], b[40];
    for (int n = 0; n <= 40; n++) {
        for (int i = 0; i < n; i++) {
            g[i] = t_rand_f(&g_seed) * (i % 3 ? 8.0f : 120.0f); /* some beyond the clamps at -87 and 88 */
            u[i] = t_rand_f(&g_seed) * 2;
        }
        if (n > 5) g[0] = 0.0f, g[1] = -0.0f, g[2] = 87.5f, g[3] = -88.5f, g[4] = 1e-30f, g[5] = -1e-30f;
        memcpy(a, g, sizeof g), memcpy(b, g, sizeof g);
        sl_swiglu_ref(a, u, n);
        if (have_simd()) {
            sl_swiglu_get()(b, u, n);
            T_CHECK(!memcmp(a, b, (size_t)n * sizeof *a), "n=%d: SIMD SwiGLU differs from the reference", n);
        }
        for (int i = 0; i < n; i++) {
            const double want = (double)g[i] / (1.0 + exp(-(double)g[i])) * u[i];
            T_CHECK(fabs(a[i] - want) <= 1e-6 * fabs(want) + 1e-35, /* below e^-87: ~1e-37, not 0 */ "n=%d g=%g u=%g: %.9g, want %.9g", n, g[i], u[i], a[i],
                    want);
        }
    }
    if (!have_simd()) T_SKIP("no AVX2 on this CPU (reference checked)");
}

/* Types without a tile kernel must say so (matmul then uses vec_dot). */
static void test_gemm_table(void) {
    T_CHECK(sl_gemm_get(SL_TYPE_Q3_K) == NULL && sl_gemm_get(SL_TYPE_Q2_K) == NULL, "unexpected kernels");
    T_CHECK(sl_gemm_get_ref(SL_TYPE_Q4_1) && sl_gemm_get_ref(SL_TYPE_Q4_1)->act == SL_ACT_Q8S, "q4_1 reads q8s");
    T_CHECK(sl_gemm_get_ref(SL_TYPE_Q6_K) && sl_gemm_get_ref(SL_TYPE_Q6_K)->act == SL_ACT_Q8K, "q6_K reads q8_K");
    T_CHECK(sl_gemm_get_ref(SL_TYPE_Q4_0) && sl_gemm_get_ref(SL_TYPE_Q4_0)->act == SL_ACT_Q8S, "q4_0 reads q8s");
    T_CHECK(sl_gemm_get_ref(SL_TYPE_F16) && sl_gemm_get_ref(SL_TYPE_F16)->act == SL_ACT_F32X4, "f16 reads f32x4");
    T_CHECK(sl_gemm_get_ref(SL_TYPE_F32) && sl_gemm_get_ref(SL_TYPE_F32)->act == SL_ACT_F32T, "f32 reads f32t");
    T_CHECK(sl_act_row_bytes(SL_ACT_Q8S, 64) == 128 && sl_act_row_bytes(SL_ACT_F32, 5) == 20, "row bytes");
    /* every type a model may hold has a tile kernel at every level, so the
     * vec_dot fallback of matmul.c never runs on the inference path */
    for (uint32_t t = 0; t < SL_TYPE_COUNT; t++) {
        const sl_type_traits *tr = sl_type_get_ref(t);
        if (!tr || !tr->supported) continue;
        T_CHECK(sl_gemm_get(t) && sl_gemm_get_ref(t), "%s: no tile kernel", tr->name);
        const int g = sl_gemm_best_group(t, 4096, 4096);
        T_CHECK(g == SL_ROWS_STORED || sl_gemm_get_grouped(t, g), "%s: layout %d without a kernel", tr->name, g);
    }
    printf("  level %s, layout of a 4096-row matrix: f16 x%d, q8_0 x%d, q4_0 x%d, q4_K x%d\n", sl_simd_level(),
           sl_gemm_best_group(SL_TYPE_F16, 4096, 4096), sl_gemm_best_group(SL_TYPE_Q8_0, 4096, 4096),
           sl_gemm_best_group(SL_TYPE_Q4_0, 4096, 4096), sl_gemm_best_group(SL_TYPE_Q4_K, 4096, 4096));
}

int main(void) {
    T_RUN(test_q8s_quantizer);
    T_RUN(test_gemm_table);
    T_RUN(test_gemm_simd_matches_ref);
    T_RUN(test_gemm_x8_matches_ref);
    T_RUN(test_bf16_dp_reference);
    T_RUN(test_gemm_x16_matches_ref);
    T_RUN(test_swiglu);
    T_RUN(test_gemm_float_blocks);
    T_RUN(test_f32t_layout);
    T_RUN(test_f32x4_layout);
    T_RUN(test_gemm_k_extremes);
    T_RUN(test_gemm_legacy_extremes);
    return T_DONE();
}
