/* test_attn_kernels.c — the attention row kernels (kernels/attn_kernels.h):
 * the AVX2 table against the scalar references, bit for bit, and the
 * references against what they mean (sums in double).
 *
 * Sizes are chosen to reach every path of the SIMD kernels: head_dim with
 * and without a tail of D % 8 (1..7, 12, 200) and with 1..8+ registers of
 * columns (8..200); key counts of 1 and 2 (keys alone), 3..7 (a short group
 * padded with its last row), 8, 16 (whole groups), 9..23 (groups and a
 * tail), and long runs where rows are prefetched. Rows sit stride bytes
 * apart with gaps between them, as the heads of a cache row do. Weighted
 * sums take their keys cut into runs of odd lengths, and must give the bits
 * of one whole run. */
#include <stdint.h>

#include "kernels/attn_kernels.h"
#include "kernels/quant_isa.h"
#include "tensor/quant.h"
#include "tensor/quant_blocks.h"
#include "test_util.h"

static unsigned long long g_seed = 4242;

static const char *KT_NAME[3] = {"f32", "f16", "q8_0"};

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

/* Row i of make_rows as floats. */
static void row_floats(float *out, int kt, const char *rows, size_t stride, int i, int D) {
    const char *r = rows + (size_t)i * stride;
    if (kt == 0) memcpy(out, r, (size_t)D * sizeof *out);
    else sl_type_get_ref(kt == 1 ? SL_TYPE_F16 : SL_TYPE_Q8_0)->to_float(out, r, D);
}

#define MAXN 300
#define MAX_RUNS 6

/* The n rows at V cut into runs of odd lengths (1, 2, 3, 5, ... as n
 * allows; variant 0: a short first run, 1: a long one), as the pinned
 * prefix, the ring's two parts and the batch's rows cut a query's keys. */
static int split_runs(sl_attn_rows *r, const char *V, size_t stride, int n, int variant) {
    static const int LEN[2][MAX_RUNS - 1] = {{1, 2, 3, 5, 7}, {13, 1, 6, 2, 3}};
    int nr = 0, at = 0;
    for (int j = 0; j < MAX_RUNS - 1 && at < n; j++) {
        const int len = LEN[variant][j] < n - at ? LEN[variant][j] : n - at;
        r[nr++] = (sl_attn_rows){V + (size_t)at * stride, len};
        at += len;
    }
    if (at < n) r[nr++] = (sl_attn_rows){V + (size_t)at * stride, n - at};
    return nr;
}

static void test_simd_matches_ref(void) {
    const bool simd = sl_simd_active() == SL_SIMD_AVX2 || sl_simd_active() == SL_SIMD_AVX512;
    if (!simd || !sl_attn_kernels_avx2()) T_SKIP("no AVX2 on this CPU");
    const sl_attn_kernels *R = sl_attn_kernels_ref(), *S = sl_attn_kernels_avx2();
    const int Ds[] = {1, 2, 3, 5, 7, 8, 12, 16, 24, 32, 40, 64, 72, 96, 128, 200};
    const int ns[] = {1, 2, 3, 4, 5, 7, 8, 9, 10, 15, 16, 17, 23, 64, 100, MAXN};
    const float wss[] = {1.0f, 0.3712f};
    int cases = 0;
    for (int kt = 0; kt < 3; kt++)
        for (size_t a = 0; a < sizeof Ds / sizeof Ds[0]; a++) {
            const int D = Ds[a];
            if (kt == 2 && D % 32) continue;
            for (size_t b = 0; b < sizeof ns / sizeof ns[0]; b++) {
                const int n = ns[b];
                size_t stride;
                char *K = make_rows(kt, n, D, &stride), *V = make_rows(kt, n, D, &stride);
                float *q = malloc((size_t)D * sizeof *q), s0[MAXN + 8], s1[MAXN + 8];
                for (int d = 0; d < D; d++) q[d] = t_rand_f(&g_seed) * 3;
                /* canaries past n: the padded short groups must not store there */
                for (int i = 0; i < MAXN + 8; i++) s0[i] = s1[i] = -7.0f;
                R->row[kt].scores(s0, q, K, stride, n, D, 0.125f);
                S->row[kt].scores(s1, q, K, stride, n, D, 0.125f);
                T_CHECK(!memcmp(s0, s1, (size_t)(n + 8) * sizeof *s0), "%s D=%d n=%d: scores differ (or past n)",
                        KT_NAME[kt], D, n);
                T_CHECK(R->max(s0, n) == S->max(s0, n), "max differs n=%d", n);
                float e0[MAXN], e1[MAXN];
                memcpy(e0, s0, (size_t)n * sizeof *e0);
                memcpy(e1, s0, (size_t)n * sizeof *e1);
                const float m = R->max(s0, n);
                const float z0 = R->exp_sum(e0, n, m), z1 = S->exp_sum(e1, n, m);
                T_CHECK(z0 == z1 && !memcmp(e0, e1, (size_t)n * sizeof *e0), "exp_sum differs n=%d", n);
                for (size_t c = 0; c < sizeof wss / sizeof wss[0]; c++) {
                    float *o0 = calloc((size_t)D + 1, sizeof *o0), *o1 = calloc((size_t)D + 1, sizeof *o1);
                    for (int d = 0; d <= D; d++) o0[d] = o1[d] = (float)d; /* o[D]: a canary */
                    sl_attn_rows splits[MAX_RUNS];
                    const int nr = split_runs(splits, V, stride, n, (int)c);
                    R->row[kt].accum(o0, e0, wss[c], splits, nr, stride, D);
                    S->row[kt].accum(o1, e0, wss[c], splits, nr, stride, D);
                    T_CHECK(!memcmp(o0, o1, (size_t)(D + 1) * sizeof *o0), "%s D=%d n=%d ws=%g %d runs: accum differs",
                            KT_NAME[kt], D, n, (double)wss[c], nr);
                    T_CHECK(o1[D] == (float)D, "accum wrote past D");
                    /* one run or several: the same bits */
                    const sl_attn_rows whole = {V, n};
                    R->row[kt].accum(o0, e0, wss[c], &whole, 1, stride, D);
                    T_CHECK(!memcmp(o0, o1, (size_t)D * sizeof *o0), "%s D=%d n=%d: runs change the sum", KT_NAME[kt],
                            D, n);
                    free(o0), free(o1);
                }
                /* stores: the SIMD converters give the reference's bytes */
                char r0[1024], r1[1024];
                R->row[kt].store(r0, q, D);
                S->row[kt].store(r1, q, D);
                T_CHECK(!memcmp(r0, r1, kt == 0 ? (size_t)D * 4 : kt == 1 ? (size_t)D * 2 : sl_row_size(SL_TYPE_Q8_0, D)),
                        "%s D=%d: store differs", KT_NAME[kt], D);
                free(K), free(V), free(q);
                cases++;
            }
        }
    T_CHECK(cases > 200, "only %d cases ran", cases);
}

/* The group ops (the heads of a kv group at once): for 1..8 heads, the
 * AVX2 table gives the bits of the one-head reference ops head by head
 * (scores; weighted sums with ws = 1 over keys cut into runs), stores
 * nothing past n keys or past nh heads, and the reference group ops are
 * that definition. Key counts reach blocks of 8 keys and the tails, and
 * more than one value block (32 keys) with runs that cut blocks. */
static void test_group_ops(void) {
    const bool simd = sl_simd_active() == SL_SIMD_AVX2 || sl_simd_active() == SL_SIMD_AVX512;
    const sl_attn_kernels *R = sl_attn_kernels_ref(), *S = simd ? sl_attn_kernels_avx2() : NULL;
    if (!S) T_SKIP("no AVX2 on this CPU");
    const int Ds[] = {8, 12, 32, 40, 64, 128};
    const int ns[] = {1, 3, 8, 9, 17, 33, 70};
    const int H = SL_ATTN_GROUP, LD = 80; /* rows of s and w: past n, canaries */
    int cases = 0;
    for (int kt = 0; kt < 3; kt++)
        for (size_t a = 0; a < sizeof Ds / sizeof Ds[0]; a++) {
            const int D = Ds[a];
            if (kt == 2 && D % 32) continue;
            for (size_t b = 0; b < sizeof ns / sizeof ns[0]; b++) {
                const int n = ns[b];
                size_t stride;
                char *K = make_rows(kt, n, D, &stride), *V = make_rows(kt, n, D, &stride);
                float *q = malloc((size_t)(H + 1) * D * sizeof *q);
                const float *qh[SL_ATTN_GROUP];
                for (int i = 0; i < (H + 1) * D; i++) q[i] = t_rand_f(&g_seed) * 3;
                for (int h = 0; h < H; h++) qh[h] = q + (size_t)h * D;
                float *s0 = malloc((size_t)(H + 1) * LD * sizeof *s0), *s1 = malloc((size_t)(H + 1) * LD * sizeof *s1);
                float *o0 = malloc((size_t)(H + 1) * D * sizeof *o0), *o1 = malloc((size_t)(H + 1) * D * sizeof *o1);
                sl_attn_rows runs[MAX_RUNS];
                const int nr = split_runs(runs, V, stride, n, (int)(b & 1));
                for (int nh = 1; nh <= H; nh++) {
                    for (int i = 0; i < (H + 1) * LD; i++) s0[i] = s1[i] = -7.0f;
                    for (int i = 0; i < (H + 1) * D; i++) o0[i] = o1[i] = 3.5f;
                    S->row[kt].scores_group(s1, LD, qh, nh, K, stride, n, D, 0.125f);
                    for (int h = 0; h < nh; h++) R->row[kt].scores(s0 + (size_t)h * LD, qh[h], K, stride, n, D, 0.125f);
                    T_CHECK(!memcmp(s0, s1, (size_t)(H + 1) * LD * sizeof *s0), "%s D=%d n=%d nh=%d: group scores differ",
                            KT_NAME[kt], D, n, nh);
                    for (int i = 0; i < (H + 1) * LD; i++) s1[i] = -7.0f;
                    R->row[kt].scores_group(s1, LD, qh, nh, K, stride, n, D, 0.125f);
                    T_CHECK(!memcmp(s0, s1, (size_t)(H + 1) * LD * sizeof *s0), "%s D=%d n=%d nh=%d: ref group scores differ",
                            KT_NAME[kt], D, n, nh);
                    for (int h = 0; h < nh; h++) /* weights as attention makes them: exp, scaled */
                        for (int i = 0; i < n; i++) s0[(size_t)h * LD + i] = s1[(size_t)h * LD + i] = 0.01f + 0.9f * t_rand_f(&g_seed) * t_rand_f(&g_seed);
                    S->row[kt].accum_group(o1, (size_t)D, s1, LD, nh, runs, nr, stride, D);
                    for (int h = 0; h < nh; h++) R->row[kt].accum(o0 + (size_t)h * D, s0 + (size_t)h * LD, 1.0f, runs, nr, stride, D);
                    T_CHECK(!memcmp(o0, o1, (size_t)(H + 1) * D * sizeof *o0), "%s D=%d n=%d nh=%d %d runs: group accum differs",
                            KT_NAME[kt], D, n, nh, nr);
                    /* the reference group ops are the per-head ops */
                    R->row[kt].accum_group(o1, (size_t)D, s0, LD, nh, runs, nr, stride, D);
                    T_CHECK(!memcmp(o0, o1, (size_t)(H + 1) * D * sizeof *o0), "%s D=%d nh=%d: ref group accum differs",
                            KT_NAME[kt], D, nh);
                    cases++;
                }
                free(K), free(V), free(q), free(s0), free(s1), free(o0), free(o1);
            }
        }
    T_CHECK(cases > 300, "only %d cases ran", cases);
}

/* What the references mean: dot products and weighted sums in double. */
static void test_ref_semantics(void) {
    const sl_attn_kernels *R = sl_attn_kernels_ref();
    const int Ds[] = {8, 7, 64};
    const int n = 37;
    for (size_t a = 0; a < sizeof Ds / sizeof Ds[0]; a++)
        for (int kt = 0; kt < 3; kt++) {
            const int D = Ds[a];
            if (kt == 2 && D % 32) continue;
            size_t stride;
            char *K = make_rows(kt, n, D, &stride);
            float q[64], s[37], row[64];
            for (int d = 0; d < D; d++) q[d] = t_rand_f(&g_seed);
            R->row[kt].scores(s, q, K, stride, n, D, 0.5f);
            for (int i = 0; i < n; i++) {
                row_floats(row, kt, K, stride, i, D);
                double want = 0;
                for (int d = 0; d < D; d++) want += (double)q[d] * row[d];
                T_CLOSE(s[i], want * 0.5, 1e-5, "score");
            }
            float w[37], o[64] = {0};
            const float ws = 1.0f / 3;
            for (int i = 0; i < n; i++) w[i] = (float)(i + 1) / n;
            sl_attn_rows runs[MAX_RUNS];
            R->row[kt].accum(o, w, ws, runs, split_runs(runs, K, stride, n, 0), stride, D);
            for (int d = 0; d < D; d++) {
                double want = 0;
                for (int i = 0; i < n; i++) {
                    row_floats(row, kt, K, stride, i, D);
                    want += (double)w[i] * ws * row[d];
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
    T_CHECK(R->max(e, 5) == e[4] && R->max((const float[]){-3, -9, -1}, 3) == -1, "max");
}

int main(void) {
    T_RUN(test_simd_matches_ref);
    T_RUN(test_group_ops);
    T_RUN(test_ref_semantics);
    return T_DONE();
}
