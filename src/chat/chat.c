/* chat.c — the conversation: system part, turns, eviction at turn
 * boundaries, generation (semantics in chat.h). Saving lives in
 * chat_state.c. */
#include "chat/chat_internal.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/sys_stats.h"
#include "model/gguf_names.h"

void sl_chat_params_default(sl_chat_params *p) {
    memset(p, 0, sizeof *p);
    p->family = SL_CHAT_DEFAULT_FAMILY;
    p->keep_system = true;
    p->ignore_eos = false;
    sl_session_params_default(&p->session);
    sl_sampler_params_default(&p->sampler);
}

sl_chat_family sl_chat_family_for_model(const sl_model *m, sl_chat_detect_result *how) {
    sl_gguf_str t;
    if (sl_gguf_get_str(m->gguf, KEY_CHAT_TEMPLATE, &t, NULL) != SL_OK || t.len == 0) {
        if (how) *how = SL_CHAT_NO_TEMPLATE;
        return SL_CHAT_DEFAULT_FAMILY;
    }
    int f = sl_chat_detect(t.ptr, (size_t)t.len);
    if (how) *how = f >= 0 ? SL_CHAT_DETECTED : SL_CHAT_UNKNOWN;
    return f >= 0 ? (sl_chat_family)f : SL_CHAT_DEFAULT_FAMILY;
}

/* ---- the conversation state ---------------------------------------------------- */

void chat_conv_free(chat_conv *v) {
    if (!v) return;
    sl_session_free(v->s);
    sl_sampler_free(v->smp);
    free(v->system);
    free(v->end_ids);
    free(v->bounds);
    memset(v, 0, sizeof *v);
}

/* Ring of turn starts. At most one turn starts per token, so W + 2 entries
 * cover every boundary the window can hold; the ring is capped, and when it
 * is full the oldest boundary goes, which only makes a later eviction drop
 * one more whole turn. */
size_t chat_bounds_capacity(int n_window) {
    size_t w = n_window > 0 ? (size_t)n_window : 1;
    return (w < CHAT_MAX_BOUNDS ? w : CHAT_MAX_BOUNDS) + 2;
}

void chat_bounds_push(chat_conv *v, uint64_t pos) {
    if (v->n_bounds == v->bounds_cap) {
        v->bounds_head = (v->bounds_head + 1) % v->bounds_cap;
        v->n_bounds--;
    }
    v->bounds[(v->bounds_head + v->n_bounds) % v->bounds_cap] = pos;
    v->n_bounds++;
}

uint64_t chat_bound(const chat_conv *v, size_t i) {
    return v->bounds[(v->bounds_head + i) % v->bounds_cap];
}

static void bounds_drop_before(chat_conv *v, uint64_t pos) {
    while (v->n_bounds > 0 && chat_bound(v, 0) < pos) {
        v->bounds_head = (v->bounds_head + 1) % v->bounds_cap;
        v->n_bounds--;
    }
}

static sl_status render_tokens(const sl_tokenizer *t, sl_chat_seq *q, int32_t **ids, size_t *n,
                               sl_error *err) {
    sl_status st = sl_chat_seq_tokenize(q, t, ids, n, err);
    sl_chat_seq_free(q);
    return st;
}

/* The template-dependent parts: the end marker's tokens and the stop set. */
sl_status chat_conv_bind_template(chat_conv *v, const sl_model *m, sl_chat_family f,
                                  sl_error *err) {
    sl_chat_template_init(&v->tmpl, f, m->tok);
    sl_chat_seq q = {0};
    sl_status st = sl_chat_render_reply_end(&v->tmpl, &q, err);
    if (st != SL_OK) {
        sl_chat_seq_free(&q);
        return st;
    }
    free(v->end_ids);
    v->end_ids = NULL;
    st = render_tokens(m->tok, &q, &v->end_ids, &v->n_end, err);
    if (st != SL_OK) return st;
    v->n_stop = sl_chat_stop_tokens(&v->tmpl, m->tok, v->stop_ids, CHAT_MAX_STOP);
    return SL_OK;
}

sl_status chat_conv_alloc_bounds(chat_conv *v, sl_error *err) {
    v->bounds_cap = chat_bounds_capacity(v->s->p.n_window);
    v->bounds = calloc(v->bounds_cap, sizeof *v->bounds);
    if (!v->bounds) return sl_fail(err, SL_ERR_NOMEM, "chat: out of memory");
    return SL_OK;
}

/* A new conversation: render and tokenize the system part, size the pinned
 * prefix from it, create the session and sampler, feed the system part. */
static sl_status conv_init(chat_conv *v, const sl_model *m, const sl_chat_params *p,
                           const char *system, sl_error *err) {
    memset(v, 0, sizeof *v);
    size_t sys_len = system ? strlen(system) : 0;
    v->system = malloc(sys_len + 1);
    if (!v->system) return sl_fail(err, SL_ERR_NOMEM, "chat: out of memory");
    memcpy(v->system, system ? system : "", sys_len + 1);
    v->keep_system = p->keep_system;
    v->sampler_params = p->sampler;

    sl_status st = chat_conv_bind_template(v, m, p->family, err);
    if (st != SL_OK) return st;
    v->has_system = sl_chat_has_system(&v->tmpl, v->system, sys_len);

    sl_chat_seq q = {0};
    st = sl_chat_render_start(&v->tmpl, v->system, sys_len, &q, err);
    if (st != SL_OK) {
        sl_chat_seq_free(&q);
        return st;
    }
    int32_t *ids = NULL;
    size_t n_ids = 0;
    st = render_tokens(m->tok, &q, &ids, &n_ids, err);
    if (st != SL_OK) return st;
    v->n_sys = n_ids;

    sl_session_params sp = p->session;
    if (p->keep_system) {
        /* A model trained with a sink token gets it fed first (session.c). */
        int32_t sink = m->hp.sink_token;
        size_t lead = (sink >= 0 && (n_ids == 0 || ids[0] != sink)) ? 1 : 0;
        size_t prefix = n_ids + lead;
        size_t keep = 0;
        if (sp.policy == SL_POLICY_STREAMING)
            keep = prefix > (size_t)sp.n_sink ? prefix - (size_t)sp.n_sink : 0;
        else if (sp.policy == SL_POLICY_WINDOW)
            keep = prefix;
        if (keep > (size_t)sp.n_keep) {
            if (keep > (1u << 20)) {
                free(ids);
                return sl_fail(err, SL_ERR_INVALID_ARG,
                               "--system: %zu tokens is more than the 1048576 that can be pinned",
                               keep);
            }
            sp.n_keep = (int)keep;
        }
    }
    st = sl_session_create(&v->s, m, &sp, err);
    if (st == SL_OK) st = sl_sampler_create(&v->smp, &v->sampler_params, m->hp.n_vocab, err);
    if (st == SL_OK) st = chat_conv_alloc_bounds(v, err);
    if (st == SL_OK && n_ids > 0) {
        for (size_t i = 0; i < n_ids; i++) sl_sampler_accept(v->smp, ids[i]);
        st = sl_session_feed(v->s, ids, n_ids, NULL, NULL, err);
    }
    free(ids);
    return st;
}

/* ---- create, reset, free ----------------------------------------------------------- */

sl_status sl_chat_create(sl_chat **out, const sl_model *m, const sl_chat_params *p,
                         const char *system, sl_error *err) {
    *out = NULL;
    if ((unsigned)p->family >= SL_CHAT_FAMILY_COUNT)
        return sl_fail(err, SL_ERR_INVALID_ARG, "--template: unknown family %d", (int)p->family);
    sl_chat *c = calloc(1, sizeof *c);
    if (!c) return sl_fail(err, SL_ERR_NOMEM, "chat: out of memory");
    c->m = m;
    c->p = *p;
    c->logits = malloc((size_t)m->hp.n_vocab * sizeof(float));
    if (!c->logits) {
        free(c);
        return sl_fail(err, SL_ERR_NOMEM, "chat: out of memory");
    }
    sl_status st = conv_init(&c->v, m, p, system, err);
    if (st != SL_OK) {
        sl_chat_free(c);
        return st;
    }
    *out = c;
    return SL_OK;
}

void sl_chat_free(sl_chat *c) {
    if (!c) return;
    chat_conv_free(&c->v);
    free(c->logits);
    free(c);
}

sl_status sl_chat_reset(sl_chat *c, const char *system, sl_error *err) {
    /* Build the new conversation before dropping the old, so a failure
     * (a system prompt that is not UTF-8, no memory) keeps the old one. */
    sl_chat_params p = c->p;
    p.family = c->v.tmpl.family;
    p.keep_system = c->v.keep_system;
    p.sampler = c->v.sampler_params;
    chat_conv nv;
    sl_status st = conv_init(&nv, c->m, &p, system ? system : c->v.system, err);
    if (st != SL_OK) {
        chat_conv_free(&nv);
        return st;
    }
    chat_conv_free(&c->v);
    c->v = nv;
    return SL_OK;
}

struct sl_session *sl_chat_session(sl_chat *c) { return c->v.s; }

void sl_chat_get_info(const sl_chat *c, sl_chat_info *o) {
    const chat_conv *v = &c->v;
    const sl_kv_cache *kv = sl_session_kv(v->s);
    memset(o, 0, sizeof *o);
    o->family = v->tmpl.family;
    o->system = v->system;
    o->keep_system = v->keep_system;
    o->turns = v->turns;
    o->stream_pos = sl_session_n_past(v->s);
    o->generated = v->generated;
    o->decode_s = v->decode_s;
    o->system_tokens = v->n_sys;
    o->cache_tokens = sl_session_cache_len(v->s);
    o->n_sink = v->s->p.n_sink;
    o->n_pinned = kv->n_pinned;
    o->n_window = v->s->p.n_window;
    /* The slots the cache has: recompute holds the window plus the new token
     * (fuzz_chat_state caught "13 / 12 tokens" from pinned + window). */
    o->cache_capacity = (size_t)kv->n_pinned + (size_t)kv->n_ring;
    o->kv_bytes = sl_kv_bytes(kv);
    o->policy = v->s->p.policy;
}

/* ---- one round -------------------------------------------------------------------------- */

/* Makes room for `need` more tokens at a turn boundary (chat.h). Returns the
 * position evicted up to (0: nothing) and sets *overlong when even evicting
 * every earlier turn leaves too little room. */
static uint64_t make_room(chat_conv *v, size_t need, bool *overlong) {
    const sl_kv_cache *kv = sl_session_kv(v->s);
    *overlong = false;
    if (kv->unbounded || v->s->p.policy == SL_POLICY_RECOMPUTE) return 0;
    uint64_t n = sl_session_n_past(v->s);
    uint64_t P = (uint64_t)kv->n_pinned, W = (uint64_t)kv->n_window;
    if (n + need <= P + W) return 0; /* nothing has to leave yet */
    /* After the turn the window must hold [target, n + need). */
    uint64_t target = n + need - W;
    uint64_t held_from = kv->floor > P ? kv->floor : P;
    if (target <= held_from) return 0;
    uint64_t cut = n; /* no earlier boundary fits: evict every earlier turn */
    if (target > n) *overlong = true;
    else
        for (size_t i = 0; i < v->n_bounds; i++) {
            uint64_t b = chat_bound(v, i);
            if (b >= target) {
                cut = b;
                break;
            }
        }
    sl_session_evict_before(v->s, cut);
    bounds_drop_before(v, cut);
    return cut;
}

static bool is_stop(const chat_conv *v, const sl_tokenizer *t, int32_t tok) {
    if (sl_tokenizer_is_eog(t, tok)) return true;
    for (int i = 0; i < v->n_stop; i++)
        if (v->stop_ids[i] == tok) return true;
    return false;
}

/* Hands a token's bytes to emit as complete UTF-8 characters. */
static bool emit_piece(sl_utf8_stream *us, const char *piece, size_t len, sl_chat_emit_fn emit,
                       void *user) {
    char out[256];
    bool go = true;
    while (len > 0) {
        size_t take = len < 80 ? len : 80; /* SL_UTF8_STREAM_CAP(80) < sizeof out */
        size_t w = sl_utf8_stream_push(us, piece, take, out);
        if (w > 0 && emit && !emit(user, out, w)) go = false;
        piece += take;
        len -= take;
    }
    return go;
}

sl_status sl_chat_turn(sl_chat *c, const char *user, size_t len, long long n_reply_max,
                       sl_chat_emit_fn emit, void *emit_user, sl_chat_turn_stats *st,
                       sl_error *err) {
    chat_conv *v = &c->v;
    const sl_tokenizer *tok = c->m->tok;
    sl_chat_turn_stats local;
    if (!st) st = &local;
    memset(st, 0, sizeof *st);
    st->stop = "length";

    sl_chat_seq q = {0};
    sl_status rc = sl_chat_render_user(&v->tmpl, user, len, v->turns == 0, v->has_system, &q, err);
    if (rc != SL_OK) {
        sl_chat_seq_free(&q);
        return rc;
    }
    int32_t *ids = NULL;
    size_t n_ids = 0;
    rc = render_tokens(tok, &q, &ids, &n_ids, err);
    if (rc != SL_OK) return rc;
    if (n_ids == 0) {
        free(ids);
        return sl_fail(err, SL_ERR_INVALID_ARG, "chat: the turn rendered no tokens");
    }
    st->prompt_tokens = n_ids;

    size_t reserve = n_reply_max > 0 ? (size_t)n_reply_max : 0;
    st->evicted_before = make_room(v, n_ids + reserve + v->n_end, &st->overlong);
    chat_bounds_push(v, sl_session_n_past(v->s));

    for (size_t i = 0; i < n_ids; i++) sl_sampler_accept(v->smp, ids[i]);
    double t0 = sl_now_s();
    /* In slices when someone watches, so a long turn can show progress. */
    const size_t slice = c->p.progress ? 256 : n_ids;
    for (size_t done = 0; done < n_ids && rc == SL_OK;) {
        size_t n = n_ids - done < slice ? n_ids - done : slice;
        rc = sl_session_feed(v->s, ids + done, n, done + n == n_ids ? c->logits : NULL, NULL, err);
        done += n;
        if (c->p.progress) c->p.progress(c->p.progress_user, done, n_ids);
    }
    free(ids);
    if (rc != SL_OK) return rc;
    double t1 = sl_now_s();
    st->prefill_s = t1 - t0;

    sl_utf8_stream us = {0};
    bool go = emit ? emit(emit_user, "", 0) : true;
    if (!go) st->stop = "interrupted";
    long long n_gen = 0;
    while (go && (n_reply_max < 0 || n_gen < n_reply_max)) {
        int32_t t = sl_sampler_sample(v->smp, c->logits);
        if (!c->p.ignore_eos && is_stop(v, tok, t)) {
            st->stop = "eos";
            break;
        }
        size_t plen;
        const char *piece = sl_tokenizer_piece(tok, t, &plen);
        go = emit_piece(&us, piece, plen, emit, emit_user);
        n_gen++;
        /* Every token shown is fed, so the conversation holds exactly the
         * reply the user saw, even when it is cut by -n or Ctrl-C. */
        rc = sl_session_feed(v->s, &t, 1, c->logits, NULL, err);
        if (rc != SL_OK) return rc;
        if (!go) st->stop = "interrupted";
    }
    char tail[16];
    size_t w = sl_utf8_stream_flush(&us, tail);
    if (w > 0 && emit) emit(emit_user, tail, w);
    double t2 = sl_now_s();

    if (v->n_end > 0) {
        rc = sl_session_feed(v->s, v->end_ids, v->n_end, NULL, NULL, err);
        if (rc != SL_OK) return rc;
    }
    v->turns++;
    v->generated += (uint64_t)n_gen;
    v->decode_s += t2 - t1;
    st->reply_tokens = (size_t)n_gen;
    st->end_tokens = v->n_end;
    st->decode_s = t2 - t1;
    st->tok_per_s = n_gen > 0 && t2 > t1 ? (double)n_gen / (t2 - t1) : 0.0;
    st->cache_tokens = sl_session_cache_len(v->s);
    st->stream_pos = sl_session_n_past(v->s);
    return SL_OK;
}
