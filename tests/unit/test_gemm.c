/* test_gemm.c — every SIMD tile kernel (kernels/gemm.h) and attention row
 * kernel (kernels/attn_kernels.h) against its scalar reference, bit for bit,
 * at odd sizes: rows not a multiple of the 8-row groups, token counts that
 * leave every tile width's remainder, inner sizes with tails, D with tails.
 * The references do the same integer sums and the same fused multiply-add
 * chains in the same order, so any difference is a bug, not rounding.
 *
 * The references themselves are checked against plain double-precision
 * sums (what the numbers mean): q8s activations dequantize to within half a
 * step of x, tile kernels agree with a dequantize-and-dot in double, the
 * exponential stays within 3e-7 of exp(), and the softmax pieces compose to
 * the textbook formula. Skips (visibly) when the CPU has no AVX2. */
#include <stdint.h>

#include "kernels/attn_kernels.h"
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
        if (kern->act == SL_ACT_F32) memcpy(xq + (size_t)t * *x_row, x + (size_t)t * K, (size_t)K * sizeof *x);
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
        for (int k = 0; k < K; k++)
            xd[k] = kr->act == SL_ACT_F32 ? x[(size_t)tk * K + k]
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
    const sl_type types[] = {SL_TYPE_Q4_0, SL_TYPE_Q8_0, SL_TYPE_F32, SL_TYPE_F16};
    const int Ns[] = {1, 7, 8, 9, 17, 35};
    const int Ts[] = {1, 2, 3, 4, 5, 9, 13};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        const bool q = types[i] == SL_TYPE_Q4_0 || types[i] == SL_TYPE_Q8_0;
        const int Ks[] = {q ? 32 : 5, q ? 96 : 13, q ? 1056 : 1031};
        for (size_t a = 0; a < sizeof Ns / sizeof Ns[0]; a++)
            for (size_t b = 0; b < sizeof Ts / sizeof Ts[0]; b++)
                for (size_t c = 0; c < 3; c++) check_gemm(types[i], Ns[a], Ts[b], Ks[c]);
    }
}

/* q4_K: the tile is the active vec_dot's arithmetic per output (the same
 * bits), and close to the reference vec_dot (float order differs). */
static void test_gemm_q4_k(void) {
    if (!have_simd()) T_SKIP("no AVX2 on this CPU");
    const int K = 768, Ns[] = {1, 5, 9}, Ts[] = {1, 3, 4, 7};
    const sl_gemm_kernel *kern = sl_gemm_get(SL_TYPE_Q4_K);
    T_CHECK(kern && kern->act == SL_ACT_Q8K, "q4_K has a q8_K tile kernel");
    if (!kern) return;
    const sl_type_traits *tr = sl_type_get(SL_TYPE_Q4_K), *ref = sl_type_get_ref(SL_TYPE_Q4_K);
    for (size_t a = 0; a < 3; a++)
        for (size_t b = 0; b < 4; b++) {
            const int N = Ns[a], T = Ts[b];
            char *W = make_w(SL_TYPE_Q4_K, N, K, 1.0f);
            float *x = malloc((size_t)T * K * sizeof *x);
            for (int i = 0; i < T * K; i++) x[i] = t_rand_f(&g_seed) * 2;
            size_t x_row;
            char *xq = make_x(kern, sl_act_quant_get(kern->act), x, T, K, &x_row);
            const size_t w_row = sl_row_size(SL_TYPE_Q4_K, K);
            float *y = malloc((size_t)T * N * sizeof *y);
            kern->gemm(y, (size_t)N, W, w_row, xq, x_row, N, T, K, false);
            for (int t = 0; t < T; t++)
                for (int r = 0; r < N; r++) {
                    float v, vr;
                    tr->vec_dot(&v, W + (size_t)r * w_row, xq + (size_t)t * x_row, K);
                    ref->vec_dot(&vr, W + (size_t)r * w_row, xq + (size_t)t * x_row, K);
                    T_CHECK(!memcmp(&v, &y[(size_t)t * N + r], sizeof v), "N=%d T=%d y[%d][%d] %.9g, vec_dot %.9g", N,
                            T, t, r, y[(size_t)t * N + r], v);
                    T_CHECK(fabs((double)vr - v) <= 1e-4 * fmax(1.0, fabs(vr)), "ref vec_dot %.9g vs %.9g", vr, v);
                }
            free(W), free(x), free(xq), free(y);
        }
}

/* Types without a tile kernel must say so (matmul then uses vec_dot). */
static void test_gemm_table(void) {
    T_CHECK(sl_gemm_get(SL_TYPE_Q4_1) == NULL && sl_gemm_get(SL_TYPE_Q6_K) == NULL, "unexpected kernels");
    T_CHECK(sl_gemm_get_ref(SL_TYPE_Q4_0) && sl_gemm_get_ref(SL_TYPE_Q4_0)->act == SL_ACT_Q8S, "q4_0 reads q8s");
    T_CHECK(sl_gemm_get_ref(SL_TYPE_F16) && sl_gemm_get_ref(SL_TYPE_F16)->act == SL_ACT_F32, "f16 reads f32");
    T_CHECK(sl_act_row_bytes(SL_ACT_Q8S, 64) == 128 && sl_act_row_bytes(SL_ACT_F32, 5) == 20, "row bytes");
}

/* ---- attention row kernels ---- */

/* n rows of D values of cache type kt, stride bytes apart, from f in [-1, 1). */
static char *make_rows(int kt, int n, int D, size_t *stride) {
    const size_t row = kt == 0 ? (size_t)D * 4 : kt == 1 ? (size_t)D * 2 : sl_row_size(SL_TYPE_Q8_0, D);
    *stride = row + (kt == 2 ? 34 : 8); /* gaps: rows of other heads */
    char *p = calloc((size_t)n, *stride);
    float *f = malloc((size_t)D * sizeof *f);
    for (int i = 0; i < n; i++) {
        for (int d = 0; d < D; d++) f[d] = t_rand_f(&g_seed);
        sl_attn_kernels_ref()->row[kt].store(p + (size_t)i * *stride, f, D);
    }
    free(f);
    return p;
}

static void test_attn_simd_matches_ref(void) {
    if (!have_simd() || !sl_attn_kernels_avx2()) T_SKIP("no AVX2 on this CPU");
    const sl_attn_kernels *R = sl_attn_kernels_ref(), *S = sl_attn_kernels_avx2();
    const int Ds[] = {8, 12, 32, 64, 96, 128, 200};
    const int ns[] = {1, 7, 8, 9, 100};
    for (int kt = 0; kt < 3; kt++)
        for (size_t a = 0; a < sizeof Ds / sizeof Ds[0]; a++) {
            const int D = Ds[a];
            if (kt == 2 && D % 32) continue;
            for (size_t b = 0; b < sizeof ns / sizeof ns[0]; b++) {
                const int n = ns[b];
                size_t stride;
                char *K = make_rows(kt, n, D, &stride), *V = make_rows(kt, n, D, &stride);
                float *q = malloc((size_t)D * sizeof *q), s0[100], s1[100];
                for (int d = 0; d < D; d++) q[d] = t_rand_f(&g_seed) * 3;
                R->row[kt].scores(s0, q, K, stride, n, D, 0.125f);
                S->row[kt].scores(s1, q, K, stride, n, D, 0.125f);
                T_CHECK(!memcmp(s0, s1, (size_t)n * sizeof *s0), "type %d D=%d n=%d: scores differ", kt, D, n);
                T_CHECK(R->max(s0, n) == S->max(s0, n), "max differs n=%d", n);
                float e0[100], e1[100];
                memcpy(e0, s0, sizeof e0);
                memcpy(e1, s0, sizeof e1);
                const float m = R->max(s0, n);
                const float z0 = R->exp_sum(e0, n, m), z1 = S->exp_sum(e1, n, m);
                T_CHECK(z0 == z1 && !memcmp(e0, e1, (size_t)n * sizeof *e0), "exp_sum differs n=%d", n);
                float *o0 = calloc((size_t)D, sizeof *o0), *o1 = calloc((size_t)D, sizeof *o1);
                for (int d = 0; d < D; d++) o0[d] = o1[d] = (float)d;
                R->row[kt].accum(o0, e0, V, stride, n, D);
                S->row[kt].accum(o1, e0, V, stride, n, D);
                T_CHECK(!memcmp(o0, o1, (size_t)D * sizeof *o0), "type %d D=%d n=%d: accum differs", kt, D, n);
                /* stores: the SIMD converters give the reference's bytes */
                char r0[1024], r1[1024];
                R->row[kt].store(r0, q, D);
                S->row[kt].store(r1, q, D);
                T_CHECK(!memcmp(r0, r1, kt == 0 ? (size_t)D * 4 : kt == 1 ? (size_t)D * 2 : sl_row_size(SL_TYPE_Q8_0, D)),
                        "type %d D=%d: store differs", kt, D);
                free(K), free(V), free(q), free(o0), free(o1);
            }
        }
}

/* What the references mean: dot products and weighted sums in double. */
static void test_attn_ref_semantics(void) {
    const sl_attn_kernels *R = sl_attn_kernels_ref();
    const int D = 64, n = 37;
    for (int kt = 0; kt < 3; kt++) {
        size_t stride;
        char *K = make_rows(kt, n, D, &stride);
        float q[64], s[37], row[64];
        for (int d = 0; d < D; d++) q[d] = t_rand_f(&g_seed);
        R->row[kt].scores(s, q, K, stride, n, D, 0.5f);
        for (int i = 0; i < n; i++) {
            const char *kr = K + (size_t)i * stride;
            if (kt == 0) memcpy(row, kr, sizeof row);
            else sl_type_get_ref(kt == 1 ? SL_TYPE_F16 : SL_TYPE_Q8_0)->to_float(row, kr, D);
            double want = 0;
            for (int d = 0; d < D; d++) want += (double)q[d] * row[d];
            T_CLOSE(s[i], want * 0.5, 1e-5, "score");
        }
        float w[37], o[64] = {0};
        for (int i = 0; i < n; i++) w[i] = (float)(i + 1) / n;
        R->row[kt].accum(o, w, K, stride, n, D);
        for (int d = 0; d < D; d++) {
            double want = 0;
            for (int i = 0; i < n; i++) {
                const char *kr = K + (size_t)i * stride;
                if (kt == 0) memcpy(row, kr, sizeof row);
                else sl_type_get_ref(kt == 1 ? SL_TYPE_F16 : SL_TYPE_Q8_0)->to_float(row, kr, D);
                want += (double)w[i] * row[d];
            }
            T_CLOSE(o[d], want, 1e-5, "accum");
        }
        free(K);
    }
    /* the exponential over the range softmax feeds it, and its clamp */
    double worst = 0;
    for (int i = 0; i <= 100000; i++) {
        const float x = -87.0f * (float)i / 100000;
        const double rel = fabs(sl_attn_expf(x) - exp((double)x)) / exp((double)x);
        worst = fmax(worst, rel);
    }
    T_CHECK(worst < 3e-7, "exp relative error %.3g", worst);
    T_CHECK(sl_attn_expf(-1000.0f) > 0 && sl_attn_expf(-1000.0f) < 2e-38f, "clamped below");
    T_CHECK(sl_attn_expf(0.0f) == 1.0f, "exp(0) = %g", sl_attn_expf(0.0f));
    float e[5] = {1, 2, 3, 4, 5};
    const float z = R->exp_sum(e, 5, 5);
    double want = 0;
    for (int i = 0; i < 5; i++) want += exp(i + 1.0 - 5);
    T_CLOSE(z, want, 1e-6, "exp_sum");
}

int main(void) {
    T_RUN(test_q8s_quantizer);
    T_RUN(test_gemm_table);
    T_RUN(test_gemm_simd_matches_ref);
    T_RUN(test_gemm_q4_k);
    T_RUN(test_attn_simd_matches_ref);
    T_RUN(test_attn_ref_semantics);
    return T_DONE();
}
