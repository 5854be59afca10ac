/* test_train_grad.c — the trainer's backward pass against central finite
 * differences of its own forward loss, tensor by tensor: embedding (input and
 * tied output), RMSNorm weights, attention with RoPE (q, k, v, o), SwiGLU
 * (gate, up, down), the output norm; with plain softmax, with the zero-sink
 * (off-by-one) softmax, and with a sink token in front. Also the GEMM against
 * its double-precision reference, and the forward against the engine's. */
#include "test_util.h"

#include "core/thread_pool.h"
#include "train/gemm.h"
#include "train/train_model.h"

static sl_train_config tiny(bool zero_sink, int sink) {
    sl_train_config c = {.n_vocab = 19, .n_embd = 16, .n_layer = 2, .n_head = 2, .n_ff = 24,
                         .n_ctx = 6, .rms_eps = 1e-5f, .rope_base = 10000.0, .zero_sink = zero_sink,
                         .sink_token = sink};
    return c;
}

static double loss_of(sl_train_model *m, const int32_t *in, const int32_t *tg) {
    return sl_train_forward(m, in, tg, NULL, NULL);
}

typedef struct {
    const char *name;
    float *p, *g;
    size_t n;
} tensor_ref;

/* Compares analytic and numeric gradients on `samples` elements of each
 * tensor; returns the worst normalised error. */
static void check_grads(bool zero_sink, int sink, sl_pool *pool) {
    sl_train_config c = tiny(zero_sink, sink);
    sl_train_model m;
    sl_error err;
    /* A large init makes every non-linearity matter (attention far from uniform). */
    T_CHECK(sl_train_model_init(&m, &c, 2, pool, 7, 0.3f, &err) == SL_OK, "%s", err.msg);
    if (t_case_failed) return;
    const int M = 2 * c.n_ctx;
    int32_t in[12], tg[12];
    unsigned long long s = 99;
    for (int i = 0; i < M; i++) {
        in[i] = (int32_t)(t_rand_u64(&s) % (unsigned)c.n_vocab);
        tg[i] = (int32_t)(t_rand_u64(&s) % (unsigned)c.n_vocab);
    }
    if (sink >= 0) in[0] = in[c.n_ctx] = sink;
    tg[3] = -1; /* an ignored target contributes nothing */

    memset(m.grads, 0, m.n_params * sizeof(float));
    loss_of(&m, in, tg);
    sl_train_backward(&m, tg, 1.0f);

    const size_t E = (size_t)c.n_embd, F = (size_t)c.n_ff;
    sl_train_layer *W1 = &m.w.layers[1], *G1 = &m.gw.layers[1], *W0 = &m.w.layers[0],
                   *G0 = &m.gw.layers[0];
    tensor_ref ts[] = {
        {"tok_embd", m.w.tok_embd, m.gw.tok_embd, (size_t)c.n_vocab * E},
        {"output_norm", m.w.output_norm, m.gw.output_norm, E},
        {"l0.attn_norm", W0->attn_norm, G0->attn_norm, E},
        {"l0.wq", W0->wq, G0->wq, E * E},
        {"l0.wk", W0->wk, G0->wk, E * E},
        {"l0.wv", W0->wv, G0->wv, E * E},
        {"l0.wo", W0->wo, G0->wo, E * E},
        {"l0.ffn_norm", W0->ffn_norm, G0->ffn_norm, E},
        {"l0.w_gate", W0->w_gate, G0->w_gate, F * E},
        {"l0.w_up", W0->w_up, G0->w_up, F * E},
        {"l0.w_down", W0->w_down, G0->w_down, E * F},
        {"l1.wq", W1->wq, G1->wq, E * E},
        {"l1.wk", W1->wk, G1->wk, E * E},
        {"l1.attn_norm", W1->attn_norm, G1->attn_norm, E},
        {"l1.w_down", W1->w_down, G1->w_down, E * F},
    };
    double worst = 0, worst_dir = 0;
    const char *worst_name = "", *worst_dir_name = "";
    for (size_t t = 0; t < sizeof ts / sizeof ts[0]; t++) {
        double dot = 0, na = 0, nn = 0;
        for (int k = 0; k < 10; k++) {
            size_t i = (size_t)(t_rand_u64(&s) % ts[t].n);
            float keep = ts[t].p[i];
            /* Richardson: (4 D(h/2) - D(h)) / 3 cancels the h^2 term of the
             * central difference, so h can stay large against f32 noise. */
            double d[2];
            for (int r = 0; r < 2; r++) {
                const float h = r ? 5e-3f : 1e-2f;
                ts[t].p[i] = keep + h;
                double lp = loss_of(&m, in, tg);
                ts[t].p[i] = keep - h;
                double lm = loss_of(&m, in, tg);
                ts[t].p[i] = keep;
                d[r] = (lp - lm) / (2.0 * h);
            }
            double fd = (4 * d[1] - d[0]) / 3, an = ts[t].g[i];
            double e = fabs(fd - an) / (1e-3 + fabs(fd));
            if (e > worst) worst = e, worst_name = ts[t].name;
            T_CHECK(fabs(fd - an) <= 1e-3 + 2e-2 * fabs(fd), "%s[%zu]: analytic %.6g numeric %.6g "
                    "(zero_sink %d, sink %d)", ts[t].name, i, an, fd, zero_sink, sink);
            dot += fd * an, na += an * an, nn += fd * fd;
        }
        /* The derivative along the tensor's whole gradient direction must be
         * its norm: many small contributions add up, so this is far above
         * the f32 noise and catches a wrong term in any element. */
        {
            double gn = 0;
            for (size_t i = 0; i < ts[t].n; i++) gn += (double)ts[t].g[i] * ts[t].g[i];
            gn = sqrt(gn);
            float *keep = malloc(ts[t].n * sizeof(float));
            memcpy(keep, ts[t].p, ts[t].n * sizeof(float));
            double d[2];
            for (int r = 0; r < 2; r++) {
                double h = r ? 5e-3 : 1e-2, l[2];
                for (int sgn = 0; sgn < 2; sgn++) {
                    for (size_t i = 0; i < ts[t].n; i++)
                        ts[t].p[i] = keep[i] + (float)((sgn ? -h : h) * ts[t].g[i] / gn);
                    l[sgn] = loss_of(&m, in, tg);
                }
                d[r] = (l[0] - l[1]) / (2 * h);
            }
            memcpy(ts[t].p, keep, ts[t].n * sizeof(float));
            free(keep);
            double fd = (4 * d[1] - d[0]) / 3;
            T_CHECK(fabs(fd - gn) <= 5e-4 * gn + 1e-6, "%s: directional derivative %.7g, gradient "
                    "norm %.7g (zero_sink %d, sink %d)", ts[t].name, fd, gn, zero_sink, sink);
            double e = fabs(fd - gn) / gn;
            if (e > worst_dir) worst_dir = e, worst_dir_name = ts[t].name;
        }
        /* the direction of the whole sampled gradient, too */
        double cosv = dot / sqrt(na * nn + 1e-30);
        T_CHECK(nn == 0 || cosv > 0.999, "%s: cosine(analytic, numeric) = %.6f", ts[t].name, cosv);
    }
    printf("  grads (zero_sink %d, sink %d, %s): worst element error %.2e in %s, worst "
           "directional error %.2e in %s\n", zero_sink, sink, pool ? "2 threads" : "1 thread", worst,
           worst_name, worst_dir, worst_dir_name);
    sl_train_model_free(&m);
}

static void test_grad_plain_softmax(void) { check_grads(false, -1, NULL); }
static void test_grad_zero_sink_softmax(void) { check_grads(true, -1, NULL); }
static void test_grad_sink_token_threads(void) {
    sl_pool *pool;
    sl_error err;
    T_CHECK(sl_pool_create(&pool, 2, &err) == SL_OK, "%s", err.msg);
    check_grads(false, 5, pool);
    check_grads(true, 5, pool);
    sl_pool_free(pool);
}

/* The zero-sink softmax must differ from the plain one (so its test means
 * something) and must give rows that sum to < 1. */
static void test_zero_sink_changes_attention(void) {
    sl_train_config a = tiny(false, -1), b = tiny(true, -1);
    sl_train_model ma, mb;
    sl_error err;
    T_CHECK(sl_train_model_init(&ma, &a, 1, NULL, 3, 0.5f, &err) == SL_OK, "%s", err.msg);
    T_CHECK(sl_train_model_init(&mb, &b, 1, NULL, 3, 0.5f, &err) == SL_OK, "%s", err.msg);
    int32_t in[6] = {1, 2, 3, 4, 5, 6}, tg[6] = {2, 3, 4, 5, 6, 7};
    double la = loss_of(&ma, in, tg), lb = loss_of(&mb, in, tg);
    T_CHECK(fabs(la - lb) > 1e-4, "losses %g and %g should differ", la, lb);
    const float *p = mb.acts[0].p; /* head 0, row 0: one key */
    T_CHECK(p[0] < 1.0f && p[0] > 0.0f, "off-by-one softmax of one key gave %g", p[0]);
    float sum = 0;
    for (int j = 0; j <= 5; j++) sum += p[5 * 6 + j];
    T_CHECK(sum < 1.0f, "row sums to %g", sum);
    const float *pa = ma.acts[0].p;
    T_CLOSE(pa[0], 1.0f, 1e-6, "plain softmax of one key");
    sl_train_model_free(&ma);
    sl_train_model_free(&mb);
}

static void test_gemm_matches_reference(void) {
    sl_pool *pool;
    sl_error err;
    T_CHECK(sl_pool_create(&pool, 2, &err) == SL_OK, "%s", err.msg);
    const int shapes[][3] = {{1, 1, 1}, {4, 4, 8}, {37, 29, 53}, {64, 64, 64}, {5, 130, 7},
                             {128, 67, 200}, {3, 5, 1000}};
    unsigned long long s = 5;
    double worst = 0;
    for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
        int M = shapes[k][0], N = shapes[k][1], K = shapes[k][2];
        float *a = malloc((size_t)M * K * 4), *b = malloc((size_t)N * K * 4);
        float *c1 = malloc((size_t)M * N * 4), *c2 = malloc((size_t)M * N * 4),
              *c3 = malloc((size_t)M * N * 4);
        for (int i = 0; i < M * K; i++) a[i] = t_rand_f(&s);
        for (int i = 0; i < N * K; i++) b[i] = t_rand_f(&s);
        for (int i = 0; i < M * N; i++) c1[i] = c2[i] = c3[i] = t_rand_f(&s);
        for (int acc = 0; acc < 2; acc++) {
            sl_gemm_nt_ref(c1, a, b, M, N, K, acc);
            sl_gemm_nt(pool, c2, a, b, M, N, K, acc);
            sl_gemm_nt(NULL, c3, a, b, M, N, K, acc);
            for (int i = 0; i < M * N; i++) {
                double e = fabs(c1[i] - c2[i]) / (1 + fabs(c1[i]));
                if (e > worst) worst = e;
                T_CHECK(e < 1e-5 * sqrt((double)K), "M%d N%d K%d acc%d [%d]: %g vs ref %g", M, N, K,
                        acc, i, c2[i], c1[i]);
            }
            /* the split across threads never changes a sum */
            T_CHECK(memcmp(c2, c3, (size_t)M * N * 4) == 0, "M%d N%d K%d: 1 and 2 threads differ", M, N, K);
        }
        float *tt = malloc((size_t)M * K * 4);
        sl_transpose(tt, a, M, K);
        T_CHECK(tt[(size_t)(K - 1) * M + (M - 1)] == a[(size_t)(M - 1) * K + K - 1] &&
                    tt[(size_t)1 % K * M] == a[1 % K], "transpose");
        free(tt);
        free(a); free(b); free(c1); free(c2); free(c3);
    }
    printf("  gemm (%s): worst relative error %.2e\n", sl_gemm_uses_avx2() ? "avx2" : "portable", worst);
    sl_pool_free(pool);
}

int main(void) {
    T_RUN(test_gemm_matches_reference);
    T_RUN(test_zero_sink_changes_attention);
    T_RUN(test_grad_plain_softmax);
    T_RUN(test_grad_zero_sink_softmax);
    T_RUN(test_grad_sink_token_threads);
    return T_DONE();
}
