/* test_chat.c — the conversation's cache semantics (src/chat/chat.h):
 * the system prompt stays pinned beyond the sinks, eviction happens only at
 * turn starts and drops whole turns, the cache never exceeds pinned +
 * window, a turn longer than the window streams through, Ctrl-C style
 * interruption, /reset and /system, and a full dense cache is an error.
 *
 * Expectations come from the cache's own definition (kv_cache.h: what a
 * query at position p attends) and from turn starts the test records from
 * the stream position before each turn, never from the chat's bookkeeping. */
#include <stdint.h>

#include "test_util.h"

#include "chat/chat.h"
#include "model/model.h"
#include "model/synth.h"
#include "session/session.h"

static sl_model *synth(void) {
    static char path[512];
    snprintf(path, sizeof path, "%s/chat-synth.gguf", t_tmpdir());
    sl_synth_params sp;
    sl_synth_params_default(&sp);
    sp.n_ctx = 4096;
    sl_error err = {0};
    sl_model *m = NULL;
    if (sl_synth_write(&sp, path, &err) != SL_OK || sl_model_load(&m, path, &err) != SL_OK) {
        fprintf(stderr, "  synth: %s\n", err.msg);
        return NULL;
    }
    return m;
}

static sl_chat_params params(int sinks, int window) {
    sl_chat_params cp;
    sl_chat_params_default(&cp);
    cp.session.n_sink = sinks;
    cp.session.n_window = window;
    cp.session.n_threads = 1;
    cp.sampler.seed = 11;
    return cp;
}

/* Tokens of a rendered system part, counted independently of the chat. */
static size_t system_tokens(const sl_model *m, sl_chat_family f, const char *sys) {
    sl_chat_template ct;
    sl_chat_template_init(&ct, f, m->tok);
    sl_chat_seq q = {0};
    sl_error err = {0};
    int32_t *ids = NULL;
    size_t n = 0;
    sl_chat_render_start(&ct, sys, strlen(sys), &q, &err);
    sl_chat_seq_tokenize(&q, m->tok, &ids, &n, &err);
    sl_chat_seq_free(&q);
    free(ids);
    return n;
}

/* A user message of about n words. */
static void words(char *buf, size_t cap, int n, unsigned long long *r) {
    static const char *const W[] = {"the", "cat", "sat", "on", "a", "mat", "and", "then",
                                    "ran", "to", "big", "red", "ball", "park", "happy", "dog"};
    buf[0] = '\0';
    for (int i = 0; i < n; i++) {
        strncat(buf, W[t_rand_u64(r) % 16], cap - strlen(buf) - 2);
        strncat(buf, " ", cap - strlen(buf) - 1);
    }
}

static bool contains_u64(const uint64_t *v, size_t n, uint64_t x) {
    for (size_t i = 0; i < n; i++)
        if (v[i] == x) return true;
    return false;
}

static void test_boundaries_and_pinning(void) {
    sl_model *m = synth();
    if (!m) {
        T_CHECK(0, "cannot build the synthetic model");
        return;
    }
    const char *sys = "You are a careful assistant who answers in short sentences.";
    const int S = 4, W = 320, N_REPLY = 12;
    size_t n_sys = system_tokens(m, SL_CHAT_VICUNA, sys);
    T_CHECK(n_sys > (size_t)S, "the system prompt (%zu tokens) must be longer than the sinks", n_sys);
    sl_chat_params cp = params(S, W);
    sl_chat *c = NULL;
    sl_error err = {0};
    T_CHECK(sl_chat_create(&c, m, &cp, sys, &err) == SL_OK, "%s", err.msg);
    if (!c) {
        sl_model_free(m);
        return;
    }
    const sl_kv_cache *kv = sl_session_kv(sl_chat_session(c));
    T_CHECK(kv->n_pinned == (int)n_sys, "pinned %d = max(sinks, system tokens %zu)", kv->n_pinned, n_sys);
    uint64_t starts[64];
    size_t n_starts = 0;
    unsigned long long r = 5;
    int evictions = 0;
    for (int turn = 0; turn < 40; turn++) {
        char msg[512];
        words(msg, sizeof msg, 1 + (int)(t_rand_u64(&r) % 12), &r);
        sl_chat_info in;
        sl_chat_get_info(c, &in);
        uint64_t start = in.stream_pos;
        starts[n_starts++ % 64] = start;
        sl_chat_turn_stats st;
        T_CHECK(sl_chat_turn(c, msg, strlen(msg), N_REPLY, NULL, NULL, &st, &err) == SL_OK, "%s", err.msg);
        kv = sl_session_kv(sl_chat_session(c));
        uint64_t n = sl_session_n_past(sl_chat_session(c));
        T_CHECK(st.cache_tokens <= (size_t)kv->n_pinned + (size_t)W, "turn %d: cache %zu > %d + %d", turn,
                st.cache_tokens, kv->n_pinned, W);
        T_CHECK(!st.overlong, "turn %d: a short turn was reported over-long", turn);
        if (st.evicted_before) {
            evictions++;
            T_CHECK(contains_u64(starts, n_starts < 64 ? n_starts : 64, st.evicted_before),
                    "turn %d: evicted before %llu, which is not a turn start", turn,
                    (unsigned long long)st.evicted_before);
            T_CHECK(kv->floor == st.evicted_before, "turn %d: floor %llu", turn,
                    (unsigned long long)kv->floor);
        }
        /* The whole current turn is still held: room was made up front, so
         * the ring evicted nothing inside it. */
        T_CHECK(sl_kv_attends(kv, n, start), "turn %d: its own start %llu was evicted", turn,
                (unsigned long long)start);
        /* The window starts at a turn start (or right after the pinned part). */
        uint64_t w0 = sl_kv_window_start(kv, n);
        T_CHECK(w0 == (uint64_t)kv->n_pinned || contains_u64(starts, n_starts < 64 ? n_starts : 64, w0),
                "turn %d: window starts at %llu, inside a turn", turn, (unsigned long long)w0);
        /* The system prompt beyond the sinks is never evicted. */
        for (uint64_t a = 0; a < n_sys; a++)
            if (!sl_kv_attends(kv, n, a)) {
                T_CHECK(0, "turn %d: system token %llu was evicted", turn, (unsigned long long)a);
                break;
            }
    }
    T_CHECK(evictions > 5, "only %d turns evicted anything: the test did not exercise eviction",
            evictions);
    sl_chat_free(c);
    sl_model_free(m);
}

static void test_overlong_turn(void) {
    sl_model *m = synth();
    if (!m) return;
    const int S = 4, W = 128;
    sl_chat_params cp = params(S, W);
    sl_chat *c = NULL;
    sl_error err = {0};
    T_CHECK(sl_chat_create(&c, m, &cp, NULL, &err) == SL_OK, "%s", err.msg);
    if (!c) {
        sl_model_free(m);
        return;
    }
    unsigned long long r = 9;
    char msg[4096];
    words(msg, sizeof msg, 8, &r);
    sl_chat_turn_stats st;
    T_CHECK(sl_chat_turn(c, msg, strlen(msg), 4, NULL, NULL, &st, &err) == SL_OK, "%s", err.msg);
    words(msg, sizeof msg, 400, &r); /* far more tokens than the window */
    T_CHECK(sl_chat_turn(c, msg, strlen(msg), 8, NULL, NULL, &st, &err) == SL_OK, "over-long: %s", err.msg);
    T_CHECK(st.overlong, "a %zu-token turn with window %d must be reported over-long", st.prompt_tokens, W);
    T_CHECK(st.prompt_tokens > (size_t)W, "the turn has %zu tokens", st.prompt_tokens);
    const sl_kv_cache *kv = sl_session_kv(sl_chat_session(c));
    T_CHECK(st.cache_tokens <= (size_t)kv->n_pinned + (size_t)W, "cache %zu", st.cache_tokens);
    /* The next, short turn is back on a turn boundary: its own start. */
    sl_chat_info in;
    sl_chat_get_info(c, &in);
    uint64_t start = in.stream_pos;
    words(msg, sizeof msg, 3, &r);
    T_CHECK(sl_chat_turn(c, msg, strlen(msg), 6, NULL, NULL, &st, &err) == SL_OK, "%s", err.msg);
    T_CHECK(!st.overlong && st.evicted_before == start, "after an over-long turn: evicted before %llu, "
            "want the new turn's start %llu", (unsigned long long)st.evicted_before,
            (unsigned long long)start);
    sl_chat_free(c);
    sl_model_free(m);
}

static void test_no_keep_system(void) {
    sl_model *m = synth();
    if (!m) return;
    const char *sys = "You are a careful assistant who answers in short sentences.";
    const int S = 4, W = 48;
    sl_chat_params cp = params(S, W);
    cp.keep_system = false;
    sl_chat *c = NULL;
    sl_error err = {0};
    T_CHECK(sl_chat_create(&c, m, &cp, sys, &err) == SL_OK, "%s", err.msg);
    if (!c) {
        sl_model_free(m);
        return;
    }
    const sl_kv_cache *kv = sl_session_kv(sl_chat_session(c));
    T_CHECK(kv->n_pinned == S, "--no-keep-system pins only the sinks (%d)", kv->n_pinned);
    size_t n_sys = system_tokens(m, SL_CHAT_VICUNA, sys);
    unsigned long long r = 3;
    for (int i = 0; i < 8; i++) {
        char msg[256];
        words(msg, sizeof msg, 10, &r);
        sl_chat_turn_stats st;
        T_CHECK(sl_chat_turn(c, msg, strlen(msg), 8, NULL, NULL, &st, &err) == SL_OK, "%s", err.msg);
    }
    uint64_t n = sl_session_n_past(sl_chat_session(c));
    T_CHECK(!sl_kv_attends(kv, n, n_sys - 1), "the unpinned system prompt was evicted");
    T_CHECK(sl_kv_attends(kv, n, 0) && sl_kv_attends(kv, n, S - 1), "the sinks stay");
    sl_chat_free(c);
    sl_model_free(m);
}

typedef struct {
    int calls, stop_after;
} stopper;

static bool stop_emit(void *u, const char *t, size_t n) {
    stopper *s = u;
    (void)t;
    if (n == 0) return true; /* the poll before the first token */
    return ++s->calls < s->stop_after;
}

static void test_interrupt_reset_system(void) {
    sl_model *m = synth();
    if (!m) return;
    sl_chat_params cp = params(4, 64);
    cp.ignore_eos = true;
    sl_chat *c = NULL;
    sl_error err = {0};
    T_CHECK(sl_chat_create(&c, m, &cp, "Be brief.", &err) == SL_OK, "%s", err.msg);
    if (!c) {
        sl_model_free(m);
        return;
    }
    stopper s = {0, 3};
    sl_chat_turn_stats st;
    T_CHECK(sl_chat_turn(c, "Tell me everything.", 19, 1000, stop_emit, &s, &st, &err) == SL_OK, "%s",
            err.msg);
    T_CHECK(!strcmp(st.stop, "interrupted"), "stop reason %s", st.stop);
    T_CHECK(st.reply_tokens >= 3 && st.reply_tokens < 10, "stopped after %zu tokens", st.reply_tokens);
    T_CHECK(sl_chat_turn(c, "Go on.", 6, 5, NULL, NULL, &st, &err) == SL_OK, "next turn: %s", err.msg);
    T_CHECK(!strcmp(st.stop, "length") && st.reply_tokens == 5, "cap -n 5: %s %zu", st.stop,
            st.reply_tokens);

    sl_chat_info in;
    size_t n_new = system_tokens(m, SL_CHAT_VICUNA, "A much longer system prompt for the reset test.");
    T_CHECK(sl_chat_reset(c, "A much longer system prompt for the reset test.", &err) == SL_OK, "%s", err.msg);
    sl_chat_get_info(c, &in);
    T_CHECK(in.turns == 0 && in.stream_pos == n_new && in.system_tokens == n_new &&
                in.n_pinned == (int)n_new,
            "after /system: turns %llu pos %llu sys %zu pinned %d (want %zu)",
            (unsigned long long)in.turns, (unsigned long long)in.stream_pos, in.system_tokens,
            in.n_pinned, n_new);
    /* A system prompt that is not UTF-8 is refused and the chat is kept. */
    T_CHECK(sl_chat_reset(c, "bad \xff byte", &err) != SL_OK, "invalid UTF-8 accepted");
    sl_chat_get_info(c, &in);
    T_CHECK(in.system_tokens == n_new, "a failed /system kept the conversation");
    T_CHECK(sl_chat_reset(c, NULL, &err) == SL_OK, "%s", err.msg);
    sl_chat_get_info(c, &in);
    T_CHECK(in.stream_pos == n_new && !strcmp(in.system, "A much longer system prompt for the reset test."),
            "/reset keeps the system prompt");
    sl_chat_free(c);
    sl_model_free(m);
}

typedef struct {
    char *b;
    size_t n, cap;
} text_acc;

static bool acc_emit(void *u, const char *t, size_t n) {
    text_acc *a = u;
    if (a->n + n + 1 < a->cap) {
        memcpy(a->b + a->n, t, n);
        a->n += n;
        a->b[a->n] = '\0';
    }
    return true;
}

static void test_determinism_and_dense(void) {
    sl_model *m = synth();
    if (!m) return;
    sl_chat_params cp = params(4, 40);
    sl_error err = {0};
    static char out[2][4][1024];
    for (int run = 0; run < 2; run++) {
        sl_chat *c = NULL;
        T_CHECK(sl_chat_create(&c, m, &cp, "Hi.", &err) == SL_OK, "%s", err.msg);
        for (int t = 0; c && t < 4; t++) {
            out[run][t][0] = '\0';
            text_acc acc = {out[run][t], 0, 1024};
            sl_chat_turn_stats st;
            T_CHECK(sl_chat_turn(c, "and then?", 9, 10, acc_emit, &acc, &st, &err) == SL_OK, "%s",
                    err.msg);
        }
        sl_chat_free(c);
    }
    for (int t = 0; t < 4; t++) T_CHECK(!strcmp(out[0][t], out[1][t]), "turn %d differs between runs", t);

    /* Dense has no eviction: once its capacity is full, an error, not a crash. */
    cp.session.policy = SL_POLICY_DENSE;
    cp.session.n_window = 64;
    sl_chat *c = NULL;
    T_CHECK(sl_chat_create(&c, m, &cp, NULL, &err) == SL_OK, "%s", err.msg);
    sl_status rc = SL_OK;
    for (int t = 0; c && t < 20 && rc == SL_OK; t++) {
        sl_chat_turn_stats st;
        rc = sl_chat_turn(c, "and then what happened next?", 28, 10, NULL, NULL, &st, &err);
    }
    T_CHECK(rc == SL_ERR_CONTEXT_FULL, "dense chat past its capacity: %d (%s)", (int)rc, err.msg);
    sl_chat_free(c);
    sl_model_free(m);
}

int main(void) {
    T_RUN(test_boundaries_and_pinning);
    T_RUN(test_overlong_turn);
    T_RUN(test_no_keep_system);
    T_RUN(test_interrupt_reset_system);
    T_RUN(test_determinism_and_dense);
    return T_DONE();
}
