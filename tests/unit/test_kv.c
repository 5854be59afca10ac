/* test_kv.c — the streaming cache's semantics against a literal simulation
 * of the paper's reference code (StartRecentKVCache + pos_shift): a list of
 * cached absolute positions, trimmed to the first `start` and last `recent`
 * after every token, with cache positions = list indices. */
#include <stdint.h>

#include "kv/kv_cache.h"
#include "test_util.h"

typedef struct {
    uint64_t pos[4096];
    int n;
} paper_cache;

/* What the paper's query at absolute p attends: the trimmed cache plus p. */
static void paper_step(paper_cache *c, uint64_t p, int start, int recent) {
    c->pos[c->n++] = p;
    (void)start;
    (void)recent;
}
static void paper_trim(paper_cache *c, int start, int recent) {
    if (c->n <= start + recent) return;
    int drop = c->n - start - recent;
    for (int i = start; i + drop < c->n; i++) c->pos[i] = c->pos[i + drop];
    c->n -= drop;
}

static void check_shape(sl_policy pol, int sinks, int window) {
    sl_kv_cache kv;
    sl_error err = {0};
    T_CHECK(sl_kv_init(&kv, pol, 1, 1, sinks, 0, window, SL_KV_F32, &err) == SL_OK, "%s", err.msg);
    int start = pol == SL_POLICY_STREAMING ? sinks : 0;
    paper_cache pc = {.n = 0};
    uint64_t total = 3 * (uint64_t)(start + window) + 7;
    for (uint64_t p = 0; p < total; p++) {
        paper_step(&pc, p, start, window);
        /* Attended set: exactly the paper's list. */
        int n_ours = 0;
        for (uint64_t a = 0; a <= p; a++) n_ours += sl_kv_attends(&kv, p, a);
        T_CHECK(n_ours == pc.n, "p=%llu sinks=%d window=%d: attends %d keys, paper %d",
                (unsigned long long)p, sinks, window, n_ours, pc.n);
        T_CHECK(n_ours <= start + window + 1, "attended %d > sinks+window+1", n_ours);
        uint64_t qw, qp;
        sl_kv_query_positions(&kv, p, &qw, &qp);
        int qpos_paper = pc.n - 1;
        for (int i = 0; i < pc.n; i++) {
            uint64_t a = pc.pos[i];
            T_CHECK(sl_kv_attends(&kv, p, a), "p=%llu: paper key %llu not attended",
                    (unsigned long long)p, (unsigned long long)a);
            /* RoPE sees only distances: ours must equal the paper's. */
            long long d_paper = qpos_paper - i;
            long long d_ours = a < (uint64_t)kv.n_pinned ? (long long)qp - (long long)a
                                                          : (long long)qw - (long long)a;
            T_CHECK(d_paper == d_ours, "p=%llu key %llu: distance %lld, paper %lld",
                    (unsigned long long)p, (unsigned long long)a, d_ours, d_paper);
        }
        /* Sinks are never evicted. */
        for (int i = 0; i < start && (uint64_t)i <= p; i++)
            T_CHECK(pc.pos[i] == (uint64_t)i, "sink %d evicted", i);
        paper_trim(&pc, start, window);
    }
    sl_kv_free(&kv);
}

static void test_attended_sets_match_paper(void) {
    int shapes[][2] = {{4, 8}, {1, 1}, {4, 1}, {1, 5}, {2, 3}, {0, 6}, {8, 16}};
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
        check_shape(SL_POLICY_STREAMING, shapes[i][0], shapes[i][1]);
    check_shape(SL_POLICY_WINDOW, 0, 5);
    check_shape(SL_POLICY_WINDOW, 4, 1); /* sinks ignored by the window baseline */
}

/* Writes batches of various sizes through sl_kv_store and checks that every
 * key a query of the next batch attends still holds its own value: the ring
 * never overwrites a row that is still needed, whatever the batch size. */
static void test_ring_never_loses_needed_rows(void) {
    int shapes[][2] = {{4, 8}, {1, 1}, {2, 5}, {0, 3}};
    int batches[] = {1, 2, 3, 7, 16, 64};
    for (size_t si = 0; si < 4; si++) {
        for (size_t bi = 0; bi < sizeof batches / sizeof batches[0]; bi++) {
            sl_kv_cache kv;
            sl_error err = {0};
            int sinks = shapes[si][0], window = shapes[si][1], B = batches[bi];
            T_CHECK(sl_kv_init(&kv, SL_POLICY_STREAMING, 2, 3, sinks, 0, window, SL_KV_F32, &err) ==
                        SL_OK, "%s", err.msg);
            float rows[64 * 3];
            for (int step = 0; step < 20; step++) {
                uint64_t p0 = kv.n_past;
                for (uint64_t p = p0; p < p0 + (uint64_t)B; p++)
                    for (uint64_t a = 0; a < p0; a++) {
                        if (!sl_kv_attends(&kv, p, a)) continue;
                        for (int il = 0; il < 2; il++) {
                            const float *k = sl_kv_k_row(&kv, il, sl_kv_slot(&kv, a));
                            const float *v = sl_kv_v_row(&kv, il, sl_kv_slot(&kv, a));
                            T_CHECK(k[0] == (float)a && k[2] == (float)(a + il) && v[1] == (float)a,
                                    "sinks=%d window=%d batch=%d: key %llu for query %llu holds %g",
                                    sinks, window, B, (unsigned long long)a, (unsigned long long)p,
                                    k[0]);
                        }
                    }
                for (int il = 0; il < 2; il++) {
                    for (int t = 0; t < B; t++) {
                        rows[t * 3 + 0] = (float)(p0 + t);
                        rows[t * 3 + 1] = (float)(p0 + t);
                        rows[t * 3 + 2] = (float)(p0 + t + il);
                    }
                    sl_kv_store(&kv, il, rows, rows, (size_t)B);
                }
                sl_kv_advance(&kv, (size_t)B);
                T_CHECK(sl_kv_len(&kv) <= (size_t)(sinks + window), "cache holds %zu > %d",
                        sl_kv_len(&kv), sinks + window);
            }
            sl_kv_free(&kv);
        }
    }
}

static void test_memory_is_sinks_plus_window(void) {
    sl_kv_cache kv;
    sl_error err = {0};
    T_CHECK(sl_kv_init(&kv, SL_POLICY_STREAMING, 5, 32, 4, 0, 100, SL_KV_F16, &err) == SL_OK, "%s",
            err.msg);
    T_CHECK(sl_kv_bytes(&kv) == (size_t)5 * (4 + 100) * 2 * 32 * 2, "bytes %zu", sl_kv_bytes(&kv));
    sl_kv_free(&kv);
}

static void test_bad_parameters(void) {
    sl_kv_cache kv;
    sl_error err = {0};
    T_CHECK(sl_kv_init(&kv, SL_POLICY_STREAMING, 1, 8, 4, 0, 0, SL_KV_F16, &err) ==
                SL_ERR_INVALID_ARG && strstr(err.msg, "--window"), "window 0: %s", err.msg);
    T_CHECK(sl_kv_init(&kv, SL_POLICY_STREAMING, 1, 8, -1, 0, 8, SL_KV_F16, &err) ==
                SL_ERR_INVALID_ARG && strstr(err.msg, "--sinks"), "sinks -1: %s", err.msg);
    T_CHECK(sl_kv_init(&kv, SL_POLICY_STREAMING, 1000, 1 << 20, 4, 0, (int64_t)1 << 40,
                       SL_KV_F16, &err) == SL_ERR_NOMEM, "huge: %s", err.msg);
    T_CHECK(sl_kv_init(&kv, SL_POLICY_DENSE, 1, 8, 0, 0, 10, SL_KV_F32, &err) == SL_OK, "%s", err.msg);
    kv.n_past = 8;
    T_CHECK(sl_kv_check_room(&kv, 2, &err) == SL_OK, "dense 8+2 of 10");
    T_CHECK(sl_kv_check_room(&kv, 3, &err) == SL_ERR_CONTEXT_FULL, "dense 8+3 of 10 must refuse");
    sl_kv_free(&kv);
    sl_kv_free(&kv); /* twice is safe */
}

/* Early eviction to a boundary (chat turns): the window restarts at the
 * floor, positions stay contiguous, pinned tokens stay. */
static void test_evict_before_floor(void) {
    sl_kv_cache kv;
    sl_error err = {0};
    T_CHECK(sl_kv_init(&kv, SL_POLICY_STREAMING, 1, 1, 4, 0, 8, SL_KV_F32, &err) == SL_OK, "%s",
            err.msg);
    sl_kv_advance(&kv, 10);
    T_CHECK(sl_kv_len(&kv) == 10, "len before %zu", sl_kv_len(&kv));
    sl_kv_evict_before(&kv, 7);
    T_CHECK(sl_kv_len(&kv) == 4 + 3, "len after evicting before 7: %zu", sl_kv_len(&kv));
    uint64_t qw, qp;
    sl_kv_query_positions(&kv, 10, &qw, &qp);
    T_CHECK(qw == 10 && qp == 7, "query positions %llu %llu, want 10 7", (unsigned long long)qw,
            (unsigned long long)qp);
    for (uint64_t a = 0; a <= 10; a++) {
        bool want = a < 4 || a >= 7;
        T_CHECK(sl_kv_attends(&kv, 10, a) == want, "key %llu", (unsigned long long)a);
    }
    /* Once the window passes the floor, the floor no longer matters. */
    sl_kv_advance(&kv, 20);
    T_CHECK(sl_kv_len(&kv) == 12, "len %zu", sl_kv_len(&kv));
    sl_kv_evict_before(&kv, 1000); /* clamped to n_past */
    T_CHECK(kv.floor == 30, "floor %llu", (unsigned long long)kv.floor);
    T_CHECK(sl_kv_len(&kv) == 4, "len %zu", sl_kv_len(&kv));
    sl_kv_reset(&kv);
    T_CHECK(kv.floor == 0 && sl_kv_len(&kv) == 0, "reset");
    sl_kv_free(&kv);
}

int main(void) {
    T_RUN(test_evict_before_floor);
    T_RUN(test_attended_sets_match_paper);
    T_RUN(test_ring_never_loses_needed_rows);
    T_RUN(test_memory_is_sinks_plus_window);
    T_RUN(test_bad_parameters);
    return T_DONE();
}
