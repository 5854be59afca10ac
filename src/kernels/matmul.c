/* matmul.c — y (T, N) = x (T, K) · W (N, K)^T over a thread pool.
 *
 * 1. Each activation row is quantized once into the scratch, to W's
 *    vec_dot_type (f32 types use x as is). Rows are split across threads
 *    when T > 1.
 * 2. Output rows are split across threads in contiguous ranges, so each
 *    thread streams its own slice of W. Within a range, rows go in tiles of
 *    about TILE_BYTES of weights; every token is run against a tile before the
 *    next tile, so for prefill (T > 1) W is read from memory once and from
 *    cache T - 1 times, while the activations (T rows) stay in L2/L3.
 * The pool's threads run fn(ctx, ith, nth); with pool == NULL everything
 * runs on the caller. */
#include <stdlib.h>

#include "kernels/matmul.h"

#define TILE_BYTES (32 * 1024)
#define SCRATCH_ALIGN 64

typedef struct {
    const sl_type_traits *wt;  /* weight type */
    const sl_type_traits *at;  /* activation (vec_dot) type */
    const char *W;             /* (N, K) in wt */
    size_t w_row;              /* bytes per weight row */
    const float *x;            /* (T, K) */
    char *xq;                  /* (T, K) in at, or x itself */
    size_t x_row;              /* bytes per activation row in xq */
    float *y;                  /* (T, N) */
    int T, N, K;
    int tile;                  /* weight rows per tile */
} mm_ctx;

static void quantize_rows(void *vctx, int ith, int nth) {
    const mm_ctx *c = vctx;
    long lo, hi;
    sl_split_range(c->T, ith, nth, &lo, &hi);
    for (long t = lo; t < hi; t++) c->at->from_float(c->xq + (size_t)t * c->x_row, c->x + (size_t)t * c->K, c->K);
}

static void dot_rows(void *vctx, int ith, int nth) {
    const mm_ctx *c = vctx;
    const sl_vec_dot_fn dot = c->wt->vec_dot;
    long lo, hi;
    sl_split_range(c->N, ith, nth, &lo, &hi);
    for (long r0 = lo; r0 < hi; r0 += c->tile) {
        const long r1 = r0 + c->tile < hi ? r0 + c->tile : hi;
        for (int t = 0; t < c->T; t++) {
            const char *xr = c->xq + (size_t)t * c->x_row;
            float *yr = c->y + (size_t)t * c->N;
            for (long r = r0; r < r1; r++) dot(&yr[r], c->W + (size_t)r * c->w_row, xr, c->K);
        }
    }
}

static void run(sl_pool *pool, sl_pool_fn fn, mm_ctx *c) {
    if (pool)
        sl_pool_run(pool, fn, c);
    else
        fn(c, 0, 1);
}

void sl_matmul_scratch_free(sl_matmul_scratch *s) {
    if (!s) return;
    free(s->buf);
    s->buf = NULL;
    s->cap = 0;
}

int sl_matmul(sl_pool *pool, sl_matmul_scratch *scratch, float *y, const void *W, sl_type wtype,
              const float *x, int T, int N, int K) {
    const sl_type_traits *wt = sl_type_get(wtype);
    if (!wt || !wt->supported || !wt->vec_dot || T < 0 || N < 0 || K < 0) return -1;
    const sl_type_traits *at = sl_type_get(wt->vec_dot_type);
    const size_t w_row = sl_row_size(wtype, K), x_row = sl_row_size(wt->vec_dot_type, K);
    if (!at || (K > 0 && (w_row == 0 || x_row == 0))) return -1;
    if (T == 0 || N == 0) return 0;

    mm_ctx c = {.wt = wt, .at = at, .W = W, .w_row = w_row, .x = x, .x_row = x_row, .y = y, .T = T, .N = N, .K = K};
    c.tile = w_row > 0 && w_row < TILE_BYTES ? (int)(TILE_BYTES / w_row) : 1;

    if (wt->vec_dot_type == SL_TYPE_F32) {
        c.xq = (char *)x; /* f32 activations go in as they are */
    } else {
        if (!scratch) return -1;
        const size_t need = (size_t)T * x_row;
        if (need > scratch->cap) {
            const size_t cap = (need + SCRATCH_ALIGN - 1) / SCRATCH_ALIGN * SCRATCH_ALIGN;
            void *buf = aligned_alloc(SCRATCH_ALIGN, cap);
            if (!buf) return -1;
            free(scratch->buf);
            scratch->buf = buf;
            scratch->cap = cap;
        }
        c.xq = scratch->buf;
        if (T == 1)
            quantize_rows(&c, 0, 1); /* one row: not worth waking the pool */
        else
            run(pool, quantize_rows, &c);
    }
    if (K == 0) {
        for (size_t i = 0; i < (size_t)T * N; i++) y[i] = 0;
        return 0;
    }
    run(pool, dot_rows, &c);
    return 0;
}

void sl_matmul_ref(float *y, const void *W, sl_type wtype, const float *x, int T, int N, int K) {
    const sl_type_traits *wt = sl_type_get_ref(wtype);
    const size_t w_row = sl_row_size(wtype, K);
    float *row = malloc((size_t)(K > 0 ? K : 1) * sizeof *row);
    if (!row || !wt || !wt->to_float) {
        free(row);
        return;
    }
    for (int r = 0; r < N; r++) {
        wt->to_float(row, (const char *)W + (size_t)r * w_row, K);
        for (int t = 0; t < T; t++) {
            double sum = 0;
            for (int k = 0; k < K; k++) sum += (double)row[k] * x[(size_t)t * K + k];
            y[(size_t)t * N + r] = (float)sum;
        }
    }
    free(row);
}
