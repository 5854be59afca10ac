/* test_session_state.c — saving and restoring the bounded streaming state.
 *
 * The property that matters: save -> restore -> continue gives exactly the
 * tokens (and bit-identical logits) of the uninterrupted run with the same
 * seed, under every cache policy, after the window has wrapped and after an
 * early eviction. Then the failure modes: a flipped byte (checksum), another
 * model, a missing file, a session of another shape. The same through the
 * chat layer, on a synthetic model and on the real stories260K. */
#include <stdint.h>

#include "test_util.h"

#include "chat/chat.h"
#include "model/llama2c.h"
#include "model/synth.h"
#include "sampling/sampler_state.h"
#include "session/session.h"

static const char *synth_model(const char *name, uint64_t seed, int n_layer) {
    static char path[4][512];
    static int k;
    char *p = path[k++ % 4];
    snprintf(p, 512, "%s/%s.gguf", t_tmpdir(), name);
    sl_synth_params sp;
    sl_synth_params_default(&sp);
    sp.seed = seed;
    if (n_layer > 0) sp.n_layer = n_layer;
    sl_error err = {0};
    if (sl_synth_write(&sp, p, &err) != SL_OK) {
        fprintf(stderr, "  synth: %s\n", err.msg);
        return NULL;
    }
    return p;
}

static sl_model *load(const char *path) {
    sl_model *m = NULL;
    sl_error err = {0};
    if (!path || sl_model_load(&m, path, &err) != SL_OK) {
        fprintf(stderr, "  load %s: %s\n", path ? path : "(null)", err.msg);
        return NULL;
    }
    return m;
}

static void test_crc32(void) {
    /* The CRC-32 check value from the catalogue of parametrised CRCs. */
    T_CHECK(sl_crc32(0, "123456789", 9) == 0xCBF43926u, "crc32 check value %08x",
            sl_crc32(0, "123456789", 9));
    T_CHECK(sl_crc32(0, "", 0) == 0, "empty");
    uint32_t part = sl_crc32(sl_crc32(0, "1234", 4), "56789", 5);
    T_CHECK(part == 0xCBF43926u, "incremental %08x", part);
}

/* ---- session round trip ------------------------------------------------------- */

typedef struct {
    const char *name;
    sl_policy policy;
    sl_kv_type kv;
    int sinks, window, keep;
    uint64_t evict_at; /* 0: none */
} config;

static void gen(sl_session *s, sl_sampler *smp, float *logits, int n, int32_t *out) {
    sl_error err = {0};
    for (int i = 0; i < n; i++) {
        int32_t t = sl_sampler_sample(smp, logits);
        out[i] = t;
        T_CHECK(sl_session_feed(s, &t, 1, logits, NULL, &err) == SL_OK, "feed: %s", err.msg);
    }
}

/* The state holds no logits: like a chat between turns, a restored session
 * goes on by feeding tokens (here a fixed 5-token "next turn"), then
 * generating. Both runs do exactly that after the save point. */
static void continue_run(sl_session *s, sl_sampler *smp, float *logits, int32_t *out, int n) {
    static const int32_t next_turn[5] = {10, 11, 12, 13, 14};
    sl_error err = {0};
    for (int i = 0; i < 5; i++) sl_sampler_accept(smp, next_turn[i]);
    T_CHECK(sl_session_feed(s, next_turn, 5, logits, NULL, &err) == SL_OK, "feed: %s", err.msg);
    gen(s, smp, logits, n, out);
}

static void roundtrip(sl_model *m, const config *cf) {
    sl_session_params sp;
    sl_session_params_default(&sp);
    sp.policy = cf->policy;
    sp.kv_type = cf->kv;
    sp.n_sink = cf->sinks;
    sp.n_window = cf->window;
    sp.n_keep = cf->keep;
    sp.n_threads = 1;
    sl_sampler_params smp_p;
    sl_sampler_params_default(&smp_p);
    smp_p.temp = 0.9f;
    smp_p.seed = 7;
    smp_p.repeat_penalty = 1.1f; /* so the penalty history matters */
    smp_p.penalty_last_n = 16;
    const int V = m->hp.n_vocab;
    sl_error err = {0};
    sl_session *a = NULL, *b = NULL;
    sl_sampler *sa = NULL, *sb = NULL;
    float *la = malloc((size_t)V * sizeof(float)), *lb = malloc((size_t)V * sizeof(float));
    T_CHECK(sl_session_create(&a, m, &sp, &err) == SL_OK, "%s: %s", cf->name, err.msg);
    T_CHECK(sl_sampler_create(&sa, &smp_p, V, &err) == SL_OK, "%s", err.msg);
    if (!a || !sa) goto out;
    int32_t prompt[40];
    unsigned long long r = 99;
    for (int i = 0; i < 40; i++) prompt[i] = 3 + (int32_t)(t_rand_u64(&r) % (uint64_t)(V - 3));
    for (int i = 0; i < 40; i++) sl_sampler_accept(sa, prompt[i]);
    T_CHECK(sl_session_feed(a, prompt, 40, la, NULL, &err) == SL_OK, "%s", err.msg);
    if (cf->evict_at) sl_session_evict_before(a, cf->evict_at);
    int32_t first[20], want[25], got[25];
    gen(a, sa, la, 20, first);

    char path[512];
    snprintf(path, sizeof path, "%s/%s.state", t_tmpdir(), cf->name);
    static const char APP[] = "app blob \x01\x02";
    T_CHECK(sl_session_state_save(a, sa, APP, sizeof APP, path, &err) == SL_OK, "save: %s", err.msg);
    size_t held = sl_session_cache_len(a);
    uint64_t pos = sl_session_n_past(a);
    continue_run(a, sa, la, want, 25);

    /* A fresh session and a sampler seeded differently: the file decides. */
    smp_p.seed = 12345;
    T_CHECK(sl_session_create(&b, m, &sp, &err) == SL_OK, "%s", err.msg);
    T_CHECK(sl_sampler_create(&sb, &smp_p, V, &err) == SL_OK, "%s", err.msg);
    if (!b || !sb) goto out;
    sl_session_state st;
    sl_status rc = sl_session_state_open(&st, m, path, &err);
    T_CHECK(rc == SL_OK, "%s: open: %s", cf->name, err.msg);
    if (rc != SL_OK) goto out;
    T_CHECK(st.app_len == sizeof APP && memcmp(st.app, APP, sizeof APP) == 0, "app blob");
    T_CHECK(st.n_fed == pos, "%s: stream position %llu want %llu", cf->name,
            (unsigned long long)st.n_fed, (unsigned long long)pos);
    if (cf->policy != SL_POLICY_RECOMPUTE)
        T_CHECK(st.pin_rows + st.win_rows == held, "%s: %llu rows saved, the cache held %zu",
                cf->name, (unsigned long long)(st.pin_rows + st.win_rows), held);
    T_CHECK(sl_session_state_apply(&st, b, sb, &err) == SL_OK, "%s: apply: %s", cf->name, err.msg);
    sl_session_state_close(&st);
    T_CHECK(sl_session_n_past(b) == pos && sl_session_cache_len(b) == held, "%s: restored counters",
            cf->name);
    continue_run(b, sb, lb, got, 25);
    T_CHECK(memcmp(want, got, sizeof want) == 0, "%s: the resumed run drew other tokens", cf->name);
    T_CHECK(memcmp(la, lb, (size_t)V * sizeof(float)) == 0, "%s: final logits differ", cf->name);
out:
    free(la);
    free(lb);
    sl_sampler_free(sa);
    sl_sampler_free(sb);
    sl_session_free(a);
    sl_session_free(b);
}

static void test_roundtrip_policies(void) {
    sl_model *m = load(synth_model("rt", 1, 0));
    if (!m) {
        T_CHECK(0, "cannot build the synthetic model");
        return;
    }
    /* 40 + 20 + 5 + 25 = 90 tokens: every windowed shape wraps its ring. */
    const config CF[] = {
        {"streaming-f16", SL_POLICY_STREAMING, SL_KV_F16, 4, 16, 0, 0},
        {"streaming-f32-keep", SL_POLICY_STREAMING, SL_KV_F32, 2, 8, 3, 0},
        {"streaming-evicted", SL_POLICY_STREAMING, SL_KV_F32, 4, 32, 0, 30},
        {"streaming-1-1", SL_POLICY_STREAMING, SL_KV_F16, 1, 1, 0, 0},
        {"window-keep", SL_POLICY_WINDOW, SL_KV_F32, 0, 12, 2, 0},
        {"dense", SL_POLICY_DENSE, SL_KV_F16, 0, 0, 0, 0},
        {"recompute", SL_POLICY_RECOMPUTE, SL_KV_F32, 0, 10, 0, 0},
    };
    for (size_t i = 0; i < sizeof CF / sizeof CF[0]; i++) roundtrip(m, &CF[i]);
    sl_model_free(m);

    /* q8_0 rows are blocks of 32 values: a model whose heads are 32 wide. */
    char path[512];
    snprintf(path, sizeof path, "%s/rt32.gguf", t_tmpdir());
    sl_synth_params sp;
    sl_synth_params_default(&sp);
    sp.n_embd = 128;
    sp.n_head = 4;
    sp.n_head_kv = 2;
    sl_error err = {0};
    T_CHECK(sl_synth_write(&sp, path, &err) == SL_OK, "synth: %s", err.msg);
    m = load(path);
    if (!m) return;
    const config Q8[] = {
        {"streaming-q8_0", SL_POLICY_STREAMING, SL_KV_Q8_0, 4, 16, 0, 0},
        {"streaming-q8_0-evicted", SL_POLICY_STREAMING, SL_KV_Q8_0, 2, 40, 3, 35},
    };
    for (size_t i = 0; i < sizeof Q8 / sizeof Q8[0]; i++) roundtrip(m, &Q8[i]);
    sl_model_free(m);
}

/* ---- failure modes ---------------------------------------------------------------- */

/* A small saved state for model m; returns its path. */
static const char *saved_state(sl_model *m, const char *name) {
    static char path[512];
    snprintf(path, sizeof path, "%s/%s.state", t_tmpdir(), name);
    sl_session_params sp;
    sl_session_params_default(&sp);
    sp.n_sink = 2;
    sp.n_window = 8;
    sp.n_threads = 1;
    sl_session *s = NULL;
    sl_sampler *smp = NULL;
    sl_sampler_params p;
    sl_sampler_params_default(&p);
    sl_error err = {0};
    int32_t toks[12] = {5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
    if (sl_session_create(&s, m, &sp, &err) != SL_OK ||
        sl_sampler_create(&smp, &p, m->hp.n_vocab, &err) != SL_OK ||
        sl_session_feed(s, toks, 12, NULL, NULL, &err) != SL_OK ||
        sl_session_state_save(s, smp, "x", 1, path, &err) != SL_OK) {
        fprintf(stderr, "  saved_state: %s\n", err.msg);
        path[0] = '\0';
    }
    sl_sampler_free(smp);
    sl_session_free(s);
    return path[0] ? path : NULL;
}

static unsigned char *slurp(const char *path, size_t *n) {
    FILE *fp = fopen(path, "rb");
    if (!fp) return NULL;
    fseek(fp, 0, SEEK_END);
    long len = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)len);
    *n = fread(b, 1, (size_t)len, fp);
    fclose(fp);
    return b;
}

static void spit(const char *path, const unsigned char *b, size_t n) {
    FILE *fp = fopen(path, "wb");
    fwrite(b, 1, n, fp);
    fclose(fp);
}

static void expect_open_error(sl_model *m, const char *path, sl_status want, const char *needle,
                              const char *what) {
    sl_session_state st;
    sl_error err = {0};
    sl_status rc = sl_session_state_open(&st, m, path, &err);
    T_CHECK(rc == want, "%s: status %d (%s), want %d", what, (int)rc, err.msg, (int)want);
    T_CHECK(strstr(err.msg, needle) != NULL, "%s: message '%s' lacks '%s'", what, err.msg, needle);
    T_CHECK(strstr(err.msg, path) != NULL, "%s: message '%s' does not name the file", what, err.msg);
    if (rc == SL_OK) sl_session_state_close(&st);
}

static void test_corrupt(void) {
    sl_model *m = load(synth_model("corrupt", 1, 0));
    const char *good = m ? saved_state(m, "good") : NULL;
    if (!good) {
        T_CHECK(0, "cannot prepare a state file");
        sl_model_free(m);
        return;
    }
    char g[512];
    snprintf(g, sizeof g, "%s", good);
    size_t n = 0;
    unsigned char *b = slurp(g, &n);
    if (!b || n < 64) {
        T_CHECK(0, "cannot read %s back", g);
        free(b);
        sl_model_free(m);
        return;
    }
    char bad[512];
    snprintf(bad, sizeof bad, "%s/bad.state", t_tmpdir());
    /* Every single flipped byte of the payload is caught by the checksum. */
    int missed = 0;
    for (size_t off = 32; off < n; off += (n - 32) / 23 + 1) {
        b[off] ^= 0x10;
        spit(bad, b, n);
        sl_session_state st;
        sl_error err = {0};
        sl_status rc = sl_session_state_open(&st, m, bad, &err);
        if (rc != SL_ERR_FORMAT || !strstr(err.msg, "checksum")) missed++;
        if (rc == SL_OK) sl_session_state_close(&st);
        b[off] ^= 0x10;
    }
    T_CHECK(missed == 0, "%d flipped payload bytes were not reported as a checksum error", missed);
    b[n / 2] ^= 0x01;
    spit(bad, b, n);
    expect_open_error(m, bad, SL_ERR_FORMAT, "checksum mismatch", "flipped byte");
    b[n / 2] ^= 0x01;
    b[24] ^= 0xff; /* the stored CRC itself */
    spit(bad, b, n);
    expect_open_error(m, bad, SL_ERR_FORMAT, "checksum", "flipped CRC");
    b[24] ^= 0xff;
    b[0] = 'X';
    spit(bad, b, n);
    expect_open_error(m, bad, SL_ERR_FORMAT, "not a streamllm state file", "bad magic");
    b[0] = 'S';
    b[8] = 9;
    spit(bad, b, n);
    expect_open_error(m, bad, SL_ERR_UNSUPPORTED, "version 9", "other version");
    b[8] = 1;
    spit(bad, b, n - 7);
    expect_open_error(m, bad, SL_ERR_FORMAT, "truncated", "truncated");
    spit(bad, b, 10);
    expect_open_error(m, bad, SL_ERR_FORMAT, "not a streamllm state file", "shorter than a header");
    spit(bad, b, n); /* intact again: opens */
    sl_session_state st;
    sl_error err = {0};
    T_CHECK(sl_session_state_open(&st, m, bad, &err) == SL_OK, "intact copy: %s", err.msg);
    sl_session_state_close(&st);
    free(b);
    sl_model_free(m);
}

static void test_foreign_and_missing(void) {
    sl_model *m1 = load(synth_model("m1", 1, 0));
    sl_model *m2 = load(synth_model("m2", 2, 0));      /* same shape, other weights */
    sl_model *m3 = load(synth_model("m3", 1, 3));      /* other shape */
    const char *p = m1 ? saved_state(m1, "of-m1") : NULL;
    if (!m1 || !m2 || !m3 || !p) {
        T_CHECK(0, "cannot prepare models");
    } else {
        expect_open_error(m2, p, SL_ERR_INVALID_ARG, "saved with model", "same shape, other weights");
        expect_open_error(m3, p, SL_ERR_INVALID_ARG, "not with this model", "other shape");
        char missing[512];
        snprintf(missing, sizeof missing, "%s/does-not-exist.state", t_tmpdir());
        expect_open_error(m1, missing, SL_ERR_IO, "", "missing file");
        T_CHECK(sl_model_fingerprint(m1) != sl_model_fingerprint(m2), "fingerprints must differ");
        T_CHECK(sl_model_fingerprint(m1) == sl_model_fingerprint(m1), "fingerprint is stable");
    }
    sl_model_free(m1);
    sl_model_free(m2);
    sl_model_free(m3);
}

static void test_apply_other_shape(void) {
    sl_model *m = load(synth_model("shape", 1, 0));
    const char *p = m ? saved_state(m, "shape") : NULL;
    if (!p) {
        T_CHECK(0, "cannot prepare a state file");
        sl_model_free(m);
        return;
    }
    sl_session_params sp;
    sl_session_params_default(&sp);
    sp.n_sink = 2;
    sp.n_window = 9; /* saved with 8 */
    sp.n_threads = 1;
    sl_session *s = NULL;
    sl_error err = {0};
    sl_session_state st;
    T_CHECK(sl_session_create(&s, m, &sp, &err) == SL_OK, "%s", err.msg);
    int32_t t = 5;
    sl_session_feed(s, &t, 1, NULL, NULL, &err);
    T_CHECK(sl_session_state_open(&st, m, p, &err) == SL_OK, "%s", err.msg);
    sl_status rc = sl_session_state_apply(&st, s, NULL, &err);
    T_CHECK(rc == SL_ERR_INVALID_ARG && strstr(err.msg, "--window"), "apply to another shape: %d %s",
            (int)rc, err.msg);
    T_CHECK(sl_session_n_past(s) == 1, "a refused apply leaves the session alone");
    sl_session_state_close(&st);
    sl_session_free(s);
    sl_model_free(m);
}

/* ---- the same through the chat ------------------------------------------------------- */

typedef struct {
    char buf[4096];
    size_t len;
} collect;

static bool collect_emit(void *u, const char *t, size_t n) {
    collect *c = u;
    if (c->len + n < sizeof c->buf) {
        memcpy(c->buf + c->len, t, n);
        c->len += n;
        c->buf[c->len] = '\0';
    }
    return true;
}

static const char *const TURNS[] = {
    "Tell me a story about a cat.", "Why was the cat sad?", "And then what happened to the dog?",
    "Who was the girl in the park?", "Make it shorter.", "What did mom say at the end?",
};

static void chat_turns(sl_chat *c, int from, int to, collect *out) {
    sl_error err = {0};
    for (int i = from; i < to; i++) {
        out[i].len = 0;
        out[i].buf[0] = '\0';
        sl_chat_turn_stats st;
        T_CHECK(sl_chat_turn(c, TURNS[i], strlen(TURNS[i]), 24, collect_emit, &out[i], &st, &err) ==
                    SL_OK,
                "turn %d: %s", i, err.msg);
    }
}

static void chat_roundtrip(sl_model *m, const char *name) {
    sl_chat_params cp;
    sl_chat_params_default(&cp);
    cp.session.n_sink = 4;
    cp.session.n_window = 64; /* small: the turns below evict each other */
    cp.session.n_threads = 1;
    cp.sampler.temp = 0.8f;
    cp.sampler.seed = 3;
    sl_error err = {0};
    sl_chat *a = NULL, *b = NULL, *c = NULL;
    collect ra[6], rb[6], rc[6];
    char path[512];
    snprintf(path, sizeof path, "%s/%s.chat", t_tmpdir(), name);
    T_CHECK(sl_chat_create(&a, m, &cp, "You are a storyteller.", &err) == SL_OK, "%s", err.msg);
    T_CHECK(sl_chat_create(&c, m, &cp, "You are a storyteller.", &err) == SL_OK, "%s", err.msg);
    /* b starts as another conversation (other system prompt and seed). */
    cp.sampler.seed = 99;
    T_CHECK(sl_chat_create(&b, m, &cp, "Other.", &err) == SL_OK, "%s", err.msg);
    if (!a || !b || !c) goto out;
    chat_turns(a, 0, 3, ra);
    T_CHECK(sl_chat_save(a, path, &err) == SL_OK, "save: %s", err.msg);
    chat_turns(a, 3, 6, ra);
    chat_turns(c, 0, 6, rc); /* never saved */

    /* A failed load leaves b as it was. */
    char missing[600];
    snprintf(missing, sizeof missing, "%s.missing", path);
    T_CHECK(sl_chat_load(b, missing, &err) == SL_ERR_IO, "missing file: %s", err.msg);
    T_CHECK(sl_chat_load(b, path, &err) == SL_OK, "load: %s", err.msg);
    sl_chat_info ia, ib;
    sl_chat_get_info(b, &ib);
    T_CHECK(ib.turns == 3 && !strcmp(ib.system, "You are a storyteller."), "restored bookkeeping");
    chat_turns(b, 3, 6, rb);
    for (int i = 3; i < 6; i++) {
        T_CHECK(!strcmp(ra[i].buf, rb[i].buf), "%s turn %d: resumed reply differs:\n [%s]\n [%s]", name,
                i, ra[i].buf, rb[i].buf);
        T_CHECK(!strcmp(ra[i].buf, rc[i].buf), "%s turn %d: saving changed the reply", name, i);
    }
    T_CHECK(ra[5].len > 0, "%s: replies are not empty", name);
    sl_chat_get_info(a, &ia);
    sl_chat_get_info(b, &ib);
    T_CHECK(ia.stream_pos == ib.stream_pos && ia.cache_tokens == ib.cache_tokens &&
                ia.turns == ib.turns,
            "%s: counters after resuming", name);
out:
    sl_chat_free(a);
    sl_chat_free(b);
    sl_chat_free(c);
}

static void test_chat_roundtrip_synth(void) {
    sl_model *m = load(synth_model("chat", 1, 0));
    if (!m) {
        T_CHECK(0, "cannot build the synthetic model");
        return;
    }
    chat_roundtrip(m, "synth");
    sl_model_free(m);
}

/* A save file whose (checksummed) chat blob asks for a huge sampler history
 * is refused by name before anything is allocated; fuzz_chat_state found
 * the 2.7 GB malloc it used to make. The CRC is recomputed after the edit,
 * so only the field check can catch it. */
static void test_chat_load_huge_last_n(void) {
    sl_model *m = load(synth_model("chat-last-n", 1, 0));
    if (!m) {
        T_CHECK(0, "cannot build the synthetic model");
        return;
    }
    sl_chat_params cp;
    sl_chat_params_default(&cp);
    cp.session.n_threads = 1;
    sl_error err = {0};
    sl_chat *c = NULL;
    char path[512];
    snprintf(path, sizeof path, "%s/last-n.chat", t_tmpdir());
    T_CHECK(sl_chat_create(&c, m, &cp, "Hi.", &err) == SL_OK, "%s", err.msg);
    T_CHECK(c && sl_chat_save(c, path, &err) == SL_OK, "save: %s", err.msg);
    FILE *fp = fopen(path, "rb");
    static unsigned char buf[1 << 20];
    size_t n = fp ? fread(buf, 1, sizeof buf, fp) : 0;
    if (fp) fclose(fp);
    unsigned char *blob = NULL;
    for (size_t i = 32; i + 4 <= n && !blob; i++)
        if (!memcmp(buf + i, "SLCH", 4)) blob = buf + i;
    T_CHECK(blob && blob + 84 <= buf + n, "no chat blob in the save file");
    if (blob && blob + 84 <= buf + n) {
        const uint32_t huge = 0x7fffffff; /* penalty_last_n: blob offset 20 + 32 + 28 */
        memcpy(blob + 80, &huge, 4);
        uint32_t crc = sl_crc32(0, buf + 32, n - 32);
        memcpy(buf + 24, &crc, 4);
        fp = fopen(path, "wb");
        T_CHECK(fp && fwrite(buf, 1, n, fp) == n, "rewrite");
        if (fp) fclose(fp);
        sl_status st = sl_chat_load(c, path, &err);
        T_CHECK(st == SL_ERR_FORMAT && strstr(err.msg, "repeat-last-n 2147483647 is out of range"),
                "load gave status %d: %s", (int)st, st ? err.msg : "ok");
    }
    sl_chat_free(c);
    sl_model_free(m);
}

static void test_chat_roundtrip_stories(void) {
    const char *bin = t_shared_file("models/stories260K.bin");
    char tok[4096];
    const char *tp = t_shared_file("models/tok512.bin");
    if (!bin || !tp) T_SKIP("needs ../shared/data/models/stories260K.bin and tok512.bin");
    snprintf(tok, sizeof tok, "%s", tp);
    char binp[4096], out[512];
    snprintf(binp, sizeof binp, "%s", t_shared_file("models/stories260K.bin"));
    snprintf(out, sizeof out, "%s/stories.gguf", t_tmpdir());
    sl_error err = {0};
    if (sl_llama2c_convert(binp, tok, out, &err) != SL_OK) {
        T_CHECK(0, "convert: %s", err.msg);
        return;
    }
    sl_model *m = load(out);
    if (!m) return;
    chat_roundtrip(m, "stories260K");
    /* Its state cannot be loaded into the synthetic model. */
    sl_model *other = load(synth_model("other", 1, 0));
    char path[512];
    snprintf(path, sizeof path, "%s/stories260K.chat", t_tmpdir());
    sl_chat_params cp;
    sl_chat_params_default(&cp);
    cp.session.n_threads = 1;
    sl_chat *c = NULL;
    if (other && sl_chat_create(&c, other, &cp, NULL, &err) == SL_OK) {
        sl_status rc = sl_chat_load(c, path, &err);
        T_CHECK(rc == SL_ERR_INVALID_ARG && strstr(err.msg, "saved with model"),
                "foreign chat file: %d %s", (int)rc, err.msg);
    }
    sl_chat_free(c);
    sl_model_free(other);
    sl_model_free(m);
}

int main(void) {
    T_RUN(test_crc32);
    T_RUN(test_roundtrip_policies);
    T_RUN(test_corrupt);
    T_RUN(test_foreign_and_missing);
    T_RUN(test_apply_other_shape);
    T_RUN(test_chat_roundtrip_synth);
    T_RUN(test_chat_load_huge_last_n);
    T_RUN(test_chat_roundtrip_stories);
    return T_DONE();
}
