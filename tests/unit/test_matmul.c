/* test_matmul.c — sl_matmul (quantized activations, threads, token tiles)
 * against sl_matmul_ref (dequantized weights, f32 activations, double sums)
 * for every weight type, T in {1, 3, 17}, 1 and 3 threads, N not a multiple
 * of anything and large enough to cross several weight tiles.
 *
 * Tolerance, per output (t, r): the only approximation sl_matmul makes
 * besides float summation is quantizing x to the weight's vec_dot_type
 * (q8_0/q8_1 blocks of 32, q8_K blocks of 256): each x_k moves by at most
 * half a step d/2 = amax_blk/254, plus the f16 rounding of d (127 levels *
 * d * 2^-11 = amax_blk * 2^-11). So
 *   |y - y_ref| <= sum_k |w_rk| * e_k + 1e-5 * sum_k |w_rk x_tk|
 * with e_k = 0 for the float types, which take x as is. */
#include "core/thread_pool.h"
#include "kernels/gemm.h"
#include "kernels/matmul.h"
#include "tensor/quant.h"
#include "test_util.h"

static const sl_type TYPES[] = {SL_TYPE_F32,  SL_TYPE_F16,  SL_TYPE_BF16, SL_TYPE_Q4_0,
                                SL_TYPE_Q4_1, SL_TYPE_Q5_0, SL_TYPE_Q5_1, SL_TYPE_Q8_0,
                                SL_TYPE_Q4_K, SL_TYPE_Q5_K, SL_TYPE_Q6_K};

static unsigned long long g_seed = 12345;

/* Inner sizes: not multiples of the SIMD widths beyond the block size. */
static int k_for(sl_type t) {
    int b = sl_type_block_size(t);
    return b == 256 ? 2816 : b == 32 ? 1056 + 32 * 3 : 1031;
}

/* Per-element bound on how far quantizing x moves it, see the header. */
static void act_error(sl_type vdt, const float *x, int K, float *e) {
    const int blk = vdt == SL_TYPE_Q8_K ? 256 : vdt == SL_TYPE_F32 ? 0 : 32;
    if (!blk) {
        for (int k = 0; k < K; k++) e[k] = 0;
        return;
    }
    for (int b = 0; b < K / blk; b++) {
        float amax = 0;
        for (int k = 0; k < blk; k++) amax = fmaxf(amax, fabsf(x[b * blk + k]));
        for (int k = 0; k < blk; k++) e[b * blk + k] = amax / 254 * 1.001f + amax / 2048;
    }
}

static void check_type(sl_type t, sl_pool *pool, int nth) {
    const sl_type_traits *tr = sl_type_get(t), *ref = sl_type_get_ref(t);
    const int K = k_for(t), N = 67;
    const int Ts[] = {1, 3, 17};
    const size_t w_row = sl_row_size(t, K);
    float *wf = malloc((size_t)N * K * sizeof *wf), *wd = malloc((size_t)K * sizeof *wd);
    char *W = malloc((size_t)N * w_row);
    for (size_t i = 0; i < (size_t)N * K; i++) wf[i] = t_rand_f(&g_seed) * 0.5f;
    for (int r = 0; r < N; r++) ref->from_float(W + r * w_row, wf + (size_t)r * K, K);
    float *x = malloc((size_t)17 * K * sizeof *x), *e = malloc((size_t)K * sizeof *e);
    for (size_t i = 0; i < (size_t)17 * K; i++) x[i] = t_rand_f(&g_seed) * 2;
    float *y = malloc((size_t)17 * N * sizeof *y), *yr = malloc((size_t)17 * N * sizeof *yr);
    float *y1 = malloc((size_t)N * sizeof *y1);
    sl_matmul_scratch scratch = {0};
    double worst = 0;
    for (size_t ti = 0; ti < sizeof Ts / sizeof Ts[0]; ti++) {
        const int T = Ts[ti];
        T_CHECK(sl_matmul(pool, &scratch, y, W, t, x, T, N, K) == 0, "%s T=%d failed", tr->name, T);
        sl_matmul_ref(yr, W, t, x, T, N, K);
        for (int tk = 0; tk < T; tk++) {
            act_error(tr->vec_dot_type, x + (size_t)tk * K, K, e);
            /* the same token alone (T = 1, single thread) must give the same bits */
            T_CHECK(sl_matmul(NULL, &scratch, y1, W, t, x + (size_t)tk * K, 1, N, K) == 0, "T=1");
            T_CHECK(!memcmp(y1, y + (size_t)tk * N, (size_t)N * sizeof *y1),
                    "%s T=%d threads=%d: token %d differs from running it alone", tr->name, T, nth, tk);
            for (int r = 0; r < N; r++) {
                ref->to_float(wd, W + r * w_row, K);
                double tol = 0, mag = 0;
                for (int k = 0; k < K; k++) {
                    tol += fabs(wd[k]) * e[k];
                    mag += fabs((double)wd[k] * x[(size_t)tk * K + k]);
                }
                tol += 1e-5 * mag + 1e-6;
                const double err = fabs((double)y[(size_t)tk * N + r] - yr[(size_t)tk * N + r]);
                worst = fmax(worst, err / tol);
                if (err > tol) {
                    T_CHECK(0, "%s T=%d threads=%d y[%d][%d] = %.7g, ref %.7g (tol %.3g)", tr->name, T, nth, tk, r,
                            y[(size_t)tk * N + r], yr[(size_t)tk * N + r], tol);
                    goto done;
                }
            }
        }
    }
done:
    printf("  %-5s threads=%d K=%d: worst error %.3f of tolerance\n", tr->name, nth, K, worst);
    sl_matmul_scratch_free(&scratch);
    free(wf), free(wd), free(W), free(x), free(e), free(y), free(yr), free(y1);
}

static void run_all(int nth) {
    sl_pool *pool = NULL;
    sl_error err;
    T_CHECK(sl_pool_create(&pool, nth, &err) == SL_OK, "pool: %s", err.msg);
    if (!pool) return;
    for (size_t i = 0; i < sizeof TYPES / sizeof TYPES[0]; i++) check_type(TYPES[i], pool, nth);
    sl_pool_free(pool);
}

static void test_matmul_1_thread(void) { run_all(1); }
static void test_matmul_3_threads(void) { run_all(3); }

/* More threads than rows: every row still computed once. */
static void test_matmul_few_rows(void) {
    sl_pool *pool = NULL;
    sl_error err;
    T_CHECK(sl_pool_create(&pool, 4, &err) == SL_OK, "pool");
    if (!pool) return;
    const int K = 64, N = 2, T = 5;
    float W[2 * 64], x[5 * 64], y[5 * 2], yr[5 * 2];
    for (int i = 0; i < N * K; i++) W[i] = t_rand_f(&g_seed);
    for (int i = 0; i < T * K; i++) x[i] = t_rand_f(&g_seed);
    sl_matmul_scratch s = {0};
    T_CHECK(sl_matmul(pool, &s, y, W, SL_TYPE_F32, x, T, N, K) == 0, "f32");
    sl_matmul_ref(yr, W, SL_TYPE_F32, x, T, N, K);
    for (int i = 0; i < T * N; i++) T_CLOSE(y[i], yr[i], 1e-5, "f32 few rows");
    sl_matmul_scratch_free(&s);
    sl_matmul_scratch_free(&s); /* twice is fine */
    sl_pool_free(pool);
}

/* Repacked (x8) parts in a fused product over a pool: q, k and v of
 * different types (so of two activation formats) and a residual add, and
 * a SwiGLU pair, give the bits of the same product on the rows as stored,
 * whatever the thread count. */
static void test_matmul_x8_parts(void) {
    if (!sl_gemm_get_x8(SL_TYPE_Q4_0) || !sl_gemm_get_x8(SL_TYPE_Q8_0) || !sl_gemm_get_x8(SL_TYPE_F16))
        T_SKIP("no x8 kernels on this CPU");
    const int K = 256, T = 7;
    const sl_type types[3] = {SL_TYPE_Q4_0, SL_TYPE_Q8_0, SL_TYPE_F16};
    const int Ns[3] = {64, 24, 136};
    char *W[3], *P[3];
    float *x = malloc((size_t)T * K * sizeof *x), *f = malloc((size_t)K * sizeof *f);
    for (int i = 0; i < T * K; i++) x[i] = t_rand_f(&g_seed);
    for (int p = 0; p < 3; p++) {
        const size_t row = sl_row_size(types[p], K);
        W[p] = malloc((size_t)Ns[p] * row), P[p] = malloc((size_t)Ns[p] * row);
        for (int r = 0; r < Ns[p]; r++) {
            for (int k = 0; k < K; k++) f[k] = t_rand_f(&g_seed);
            sl_type_get(types[p])->from_float(W[p] + (size_t)r * row, f, K);
        }
        T_CHECK(sl_repack_x8(types[p], P[p], W[p], Ns[p], K), "repack %d", p);
    }
    for (int nth = 1; nth <= 3; nth += 2) {
        sl_pool *pool = NULL;
        sl_error err;
        T_CHECK(sl_pool_create(&pool, nth, &err) == SL_OK, "pool");
        sl_matmul_scratch s = {0};
        float *y[2][3];
        for (int v = 0; v < 2; v++) {
            sl_mm_part parts[3];
            for (int p = 0; p < 3; p++) {
                y[v][p] = malloc((size_t)T * Ns[p] * sizeof(float));
                for (int i = 0; i < T * Ns[p]; i++) y[v][p][i] = (float)i; /* for the residual add */
                parts[p] = (sl_mm_part){.W = v ? P[p] : W[p], .type = types[p], .N = Ns[p], .y = y[v][p],
                                        .ldy = (size_t)Ns[p], .acc = p == 2, .group = v == 1 ? SL_ROWS_X8 : 0};
            }
            T_CHECK(sl_matmul_parts(pool, &s, x, T, K, parts, 3, SL_MM_PLAIN) == 0, "x8=%d parts", v);
        }
        for (int p = 0; p < 3; p++)
            T_CHECK(!memcmp(y[0][p], y[1][p], (size_t)T * Ns[p] * sizeof(float)), "%d threads: part %d differs", nth, p);
        /* SwiGLU: gate and up (the first 64 rows of the f16 part), both repacked */
        for (int v = 0; v < 2; v++) {
            const sl_mm_part gu[2] = {{.W = v ? P[0] : W[0], .type = SL_TYPE_Q4_0, .N = 64, .y = y[v][0], .ldy = 64, .group = v == 1 ? SL_ROWS_X8 : 0},
                                      {.W = v ? P[2] : W[2], .type = types[2], .N = 64, .y = y[v][2], .ldy = 64, .group = v == 1 ? SL_ROWS_X8 : 0}};
            T_CHECK(sl_matmul_parts(pool, &s, x, T, K, gu, 2, SL_MM_SWIGLU) == 0, "x8=%d swiglu", v);
        }
        T_CHECK(!memcmp(y[0][0], y[1][0], (size_t)T * 64 * sizeof(float)), "%d threads: SwiGLU differs", nth);
        /* an x8 part must cover whole groups */
        const sl_mm_part bad = {.W = P[0], .type = SL_TYPE_Q4_0, .N = 60, .y = y[0][0], .ldy = 60, .group = SL_ROWS_X8};
        T_CHECK(sl_matmul_parts(pool, &s, x, T, K, &bad, 1, SL_MM_PLAIN) == -1, "x8 with N %% 8 != 0 accepted");
        const sl_mm_part none = {.W = P[0], .type = SL_TYPE_Q3_K, .N = 8, .y = y[0][0], .ldy = 8, .group = SL_ROWS_X8};
        T_CHECK(sl_matmul_parts(pool, &s, x, T, K, &none, 1, SL_MM_PLAIN) == -1, "x8 without a kernel accepted");
        for (int v = 0; v < 2; v++)
            for (int p = 0; p < 3; p++) free(y[v][p]);
        sl_matmul_scratch_free(&s);
        sl_pool_free(pool);
    }
    for (int p = 0; p < 3; p++) free(W[p]), free(P[p]);
    free(x), free(f);
}

static void test_matmul_errors(void) {
    sl_matmul_scratch s = {0};
    float y[4] = {0}, x[96] = {0};
    char W[256] = {0};
    T_CHECK(sl_matmul(NULL, &s, y, W, SL_TYPE_Q4_0, x, 1, 1, 48) == -1, "K not a multiple of 32");
    T_CHECK(sl_matmul(NULL, &s, y, W, SL_TYPE_Q2_K, x, 1, 1, 256) == -1, "unsupported type");
    T_CHECK(sl_matmul(NULL, &s, y, W, (sl_type)4, x, 1, 1, 32) == -1, "unknown type");
    T_CHECK(sl_matmul(NULL, &s, y, W, SL_TYPE_Q4_0, x, 0, 1, 32) == 0, "T = 0 is a no-op");
    sl_matmul_scratch_free(&s);
}

int main(void) {
    T_RUN(test_matmul_1_thread);
    T_RUN(test_matmul_3_threads);
    T_RUN(test_matmul_few_rows);
    T_RUN(test_matmul_x8_parts);
    T_RUN(test_matmul_errors);
    return T_DONE();
}
