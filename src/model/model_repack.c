/* model_repack.c — the load-time repack of weight matrices into the
 * row-interleaved x8 layout (kernels/gemm.h).
 *
 * Why: on one core the q4_0 and q8_0 kernels spend more time gathering 8
 * rows' blocks and scales than multiplying; interleaved, a group of 8 rows
 * is one sequential run and each block is a few plain loads, so decode
 * keeps up with memory. The price is owning the weights instead of using
 * the mapping: each repacked matrix is a copy, and the mapped original is
 * dropped from memory (MADV_DONTNEED) right after, so the resident size
 * stays about one model. The token embedding is never repacked (rows are
 * looked up one by one), nor an output matrix tied to it. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/error.h"
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

static sl_status repack_one(sl_model *m, sl_matrix *w, sl_error *err) {
    if (!w->data || w->x8 || w->rows % 8 != 0 || w->rows > INT32_MAX || w->cols > INT32_MAX ||
        !sl_gemm_x8_wanted(w->type, (int)w->cols))
        return SL_OK;
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
    if (!sl_repack_x8(w->type, c->data, w->data, (int)w->rows, (int)w->cols)) {
        sl_model_repack_free(c); /* (cannot happen: the checks above are the repack's) */
        return SL_OK;
    }
    c->next = m->x8_copies;
    m->x8_copies = c;
    if (m->gguf->file.is_mapped) drop_mapped(w->data, bytes);
    w->data = c->data;
    w->x8 = true;
    return SL_OK;
}

sl_status sl_model_repack(sl_model *m, sl_error *err) {
    const char *off = getenv("SL_NO_REPACK");
    if (off && *off && strcmp(off, "0") != 0) return SL_OK;
    for (int il = 0; il < m->hp.n_layer; il++) {
        sl_layer *l = &m->layers[il];
        sl_matrix *all[] = {&l->wq, &l->wk, &l->wv, &l->wo, &l->w_gate, &l->w_up, &l->w_down};
        for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
            sl_status st = repack_one(m, all[i], err);
            if (st != SL_OK) return st;
        }
    }
    if (m->output.data != m->tok_embd.data) return repack_one(m, &m->output, err);
    return SL_OK;
}
