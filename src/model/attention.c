/* attention.c — one query at absolute position p attends the pinned keys
 * (query rotated at its cache position) and the window keys (query rotated
 * at p), from the cache for positions before the batch and from the batch's
 * own rows for positions inside it.
 *
 * The keys a query sees form a few contiguous runs of rows: the pinned
 * prefix, the window part in the cache ring (two runs when it wraps), and the
 * part inside the batch. Each run is handed whole to the row kernels
 * (kernels/attn_kernels.h), so the per-key cost is a dot product and an
 * axpy, with no slot arithmetic or call per key. The runs are found once
 * per token and shared by its heads. Heads of one kv group are consecutive
 * work items, so their keys are read while still in cache. */
#include "model/attention.h"

#include <math.h>
#include <string.h>

#include "kernels/attn_kernels.h"

/* Below this many multiply-adds the caller runs the whole batch alone. */
#define SERIAL_MACS (32 * 1024)

/* Per-thread scratch: [key positions (max_keys u64)] [q window (D)] [q pinned (D)]
 * [scores (max_keys)]. The u64 array comes first so it is 8-byte aligned. */
size_t sl_attn_scratch_bytes(int D, int max_keys) {
    size_t b = (size_t)max_keys * sizeof(uint64_t) + (size_t)(2 * D + max_keys) * sizeof(float);
    return (b + 63) & ~(size_t)63;
}

/* Rows of consecutive absolute positions a0 .. a0 + n - 1. */
typedef struct {
    const char *k, *v; /* rows at a0 (kv head 0; head g is g * D elements on), row_bytes apart */
    uint64_t a0;
    int n;
    bool pinned;       /* attended with the query rotated at its cache position */
} key_run;

#define MAX_RUNS 6

/* Appends the runs of positions [lo, hi) to r, rows of kv head 0; returns
 * the new count. */
static int add_runs(const sl_attn_batch *b, uint64_t lo, uint64_t hi, bool pinned, key_run *r, int n) {
    const sl_kv_cache *c = b->kv;
    const size_t row = c->row_bytes;
    /* Part before the batch: cache slots, contiguous except where the ring wraps. */
    uint64_t a = lo;
    while (a < hi && a < b->p0) {
        const uint64_t end = hi < b->p0 ? hi : b->p0;
        const int64_t s = sl_kv_slot(c, a);
        uint64_t len = end - a;
        if (a >= (uint64_t)c->n_pinned) {
            const uint64_t to_wrap = (uint64_t)(c->n_pinned + c->n_ring - s);
            if (len > to_wrap) len = to_wrap;
        } else if (len > (uint64_t)c->n_pinned - a) {
            len = (uint64_t)c->n_pinned - a;
        }
        r[n++] = (key_run){(const char *)sl_kv_k_row(c, b->layer, s), (const char *)sl_kv_v_row(c, b->layer, s),
                           a, (int)len, pinned};
        a += len;
    }
    /* Part inside the batch: its own rows. */
    if (a < hi) {
        const size_t first = (size_t)(a - b->p0) * row;
        r[n++] = (key_run){(const char *)b->k_new + first, (const char *)b->v_new + first, a, (int)(hi - a),
                           pinned};
    }
    return n;
}

/* The keys batch token t sees, in order: the pinned prefix, then the window
 * up to and including itself. The same for every head of the token. */
static int token_runs(const sl_attn_batch *b, int t, key_run *runs) {
    const sl_kv_cache *c = b->kv;
    const uint64_t p = b->p0 + (uint64_t)t;
    const uint64_t P = (uint64_t)c->n_pinned, n_pin = P < p + 1 ? P : p + 1;
    uint64_t w0 = sl_kv_window_start(c, p);
    if (w0 < n_pin) w0 = n_pin;
    const int nr = add_runs(b, 0, n_pin, true, runs, 0);
    return add_runs(b, w0, p + 1, false, runs, nr);
}

/* Query head h of token t over the runs of its token. */
static void attend_one(const sl_attn_batch *b, const sl_attn_kernels *kr, const key_run *runs, int nr, int t,
                       int h, void *scratch) {
    const sl_kv_cache *c = b->kv;
    const sl_attn_row_ops *ops = &kr->row[c->type];
    const int D = b->D, g = h / (b->H / b->G);
    const size_t head = (size_t)g * (c->row_bytes / (size_t)b->G); /* kv head g within a row */
    uint64_t *kpos = scratch;
    float *qw = (float *)(kpos + b->max_keys), *qp = qw + D, *scores = qp + D;
    const int n_rot = b->rope->n_rot;
    const float *q = b->q + ((size_t)t * b->H + h) * D;
    const float *csw = b->cs_window + (size_t)t * n_rot, *csp = b->cs_pinned + (size_t)t * n_rot;

    memcpy(qw, q, (size_t)D * sizeof(float));
    sl_rope_apply(b->rope, qw, 1, D, csw);
    /* Until the window first slides, a token's pinned and window positions
     * are the same angles: the same rotation, done once. */
    const float *qpin = qw;
    if (memcmp(csw, csp, (size_t)n_rot * sizeof(float)) != 0) {
        memcpy(qp, q, (size_t)D * sizeof(float));
        sl_rope_apply(b->rope, qp, 1, D, csp);
        qpin = qp;
    }
    const float scale = 1.0f / sqrtf((float)D);

    int n = 0;
    for (int i = 0; i < nr; i++) {
        ops->scores(scores + n, runs[i].pinned ? qpin : qw, runs[i].k + head, c->row_bytes, runs[i].n, D, scale);
        n += runs[i].n;
    }
    const float mx = kr->max(scores, n);
    float sum = kr->exp_sum(scores, n, mx);
    /* Softmax-off-by-one: an implicit extra logit of 0 absorbs attention. */
    if (b->zero_sink) sum += sl_attn_expf(-mx);
    const float inv = 1.0f / sum;

    sl_attn_rows vals[MAX_RUNS];
    for (int i = 0; i < nr; i++) vals[i] = (sl_attn_rows){runs[i].v + head, runs[i].n};
    ops->accum(b->out + ((size_t)t * b->H + h) * D, scores, inv, vals, nr, c->row_bytes, D);
    if (b->observer) {
        for (int i = 0; i < n; i++) scores[i] *= inv; /* the weights accum used */
        for (int i = 0, at = 0; i < nr; at += runs[i].n, i++)
            for (int k = 0; k < runs[i].n; k++) kpos[at + k] = runs[i].a0 + (uint64_t)k;
        b->observer(b->observer_user, b->layer, h, b->p0 + (uint64_t)t, scores, kpos, n);
    }
}

/* Work items i = t * H + h in [lo, hi); a token's runs are found once for
 * all its heads. */
static void attend_items(const sl_attn_batch *b, const sl_attn_kernels *kr, long lo, long hi, void *scratch) {
    key_run runs[MAX_RUNS];
    int nr = 0, run_t = -1;
    for (long i = lo; i < hi; i++) {
        const int t = (int)(i / b->H);
        if (t != run_t) nr = token_runs(b, run_t = t, runs);
        attend_one(b, kr, runs, nr, t, (int)(i % b->H), scratch);
    }
}

static void attention_task(void *ctx, int ith, int nth) {
    sl_attn_batch *b = ctx;
    const sl_attn_kernels *kr = sl_attn_kernels_get();
    void *scratch = (char *)b->scratch + (size_t)ith * b->scratch_stride;
    if (b->T >= 2 * nth) {
        /* Later tokens see more keys (causal): deal tokens out in turn so
         * every thread gets early and late ones. */
        for (int t = ith; t < b->T; t += nth)
            attend_items(b, kr, (long)t * b->H, (long)(t + 1) * b->H, scratch);
        return;
    }
    long lo, hi; /* few tokens: contiguous runs of heads, a kv group's heads together */
    sl_split_range((long)b->T * b->H, ith, nth, &lo, &hi);
    attend_items(b, kr, lo, hi, scratch);
}

void sl_attention(sl_pool *pool, sl_attn_batch *b) {
    /* Keys the last query sees, at most: a bound on the work per query. */
    const uint64_t last = b->p0 + (uint64_t)b->T;
    const double keys = (double)(last < (uint64_t)b->max_keys ? last : (uint64_t)b->max_keys);
    if ((double)b->T * b->H * keys * b->D * 2 < SERIAL_MACS) attention_task(b, 0, 1);
    else sl_pool_run(pool, attention_task, b);
}
