/* chat_state.c — /save and /load: a session state file (session.h) whose
 * application blob holds the conversation's bookkeeping.
 *
 * Blob, little-endian, version 1:
 *   "SLCH" | u32 version | u32 family | u32 keep_system | u32 has_system |
 *   u64 n_sys | u64 turns | u64 generated | f64 decode_s |
 *   sampler params: f32 temp, i32 top_k, f32 top_p, f32 min_p,
 *   f32 repeat_penalty, f32 presence, f32 frequency, i32 penalty_last_n,
 *   u64 seed | u64 n_bounds | u64 bounds[n_bounds] | u64 sys_len | sys bytes
 * The session file's checksum covers it. */
#include "chat/chat_internal.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/le_bytes.h"

#define BLOB_MAGIC "SLCH"
#define BLOB_VERSION 1u
#define BLOB_FIXED (5 * 4 + 4 * 8 + 8 * 4 + 8 + 8 + 8) /* through sys_len */


sl_status sl_chat_save(const sl_chat *c, const char *path, sl_error *err) {
    const chat_conv *v = &c->v;
    size_t sys_len = strlen(v->system);
    size_t len = BLOB_FIXED + 8 * v->n_bounds + sys_len;
    unsigned char *b = malloc(len), *p = b;
    if (!b) return sl_fail(err, SL_ERR_NOMEM, "%s: out of memory", path);
    memcpy(p, BLOB_MAGIC, 4);
    sl_put_u32(p + 4, BLOB_VERSION);
    sl_put_u32(p + 8, (uint32_t)v->tmpl.family);
    sl_put_u32(p + 12, v->keep_system);
    sl_put_u32(p + 16, v->has_system);
    p += 20;
    uint64_t dbits;
    memcpy(&dbits, &v->decode_s, 8);
    const uint64_t u64s[4] = {v->n_sys, v->turns, v->generated, dbits};
    for (int i = 0; i < 4; i++, p += 8) sl_put_u64(p, u64s[i]);
    const sl_sampler_params *sp = &v->sampler_params;
    sl_put_f32(p, sp->temp);
    sl_put_u32(p + 4, (uint32_t)sp->top_k);
    sl_put_f32(p + 8, sp->top_p);
    sl_put_f32(p + 12, sp->min_p);
    sl_put_f32(p + 16, sp->repeat_penalty);
    sl_put_f32(p + 20, sp->presence_penalty);
    sl_put_f32(p + 24, sp->frequency_penalty);
    sl_put_u32(p + 28, (uint32_t)sp->penalty_last_n);
    p += 32;
    sl_put_u64(p, sp->seed);
    p += 8;
    sl_put_u64(p, v->n_bounds);
    p += 8;
    for (size_t i = 0; i < v->n_bounds; i++, p += 8) sl_put_u64(p, chat_bound(v, i));
    sl_put_u64(p, sys_len);
    p += 8;
    memcpy(p, v->system, sys_len);
    sl_status st = sl_session_state_save(v->s, v->smp, b, len, path, err);
    free(b);
    return st;
}

/* Parses and checks the blob against the session state it came with. */
static sl_status parse_blob(const sl_session_state *ss, chat_conv *v, sl_chat_family *family,
                            sl_error *err) {
    const unsigned char *b = ss->app, *end = ss->app + ss->app_len;
    const char *path = ss->path;
    if (!b || ss->app_len < BLOB_FIXED || memcmp(b, BLOB_MAGIC, 4) != 0)
        return sl_fail(err, SL_ERR_FORMAT, "%s: a session state file, but it holds no chat", path);
    if (sl_get_u32(b + 4) != BLOB_VERSION)
        return sl_fail(err, SL_ERR_UNSUPPORTED, "%s: chat state version %u; this build reads %u",
                       path, sl_get_u32(b + 4), BLOB_VERSION);
    uint32_t f = sl_get_u32(b + 8);
    if (f >= SL_CHAT_FAMILY_COUNT)
        return sl_fail(err, SL_ERR_FORMAT, "%s: unknown chat template family %u", path, f);
    *family = (sl_chat_family)f;
    v->keep_system = sl_get_u32(b + 12) != 0;
    v->has_system = sl_get_u32(b + 16) != 0;
    const unsigned char *p = b + 20;
    v->n_sys = (size_t)sl_get_u64(p);
    v->turns = sl_get_u64(p + 8);
    v->generated = sl_get_u64(p + 16);
    uint64_t dbits = sl_get_u64(p + 24);
    memcpy(&v->decode_s, &dbits, 8);
    p += 32;
    sl_sampler_params *sp = &v->sampler_params;
    sp->temp = sl_get_f32(p);
    sp->top_k = (int32_t)sl_get_u32(p + 4);
    sp->top_p = sl_get_f32(p + 8);
    sp->min_p = sl_get_f32(p + 12);
    sp->repeat_penalty = sl_get_f32(p + 16);
    sp->presence_penalty = sl_get_f32(p + 20);
    sp->frequency_penalty = sl_get_f32(p + 24);
    sp->penalty_last_n = (int32_t)sl_get_u32(p + 28);
    sp->seed = sl_get_u64(p + 32);
    p += 40;
    /* The sampler allocates its history from this count: bound it as the
     * CLI bounds --repeat-last-n (fuzz_chat_state: a 2.7 GB malloc). */
    if (sp->penalty_last_n < 0 || sp->penalty_last_n > SL_SAMPLER_MAX_LAST_N)
        return sl_fail(err, SL_ERR_FORMAT, "%s: saved repeat-last-n %d is out of range [0, %d]", path,
                       (int)sp->penalty_last_n, SL_SAMPLER_MAX_LAST_N);
    uint64_t n_bounds = sl_get_u64(p);
    p += 8;
    size_t cap = chat_bounds_capacity(ss->params.n_window);
    if (n_bounds > cap || n_bounds > (uint64_t)(end - p) / 8)
        return sl_fail(err, SL_ERR_FORMAT, "%s: %llu turn starts, at most %zu fit", path,
                       (unsigned long long)n_bounds, cap);
    if (v->n_sys > ss->n_fed)
        return sl_fail(err, SL_ERR_FORMAT, "%s: %zu system tokens but only %llu were fed", path,
                       v->n_sys, (unsigned long long)ss->n_fed);
    const unsigned char *bp = p;
    uint64_t prev = 0;
    for (uint64_t i = 0; i < n_bounds; i++) {
        uint64_t pos = sl_get_u64(bp + 8 * i);
        if (pos > ss->n_fed || pos < prev)
            return sl_fail(err, SL_ERR_FORMAT, "%s: turn start %llu out of order or past the stream",
                           path, (unsigned long long)pos);
        prev = pos;
    }
    p += 8 * n_bounds;
    if ((size_t)(end - p) < 8) return sl_fail(err, SL_ERR_FORMAT, "%s: chat state truncated", path);
    uint64_t sys_len = sl_get_u64(p);
    p += 8;
    if (sys_len != (uint64_t)(end - p))
        return sl_fail(err, SL_ERR_FORMAT, "%s: system prompt of %llu bytes in %zu", path,
                       (unsigned long long)sys_len, (size_t)(end - p));
    if (memchr(p, '\0', (size_t)sys_len) || sl_utf8_validate((const char *)p, (size_t)sys_len) != (size_t)-1)
        return sl_fail(err, SL_ERR_FORMAT, "%s: the saved system prompt is not UTF-8 text", path);
    v->system = malloc((size_t)sys_len + 1);
    if (!v->system) return sl_fail(err, SL_ERR_NOMEM, "%s: out of memory", path);
    memcpy(v->system, p, (size_t)sys_len);
    v->system[sys_len] = '\0';
    /* Bounds are filled once the ring exists (after the session). */
    v->n_bounds = (size_t)n_bounds;
    v->bounds_head = 0;
    v->bounds = (uint64_t *)bp; /* borrowed until copied below */
    return SL_OK;
}

sl_status sl_chat_load(sl_chat *c, const char *path, sl_error *err) {
    sl_session_state ss;
    sl_status st = sl_session_state_open(&ss, c->m, path, err);
    if (st != SL_OK) return st;
    chat_conv nv;
    memset(&nv, 0, sizeof nv);
    sl_chat_family family = SL_CHAT_DEFAULT_FAMILY;
    st = parse_blob(&ss, &nv, &family, err);
    const unsigned char *saved_bounds = (const unsigned char *)nv.bounds;
    size_t n_bounds = nv.n_bounds;
    nv.bounds = NULL;
    nv.n_bounds = 0;
    if (st == SL_OK) st = chat_conv_bind_template(&nv, c->m, family, err);
    if (st == SL_OK) {
        sl_session_params sp = ss.params;
        sp.n_threads = c->p.session.n_threads;
        sp.n_batch = c->p.session.n_batch;
        st = sl_session_create(&nv.s, c->m, &sp, err);
    }
    if (st == SL_OK) st = sl_sampler_create(&nv.smp, &nv.sampler_params, c->m->hp.n_vocab, err);
    if (st == SL_OK) st = sl_session_state_apply(&ss, nv.s, nv.smp, err);
    if (st == SL_OK) st = chat_conv_alloc_bounds(&nv, err);
    if (st == SL_OK)
        for (size_t i = 0; i < n_bounds; i++) chat_bounds_push(&nv, sl_get_u64(saved_bounds + 8 * i));
    sl_session_state_close(&ss);
    if (st != SL_OK) {
        chat_conv_free(&nv);
        return st;
    }
    chat_conv_free(&c->v);
    c->v = nv;
    return SL_OK;
}
