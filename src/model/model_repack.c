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
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/error.h"
#include "kernels/gemm.h"
#include "model/model.h"

#define X8_ALIGN 64 /* also the chain header: keeps the data aligned */

/* Hands the pages wholly inside [p, p + n) of a file mapping back to the
 * kernel: they are re-read from the file if anything touches them again. */
static void drop_mapped(const void *p, size_t n) {
    const long page = sysconf(_SC_PAGESIZE);
    if (page <= 0) return;
    const uintptr_t lo = ((uintptr_t)p + (uintptr_t)page - 1) & ~((uintptr_t)page - 1);
    const uintptr_t hi = ((uintptr_t)p + n) & ~((uintptr_t)page - 1);
    if (hi > lo) madvise((void *)lo, hi - lo, MADV_DONTNEED);
}

static sl_status repack_one(sl_model *m, sl_matrix *w, sl_error *err) {
    if (!w->data || w->x8 || !sl_gemm_get_x8(w->type) || w->rows % 8 != 0 || w->rows > INT32_MAX ||
        w->cols > INT32_MAX)
        return SL_OK;
    const size_t bytes = (size_t)w->rows * sl_row_size(w->type, w->cols);
    char *buf = aligned_alloc(X8_ALIGN, X8_ALIGN + (bytes + X8_ALIGN - 1) / X8_ALIGN * X8_ALIGN);
    if (!buf) return sl_fail(err, SL_ERR_NOMEM, "%s: out of memory repacking a %zu MiB matrix", m->gguf->path, bytes >> 20);
    if (!sl_repack_x8(w->type, buf + X8_ALIGN, w->data, (int)w->rows, (int)w->cols)) {
        free(buf); /* (cannot happen: the checks above are the repack's) */
        return SL_OK;
    }
    *(void **)buf = m->x8_copies;
    m->x8_copies = buf;
    if (m->gguf->file.is_mapped) drop_mapped(w->data, bytes);
    w->data = buf + X8_ALIGN;
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
