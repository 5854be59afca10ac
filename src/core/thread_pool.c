#include "core/thread_pool.h"
#include "core/error.h"
#include "core/sys_stats.h"

#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* How long a worker spins for the next job before sleeping, and how long
 * the caller spins for stragglers before yielding its core. Short enough
 * that an oversubscribed machine (more runnable threads than cores) does not
 * burn whole time slices spinning on a descheduled thread; long enough to
 * cover the gap between two matmuls of one decode step. */
#define SPIN_NS 200000.0
#define CHECK_EVERY 64

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ volatile("yield");
#endif
}

/* Who runs share ith of a run: the last generation it was claimed in, one
 * cache line each, so claims do not bounce a line that others spin on. */
typedef struct {
    _Alignas(64) atomic_uint gen;
} share_claim;

/* The job (generation, fn, ctx) is written by the caller and read by every
 * worker; n_done is written by every worker and read by the caller. They sit
 * on separate cache lines, so finishing workers do not invalidate the line
 * the others are spinning on. */
struct sl_pool {
    _Alignas(64) atomic_uint generation; /* bumped once per run */
    sl_pool_fn fn;
    void *ctx;
    atomic_int stop;
    _Alignas(64) atomic_int n_done;      /* shares workers finished in this generation */
    atomic_int n_sleeping;
    _Alignas(64) int n_threads;
    pthread_t *threads;                  /* (n_threads - 1) workers */
    share_claim *claim;                  /* (n_threads) */
    pthread_mutex_t mu;
    pthread_cond_t cv;
};

/* Takes share ith of generation g unless someone has (the caller or its
 * worker, whoever comes first). A claim newer than g means this worker woke
 * up so late that the caller has moved on: nothing to do either. */
static bool claim_share(sl_pool *p, int ith, unsigned g) {
    atomic_uint *c = &p->claim[ith].gen;
    unsigned cur = atomic_load_explicit(c, memory_order_relaxed);
    while ((int)(cur - g) < 0)
        if (atomic_compare_exchange_weak_explicit(c, &cur, g, memory_order_acq_rel, memory_order_relaxed))
            return true;
    return false;
}

typedef struct {
    sl_pool *pool;
    int ith;
} worker_arg;

static void *worker_main(void *arg_) {
    worker_arg *arg = arg_;
    sl_pool *p = arg->pool;
    int ith = arg->ith;
    free(arg);
    unsigned seen = 0;
    for (;;) {
        unsigned g;
        int spins = 0;
        double t0 = sl_now_s();
        while ((g = atomic_load_explicit(&p->generation, memory_order_acquire)) == seen &&
               !atomic_load(&p->stop)) {
            if (++spins % CHECK_EVERY != 0 || (sl_now_s() - t0) * 1e9 < SPIN_NS) {
                cpu_relax();
                continue;
            }
            pthread_mutex_lock(&p->mu);
            atomic_fetch_add(&p->n_sleeping, 1);
            while (atomic_load(&p->generation) == seen && !atomic_load(&p->stop))
                pthread_cond_wait(&p->cv, &p->mu);
            atomic_fetch_sub(&p->n_sleeping, 1);
            pthread_mutex_unlock(&p->mu);
            spins = 0;
            t0 = sl_now_s();
        }
        if (atomic_load(&p->stop)) break;
        seen = g;
        /* fn and ctx are those of g: the caller cannot start another run
         * while a share it did not take itself is unfinished */
        if (!claim_share(p, ith, g)) continue;
        p->fn(p->ctx, ith, p->n_threads);
        atomic_fetch_add_explicit(&p->n_done, 1, memory_order_acq_rel);
    }
    return NULL;
}

sl_status sl_pool_create(sl_pool **out, int n_threads, sl_error *err) {
    *out = NULL;
    if (n_threads <= 0) n_threads = sl_n_cores();
    if (n_threads > 256)
        return sl_fail(err, SL_ERR_INVALID_ARG, "threads: %d is more than 256", n_threads);
    sl_pool *p = aligned_alloc(64, (sizeof *p + 63) & ~(size_t)63);
    if (p) memset(p, 0, sizeof *p);
    if (!p) return sl_fail(err, SL_ERR_NOMEM, "thread pool: out of memory");
    p->n_threads = n_threads;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    if (n_threads > 1) {
        p->threads = calloc((size_t)n_threads - 1, sizeof *p->threads);
        p->claim = aligned_alloc(64, (size_t)n_threads * sizeof *p->claim);
        if (!p->threads || !p->claim) {
            p->n_threads = 1; /* no worker to join */
            sl_pool_free(p);
            return sl_fail(err, SL_ERR_NOMEM, "thread pool: out of memory");
        }
        for (int i = 0; i < n_threads; i++) atomic_init(&p->claim[i].gen, 0);
    }
    for (int i = 1; i < n_threads; i++) {
        worker_arg *a = malloc(sizeof *a);
        if (a) { /* before the thread starts: it reads them at once */
            a->pool = p;
            a->ith = i;
        }
        if (!a || pthread_create(&p->threads[i - 1], NULL, worker_main, a) != 0) {
            free(a);
            p->n_threads = i; /* only join what started */
            sl_pool_free(p);
            return sl_fail(err, SL_ERR_NOMEM, "thread pool: cannot start thread %d", i);
        }
    }
    *out = p;
    return SL_OK;
}

void sl_pool_free(sl_pool *p) {
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    atomic_store(&p->stop, 1);
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    for (int i = 1; i < p->n_threads; i++) pthread_join(p->threads[i - 1], NULL);
    free(p->threads);
    free(p->claim);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    free(p);
}

int sl_pool_n_threads(const sl_pool *p) { return p ? p->n_threads : 1; }

void sl_pool_run(sl_pool *p, sl_pool_fn fn, void *ctx) {
    if (!p || p->n_threads == 1) {
        fn(ctx, 0, 1);
        return;
    }
    p->fn = fn;
    p->ctx = ctx;
    atomic_store_explicit(&p->n_done, 0, memory_order_relaxed);
    const unsigned g = atomic_fetch_add_explicit(&p->generation, 1, memory_order_release) + 1;
    if (atomic_load(&p->n_sleeping) > 0) {
        pthread_mutex_lock(&p->mu);
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
    }
    fn(ctx, 0, p->n_threads);
    /* Shares whose workers have not started: run them here rather than wait
     * for a worker to wake up or to get a core back. */
    int by_workers = 0;
    for (int i = 1; i < p->n_threads; i++) {
        if (claim_share(p, i, g)) fn(ctx, i, p->n_threads);
        else by_workers++;
    }
    int spins = 0;
    double t0 = 0;
    while (atomic_load_explicit(&p->n_done, memory_order_acquire) < by_workers) {
        if (++spins % CHECK_EVERY != 0) {
            cpu_relax();
            continue;
        }
        if (t0 == 0) t0 = sl_now_s();
        else if ((sl_now_s() - t0) * 1e9 > SPIN_NS) sched_yield(); /* a worker lost its core */
    }
}
