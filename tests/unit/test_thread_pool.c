/* test_thread_pool.c — sl_pool_run's contract (core/thread_pool.h): every
 * share ith in [0, nth) runs exactly once per run, the caller runs share 0,
 * and the run returns only when all shares are done, whether workers are
 * spinning, asleep (the caller then runs their shares itself) or fighting
 * over fewer cores than threads. */
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "core/thread_pool.h"
#include "test_util.h"

#define MAX_T 16

typedef struct {
    atomic_int runs[MAX_T];  /* times each share ran in this run */
    atomic_int nth_seen;     /* nth passed to fn, or -1 when they disagreed */
    pthread_t caller;
    atomic_int share0_elsewhere;
    atomic_int on_caller;    /* shares other than 0 the caller ran itself */
    long work;               /* busy-loop length per share */
    volatile unsigned long sink;
} job;

static void count_task(void *ctx, int ith, int nth) {
    job *j = ctx;
    if (ith >= 0 && ith < MAX_T) atomic_fetch_add(&j->runs[ith], 1);
    int expect = 0;
    if (!atomic_compare_exchange_strong(&j->nth_seen, &expect, nth) && expect != nth) atomic_store(&j->nth_seen, -1);
    const bool mine = pthread_equal(pthread_self(), j->caller);
    if (ith == 0 && !mine) atomic_store(&j->share0_elsewhere, 1);
    if (ith != 0 && mine) atomic_fetch_add(&j->on_caller, 1);
    unsigned long s = 0;
    for (long i = 0; i < j->work * (ith + 1); i++) s += (unsigned long)i * 2654435761u;
    j->sink += s;
}

static void sleep_us(long us) {
    struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
    nanosleep(&ts, NULL);
}

/* Runs the pool `runs` times; fails on any share that ran other than once.
 * Returns how many shares of workers the caller ran. */
static int check_runs(sl_pool *p, int nth, int runs, long work, long pause_us, const char *what) {
    job j = {.caller = pthread_self(), .work = work};
    int bad = 0;
    for (int r = 0; r < runs; r++) {
        for (int i = 0; i < MAX_T; i++) atomic_store(&j.runs[i], 0);
        atomic_store(&j.nth_seen, 0);
        sl_pool_run(p, count_task, &j);
        for (int i = 0; i < MAX_T; i++)
            if (atomic_load(&j.runs[i]) != (i < nth ? 1 : 0)) bad++;
        if (atomic_load(&j.nth_seen) != nth) bad++;
        if (pause_us) sleep_us(pause_us);
    }
    T_CHECK(bad == 0, "%s, %d threads: %d wrong share counts in %d runs", what, nth, bad, runs);
    T_CHECK(!atomic_load(&j.share0_elsewhere), "%s: share 0 ran off the calling thread", what);
    return atomic_load(&j.on_caller);
}

static void test_every_share_once(void) {
    const int ns[] = {1, 2, 3, 8};
    for (size_t a = 0; a < sizeof ns / sizeof ns[0]; a++) {
        sl_pool *p = NULL;
        sl_error err = {0};
        T_CHECK(sl_pool_create(&p, ns[a], &err) == SL_OK, "create: %s", err.msg);
        if (!p) continue;
        T_CHECK(sl_pool_n_threads(p) == ns[a], "n_threads");
        /* back to back (workers spinning), empty and with some work */
        check_runs(p, ns[a], 2000, 0, 0, "empty runs");
        check_runs(p, ns[a], 300, 2000, 0, "uneven runs");
        /* after a pause long enough for the workers to fall asleep (they
         * spin 0.2 ms): waking takes far longer than the caller's own share,
         * so it takes the shares of workers that are not up yet */
        const int taken = check_runs(p, ns[a], 20, 0, 2000, "runs after sleeping");
        T_CHECK(ns[a] == 1 || taken > 0, "%d threads: the caller never ran a sleeping worker's share", ns[a]);
        sl_pool_free(p);
    }
}

/* Sixteen threads on however few cores: workers routinely start late, after
 * the caller took their share, and must then skip it. */
static void test_oversubscribed(void) {
    sl_pool *p = NULL;
    sl_error err = {0};
    T_CHECK(sl_pool_create(&p, MAX_T, &err) == SL_OK, "create: %s", err.msg);
    if (!p) return;
    check_runs(p, MAX_T, 1000, 300, 0, "oversubscribed");
    check_runs(p, MAX_T, 10, 300, 1000, "oversubscribed, pauses");
    sl_pool_free(p);
}

static void test_no_pool(void) {
    job j = {.caller = pthread_self()};
    sl_pool_run(NULL, count_task, &j);
    T_CHECK(atomic_load(&j.runs[0]) == 1 && atomic_load(&j.nth_seen) == 1, "NULL pool runs share 0 of 1");
    sl_pool_free(NULL);
    T_CHECK(sl_pool_n_threads(NULL) == 1, "NULL pool has one thread");
    sl_pool *p = NULL;
    sl_error err = {0};
    T_CHECK(sl_pool_create(&p, 257, &err) == SL_ERR_INVALID_ARG && !p, "257 threads refused");
}

int main(void) {
    T_RUN(test_every_share_once);
    T_RUN(test_oversubscribed);
    T_RUN(test_no_pool);
    return T_DONE();
}
