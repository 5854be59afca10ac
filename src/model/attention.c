/* attention.c — one query at absolute position p attends the pinned keys
 * (query rotated at its cache position) and the window keys (query rotated
 * at p), from the cache for positions before the batch and from the batch's
 * own rows for positions inside it. */
#include "model/attention.h"

#include <math.h>
#include <string.h>

#include "kernels/attn_kernels.h"

/* Per-thread scratch: [key positions (max_keys u64)] [q window (D)] [q pinned (D)]
 * [scores (max_keys)]. The u64 array comes first so it is 8-byte aligned. */
size_t sl_attn_scratch_bytes(int D, int max_keys) {
    size_t b = (size_t)max_keys * sizeof(uint64_t) + (size_t)(2 * D + max_keys) * sizeof(float);
    return (b + 63) & ~(size_t)63;
}

typedef struct {
    const void *k, *v; /* rows (element type of the cache) */
    uint64_t pos;
    bool pinned;
} key_ref;

/* Locates the row of absolute position a as seen from a batch starting at p0. */
static inline void key_rows(const sl_attn_batch *b, uint64_t a, int g, const void **k,
                            const void **v) {
    const sl_kv_cache *c = b->kv;
    size_t es = c->elem_size, off = (size_t)g * (size_t)b->D * es;
    if (a >= b->p0) {
        size_t row = (size_t)(a - b->p0) * (size_t)c->kv_dim * es;
        *k = (const char *)b->k_new + row + off;
        *v = (const char *)b->v_new + row + off;
    } else {
        int64_t s = sl_kv_slot(c, a);
        *k = (const char *)sl_kv_k_row(c, b->layer, s) + off;
        *v = (const char *)sl_kv_v_row(c, b->layer, s) + off;
    }
}

static void attend_one(const sl_attn_batch *b, const sl_attn_kernels *kr, int t, int h,
                       float *scratch) {
    const sl_kv_cache *c = b->kv;
    const int D = b->D, g = h / (b->H / b->G);
    const uint64_t p = b->p0 + (uint64_t)t;
    uint64_t *kpos = (uint64_t *)scratch;
    float *qw = (float *)(kpos + b->max_keys), *qp = qw + D, *scores = qp + D;
    const int n_rot = b->rope->n_rot;

    memcpy(qw, b->q + ((size_t)t * b->H + h) * D, (size_t)D * sizeof(float));
    memcpy(qp, qw, (size_t)D * sizeof(float));
    sl_rope_apply(b->rope, qw, 1, D, b->cs_window + (size_t)t * n_rot);
    sl_rope_apply(b->rope, qp, 1, D, b->cs_pinned + (size_t)t * n_rot);
    const float scale = 1.0f / sqrtf((float)D);
    const bool f16 = c->type == SL_KV_F16;

    /* Keys in order: pinned prefix, then the window up to and including p. */
    uint64_t P = (uint64_t)c->n_pinned;
    uint64_t n_pin = P < p + 1 ? P : p + 1;
    uint64_t w0 = sl_kv_window_start(c, p);
    if (w0 < n_pin) w0 = n_pin;
    int n = 0;
    float mx = -INFINITY;
    for (int pass = 0; pass < 2; pass++) {
        uint64_t lo = pass == 0 ? 0 : w0, hi = pass == 0 ? n_pin : p + 1;
        const float *q = pass == 0 ? qp : qw;
        for (uint64_t a = lo; a < hi; a++) {
            const void *k, *v;
            key_rows(b, a, g, &k, &v);
            float s = (f16 ? kr->dot_f16(q, k, D) : kr->dot_f32(q, k, D)) * scale;
            scores[n] = s;
            kpos[n] = a;
            n++;
            if (s > mx) mx = s;
        }
    }
    float sum = 0;
    for (int i = 0; i < n; i++) {
        scores[i] = expf(scores[i] - mx);
        sum += scores[i];
    }
    /* Softmax-off-by-one: an implicit extra logit of 0 absorbs attention. */
    if (b->zero_sink) sum += expf(-mx);
    float inv = 1.0f / sum;
    float *out = b->out + ((size_t)t * b->H + h) * D;
    memset(out, 0, (size_t)D * sizeof(float));
    for (int i = 0; i < n; i++) {
        scores[i] *= inv;
        const void *k, *v;
        key_rows(b, kpos[i], g, &k, &v);
        if (f16) kr->axpy_f16(out, scores[i], v, D);
        else kr->axpy_f32(out, scores[i], v, D);
    }
    if (b->observer) b->observer(b->observer_user, b->layer, h, p, scores, kpos, n);
}

static void attention_task(void *ctx, int ith, int nth) {
    sl_attn_batch *b = ctx;
    const sl_attn_kernels *kr = sl_attn_kernels_get();
    float *scratch = (float *)(void *)((char *)b->scratch + (size_t)ith * b->scratch_stride);
    long lo, hi;
    sl_split_range((long)b->T * b->H, ith, nth, &lo, &hi);
    for (long i = lo; i < hi; i++) attend_one(b, kr, (int)(i / b->H), (int)(i % b->H), scratch);
}

void sl_attention(sl_pool *pool, sl_attn_batch *b) { sl_pool_run(pool, attention_task, b); }
