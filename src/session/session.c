/* session.c — the public session API: creation (every buffer up front),
 * feeding tokens under each cache policy, reset. The policies themselves
 * live in kv/; this file only chooses their parameters and, for the
 * re-computation baseline, replays the window. */
#include "session/session.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/sys_stats.h"

void sl_session_params_default(sl_session_params *p) {
    memset(p, 0, sizeof *p);
    p->policy = SL_POLICY_STREAMING;
    p->n_sink = 4;
    p->n_window = 0;
    p->n_keep = 0;
    p->kv_type = SL_KV_F16;
    p->n_threads = 0;
    p->n_batch = 64;
    p->allow_overflow = false;
}

static void *xcalloc(size_t n, size_t sz, bool *ok) {
    void *p = calloc(n ? n : 1, sz);
    if (!p) *ok = false;
    return p;
}

sl_status sl_session_create(sl_session **out, const sl_model *m, const sl_session_params *pin,
                            sl_error *err) {
    *out = NULL;
    sl_session_params p;
    if (pin) p = *pin;
    else sl_session_params_default(&p);
    const sl_hparams *hp = &m->hp;
    if (p.n_batch <= 0) p.n_batch = 64;
    if (p.n_batch > 4096)
        return sl_fail(err, SL_ERR_INVALID_ARG, "--batch: %d is more than 4096", p.n_batch);
    if (p.n_sink < 0 || p.n_sink > 1024)
        return sl_fail(err, SL_ERR_INVALID_ARG, "--sinks: %d is out of range [0, 1024]", p.n_sink);
    if (p.n_keep < 0 || p.n_keep > (1 << 20))
        return sl_fail(err, SL_ERR_INVALID_ARG, "--keep: %d is out of range [0, 1048576]", p.n_keep);
    if (p.policy != SL_POLICY_STREAMING) {
        /* Only streaming keeps sinks; the others either never evict or are the
         * baselines the paper compares against. */
        if (p.policy != SL_POLICY_WINDOW) p.n_keep = 0;
        p.n_sink = 0;
    }
    if (p.n_window <= 0) {
        int64_t w = (int64_t)hp->n_ctx_train - p.n_sink;
        p.n_window = (int)(w > 0 ? w : 1);
    }
    int64_t capacity = p.n_window; /* ring slots */
    if (p.policy == SL_POLICY_DENSE) {
        /* Dense stops at the trained context unless told to run past it, in
         * which case --window is the capacity to allocate. */
        capacity = p.allow_overflow ? (p.n_window > hp->n_ctx_train ? p.n_window : hp->n_ctx_train)
                                    : hp->n_ctx_train;
        if (!p.allow_overflow && pin && pin->n_window > 0 && pin->n_window < hp->n_ctx_train)
            capacity = pin->n_window;
        p.n_window = (int)capacity;
    } else if (p.policy == SL_POLICY_RECOMPUTE) {
        capacity = (int64_t)p.n_window + 1; /* the window plus the new token, rebuilt per token */
    }
    if (p.n_threads <= 0) p.n_threads = sl_n_cores();

    sl_session *s = calloc(1, sizeof *s);
    if (!s) return sl_fail(err, SL_ERR_NOMEM, "session: out of memory");
    s->m = m;
    s->p = p;
    s->n_batch = p.n_batch;
    sl_status st = sl_kv_init(&s->kv, p.policy, hp->n_layer, hp->n_head_kv * hp->head_dim,
                              p.n_sink, p.n_keep, capacity, p.kv_type, err);
    if (st != SL_OK) goto fail;
    st = sl_pool_create(&s->pool, p.n_threads, err);
    if (st != SL_OK) goto fail;
    if (sl_rope_init(&s->rope, hp, m->rope_freqs) != 0) {
        st = sl_fail(err, SL_ERR_NOMEM, "session: out of memory");
        goto fail;
    }

    const size_t T = (size_t)s->n_batch, E = hp->n_embd, Qd = (size_t)hp->n_head * hp->head_dim,
                 KV = (size_t)hp->n_head_kv * hp->head_dim, F = hp->n_ff;
    bool ok = true;
    s->x = xcalloc(T * E, sizeof(float), &ok);
    s->xb = xcalloc(T * (E > F ? E : F), sizeof(float), &ok);
    s->q = xcalloc(T * Qd, sizeof(float), &ok);
    s->att = xcalloc(T * Qd, sizeof(float), &ok);
    s->k = xcalloc(T * KV, sizeof(float), &ok);
    s->v = xcalloc(T * KV, sizeof(float), &ok);
    s->k_new = xcalloc(T * KV, s->kv.elem_size, &ok);
    s->v_new = xcalloc(T * KV, s->kv.elem_size, &ok);
    s->gate = xcalloc(T * F, sizeof(float), &ok);
    s->up = xcalloc(T * F, sizeof(float), &ok);
    s->cs_win = xcalloc(T * (size_t)(hp->n_rot > 0 ? hp->n_rot : 1), sizeof(float), &ok);
    s->cs_pin = xcalloc(T * (size_t)(hp->n_rot > 0 ? hp->n_rot : 1), sizeof(float), &ok);
    s->logits_row = xcalloc((size_t)hp->n_vocab, sizeof(float), &ok);
    s->max_keys = s->kv.n_pinned + (int)s->kv.n_ring + 1;
    s->attn_stride = sl_attn_scratch_bytes(hp->head_dim, s->max_keys, hp->n_head, hp->n_head_kv);
    s->attn_scratch = xcalloc((size_t)p.n_threads, s->attn_stride, &ok);
    if (p.policy == SL_POLICY_RECOMPUTE) s->hist = xcalloc((size_t)p.n_window, sizeof(int32_t), &ok);
    if (!ok) {
        st = sl_fail(err, SL_ERR_NOMEM, "session: cannot allocate activation buffers");
        goto fail;
    }
    *out = s;
    return SL_OK;
fail:
    sl_session_free(s);
    return st;
}

void sl_session_free(sl_session *s) {
    if (!s) return;
    sl_kv_free(&s->kv);
    sl_pool_free(s->pool);
    sl_matmul_scratch_free(&s->mm);
    sl_rope_free(&s->rope);
    free(s->x); free(s->xb); free(s->q); free(s->att); free(s->k); free(s->v);
    free(s->k_new); free(s->v_new); free(s->gate); free(s->up);
    free(s->cs_win); free(s->cs_pin); free(s->logits_row); free(s->attn_scratch); free(s->hist);
    free(s);
}

void sl_session_reset(sl_session *s) {
    sl_kv_reset(&s->kv);
    s->n_fed = 0;
}

uint64_t sl_session_n_past(const sl_session *s) { return s->n_fed; }
void sl_session_evict_before(sl_session *s, uint64_t pos) {
    if (s->p.policy == SL_POLICY_RECOMPUTE) return; /* rebuilt per token anyway */
    sl_kv_evict_before(&s->kv, pos);
}
size_t sl_session_cache_len(const sl_session *s) { return sl_kv_len(&s->kv); }
void sl_session_set_observer(sl_session *s, sl_attn_observer fn, void *user) {
    s->observer = fn;
    s->observer_user = user;
}
const sl_kv_cache *sl_session_kv(const sl_session *s) { return &s->kv; }

/* Sliding window with re-computation: every token rebuilds the KV of its last
 * W predecessors from scratch at positions 0..W-1 and sits at position W.
 * O(W) model work per token: the quality oracle the paper compares against. */
static sl_status feed_recompute(sl_session *s, int32_t tok, float *logits, sl_error *err) {
    const int W = s->p.n_window;
    uint64_t n_hist = s->n_fed < (uint64_t)W ? s->n_fed : (uint64_t)W;
    sl_kv_reset(&s->kv);
    int32_t chunk[64];
    uint64_t first = s->n_fed - n_hist;
    uint64_t i = 0, total = n_hist + 1;
    while (i < total) {
        int n = 0;
        int cap = s->n_batch < 64 ? s->n_batch : 64;
        while (n < cap && i < total) {
            chunk[n++] = i < n_hist ? s->hist[(first + i) % (uint64_t)W] : tok;
            i++;
        }
        sl_status st = sl_forward_llama(s, chunk, n, i == total ? logits : NULL, NULL, err);
        if (st != SL_OK) return st;
    }
    s->hist[s->n_fed % (uint64_t)W] = tok;
    s->n_fed++;
    return SL_OK;
}

sl_status sl_session_feed(sl_session *s, const int32_t *tokens, size_t n, float *logits,
                          float *all_logits, sl_error *err) {
    if (n == 0) return sl_fail(err, SL_ERR_INVALID_ARG, "feed: no tokens");
    const int V = s->m->hp.n_vocab;
    for (size_t i = 0; i < n; i++)
        if (tokens[i] < 0 || tokens[i] >= V)
            return sl_fail(err, SL_ERR_INVALID_ARG, "token id %d is outside the vocabulary [0, %d)",
                           tokens[i], V);

    /* A model pre-trained with a learnable sink token gets it at the start
     * of every stream, where the streaming policy keeps it as sink 0. */
    int32_t sink = s->m->hp.sink_token;
    if (s->n_fed == 0 && sink >= 0 && sink < V && tokens[0] != sink) {
        sl_status st = sl_session_feed(s, &sink, 1, NULL, NULL, err);
        if (st != SL_OK) return st;
    }

    if (s->p.policy == SL_POLICY_RECOMPUTE) {
        for (size_t i = 0; i < n; i++) {
            float *row = all_logits ? all_logits + i * (size_t)V : (i + 1 == n ? logits : NULL);
            float *dst = row ? row : s->logits_row;
            sl_status st = feed_recompute(s, tokens[i], dst, err);
            if (st != SL_OK) return st;
            if (i + 1 == n && logits && row != logits) memcpy(logits, dst, (size_t)V * sizeof(float));
        }
        return SL_OK;
    }

    sl_status st = sl_kv_check_room(&s->kv, n, err);
    if (st != SL_OK) return st;
    for (size_t i = 0; i < n; i += (size_t)s->n_batch) {
        size_t T = n - i < (size_t)s->n_batch ? n - i : (size_t)s->n_batch;
        bool last = i + T == n;
        st = sl_forward_llama(s, tokens + i, (int)T, last ? logits : NULL,
                              all_logits ? all_logits + i * (size_t)V : NULL, err);
        if (st != SL_OK) return st;
        s->n_fed += T;
    }
    return SL_OK;
}
