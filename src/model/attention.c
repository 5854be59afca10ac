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

/* Query heads attended together: a kv group's, at most SL_ATTN_GROUP. */
static int group_heads(int H, int G) {
    const int per_group = G > 0 && H / G > 1 ? H / G : 1;
    return per_group < SL_ATTN_GROUP ? per_group : SL_ATTN_GROUP;
}

/* Per-thread scratch: [key positions (max_keys u64)] [q window, q pinned
 * (2 * D each) of group_heads heads] [their scores (max_keys each)]. The
 * u64 array comes first so it is 8-byte aligned. */
size_t sl_attn_scratch_bytes(int D, int max_keys, int H, int G) {
    size_t b = (size_t)max_keys * sizeof(uint64_t) +
               (size_t)group_heads(H, G) * (size_t)(2 * D + max_keys) * sizeof(float);
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

/* Query heads h0 .. h0 + nh - 1 of token t (nh <= group_heads, all of
 * one kv group) over the runs of its token: each key and value row is read
 * once for the nh heads (the row ops' group kernels). */
static void attend_heads(const sl_attn_batch *b, const sl_attn_kernels *kr, const key_run *runs, int nr, int t,
                         int h0, int nh, void *scratch) {
    const sl_kv_cache *c = b->kv;
    const sl_attn_row_ops *ops = &kr->row[c->type];
    const int D = b->D, g = h0 / (b->H / b->G);
    const size_t head = (size_t)g * (c->row_bytes / (size_t)b->G); /* kv head g within a row */
    const size_t lds = (size_t)b->max_keys;
    uint64_t *kpos = scratch;
    float *qs = (float *)(kpos + b->max_keys), *scores = qs + (size_t)group_heads(b->H, b->G) * 2 * D;
    const int n_rot = b->rope->n_rot;
    const float *csw = b->cs_window + (size_t)t * n_rot, *csp = b->cs_pinned + (size_t)t * n_rot;
    /* Until the window first slides, a token's pinned and window positions
     * are the same angles: the same rotation, done once. */
    const bool same = memcmp(csw, csp, (size_t)n_rot * sizeof(float)) == 0;
    const float *qw[SL_ATTN_GROUP], *qp[SL_ATTN_GROUP];
    for (int j = 0; j < nh; j++) {
        const float *q = b->q + ((size_t)t * b->H + (size_t)(h0 + j)) * D;
        float *w = qs + (size_t)j * 2 * D, *p = w + D;
        memcpy(w, q, (size_t)D * sizeof(float));
        sl_rope_apply(b->rope, w, 1, D, csw);
        qw[j] = qp[j] = w;
        if (!same) {
            memcpy(p, q, (size_t)D * sizeof(float));
            sl_rope_apply(b->rope, p, 1, D, csp);
            qp[j] = p;
        }
    }
    const float scale = 1.0f / sqrtf((float)D);

    int n = 0;
    for (int i = 0; i < nr; i++) {
        ops->scores_group(scores + n, lds, runs[i].pinned ? qp : qw, nh, runs[i].k + head, c->row_bytes, runs[i].n,
                          D, scale);
        n += runs[i].n;
    }
    /* Softmax per head, the weights scaled in place: accum_group takes them
     * as they are (the one-head accum's w[i] * ws, rounded the same). */
    for (int j = 0; j < nh; j++) {
        float *s = scores + (size_t)j * lds;
        const float mx = kr->max(s, n);
        float sum = kr->exp_sum(s, n, mx);
        /* Softmax-off-by-one: an implicit extra logit of 0 absorbs attention. */
        if (b->zero_sink) sum += sl_attn_expf(-mx);
        const float inv = 1.0f / sum;
        for (int i = 0; i < n; i++) s[i] *= inv;
    }

    sl_attn_rows vals[MAX_RUNS];
    for (int i = 0; i < nr; i++) vals[i] = (sl_attn_rows){runs[i].v + head, runs[i].n};
    ops->accum_group(b->out + ((size_t)t * b->H + (size_t)h0) * D, (size_t)D, scores, lds, nh, vals, nr,
                     c->row_bytes, D);
    if (b->observer) {
        for (int i = 0, at = 0; i < nr; at += runs[i].n, i++)
            for (int k = 0; k < runs[i].n; k++) kpos[at + k] = runs[i].a0 + (uint64_t)k;
        for (int j = 0; j < nh; j++)
            b->observer(b->observer_user, b->layer, h0 + j, b->p0 + (uint64_t)t, scores + (size_t)j * lds, kpos, n);
    }
}

/* Work items i = t * H + h in [lo, hi); a token's runs are found once for
 * all its heads, and the heads of one kv group go together, up to
 * SL_ATTN_GROUP at a time. */
static void attend_items(const sl_attn_batch *b, const sl_attn_kernels *kr, long lo, long hi, void *scratch) {
    key_run runs[MAX_RUNS];
    int nr = 0, run_t = -1;
    const int per_group = b->H / b->G, most = group_heads(b->H, b->G);
    for (long i = lo; i < hi;) {
        const int t = (int)(i / b->H), h = (int)(i % b->H);
        if (t != run_t) nr = token_runs(b, run_t = t, runs);
        /* up to the end of the group, the range and the group size limit */
        long end = (long)t * b->H + (h / per_group + 1) * per_group;
        if (end > hi) end = hi;
        if (end - i > most) end = i + most;
        attend_heads(b, kr, runs, nr, t, h, (int)(end - i), scratch);
        i = end;
    }
}

static void attention_task(void *ctx, int ith, int nth) {
    sl_attn_batch *b = ctx;
    const sl_attn_kernels *kr = sl_attn_kernels_get();
    void *scratch = (char *)b->scratch + (size_t)ith * b->scratch_stride;
    if (b->T - b->t_out >= 2 * nth) {
        /* Later tokens see more keys (causal): deal tokens out in turn so
         * every thread gets early and late ones. */
        for (int t = b->t_out + ith; t < b->T; t += nth)
            attend_items(b, kr, (long)t * b->H, (long)(t + 1) * b->H, scratch);
        return;
    }
    long lo, hi; /* few tokens: contiguous runs of heads, a kv group's heads together */
    sl_split_range((long)(b->T - b->t_out) * b->H, ith, nth, &lo, &hi);
    attend_items(b, kr, (long)b->t_out * b->H + lo, (long)b->t_out * b->H + hi, scratch);
}

void sl_attention(sl_pool *pool, sl_attn_batch *b) {
    /* Keys the last query sees, at most: a bound on the work per query. */
    const uint64_t last = b->p0 + (uint64_t)b->T;
    const double keys = (double)(last < (uint64_t)b->max_keys ? last : (uint64_t)b->max_keys);
    if (b->t_out >= b->T) return;
    if ((double)(b->T - b->t_out) * b->H * keys * b->D * 2 < SERIAL_MACS) attention_task(b, 0, 1);
    else sl_pool_run(pool, attention_task, b);
}
