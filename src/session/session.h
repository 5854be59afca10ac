/* session.h — internal view of a session: one model, one cache, one thread
 * pool, and every activation buffer, all allocated at creation so memory
 * never grows during a stream (STYLE: memory grouped by lifetime). */
#ifndef SL_SESSION_H
#define SL_SESSION_H

#include "streamllm.h"
#include "core/thread_pool.h"
#include "kernels/matmul.h"
#include "kv/kv_cache.h"
#include "model/attention.h"
#include "model/model.h"
#include "model/rope.h"

struct sl_session {
    const sl_model *m;
    sl_session_params p;   /* resolved: n_window, n_threads filled in */
    sl_kv_cache kv;
    sl_pool *pool;
    sl_matmul_scratch mm;
    sl_rope rope;
    int n_batch;
    /* activations, n_batch rows each (letters as in model/model.h) */
    float *x, *xb;         /* (T, E) */
    float *q, *att;        /* (T, Q) */
    float *k, *v;          /* (T, KV) */
    void *k_new, *v_new;   /* (T, KV) in the cache element type */
    float *gate, *up;      /* (T, F) */
    float *cs_win, *cs_pin; /* (T, n_rot) */
    void *attn_scratch;    /* (n_threads, stride) */
    size_t attn_stride;
    int max_keys;
    float *logits_row;     /* (V) when the caller wants only the last row */
    /* recompute policy: the last W tokens */
    int32_t *hist;         /* (W) ring */
    uint64_t n_fed;        /* tokens fed through the public API (stream position) */
    sl_attn_observer observer;
    void *observer_user;
};

/* Runs T <= n_batch tokens at cache positions kv.n_past.. through the model.
 * all_logits (T, V) and/or last_logits (V) may be NULL. */
sl_status sl_forward_llama(sl_session *s, const int32_t *tokens, int T, float *last_logits,
                           float *all_logits, sl_error *err);

/* Attention observer for analysis tools (attn); NULL to remove. */
void sl_session_set_observer(sl_session *s, sl_attn_observer fn, void *user);
const sl_kv_cache *sl_session_kv(const sl_session *s);

#endif
