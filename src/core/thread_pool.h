/* thread_pool.h — persistent workers for data-parallel kernels.
 *
 * sl_pool_run(pool, fn, ctx) calls fn(ctx, ith, nth) once for every ith in
 * [0, nth) and returns when all calls are done; the calling thread runs ith 0.
 * Worker ith runs share ith unless the caller gets to it first: when the
 * caller is done with its own share it runs, one after the other, every
 * share whose worker has not started yet (asleep, or waiting for a core
 * that another process holds), instead of waiting for that worker. So fn
 * must not make shares wait for one another (no barriers inside fn); what a
 * share computes must depend on ith only, never on the thread running it.
 * Workers spin briefly on an atomic generation counter before sleeping, so a
 * decode step that issues dozens of small matvecs pays no futex round trip
 * per op (the cost that makes tiny models slow in graph-based engines).
 * One pool per session; a pool is not re-entrant (do not call run from fn). */
#ifndef SL_CORE_THREAD_POOL_H
#define SL_CORE_THREAD_POOL_H

#include "streamllm.h"

typedef struct sl_pool sl_pool;
typedef void (*sl_pool_fn)(void *ctx, int ith, int nth);

/* n_threads <= 0 means the number of cores. */
sl_status sl_pool_create(sl_pool **out, int n_threads, sl_error *err);
void sl_pool_free(sl_pool *p);
int sl_pool_n_threads(const sl_pool *p);
void sl_pool_run(sl_pool *p, sl_pool_fn fn, void *ctx);

/* Splits [0, n) into nth near-equal parts; part ith is [*lo, *hi). */
static inline void sl_split_range(long n, int ith, int nth, long *lo, long *hi) {
    long per = n / nth, rem = n % nth;
    *lo = ith * per + (ith < rem ? ith : rem);
    *hi = *lo + per + (ith < rem ? 1 : 0);
}

#endif
