/* model_repack.c — the load-time repack of weight matrices into the
 * row-interleaved x8 layout (kernels/gemm.h).
 *
 * Why: on one core the q4_0 and q8_0 kernels spend more time gathering 8
 * rows' blocks and scales than multiplying; interleaved, a group of 8 rows
 * is one sequential run and each block is a few plain loads, so decode
 * keeps up with memory. The price is owning the weights instead of using
 * the mapping: each repacked matrix is a copy, and the mapped original is
 * dropped from memory (MADV_DONTNEED) right after, so the resident size
 * stays about one model. The token embedding is repacked only when it is
 * also the output matrix and f16 or bf16: the half kernels' rows as stored
 * run decode at about half the speed of x8 groups, and a lookup reads an x8
 * half row in place (sl_x8_half_row). A quantized embedding stays as stored
 * for its row lookups, and so does an output matrix tied to it. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/error.h"
#include "core/thread_pool.h"
#include "kernels/gemm.h"
#include "model/model.h"

/* One repacked matrix: its own anonymous mapping (huge pages where the
 * kernel allows: a loading model touches hundreds of MiB at once, and one
 * fault per 2 MiB instead of per 4 KiB is most of the load time saved). */
typedef struct x8_copy {
    struct x8_copy *next;
    void *map;   /* the whole mapping, for munmap */
    size_t len;
    char *data;  /* the copy: the first 2 MiB boundary in map */
} x8_copy;

#define HUGE_ALIGN ((size_t)2 << 20)

/* Maps room for bytes starting on a 2 MiB boundary into c; false when out
 * of memory. The pages before c->data are never touched. */
static bool map_copy(x8_copy *c, size_t bytes) {
    c->len = bytes + HUGE_ALIGN;
    c->map = mmap(NULL, c->len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (c->map == MAP_FAILED) return false;
    c->data = (char *)(((uintptr_t)c->map + HUGE_ALIGN - 1) & ~(uintptr_t)(HUGE_ALIGN - 1));
#ifdef MADV_HUGEPAGE
    madvise(c->data, bytes, MADV_HUGEPAGE); /* advice only: without THP it is 4 KiB pages */
#endif
    return true;
}

void sl_model_repack_free(void *chain) {
    for (x8_copy *c = chain; c;) {
        x8_copy *next = c->next;
        munmap(c->map, c->len);
        free(c);
        c = next;
    }
}

/* Hands the pages wholly inside [p, p + n) of a file mapping back to the
 * kernel: they are re-read from the file if anything touches them again. */
static void drop_mapped(const void *p, size_t n) {
    const long page = sysconf(_SC_PAGESIZE);
    if (page <= 0) return;
    const uintptr_t lo = ((uintptr_t)p + (uintptr_t)page - 1) & ~((uintptr_t)page - 1);
    const uintptr_t hi = ((uintptr_t)p + n) & ~((uintptr_t)page - 1);
    if (hi > lo) madvise((void *)lo, hi - lo, MADV_DONTNEED);
}

#ifdef MADV_POPULATE_READ
/* Faults in the pages under [p, p + n) of the file mapping at once. */
static void populate_mapped(const void *p, size_t n) {
    const long page = sysconf(_SC_PAGESIZE);
    if (page <= 0) return;
    const uintptr_t lo = (uintptr_t)p & ~((uintptr_t)page - 1);
    madvise((void *)lo, (uintptr_t)p + n - lo, MADV_POPULATE_READ);
}
#endif

/* Repacks w into a new copy, returned in *out (NULL when w stays as it
 * is); w then points into the copy. */
static sl_status repack_one(sl_model *m, sl_matrix *w, x8_copy **out, sl_error *err) {
    *out = NULL;
    if (!w->data || w->group || w->rows > INT32_MAX || w->cols > INT32_MAX) return SL_OK;
    const int group = sl_gemm_best_group(w->type, (int)w->rows, (int)w->cols);
    if (group == SL_ROWS_STORED) return SL_OK;
    const size_t bytes = (size_t)w->rows * sl_row_size(w->type, w->cols);
    x8_copy *c = calloc(1, sizeof *c);
    if (!c || !map_copy(c, bytes)) {
        free(c);
        return sl_fail(err, SL_ERR_NOMEM, "%s: out of memory repacking a %zu MiB matrix", m->gguf->path, bytes >> 20);
    }
#ifdef MADV_POPULATE_READ
    /* the source in one go rather than a fault per few pages (advice: may fail on old kernels) */
    if (m->gguf->file.is_mapped) populate_mapped(w->data, bytes);
#endif
    if (!sl_repack_grouped(w->type, group, c->data, w->data, (int)w->rows, (int)w->cols)) {
        sl_model_repack_free(c); /* (cannot happen: the checks above are the repack's) */
        return SL_OK;
    }
    if (m->gguf->file.is_mapped) drop_mapped(w->data, bytes);
    w->data = c->data;
    w->group = group;
    *out = c;
    return SL_OK;
}

/* The matrices are shared out one at a time over a pool made for the load:
 * most of a repack is page faults (the source read in, the copy's pages
 * made) and copying, which two cores do in about half the time of one. */
typedef struct {
    sl_model *m;
    sl_matrix **list;
    int n;
    atomic_int next;
    atomic_bool failed;
    pthread_mutex_t mu; /* guards m->x8_copies, st and err */
    sl_status st;
    sl_error err;
} repack_job;

static void repack_task(void *ctx, int ith, int nth) {
    repack_job *j = ctx;
    (void)ith, (void)nth;
    for (;;) {
        const int i = atomic_fetch_add(&j->next, 1);
        if (i >= j->n || atomic_load(&j->failed)) return;
        sl_error e = {0};
        x8_copy *c;
        const sl_status st = repack_one(j->m, j->list[i], &c, &e);
        pthread_mutex_lock(&j->mu);
        if (c) {
            c->next = j->m->x8_copies;
            j->m->x8_copies = c;
        }
        if (st != SL_OK && j->st == SL_OK) {
            j->st = st;
            j->err = e;
            atomic_store(&j->failed, true);
        }
        pthread_mutex_unlock(&j->mu);
    }
}

sl_status sl_model_repack(sl_model *m, sl_error *err) {
    const char *off = getenv("SL_NO_REPACK");
    if (off && *off && strcmp(off, "0") != 0) return SL_OK;
    repack_job j = {.m = m, .st = SL_OK};
    j.list = malloc(((size_t)m->hp.n_layer * 7 + 1) * sizeof *j.list);
    if (!j.list) return sl_fail(err, SL_ERR_NOMEM, "%s: out of memory", m->gguf->path);
    for (int il = 0; il < m->hp.n_layer; il++) {
        sl_layer *l = &m->layers[il];
        sl_matrix *all[] = {&l->wq, &l->wk, &l->wv, &l->wo, &l->w_gate, &l->w_up, &l->w_down};
        for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) j.list[j.n++] = all[i];
    }
    const bool tied = m->output.data == m->tok_embd.data;
    if (!tied) j.list[j.n++] = &m->output;
    else if (m->tok_embd.type == SL_TYPE_F16 || m->tok_embd.type == SL_TYPE_BF16) j.list[j.n++] = &m->tok_embd;
    atomic_init(&j.next, 0);
    atomic_init(&j.failed, false);
    pthread_mutex_init(&j.mu, NULL);
    sl_pool *pool = NULL;
    sl_error pe = {0};
    if (j.n > 1 && sl_pool_create(&pool, 0, &pe) == SL_OK) {
        sl_pool_run(pool, repack_task, &j);
        sl_pool_free(pool);
    } else {
        repack_task(&j, 0, 1); /* no threads to be had: this one does it all */
    }
    pthread_mutex_destroy(&j.mu);
    free(j.list);
    if (tied) m->output = m->tok_embd; /* the copy, when the embedding was repacked */
    if (j.st != SL_OK && err) *err = j.err;
    return j.st;
}
