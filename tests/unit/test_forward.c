/* test_forward.c — the fast forward pass and the streaming cache against the
 * independent float64 reference (ref_llama64.h), on random-weight models of
 * every variant, and the real stories260K against llama2.c's own output. */
#include <stdint.h>

#include "kernels/gemm.h"
#include "model/llama2c.h"
#include "model/model.h"
#include "model/synth.h"
#include "ref_llama64.h"
#include "session/session.h"
#include "streamllm.h"
#include "test_util.h"

/* max |a - b| / max(1, max |b|): logits error relative to the logit scale. */
static double rel_err(const float *a, const double *b, int n) {
    double md = 0, mb = 0;
    for (int i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]);
        if (d > md) md = d;
        if (fabs(b[i]) > mb) mb = fabs(b[i]);
    }
    return md / fmax(1.0, mb);
}

static const char *write_synth(const char *tag, const sl_synth_params *p) {
    static char path[512];
    snprintf(path, sizeof path, "%s/%s.gguf", t_tmpdir(), tag);
    sl_error err = {0};
    if (sl_synth_write(p, path, &err) != SL_OK) {
        fprintf(stderr, "  synth %s: %s\n", tag, err.msg);
        return NULL;
    }
    return path;
}

static int32_t tok_at(int i, int n_vocab) { return (int32_t)((i * 7919 + 13) % (n_vocab - 3)) + 3; }

typedef struct {
    const char *tag;
    void (*tweak)(sl_synth_params *);
} variant;

static void v_gqa(sl_synth_params *p) { (void)p; }
static void v_mha(sl_synth_params *p) { p->n_head_kv = p->n_head; }
static void v_mqa(sl_synth_params *p) { p->n_head_kv = 1; }
static void v_untied(sl_synth_params *p) { p->tied_output = false; }
static void v_qwen2(sl_synth_params *p) { p->arch = "qwen2"; p->qkv_bias = true; p->tied_output = false; }
static void v_partial_rope(sl_synth_params *p) { p->n_rot = 8; }
static void v_rope_freqs(sl_synth_params *p) { p->rope_freqs = true; p->rope_freq_base = 500000; }
static void v_linear(sl_synth_params *p) { p->rope_scale_linear = 4; }

static const variant VARIANTS[] = {
    {"gqa", v_gqa}, {"mha", v_mha}, {"mqa", v_mqa}, {"untied", v_untied}, {"qwen2", v_qwen2},
    {"partial_rope", v_partial_rope}, {"rope_freqs", v_rope_freqs}, {"linear_scaling", v_linear},
};

/* Feeds n tokens one at a time to both and returns the worst relative error. */
static double compare_stream(sl_session *s, ref64 *r, int n, int V, int first) {
    float *lf = malloc((size_t)V * sizeof(float));
    double *ld = malloc((size_t)V * sizeof(double));
    double worst = 0;
    sl_error err = {0};
    for (int i = 0; i < n; i++) {
        int32_t t = tok_at(first + i, V);
        if (sl_session_feed(s, &t, 1, lf, NULL, &err) != SL_OK) {
            fprintf(stderr, "  feed: %s\n", err.msg);
            worst = INFINITY;
            break;
        }
        ref64_feed(r, t, ld);
        double e = rel_err(lf, ld, V);
        if (e > worst) worst = e;
    }
    free(lf);
    free(ld);
    return worst;
}

static void test_dense_matches_ref64_every_variant(void) {
    for (size_t vi = 0; vi < sizeof VARIANTS / sizeof VARIANTS[0]; vi++) {
        sl_synth_params sp;
        sl_synth_params_default(&sp);
        VARIANTS[vi].tweak(&sp);
        const char *path = write_synth(VARIANTS[vi].tag, &sp);
        T_CHECK(path != NULL, "synth %s", VARIANTS[vi].tag);
        if (!path) continue;
        sl_model *m = NULL;
        sl_error err = {0};
        T_CHECK(sl_model_load(&m, path, &err) == SL_OK, "%s: %s", VARIANTS[vi].tag, err.msg);
        if (!m) continue;
        ref64 *r = ref64_load(path, ref64_dense());
        T_CHECK(r != NULL, "ref64 load %s", VARIANTS[vi].tag);
        sl_session_params p;
        sl_session_params_default(&p);
        p.policy = SL_POLICY_DENSE;
        p.kv_type = SL_KV_F32;
        p.n_threads = 2;
        sl_session *s = NULL;
        T_CHECK(sl_session_create(&s, m, &p, &err) == SL_OK, "%s", err.msg);
        if (r && s) {
            double e = compare_stream(s, r, 40, m->hp.n_vocab, 0);
            printf("  %-15s dense f32: max rel logit error %.2e\n", VARIANTS[vi].tag, e);
            T_CHECK(e < 1e-4, "%s: rel error %.3g >= 1e-4", VARIANTS[vi].tag, e);
        }
        sl_session_free(s);
        ref64_free(r);
        sl_model_free(m);
    }
}

/* The heart of the project: with eviction, logits equal the paper's
 * semantics (pre-RoPE keys, everything re-rotated at cache positions) over
 * 3x the cache capacity, for several (sinks, window) shapes. */
static void test_streaming_matches_paper_semantics(void) {
    sl_synth_params sp;
    sl_synth_params_default(&sp);
    const char *path = write_synth("stream", &sp);
    T_CHECK(path != NULL, "synth");
    if (!path) return;
    sl_model *m = NULL;
    sl_error err = {0};
    T_CHECK(sl_model_load(&m, path, &err) == SL_OK, "%s", err.msg);
    if (!m) return;
    int shapes[][2] = {{4, 8}, {1, 1}, {1, 6}, {2, 5}, {4, 20}};
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        int S = shapes[i][0], W = shapes[i][1];
        for (int batch = 1; batch <= 7; batch += 6) {
            ref64 *r = ref64_load(path, ref64_streaming(S, W));
            sl_session_params p;
            sl_session_params_default(&p);
            p.n_sink = S;
            p.n_window = W;
            p.kv_type = SL_KV_F32;
            p.n_threads = 2;
            p.n_batch = batch;
            sl_session *s = NULL;
            T_CHECK(sl_session_create(&s, m, &p, &err) == SL_OK, "%s", err.msg);
            if (!s || !r) continue;
            int n = 3 * (S + W) + 5, V = m->hp.n_vocab;
            double worst = 0;
            if (batch == 1) {
                worst = compare_stream(s, r, n, V, 100);
            } else {
                /* Chunked prefill: each token must see exactly sinks + its last W. */
                int32_t *toks = malloc((size_t)n * sizeof *toks);
                float *all = malloc((size_t)n * V * sizeof(float));
                double *ld = malloc((size_t)V * sizeof(double));
                for (int k = 0; k < n; k++) toks[k] = tok_at(100 + k, V);
                T_CHECK(sl_session_feed(s, toks, (size_t)n, NULL, all, &err) == SL_OK, "%s", err.msg);
                for (int k = 0; k < n; k++) {
                    ref64_feed(r, toks[k], ld);
                    double e = rel_err(all + (size_t)k * V, ld, V);
                    if (e > worst) worst = e;
                }
                free(toks);
                free(all);
                free(ld);
            }
            printf("  sinks %d window %2d batch %d, %3d tokens: max rel logit error %.2e, cache %zu\n",
                   S, W, batch, n, worst, sl_session_cache_len(s));
            T_CHECK(worst < 1e-5, "sinks %d window %d batch %d: rel error %.3g >= 1e-5", S, W,
                    batch, worst);
            T_CHECK(sl_session_cache_len(s) == (size_t)(S + W), "cache len %zu != %d",
                    sl_session_cache_len(s), S + W);
            sl_session_free(s);
            ref64_free(r);
        }
    }
    sl_model_free(m);
}

static sl_session *make_session(sl_model *m, sl_policy pol, int S, int W, sl_kv_type kt, int batch) {
    sl_session_params p;
    sl_session_params_default(&p);
    p.policy = pol;
    p.n_sink = S;
    p.n_window = W;
    p.kv_type = kt;
    p.n_threads = 2;
    p.n_batch = batch;
    sl_session *s = NULL;
    sl_error err = {0};
    if (sl_session_create(&s, m, &p, &err) != SL_OK) fprintf(stderr, "  session: %s\n", err.msg);
    return s;
}

/* Without eviction the streaming path is the dense path: bit-for-bit. */
static void test_streaming_without_eviction_is_dense(void) {
    sl_synth_params sp;
    sl_synth_params_default(&sp);
    const char *path = write_synth("noevict", &sp);
    sl_model *m = NULL;
    sl_error err = {0};
    if (!path || sl_model_load(&m, path, &err) != SL_OK) {
        T_CHECK(0, "load: %s", err.msg);
        return;
    }
    int V = m->hp.n_vocab, n = 60;
    for (int kt = 0; kt < 2; kt++) {
        sl_session *a = make_session(m, SL_POLICY_STREAMING, 4, 100, (sl_kv_type)kt, 16);
        sl_session *b = make_session(m, SL_POLICY_DENSE, 0, 0, (sl_kv_type)kt, 16);
        float *la = malloc((size_t)V * sizeof(float)), *lb = malloc((size_t)V * sizeof(float));
        int same = 1;
        for (int i = 0; i < n && a && b; i++) {
            int32_t t = tok_at(i, V);
            sl_session_feed(a, &t, 1, la, NULL, &err);
            sl_session_feed(b, &t, 1, lb, NULL, &err);
            if (memcmp(la, lb, (size_t)V * sizeof(float)) != 0) same = 0;
        }
        T_CHECK(same, "kv type %d: streaming without eviction differs from dense", kt);
        free(la);
        free(lb);
        sl_session_free(a);
        sl_session_free(b);
    }
    sl_model_free(m);
}

/* The baselines: window = no sinks; recompute = the last W tokens re-run
 * from scratch at positions 0..W for every token. */
static void test_window_and_recompute_baselines(void) {
    sl_synth_params sp;
    sl_synth_params_default(&sp);
    const char *path = write_synth("baselines", &sp);
    sl_model *m = NULL;
    sl_error err = {0};
    if (!path || sl_model_load(&m, path, &err) != SL_OK) {
        T_CHECK(0, "load: %s", err.msg);
        return;
    }
    int V = m->hp.n_vocab, W = 6, n = 25;
    sl_session *s = make_session(m, SL_POLICY_WINDOW, 4, W, SL_KV_F32, 1);
    ref64 *r = ref64_load(path, ref64_streaming(0, W));
    if (s && r) {
        double e = compare_stream(s, r, n, V, 7);
        T_CHECK(e < 1e-5, "window: rel error %.3g", e);
    }
    sl_session_free(s);
    ref64_free(r);

    s = make_session(m, SL_POLICY_RECOMPUTE, 0, W, SL_KV_F32, 4);
    r = ref64_load(path, ref64_dense());
    float *lf = malloc((size_t)V * sizeof(float));
    double *ld = malloc((size_t)V * sizeof(double));
    double worst = 0;
    for (int i = 0; i < n && s && r; i++) {
        int32_t t = tok_at(7 + i, V);
        sl_session_feed(s, &t, 1, lf, NULL, &err);
        ref64_reset(r);
        for (int j = (i - W > 0 ? i - W : 0); j <= i; j++) ref64_feed(r, tok_at(7 + j, V), ld);
        double e = rel_err(lf, ld, V);
        if (e > worst) worst = e;
    }
    T_CHECK(worst < 1e-5, "recompute: rel error %.3g", worst);
    T_CHECK(s && sl_session_n_past(s) == (uint64_t)n, "recompute n_past");
    free(lf);
    free(ld);
    sl_session_free(s);
    ref64_free(r);
    sl_model_free(m);
}

/* A shape every weight type can hold: K-quants need rows of 256. */
static void quant_shape(sl_synth_params *sp) {
    sp->n_embd = 256;
    sp->n_ff = 512;
    sp->n_head = 4;
    sp->n_head_kv = 2;
}

/* Quantized weights and f16 KV: the fast path quantizes activations (Q8)
 * while the reference uses the same dequantized weights with exact
 * activations, so the error is dominated by 8-bit activations (about 3% of
 * the logit scale on these random-weight models, for every quantized type:
 * q8_0 measures 2.9e-2, q4_0 3.0e-2, q6_k 4.0e-2). A wrong block layout or
 * kernel gives errors of order 1. Keys are stored in f16 too. bf16 weights
 * on a CPU with AVX512-BF16 run vdpbf16ps on bf16-rounded activations
 * (kernels/gemm.h): 8-bit mantissas, about 1e-2 here (1.1e-2 measured). */
static void test_quantized_and_f16_kv(void) {
    struct {
        const char *name;
        double tol;
    } types[] = {{"f16", 1e-3}, {"bf16", sl_gemm_get_x16(SL_TYPE_BF16) ? 3e-2 : 1e-3}, {"q8_0", 6e-2}, {"q4_0", 6e-2},
                 {"q4_1", 6e-2}, {"q5_0", 6e-2}, {"q5_1", 6e-2}, {"q4_k", 6e-2},
                 {"q5_k", 6e-2}, {"q6_k", 6e-2}};
    for (size_t ti = 0; ti < sizeof types / sizeof types[0]; ti++) {
        sl_synth_params sp;
        sl_synth_params_default(&sp);
        quant_shape(&sp);
        sp.wtype = (uint32_t)sl_type_from_name(types[ti].name);
        const char *path = write_synth(types[ti].name, &sp);
        T_CHECK(path != NULL, "synth %s", types[ti].name);
        if (!path) continue;
        sl_model *m = NULL;
        sl_error err = {0};
        T_CHECK(sl_model_load(&m, path, &err) == SL_OK, "%s: %s", types[ti].name, err.msg);
        if (!m) continue;
        ref64 *r = ref64_load(path, ref64_streaming(2, 10));
        sl_session *s = make_session(m, SL_POLICY_STREAMING, 2, 10, SL_KV_F16, 1);
        if (r && s) {
            double e = compare_stream(s, r, 30, m->hp.n_vocab, 3);
            printf("  %-5s weights, f16 KV, streaming 2+10: max rel logit error %.2e (tol %.0e)\n",
                   types[ti].name, e, types[ti].tol);
            T_CHECK(e < types[ti].tol, "%s: rel error %.3g >= %.3g", types[ti].name, e,
                    types[ti].tol);
        }
        sl_session_free(s);
        ref64_free(r);
        sl_model_free(m);
    }
}

/* sp's model with its matrices in type (a name), written and loaded;
 * NULL (a failed check) when either fails. path_out: the file, if wanted. */
static sl_model *load_typed(sl_synth_params *sp, const char *type, const char **path_out) {
    sp->wtype = (uint32_t)sl_type_from_name(type);
    const char *path = write_synth(type, sp);
    sl_model *m = NULL;
    sl_error err = {0};
    T_CHECK(path && sl_model_load(&m, path, &err) == SL_OK, "%s: %s", type, err.msg);
    if (path_out) *path_out = path;
    return m;
}

/* The last layer computes only the last token's query, attention and
 * feed-forward when only its logits are wanted, and only keys and values
 * without logits (forward_llama.c). Against a session that computes every
 * token's logits: the same bits for the last logits of each prompt, and
 * for every logit of the decode that follows (the cache is the same). Every
 * weight type, so each kernel's one-token path is held to its tile path;
 * chunks of 16 with eviction, so the trimmed layer also sees keys of
 * earlier chunks and evicted ones. */
static void test_last_logits_only_same_bits(void) {
    const char *types[] = {"f32", "f16", "bf16", "q8_0", "q4_0", "q4_1", "q5_0", "q5_1", "q4_k", "q5_k", "q6_k"};
    for (size_t ti = 0; ti < sizeof types / sizeof types[0]; ti++) {
        sl_synth_params sp;
        sl_synth_params_default(&sp);
        quant_shape(&sp);
        if (ti % 2) { /* odd types also with biases and an untied output */
            sp.arch = "qwen2";
            sp.qkv_bias = true;
            sp.tied_output = false;
        }
        sl_model *m = load_typed(&sp, types[ti], NULL);
        if (!m) continue;
        sl_error err = {0};
        const int V = m->hp.n_vocab, n = 45, extra = 5;
        /* a: every logit; b: last logits only; c: no logits for the prompt */
        sl_session *a = make_session(m, SL_POLICY_STREAMING, 4, 24, SL_KV_F16, 16);
        sl_session *b = make_session(m, SL_POLICY_STREAMING, 4, 24, SL_KV_F16, 16);
        sl_session *c = make_session(m, SL_POLICY_STREAMING, 4, 24, SL_KV_F16, 16);
        float *all = malloc((size_t)n * V * sizeof(float));
        float *lb = malloc((size_t)V * sizeof(float)), *lc = malloc((size_t)V * sizeof(float));
        int32_t *tok = malloc((size_t)(n + extra) * sizeof(int32_t));
        for (int i = 0; i < n + extra; i++) tok[i] = tok_at(i, V);
        int ok = a && b && c && all && lb && lc && tok;
        ok = ok && sl_session_feed(a, tok, (size_t)n, NULL, all, &err) == SL_OK &&
             sl_session_feed(b, tok, (size_t)n, lb, NULL, &err) == SL_OK &&
             sl_session_feed(c, tok, (size_t)n, NULL, NULL, &err) == SL_OK;
        T_CHECK(ok, "%s: feed: %s", types[ti], err.msg);
        int same_last = ok && memcmp(all + (size_t)(n - 1) * V, lb, (size_t)V * sizeof(float)) == 0;
        int same_after = ok;
        for (int i = n; i < n + extra && same_after; i++) {
            same_after = sl_session_feed(a, &tok[i], 1, all, NULL, &err) == SL_OK &&
                         sl_session_feed(b, &tok[i], 1, lb, NULL, &err) == SL_OK &&
                         sl_session_feed(c, &tok[i], 1, lc, NULL, &err) == SL_OK &&
                         memcmp(all, lb, (size_t)V * sizeof(float)) == 0 &&
                         memcmp(all, lc, (size_t)V * sizeof(float)) == 0;
        }
        printf("  %-5s last logits only: %s; decode after it and after a prompt without logits: %s\n", types[ti],
               same_last ? "same bits" : "DIFFERENT", same_after ? "same bits" : "DIFFERENT");
        T_CHECK(same_last, "%s: last logits differ from the all-logits run", types[ti]);
        T_CHECK(same_after, "%s: decode after a trimmed prompt differs", types[ti]);
        free(all), free(lb), free(lc), free(tok);
        sl_session_free(a), sl_session_free(b), sl_session_free(c);
        sl_model_free(m);
    }
}

/* A batch big enough that the per-token work (RMSNorm, key rotation, cache
 * rows) is split over the pool: the logits of every token are the bits of
 * one thread doing it all, and match the float64 reference. */
static void test_batch_split_over_threads(void) {
    const char *types[] = {"f32", "f16", "q4_0"};
    for (size_t ti = 0; ti < sizeof types / sizeof types[0]; ti++) {
        sl_synth_params sp;
        sl_synth_params_default(&sp);
        quant_shape(&sp); /* 80 tokens x 256 values: over forward_llama.c's PAR_TOKEN_FLOATS */
        const char *path = NULL;
        sl_model *m = load_typed(&sp, types[ti], &path);
        if (!m) continue;
        sl_error err = {0};
        const int V = m->hp.n_vocab, n = 80;
        sl_session *s[2] = {NULL, NULL};
        float *all[2] = {malloc((size_t)n * V * sizeof(float)), malloc((size_t)n * V * sizeof(float))};
        int32_t tok[80];
        for (int i = 0; i < n; i++) tok[i] = tok_at(7 + i, V);
        int ok = all[0] && all[1];
        for (int k = 0; k < 2 && ok; k++) {
            sl_session_params p;
            sl_session_params_default(&p);
            p.n_sink = 4;
            p.n_window = 200;
            p.kv_type = SL_KV_F32;
            p.n_threads = k + 1;
            p.n_batch = 96;
            ok = sl_session_create(&s[k], m, &p, &err) == SL_OK &&
                 sl_session_feed(s[k], tok, (size_t)n, NULL, all[k], &err) == SL_OK;
        }
        T_CHECK(ok, "%s: %s", types[ti], err.msg);
        const int same = ok && memcmp(all[0], all[1], (size_t)n * V * sizeof(float)) == 0;
        double worst = 0;
        if (ok && ti == 0) { /* f32 weights: the float64 reference, token by token */
            ref64 *r = ref64_load(path, ref64_dense());
            double *ld = malloc((size_t)V * sizeof(double));
            T_CHECK(r && ld, "ref64 load");
            for (int i = 0; r && ld && i < n; i++) {
                ref64_feed(r, tok[i], ld);
                const double e = rel_err(all[1] + (size_t)i * V, ld, V);
                if (e > worst) worst = e;
            }
            free(ld);
            ref64_free(r);
            T_CHECK(worst < 1e-4, "f32 batch of %d on 2 threads: rel error %.3g >= 1e-4", n, worst);
        }
        printf("  %-5s batch of %d, 1 thread vs 2: %s", types[ti], n, same ? "same bits" : "DIFFERENT");
        if (ti == 0) printf(", max rel logit error vs float64 %.2e", worst);
        printf("\n");
        T_CHECK(same, "%s: logits of a batch differ between 1 and 2 threads", types[ti]);
        free(all[0]), free(all[1]);
        sl_session_free(s[0]), sl_session_free(s[1]);
        sl_model_free(m);
    }
}

/* stories260K converted from llama2.c: greedy from BOS reproduces run.c. */
static void test_stories260k_matches_llama2c(void) {
    /* t_shared_file returns a static buffer: copy each path at once. */
    char binp[4096], tokb[4096];
    const char *f = t_shared_file("models/stories260K.bin");
    if (!f) T_SKIP("../shared/data/models/stories260K.bin absent");
    snprintf(binp, sizeof binp, "%s", f);
    f = t_shared_file("models/tok512.bin");
    if (!f) T_SKIP("../shared/data/models/tok512.bin absent");
    snprintf(tokb, sizeof tokb, "%s", f);
    const char *expf = t_shared_file("reference/stories260K-greedy-200steps-expected.txt");
    if (!expf) T_SKIP("reference output absent");
    FILE *fp = fopen(expf, "rb");
    char expected[4096];
    size_t elen = fp ? fread(expected, 1, sizeof expected - 1, fp) : 0;
    if (fp) fclose(fp);
    expected[elen] = 0;

    char gguf[512];
    snprintf(gguf, sizeof gguf, "%s/stories260K.gguf", t_tmpdir());
    sl_error err = {0};
    T_CHECK(sl_llama2c_convert(binp, tokb, gguf, &err) == SL_OK, "%s", err.msg);
    sl_model *m = NULL;
    T_CHECK(sl_model_load(&m, gguf, &err) == SL_OK, "%s", err.msg);
    if (!m) return;
    for (int batch = 1; batch <= 64; batch *= 64) {
        sl_session *s = make_session(m, SL_POLICY_STREAMING, 4, 508, SL_KV_F32, batch);
        int V = m->hp.n_vocab;
        float *logits = malloc((size_t)V * sizeof(float));
        char out[8192];
        size_t olen = 0;
        int32_t tok = 1; /* BOS */
        for (int pos = 0; pos < 200 && s; pos++) { /* run.c -n 200: 200 forwards, 200 tokens */
            T_CHECK(sl_session_feed(s, &tok, 1, logits, NULL, &err) == SL_OK, "%s", err.msg);
            int32_t next = 0;
            for (int i = 1; i < V; i++)
                if (logits[i] > logits[next]) next = i;
            if (next == 1) break;
            size_t plen;
            const char *piece = sl_token_piece(m, next, &plen);
            if (tok == 1 && plen > 0 && piece[0] == ' ') piece++, plen--; /* run.c strips it */
            if (olen + plen < sizeof out) memcpy(out + olen, piece, plen), olen += plen;
            tok = next;
        }
        out[olen] = 0;
        T_CHECK(olen == elen && memcmp(out, expected, elen) == 0,
                "greedy output differs from llama2.c's run.c:\n got: %s\nwant: %s", out, expected);
        free(logits);
        sl_session_free(s);
    }
    sl_model_free(m);
}

static void test_bad_tokens_and_params(void) {
    sl_synth_params sp;
    sl_synth_params_default(&sp);
    const char *path = write_synth("bad", &sp);
    sl_model *m = NULL;
    sl_error err = {0};
    if (!path || sl_model_load(&m, path, &err) != SL_OK) {
        T_CHECK(0, "load: %s", err.msg);
        return;
    }
    sl_session *s = make_session(m, SL_POLICY_DENSE, 0, 0, SL_KV_F16, 8);
    int32_t bad = m->hp.n_vocab;
    T_CHECK(sl_session_feed(s, &bad, 1, NULL, NULL, &err) == SL_ERR_INVALID_ARG, "bad token accepted");
    /* Dense refuses past the trained context. */
    int32_t *toks = calloc((size_t)m->hp.n_ctx_train + 1, sizeof *toks);
    for (int i = 0; i <= m->hp.n_ctx_train; i++) toks[i] = tok_at(i, m->hp.n_vocab);
    T_CHECK(sl_session_feed(s, toks, (size_t)m->hp.n_ctx_train + 1, NULL, NULL, &err) ==
                SL_ERR_CONTEXT_FULL, "dense past n_ctx must refuse: %s", err.msg);
    sl_session_free(s);
    /* Streaming runs on at constant cache size. */
    s = make_session(m, SL_POLICY_STREAMING, 4, 16, SL_KV_F16, 8);
    for (int rep = 0; rep < 3 && s; rep++)
        T_CHECK(sl_session_feed(s, toks, (size_t)m->hp.n_ctx_train + 1, NULL, NULL, &err) == SL_OK,
                "%s", err.msg);
    T_CHECK(s && sl_session_cache_len(s) == 20, "cache len");
    free(toks);
    sl_session_free(s);
    sl_model_free(m);
}

int main(void) {
    T_RUN(test_dense_matches_ref64_every_variant);
    T_RUN(test_streaming_matches_paper_semantics);
    T_RUN(test_streaming_without_eviction_is_dense);
    T_RUN(test_window_and_recompute_baselines);
    T_RUN(test_quantized_and_f16_kv);
    T_RUN(test_last_logits_only_same_bits);
    T_RUN(test_batch_split_over_threads);
    T_RUN(test_stories260k_matches_llama2c);
    T_RUN(test_bad_tokens_and_params);
    return T_DONE();
}
