/* test_train_run.c — the training loop end to end on a tiny corpus: the loss
 * falls by a stated amount in seconds, gradient accumulation equals one big
 * batch, the learning-rate schedule, a resumed run equals the uninterrupted
 * one bit for bit, corrupt checkpoints are refused, and an exported model run
 * through the engine (sl_session_feed) gives the trainer's own losses. */
#include "test_util.h"

#include <unistd.h>

#include "core/thread_pool.h"
#include "gguf/gguf.h"
#include "model/model.h"
#include "session/session.h"
#include "train/bpe.h"
#include "train/trainer.h"

static const char *TEXT =
    "Once upon a time there was a little fox who lived in a hole under an old oak tree. "
    "Every morning the fox ran to the river to drink, and every evening the fox ran back home. "
    "One day the river was gone, and the fox was sad. The fox walked and walked until it found "
    "a lake. The lake was big and blue, and the fox was happy again. The end.\n\n";

static sl_bpe g_bpe;
static int32_t *g_data;
static size_t g_n;
static char g_vocab_path[512];

static int setup(void) {
    const char *texts[1] = {TEXT};
    size_t lens[1] = {strlen(TEXT)};
    sl_error err;
    if (sl_bpe_train(&g_bpe, texts, lens, 1, 300, NULL, NULL, &err) != SL_OK) {
        fprintf(stderr, "setup: %s\n", err.msg);
        return -1;
    }
    /* the text three times: windows see each part in several contexts */
    size_t n;
    int32_t *ids;
    if (sl_bpe_encode(&g_bpe, TEXT, strlen(TEXT), &ids, &n, &err) != SL_OK) return -1;
    g_data = malloc(3 * n * sizeof *g_data);
    for (int r = 0; r < 3; r++) memcpy(g_data + r * n, ids, n * sizeof *ids);
    g_n = 3 * n;
    free(ids);
    snprintf(g_vocab_path, sizeof g_vocab_path, "%s/vocab300.gguf", t_tmpdir());
    return sl_bpe_write(&g_bpe, g_vocab_path, &err) == SL_OK ? 0 : -1;
}

static sl_train_config cfg_tiny(int sink, bool zero_sink) {
    sl_train_config c = {.n_vocab = 300, .n_embd = 32, .n_layer = 2, .n_head = 2, .n_ff = 64,
                         .n_ctx = 24, .rms_eps = 1e-5f, .rope_base = 10000.0, .sink_token = sink,
                         .zero_sink = zero_sink};
    return c;
}

static void opts_tiny(sl_train_opts *o, int steps) {
    sl_train_opts_default(o);
    o->batch = 4;
    o->steps = steps;
    o->warmup = 5;
    o->lr = 1e-2f;
    o->min_lr = 1e-3f;
    o->init_std = 0.05f;
}

static void test_lr_schedule(void) {
    sl_train_opts o;
    sl_train_opts_default(&o);
    o.lr = 1.0f;
    o.min_lr = 0.1f;
    o.warmup = 10;
    o.steps = 110;
    T_CLOSE(sl_train_lr(&o, 0), 0.1, 1e-6, "first warm-up step");
    T_CLOSE(sl_train_lr(&o, 4), 0.5, 1e-6, "mid warm-up");
    T_CLOSE(sl_train_lr(&o, 10), 1.0, 1e-6, "peak after warm-up");
    T_CLOSE(sl_train_lr(&o, 60), 0.55, 1e-6, "half-way down the cosine: (1 + 0.1) / 2");
    T_CLOSE(sl_train_lr(&o, 110), 0.1, 1e-6, "the end of the cosine");
    T_CLOSE(sl_train_lr(&o, 500), 0.1, 1e-6, "past the end");
}

/* The stated amount: 60 steps take the loss from ~ln(300) = 5.70 to below
 * 40% of the first step's loss on this 3x-repeated paragraph. */
static void test_short_run_lowers_loss(void) {
    sl_pool *pool;
    sl_error err;
    sl_pool_create(&pool, 2, &err);
    sl_train_config c = cfg_tiny(-1, false);
    sl_train_opts o;
    opts_tiny(&o, 60);
    sl_trainer t;
    T_CHECK(sl_trainer_init(&t, &c, &o, pool, g_data, g_n, &err) == SL_OK, "%s", err.msg);
    if (t_case_failed) return;
    sl_trainer_step(&t);
    double first = t.loss;
    T_CHECK(fabs(first - log(300.0)) < 0.3, "first loss %.3f, uniform would be %.3f", first, log(300.0));
    while (t.step < (uint64_t)o.steps) sl_trainer_step(&t);
    double ev;
    size_t np;
    T_CHECK(sl_trainer_eval(&t, g_data, g_n, 0, &ev, &np, &err) == SL_OK, "%s", err.msg);
    printf("  loss %.3f -> last step %.3f, eval %.3f over %zu tokens\n", first, t.loss, ev, np);
    T_CHECK(t.loss < 0.4 * first, "last step loss %.3f is not below 40%% of %.3f", t.loss, first);
    T_CHECK(ev < 0.4 * first, "eval loss %.3f is not below 40%% of %.3f", ev, first);
    sl_trainer_free(&t);
    sl_pool_free(pool);
}

/* An embedding wider than the vocabulary, ff and batch x ctx: the (E, E)
 * attention weights are the largest thing the backward pass transposes.
 * The scratch buffer once missed that case (a heap overflow that ASan and
 * fuzz_train_ckpt report); the step must also give a finite, near-uniform
 * first loss. */
static void test_wide_embedding_step(void) {
    sl_pool *pool;
    sl_error err;
    sl_pool_create(&pool, 1, &err);
    sl_train_config c = cfg_tiny(-1, false);
    c.n_embd = 320, c.n_head = 4, c.n_ff = 32, c.n_ctx = 2;
    sl_train_opts o;
    opts_tiny(&o, 2);
    o.batch = 1;
    sl_trainer t;
    T_CHECK(sl_trainer_init(&t, &c, &o, pool, g_data, g_n, &err) == SL_OK, "%s", err.msg);
    if (t_case_failed) return;
    sl_trainer_step(&t);
    T_CHECK(isfinite(t.loss) && fabs(t.loss - log(300.0)) < 1.0, "first loss %.3f, uniform %.3f", t.loss,
            log(300.0));
    sl_trainer_step(&t);
    T_CHECK(isfinite(t.loss), "second loss %.3f", t.loss);
    sl_trainer_free(&t);
    sl_pool_free(pool);
}

static void test_accumulation_equals_big_batch(void) {
    sl_error err;
    sl_train_config c = cfg_tiny(-1, false);
    sl_train_opts o1, o2;
    opts_tiny(&o1, 10);
    opts_tiny(&o2, 10);
    o2.batch = 2;
    o2.accum = 2;
    sl_trainer a, b;
    T_CHECK(sl_trainer_init(&a, &c, &o1, NULL, g_data, g_n, &err) == SL_OK, "%s", err.msg);
    T_CHECK(sl_trainer_init(&b, &c, &o2, NULL, g_data, g_n, &err) == SL_OK, "%s", err.msg);
    if (t_case_failed) return;
    sl_trainer_step(&a);
    sl_trainer_step(&b);
    double md = 0, mx = 0;
    for (size_t i = 0; i < a.m.n_params; i++) {
        md = fmax(md, fabs(a.m.grads[i] - b.m.grads[i]));
        mx = fmax(mx, fabs(a.m.grads[i]));
    }
    T_CHECK(md <= 1e-5 * mx, "gradients differ by %g (max %g)", md, mx);
    T_CLOSE(a.loss, b.loss, 1e-5, "step loss");
    sl_trainer_free(&a);
    sl_trainer_free(&b);
}

static bool same_state(const sl_trainer *a, const sl_trainer *b) {
    size_t n = a->m.n_params * sizeof(float);
    return a->step == b->step && a->rng == b->rng && !memcmp(a->m.params, b->m.params, n) &&
           !memcmp(a->adam_m, b->adam_m, n) && !memcmp(a->adam_v, b->adam_v, n);
}

static void test_resume_is_bit_exact(void) {
    sl_pool *pool;
    sl_error err;
    sl_pool_create(&pool, 2, &err);
    sl_train_config c = cfg_tiny(298, true); /* both variants' code paths */
    sl_train_opts o;
    opts_tiny(&o, 8);
    o.accum = 2;
    o.clip = 0.05f; /* small enough to clip every step */
    sl_trainer full, part, resumed;
    T_CHECK(sl_trainer_init(&full, &c, &o, pool, g_data, g_n, &err) == SL_OK, "%s", err.msg);
    T_CHECK(sl_trainer_init(&part, &c, &o, pool, g_data, g_n, &err) == SL_OK, "%s", err.msg);
    if (t_case_failed) return;
    for (int i = 0; i < 8; i++) sl_trainer_step(&full);
    T_CHECK(full.grad_norm > o.clip, "clipping was not exercised (|g| %g)", full.grad_norm);
    for (int i = 0; i < 3; i++) sl_trainer_step(&part);
    char path[512];
    snprintf(path, sizeof path, "%s/run.ckpt", t_tmpdir());
    T_CHECK(sl_trainer_save(&part, path, &err) == SL_OK, "%s", err.msg);
    sl_trainer_free(&part);
    T_CHECK(sl_trainer_load(&resumed, path, pool, g_data, g_n, &err) == SL_OK, "%s", err.msg);
    if (t_case_failed) return;
    T_CHECK(resumed.step == 3 && resumed.cfg.sink_token == 298 && resumed.cfg.zero_sink &&
                resumed.o.accum == 2, "restored step %llu", (unsigned long long)resumed.step);
    while (resumed.step < 8) sl_trainer_step(&resumed);
    T_CHECK(same_state(&full, &resumed), "resumed run differs from the uninterrupted run");
    sl_trainer_free(&resumed);

    /* corrupt files: one flipped byte, a truncation, bad magic, other data */
    FILE *f = fopen(path, "r+b");
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, size / 2, SEEK_SET);
    int ch = fgetc(f);
    fseek(f, size / 2, SEEK_SET);
    fputc(ch ^ 0x10, f);
    fclose(f);
    T_CHECK(sl_trainer_load(&resumed, path, pool, g_data, g_n, &err) == SL_ERR_FORMAT &&
                strstr(err.msg, "corrupt"), "flipped byte: %s", err.msg);
    T_CHECK(truncate(path, size - 100) == 0, "truncate");
    T_CHECK(sl_trainer_load(&resumed, path, pool, g_data, g_n, &err) == SL_ERR_FORMAT &&
                strstr(err.msg, "corrupt"), "truncated: %s", err.msg);
    f = fopen(path, "r+b");
    fputc('X', f);
    fclose(f);
    T_CHECK(sl_trainer_load(&resumed, path, pool, g_data, g_n, &err) == SL_ERR_FORMAT, "bad magic: %s", err.msg);
    part = full;
    T_CHECK(sl_trainer_save(&full, path, &err) == SL_OK, "%s", err.msg);
    T_CHECK(sl_trainer_load(&resumed, path, pool, g_data, g_n - 1, &err) == SL_ERR_INVALID_ARG &&
                strstr(err.msg, "other data"), "other data: %s", err.msg);
    T_CHECK(sl_trainer_load(&resumed, "/nonexistent/x.ckpt", pool, g_data, g_n, &err) == SL_ERR_IO, "missing file");
    sl_trainer_free(&full);
    sl_pool_free(pool);
}

/* Train briefly, export, load with the engine and compare the losses of every
 * position of a window with the trainer's (f32 weights, f32 KV cache). */
static void engine_matches(int sink, bool zero_sink, uint32_t wtype, double tol) {
    sl_pool *pool;
    sl_error err;
    sl_pool_create(&pool, 2, &err);
    sl_train_config c = cfg_tiny(sink, zero_sink);
    sl_train_opts o;
    opts_tiny(&o, 15);
    o.batch = 1;
    sl_trainer t;
    T_CHECK(sl_trainer_init(&t, &c, &o, pool, g_data, g_n, &err) == SL_OK, "%s", err.msg);
    if (t_case_failed) return;
    while (t.step < 15) sl_trainer_step(&t);
    sl_gguf *vg;
    T_CHECK(sl_gguf_open(&vg, g_vocab_path, &err) == SL_OK, "%s", err.msg);
    char path[512];
    snprintf(path, sizeof path, "%s/exp-%d-%d-%u.gguf", t_tmpdir(), sink, zero_sink, wtype);
    T_CHECK(sl_train_export(&t.m, vg, "test", wtype, path, &err) == SL_OK, "%s", err.msg);
    sl_gguf_close(vg);
    sl_model *m = NULL;
    T_CHECK(sl_model_load(&m, path, &err) == SL_OK, "engine load: %s", err.msg);
    if (t_case_failed) return;
    T_CHECK(m->hp.sink_token == sink && m->hp.zero_sink == zero_sink && m->hp.n_ctx_train == c.n_ctx,
            "hparams: sink %d zero_sink %d ctx %d", m->hp.sink_token, m->hp.zero_sink, m->hp.n_ctx_train);

    const int T = c.n_ctx, V = c.n_vocab;
    int32_t inp[64], tgt[64];
    sl_train_window(&c, g_data, 7, inp, tgt);
    double per_row[64];
    sl_train_forward(&t.m, inp, tgt, NULL, per_row);

    sl_session_params sp;
    sl_session_params_default(&sp);
    sp.policy = SL_POLICY_DENSE;
    sp.kv_type = SL_KV_F32;
    sp.n_threads = 2;
    sp.n_batch = 16; /* two chunks: the cache path is exercised too */
    sl_session *s;
    T_CHECK(sl_session_create(&s, m, &sp, &err) == SL_OK, "%s", err.msg);
    float *logits = malloc((size_t)T * V * sizeof(float));
    T_CHECK(sl_session_feed(s, inp, (size_t)T, NULL, logits, &err) == SL_OK, "%s", err.msg);
    double worst = 0, sum_e = 0, sum_t = 0;
    for (int i = 0; i < T && !t_case_failed; i++) {
        const float *l = logits + (size_t)i * V;
        double mx = l[0], se = 0;
        for (int v = 1; v < V; v++) mx = fmax(mx, l[v]);
        for (int v = 0; v < V; v++) se += exp(l[v] - mx);
        double loss = log(se) + mx - l[tgt[i]];
        worst = fmax(worst, fabs(loss - per_row[i]));
        sum_e += loss;
        sum_t += per_row[i];
    }
    printf("  engine vs trainer (sink %d, zero_sink %d, %s): mean loss %.6f vs %.6f, worst position %.2e\n",
           sink, zero_sink, wtype == SL_TYPE_F16 ? "f16" : "f32", sum_e / T, sum_t / T, worst);
    T_CHECK(worst < tol, "worst per-position loss difference %g >= %g", worst, tol);
    T_CHECK(sl_session_n_past(s) == (uint64_t)T, "the session added tokens: n_past %llu",
            (unsigned long long)sl_session_n_past(s));
    free(logits);
    sl_session_free(s);
    sl_model_free(m);
    sl_trainer_free(&t);
    sl_pool_free(pool);
}

static void test_engine_matches_vanilla(void) { engine_matches(-1, false, SL_TYPE_F32, 1e-5); }
static void test_engine_matches_sink_token(void) { engine_matches(299, false, SL_TYPE_F32, 1e-5); }
static void test_engine_matches_zero_sink(void) { engine_matches(-1, true, SL_TYPE_F32, 1e-5); }
static void test_engine_matches_f16_export(void) { engine_matches(299, false, SL_TYPE_F16, 2e-3); }

static void test_bad_shapes(void) {
    sl_error err;
    sl_trainer t;
    sl_train_config c = cfg_tiny(-1, false);
    sl_train_opts o;
    opts_tiny(&o, 5);
    T_CHECK(sl_trainer_init(&t, &c, &o, NULL, g_data, 10, &err) == SL_ERR_INVALID_ARG &&
                strstr(err.msg, "fewer than one"), "short corpus: %s", err.msg);
    c.n_embd = 30; /* 2 heads of 15: odd head size */
    T_CHECK(sl_trainer_init(&t, &c, &o, NULL, g_data, g_n, &err) == SL_ERR_INVALID_ARG, "odd head size");
    c = cfg_tiny(-1, false);
    c.n_vocab = 100; /* corpus ids reach 297 */
    T_CHECK(sl_trainer_init(&t, &c, &o, NULL, g_data, g_n, &err) == SL_ERR_INVALID_ARG &&
                strstr(err.msg, "outside the vocabulary"), "ids out of range: %s", err.msg);
    c = cfg_tiny(-1, false);
    c.n_ctx = 1 << 14;
    o.batch = 4096;
    T_CHECK(sl_trainer_init(&t, &c, &o, NULL, g_data, g_n, &err) == SL_ERR_INVALID_ARG, "huge batch");
}

int main(void) {
    if (setup() != 0) return 1;
    T_RUN(test_lr_schedule);
    T_RUN(test_short_run_lowers_loss);
    T_RUN(test_wide_embedding_step);
    T_RUN(test_accumulation_equals_big_batch);
    T_RUN(test_resume_is_bit_exact);
    T_RUN(test_engine_matches_vanilla);
    T_RUN(test_engine_matches_sink_token);
    T_RUN(test_engine_matches_zero_sink);
    T_RUN(test_engine_matches_f16_export);
    T_RUN(test_bad_shapes);
    sl_bpe_free(&g_bpe);
    free(g_data);
    return T_DONE();
}
