/* test_sampler.c — the sampler chain against hand-computed expectations:
 * greedy is argmax, each filter keeps exactly the candidate set worked out
 * by hand, penalties change exactly the right logits by the right amounts,
 * seeded draws repeat, frequencies approach softmax(logits / temp), and a
 * saved state resumes the identical sequence. */
#include "test_util.h"

#include <stdint.h>

#include "sampling/sampler_state.h"
#include "streamllm.h"

/* Params with every filter and penalty off. */
static sl_sampler_params plain(float temp, uint64_t seed) {
    sl_sampler_params p;
    sl_sampler_params_default(&p);
    p.temp = temp;
    p.top_k = 0;
    p.top_p = 1.0f;
    p.min_p = 0.0f;
    p.repeat_penalty = 1.0f;
    p.presence_penalty = 0.0f;
    p.frequency_penalty = 0.0f;
    p.seed = seed;
    return p;
}

static sl_sampler *make(const sl_sampler_params *p, int n_vocab) {
    sl_sampler *s = NULL;
    sl_error err = {0};
    sl_status st = sl_sampler_create(&s, p, n_vocab, &err);
    if (st != SL_OK) fprintf(stderr, "  create failed: %s\n", err.msg);
    return s;
}

/* Draws n tokens from the same logits; counts[id] gets the frequencies. */
static void draw_counts(sl_sampler *s, const float *logits, int V, int n, int *counts) {
    float *tmp = malloc((size_t)V * sizeof *tmp);
    for (int i = 0; i < V; i++) counts[i] = 0;
    for (int k = 0; k < n; k++) {
        memcpy(tmp, logits, (size_t)V * sizeof *tmp);
        int32_t t = sl_sampler_sample(s, tmp);
        if (t >= 0 && t < V) counts[t]++;
    }
    free(tmp);
}

static void test_greedy_is_argmax(void) {
    enum { V = 1000 };
    unsigned long long rs = 12345;
    sl_sampler_params p = plain(0.0f, 1);
    sl_sampler *s = make(&p, V);
    T_CHECK(s != NULL, "create");
    if (!s) return;
    float logits[V];
    for (int trial = 0; trial < 50; trial++) {
        for (int i = 0; i < V; i++) logits[i] = 5.0f * t_rand_f(&rs);
        int want = 0;
        for (int i = 1; i < V; i++)
            if (logits[i] > logits[want]) want = i;
        int32_t got = sl_sampler_sample(s, logits);
        T_CHECK(got == want, "trial %d: got %d want %d", trial, got, want);
    }
    /* ties go to the lowest id */
    for (int i = 0; i < V; i++) logits[i] = 0.0f;
    logits[700] = 3.0f;
    logits[300] = 3.0f;
    logits[900] = 3.0f;
    int32_t got = sl_sampler_sample(s, logits);
    T_CHECK(got == 300, "tie: got %d want 300", got);
    sl_sampler_free(s);
}

static void test_top_k1_is_greedy(void) {
    enum { V = 500 };
    unsigned long long rs = 777;
    float logits[V], copy[V];
    for (int seed = 1; seed <= 20; seed++) {
        sl_sampler_params p = plain(1.3f, (uint64_t)seed);
        p.top_k = 1;
        sl_sampler *s = make(&p, V);
        if (!s) { T_CHECK(0, "create"); return; }
        for (int trial = 0; trial < 20; trial++) {
            for (int i = 0; i < V; i++) logits[i] = 3.0f * t_rand_f(&rs);
            memcpy(copy, logits, sizeof logits);
            int want = 0;
            for (int i = 1; i < V; i++)
                if (copy[i] > copy[want]) want = i;
            int32_t got = sl_sampler_sample(s, logits);
            T_CHECK(got == want, "seed %d trial %d: got %d want %d", seed, trial, got, want);
        }
        sl_sampler_free(s);
    }
}

/* Candidate sets by hand. Ids are permuted so that id order is not
 * probability order. probs: id 3: .50, id 0: .30, id 4: .15, id 1: .04, id 2: .01 */
static void set_hand_logits(float *logits) {
    logits[3] = logf(0.50f);
    logits[0] = logf(0.30f);
    logits[4] = logf(0.15f);
    logits[1] = logf(0.04f);
    logits[2] = logf(0.01f);
}

static void check_kept(const char *what, const sl_sampler_params *p, const int *want_kept) {
    enum { V = 5 };
    float logits[V];
    set_hand_logits(logits);
    sl_sampler *s = make(p, V);
    if (!s) { T_CHECK(0, "create"); return; }
    int counts[V];
    draw_counts(s, logits, V, 20000, counts);
    for (int i = 0; i < V; i++) {
        if (want_kept[i])
            T_CHECK(counts[i] > 0, "%s: id %d should be kept, drawn %d times", what, i, counts[i]);
        else
            T_CHECK(counts[i] == 0, "%s: id %d should be cut, drawn %d times", what, i, counts[i]);
    }
    sl_sampler_free(s);
}

static void test_top_p_sets(void) {
    sl_sampler_params p = plain(1.0f, 5);
    /* cumulative in probability order: .50 .80 .95 .99 1.0 */
    p.top_p = 0.45f; /* .50 crosses: keep only id 3 */
    check_kept("top_p=.45", &p, (int[]){0, 0, 0, 1, 0});
    p.top_p = 0.75f; /* .80 crosses: ids 3, 0 */
    check_kept("top_p=.75", &p, (int[]){1, 0, 0, 1, 0});
    p.top_p = 0.90f; /* .95 crosses: ids 3, 0, 4 */
    check_kept("top_p=.90", &p, (int[]){1, 0, 0, 1, 1});
    p.top_p = 0.97f; /* .99 crosses: all but id 2 */
    check_kept("top_p=.97", &p, (int[]){1, 1, 0, 1, 1});
    p.top_p = 1.0f;
    check_kept("top_p=1", &p, (int[]){1, 1, 1, 1, 1});
}

static void test_min_p_sets(void) {
    sl_sampler_params p = plain(1.0f, 6);
    /* p_max = .50: threshold = min_p * .50 */
    p.min_p = 0.05f; /* .025: cuts id 2 (.01) */
    check_kept("min_p=.05", &p, (int[]){1, 1, 0, 1, 1});
    p.min_p = 0.2f; /* .10: keeps .50 .30 .15 */
    check_kept("min_p=.2", &p, (int[]){1, 0, 0, 1, 1});
    p.min_p = 0.5f; /* .25: keeps .50 .30 */
    check_kept("min_p=.5", &p, (int[]){1, 0, 0, 1, 0});
    p.min_p = 1.0f; /* only the max */
    check_kept("min_p=1", &p, (int[]){0, 0, 0, 1, 0});
}

static void test_top_k_sets(void) {
    sl_sampler_params p = plain(1.0f, 7);
    p.top_k = 2;
    check_kept("top_k=2", &p, (int[]){1, 0, 0, 1, 0});
    p.top_k = 3;
    check_kept("top_k=3", &p, (int[]){1, 0, 0, 1, 1});
    /* chained: top_k 4 leaves .50 .30 .15 .04; top_p .9 over those
     * renormalised (/.99): .505 .808 .960 -> keeps 3 */
    p.top_k = 4;
    p.top_p = 0.9f;
    check_kept("top_k=4,top_p=.9", &p, (int[]){1, 0, 0, 1, 1});
}

static void test_penalties_exact(void) {
    enum { V = 8 };
    float base[V] = {1.0f, -2.0f, 0.5f, 2.0f, 3.0f, -1.0f, 0.0f, 4.0f};
    sl_sampler_params p = plain(0.0f, 1);
    p.repeat_penalty = 1.5f;
    p.frequency_penalty = 0.25f;
    p.presence_penalty = 0.5f;
    p.penalty_last_n = 4;
    sl_sampler *s = make(&p, V);
    if (!s) { T_CHECK(0, "create"); return; }
    /* history 7 | 3 5 3 1: window of 4 drops the 7 */
    int32_t hist[] = {7, 3, 5, 3, 1};
    for (int i = 0; i < 5; i++) sl_sampler_accept(s, hist[i]);
    float l[V];
    memcpy(l, base, sizeof l);
    int32_t t = sl_sampler_sample(s, l);
    float want[V];
    memcpy(want, base, sizeof want);
    want[3] = 2.0f / 1.5f - (2 * 0.25f + 0.5f);  /* positive: divided, seen twice */
    want[5] = -1.0f * 1.5f - (1 * 0.25f + 0.5f); /* negative: multiplied, once */
    want[1] = -2.0f * 1.5f - (1 * 0.25f + 0.5f);
    for (int i = 0; i < V; i++) T_CLOSE(l[i], want[i], 1e-6, "penalised logit");
    T_CHECK(t == 7, "greedy after penalties: got %d want 7 (not in window)", t);

    /* now 7 enters the window (3 5 3 1 7 -> 5 3 1 7): 7 loses 4/1.5-0.75 = 1.92 */
    memcpy(l, base, sizeof l);
    t = sl_sampler_sample(s, l);
    T_CLOSE(l[7], 4.0f / 1.5f - 0.75f, 1e-6, "token 7 penalised once in window");
    T_CLOSE(l[3], 2.0f / 1.5f - 0.75f, 1e-6, "token 3 now seen once");
    T_CHECK(t == 4, "greedy picks 4 (3.0 untouched), got %d", t);
    sl_sampler_free(s);

    /* all neutral: logits untouched */
    sl_sampler_params q = plain(0.0f, 1);
    s = make(&q, V);
    if (!s) return;
    for (int i = 0; i < 5; i++) sl_sampler_accept(s, hist[i]);
    memcpy(l, base, sizeof l);
    sl_sampler_sample(s, l);
    for (int i = 0; i < V; i++) T_CHECK(l[i] == base[i], "neutral penalties changed logit %d", i);
    sl_sampler_free(s);
}

static void test_seed_reproducible(void) {
    enum { V = 64, N = 300 };
    unsigned long long rs = 99;
    float logits[V];
    for (int i = 0; i < V; i++) logits[i] = 2.0f * t_rand_f(&rs);
    int32_t a[N], b[N], c[N];
    uint64_t seeds[3] = {1234, 1234, 1235};
    int32_t *outs[3] = {a, b, c};
    for (int k = 0; k < 3; k++) {
        sl_sampler_params p = plain(1.0f, seeds[k]);
        p.top_k = 40;
        p.top_p = 0.95f;
        p.repeat_penalty = 1.1f;
        sl_sampler *s = make(&p, V);
        if (!s) { T_CHECK(0, "create"); return; }
        for (int i = 0; i < N; i++) {
            float tmp[V];
            memcpy(tmp, logits, sizeof tmp);
            outs[k][i] = sl_sampler_sample(s, tmp);
        }
        sl_sampler_free(s);
    }
    T_CHECK(memcmp(a, b, sizeof a) == 0, "same seed gave different sequences");
    int diff = 0;
    for (int i = 0; i < N; i++) diff += a[i] != c[i];
    T_CHECK(diff > N / 4, "seeds 1234 and 1235 agree on %d of %d draws", N - diff, N);
}

static void test_frequencies_match_softmax(void) {
    enum { V = 6, N = 200000 };
    const float logits[V] = {1.0f, 0.5f, 0.0f, -0.5f, 2.0f, -3.0f};
    const float temp = 0.7f;
    double want[V], sum = 0;
    for (int i = 0; i < V; i++) sum += want[i] = exp(logits[i] / temp);
    for (int i = 0; i < V; i++) want[i] /= sum;
    sl_sampler_params p = plain(temp, 2024);
    sl_sampler *s = make(&p, V);
    if (!s) { T_CHECK(0, "create"); return; }
    int counts[V];
    draw_counts(s, logits, V, N, counts);
    /* 5 binomial standard deviations per token: a false failure has odds
     * around 1e-6 per token. */
    double max_z = 0;
    for (int i = 0; i < V; i++) {
        double f = (double)counts[i] / N;
        double sd = sqrt(want[i] * (1 - want[i]) / N);
        double z = fabs(f - want[i]) / sd;
        max_z = z > max_z ? z : max_z;
        T_CHECK(z < 5.0, "token %d: freq %.5f want %.5f (%.1f sd)", i, f, want[i], z);
    }
    printf("  frequencies vs softmax(logits/%.1f) over %d draws: max %.2f sd\n", temp, N, max_z);
    sl_sampler_free(s);
}

static void test_state_roundtrip(void) {
    enum { V = 50, N = 100 };
    unsigned long long rs = 4242;
    float logits[V];
    for (int i = 0; i < V; i++) logits[i] = 2.0f * t_rand_f(&rs);
    sl_sampler_params p = plain(0.9f, 31337);
    p.repeat_penalty = 1.3f;
    p.frequency_penalty = 0.2f;
    p.presence_penalty = 0.1f;
    p.penalty_last_n = 16;
    sl_sampler *a = make(&p, V);
    sl_sampler_params q = p;
    q.seed = 1; /* restore must overwrite the RNG */
    sl_sampler *b = make(&q, V);
    if (!a || !b) { T_CHECK(0, "create"); sl_sampler_free(a); sl_sampler_free(b); return; }
    float tmp[V];
    for (int i = 0; i < 25; i++) { /* more than the window: the ring has wrapped */
        memcpy(tmp, logits, sizeof tmp);
        sl_sampler_sample(a, tmp);
    }
    size_t size = sl_sampler_state_size(a), written = 0;
    T_CHECK(size == 52 + 4 * 16, "state size %zu", size);
    unsigned char *buf = malloc(size);
    sl_error err = {0};
    T_CHECK(sl_sampler_state_save(a, buf, size - 1, &written, &err) == SL_ERR_INVALID_ARG,
            "short buffer accepted");
    T_CHECK(sl_sampler_state_save(a, buf, size, &written, &err) == SL_OK && written == size,
            "save: %s", err.msg);
    int32_t sa[N], sb[N];
    for (int i = 0; i < N; i++) {
        memcpy(tmp, logits, sizeof tmp);
        sa[i] = sl_sampler_sample(a, tmp);
    }
    T_CHECK(sl_sampler_state_load(b, buf, size, &err) == SL_OK, "load: %s", err.msg);
    for (int i = 0; i < N; i++) {
        memcpy(tmp, logits, sizeof tmp);
        sb[i] = sl_sampler_sample(b, tmp);
    }
    T_CHECK(memcmp(sa, sb, sizeof sa) == 0, "restored sampler diverged");

    /* corrupt blobs are refused and leave the sampler alone */
    unsigned char bad[256];
    memcpy(bad, buf, size);
    bad[0] = 'X';
    T_CHECK(sl_sampler_state_load(b, bad, size, &err) == SL_ERR_FORMAT, "bad magic accepted");
    T_CHECK(sl_sampler_state_load(b, buf, size - 4, &err) == SL_ERR_FORMAT, "truncated accepted");
    memcpy(bad, buf, size);
    bad[52] = 0xff; bad[53] = 0xff; /* token 65535+ out of range */
    T_CHECK(sl_sampler_state_load(b, bad, size, &err) == SL_ERR_FORMAT, "bad token accepted");
    sl_sampler *c = make(&p, V + 1);
    if (c) {
        T_CHECK(sl_sampler_state_load(c, buf, size, &err) == SL_ERR_INVALID_ARG,
                "n_vocab mismatch accepted");
        sl_sampler_free(c);
    }
    free(buf);
    sl_sampler_free(a);
    sl_sampler_free(b);
}

static void test_bad_params(void) {
    sl_sampler *s = NULL;
    sl_error err = {0};
    sl_sampler_params p = plain(1.0f, 1);
    T_CHECK(sl_sampler_create(&s, &p, 0, &err) == SL_ERR_INVALID_ARG, "n_vocab 0");
    p.top_p = 0.0f;
    T_CHECK(sl_sampler_create(&s, &p, 10, &err) == SL_ERR_INVALID_ARG, "top_p 0");
    p = plain(1.0f, 1);
    p.min_p = 1.5f;
    T_CHECK(sl_sampler_create(&s, &p, 10, &err) == SL_ERR_INVALID_ARG, "min_p 1.5");
    p = plain(1.0f, 1);
    p.penalty_last_n = -1;
    T_CHECK(sl_sampler_create(&s, &p, 10, &err) == SL_ERR_INVALID_ARG, "penalty_last_n -1");
    p = plain(1.0f, 1);
    p.repeat_penalty = 0.0f;
    T_CHECK(sl_sampler_create(&s, &p, 10, &err) == SL_ERR_INVALID_ARG, "repeat_penalty 0");
    T_CHECK(s == NULL, "failed create left a sampler");
    sl_sampler_free(NULL);
}

int main(void) {
    T_RUN(test_greedy_is_argmax);
    T_RUN(test_top_k1_is_greedy);
    T_RUN(test_top_p_sets);
    T_RUN(test_min_p_sets);
    T_RUN(test_top_k_sets);
    T_RUN(test_penalties_exact);
    T_RUN(test_seed_reproducible);
    T_RUN(test_frequencies_match_softmax);
    T_RUN(test_state_roundtrip);
    T_RUN(test_bad_params);
    return T_DONE();
}
