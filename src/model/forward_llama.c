/* forward_llama.c — the Llama-family forward pass over a batch:
 *   x = embed(tokens)
 *   per layer: x += Wo · attn(rope(Wq·n(x)), rope(Wk·n(x)), Wv·n(x))
 *              x += Wd · (silu(Wg·n(x)) * (Wu·n(x)))       n = RMSNorm
 *   logits = Wout · n(x)
 * Matrix products run as (T, K) x (N, K)^T over the thread pool. */
#include <math.h>
#include <string.h>

#include "core/error.h"
#include "kernels/gemm.h"
#include "session/session.h"

static void rmsnorm(float *out, const float *x, const float *w, int n, float eps) {
    /* four partial sums in double: the adds overlap instead of each waiting
     * for the last (a tiny model runs eleven of these per token) */
    double s[4] = {0};
    int i = 0;
    for (; i + 4 <= n; i += 4)
        for (int j = 0; j < 4; j++) s[j] += (double)x[i + j] * x[i + j];
    for (; i < n; i++) s[0] += (double)x[i] * x[i];
    const double ss = (s[0] + s[1]) + (s[2] + s[3]);
    float inv = (float)(1.0 / sqrt(ss / n + eps));
    for (i = 0; i < n; i++) out[i] = x[i] * inv * w[i];
}

/* Per-token work of a batch over the pool: tokens [t0, t1) of it. Each
 * token's row is computed by the same operations on whichever thread, so
 * the split never changes the bits. Below PAR_TOKEN_FLOATS values in all,
 * the caller does it alone: waking the workers would cost more. On the
 * caller alone these loops kept the other thread waiting; split, pp128 ran
 * 1.5-3% faster (134M f16 and q4_0, 1.1B f16; in-process pairs). */
#define PAR_TOKEN_FLOATS 16384
typedef void (*token_fn)(void *ctx, int t0, int t1);
typedef struct {
    token_fn fn;
    void *ctx;
    int T;
} token_job;

static void token_task(void *ctx, int ith, int nth) {
    const token_job *j = ctx;
    long lo, hi;
    sl_split_range(j->T, ith, nth, &lo, &hi);
    if (lo < hi) j->fn(j->ctx, (int)lo, (int)hi);
}

static void for_tokens(sl_pool *pool, int T, int per_token, token_fn fn, void *ctx) {
    if (!pool || T < 2 || (long)T * per_token < PAR_TOKEN_FLOATS) {
        fn(ctx, 0, T);
        return;
    }
    token_job j = {.fn = fn, .ctx = ctx, .T = T};
    sl_pool_run(pool, token_task, &j);
}

typedef struct {
    float *out;       /* (T, n) */
    const float *x;   /* (T, n) */
    const float *w;   /* (n) */
    int n;
    float eps;
} norm_job;

static void norm_tokens(void *ctx, int t0, int t1) {
    const norm_job *j = ctx;
    for (int t = t0; t < t1; t++) rmsnorm(j->out + (size_t)t * j->n, j->x + (size_t)t * j->n, j->w, j->n, j->eps);
}

static void rmsnorm_batch(sl_session *s, float *out, const float *x, const float *w, int T, int n, float eps) {
    norm_job j = {.out = out, .x = x, .w = w, .n = n, .eps = eps};
    for_tokens(s->pool, T, n, norm_tokens, &j);
}

/* Keys rotated to their absolute positions, then keys and values written
 * in the cache's element type (ctx: the session). */
static void kv_rows_tokens(void *ctx, int t0, int t1) {
    sl_session *s = ctx;
    const sl_hparams *hp = &s->m->hp;
    const sl_kv_cache *kv = &s->kv;
    const size_t KV = (size_t)hp->n_head_kv * hp->head_dim, rb = kv->row_bytes;
    for (int t = t0; t < t1; t++) {
        float *kt = s->k + (size_t)t * KV;
        sl_rope_apply(&s->rope, kt, hp->n_head_kv, hp->head_dim, s->cs_win + (size_t)t * hp->n_rot);
        sl_kv_convert_row(kv, (char *)s->k_new + (size_t)t * rb, kt, KV);
        sl_kv_convert_row(kv, (char *)s->v_new + (size_t)t * rb, s->v + (size_t)t * KV, KV);
    }
}

/* Several products of the same x (T, cols) in one pass over the pool. */
static sl_status matmul_parts(sl_session *s, const float *x, int T, int K, const sl_mm_part *parts, int n,
                              sl_mm_epilogue ep, sl_error *err) {
    if (sl_matmul_parts(s->pool, &s->mm, x, T, K, parts, n, ep) != 0)
        return sl_fail(err, SL_ERR_NOMEM, "matmul scratch: out of memory");
    return SL_OK;
}

static sl_mm_part part(const sl_matrix *w, float *y, size_t ldy, bool acc) {
    sl_mm_part p = {.W = w->data, .type = w->type, .N = (int)w->rows, .y = y, .ldy = ldy, .acc = acc, .group = w->group};
    return p;
}

static sl_status matmul(sl_session *s, float *y, const sl_matrix *w, const float *x, int T,
                        sl_error *err) {
    const sl_mm_part p = part(w, y, (size_t)w->rows, false);
    return matmul_parts(s, x, T, (int)w->cols, &p, 1, SL_MM_PLAIN, err);
}

static void add_bias(float *y, const float *b, int T, int n) {
    if (!b) return;
    for (int t = 0; t < T; t++)
        for (int i = 0; i < n; i++) y[(size_t)t * n + i] += b[i];
}

#define TRY(x)                                                                                    \
    do {                                                                                          \
        sl_status st_ = (x);                                                                      \
        if (st_ != SL_OK) return st_;                                                             \
    } while (0)

sl_status sl_forward_llama(sl_session *s, const int32_t *tokens, int T, float *last_logits,
                           float *all_logits, sl_error *err) {
    const sl_model *m = s->m;
    const sl_hparams *hp = &m->hp;
    const int E = hp->n_embd, D = hp->head_dim, H = hp->n_head, G = hp->n_head_kv, F = hp->n_ff;
    const int Q = H * D, KV = G * D, V = hp->n_vocab, n_rot = hp->n_rot;
    sl_kv_cache *kv = &s->kv;
    const uint64_t p0 = kv->n_past;

    TRY(sl_kv_check_room(kv, (size_t)T, err));
    if (kv->type == SL_KV_Q8_0 && D % 32 != 0)
        return sl_fail(err, SL_ERR_UNSUPPORTED,
                       "--kv-type q8_0 needs head_dim to be a multiple of 32 (this model's is %d); "
                       "use f16", D);
    const sl_type_traits *et = sl_type_get(m->tok_embd.type);
    size_t erow = sl_row_size(m->tok_embd.type, E);
    for (int t = 0; t < T; t++) {
        if (tokens[t] < 0 || tokens[t] >= V)
            return sl_fail(err, SL_ERR_INVALID_ARG, "token id %d is outside the vocabulary [0, %d)",
                           tokens[t], V);
        if (m->tok_embd.group) sl_grouped_half_row(s->x + (size_t)t * E, m->tok_embd.data, m->tok_embd.type, m->tok_embd.group, E, tokens[t]);
        else et->to_float(s->x + (size_t)t * E, (const char *)m->tok_embd.data + (size_t)tokens[t] * erow, E);
        uint64_t pw, pp;
        sl_kv_query_positions(kv, p0 + (uint64_t)t, &pw, &pp);
        sl_rope_sincos(&s->rope, pw, s->cs_win + (size_t)t * n_rot);
        sl_rope_sincos(&s->rope, pp, s->cs_pin + (size_t)t * n_rot);
    }

    sl_attn_batch ab = {
        .kv = kv, .T = T, .H = H, .G = G, .D = D, .p0 = p0, .q = s->q, .k_new = s->k_new,
        .v_new = s->v_new, .rope = &s->rope, .cs_window = s->cs_win, .cs_pinned = s->cs_pin,
        .zero_sink = hp->zero_sink, .out = s->att, .scratch = s->attn_scratch,
        .scratch_stride = s->attn_stride, .max_keys = s->max_keys, .observer = s->observer,
        .observer_user = s->observer_user,
    };
    /* The last layer computes only what something reads: the keys and
     * values of every token (the cache), the rest for the last token when
     * only its logits are wanted and for none without logits. A token's
     * outputs do not depend on which other tokens are computed (each
     * product's row and each attention query are their own), so the last
     * logits are the same bits. Not with an observer, which sees every
     * query, or when every token's logits are wanted. */
    const bool trim = !all_logits && !s->observer;
    for (int il = 0; il < hp->n_layer; il++) {
        const sl_layer *l = &m->layers[il];
        const bool last_layer = il == hp->n_layer - 1;
        const int o0 = last_layer && trim ? (last_logits ? T - 1 : T) : 0; /* first token computed past k, v */
        rmsnorm_batch(s, s->xb, s->x, l->attn_norm, T, E, hp->rms_eps);
        /* q, k and v in one dispatch, x quantized once */
        const sl_mm_part qkv[3] = {part(&l->wk, s->k, (size_t)KV, false), part(&l->wv, s->v, (size_t)KV, false),
                                   part(&l->wq, s->q, (size_t)Q, false)};
        TRY(matmul_parts(s, s->xb, T, E, qkv, o0 == 0 ? 3 : 2, SL_MM_PLAIN, err));
        if (o0 > 0 && o0 < T)
            TRY(matmul(s, s->q + (size_t)o0 * Q, &l->wq, s->xb + (size_t)o0 * E, T - o0, err));
        add_bias(s->q + (size_t)o0 * Q, l->bq, T - o0, Q);
        add_bias(s->k, l->bk, T, KV);
        add_bias(s->v, l->bv, T, KV);
        /* Keys are rotated once, at their absolute position, and stored in
         * the cache's element type before anyone attends to them, so a
         * token sees the same key whether it arrived in this batch or an
         * earlier one. */
        for_tokens(s->pool, T, 2 * KV, kv_rows_tokens, s);
        ab.layer = il;
        ab.t_out = o0;
        sl_attention(s->pool, &ab);
        sl_kv_store(kv, il, s->k_new, s->v_new, (size_t)T);
        /* Without logits the last layer's output feeds nothing: its keys
         * and values are stored, which is all a later token needs. */
        if (last_layer && !last_logits && !all_logits) break;
        const int To = T - o0;
        float *xo = s->x + (size_t)o0 * E, *xbo = s->xb + (size_t)o0 * E;
        /* x += Wo att, the residual added by the threads that own the rows */
        const sl_mm_part o = part(&l->wo, xo, (size_t)E, true);
        TRY(matmul_parts(s, s->att + (size_t)o0 * Q, To, Q, &o, 1, SL_MM_PLAIN, err));

        rmsnorm_batch(s, xbo, xo, l->ffn_norm, To, E, hp->rms_eps);
        /* gate and up in one dispatch; each thread applies silu(gate) * up to its rows */
        const sl_mm_part gu[2] = {part(&l->w_gate, s->gate, (size_t)F, false), part(&l->w_up, s->up, (size_t)F, false)};
        TRY(matmul_parts(s, xbo, To, E, gu, 2, SL_MM_SWIGLU, err));
        const sl_mm_part d = part(&l->w_down, xo, (size_t)E, true);
        TRY(matmul_parts(s, s->gate, To, F, &d, 1, SL_MM_PLAIN, err));
    }
    sl_kv_advance(kv, (size_t)T);

    if (all_logits) {
        rmsnorm_batch(s, s->xb, s->x, m->output_norm, T, E, hp->rms_eps);
        TRY(matmul(s, all_logits, &m->output, s->xb, T, err));
        if (last_logits) memcpy(last_logits, all_logits + (size_t)(T - 1) * V, (size_t)V * sizeof(float));
    } else if (last_logits) {
        rmsnorm(s->xb, s->x + (size_t)(T - 1) * E, m->output_norm, E, hp->rms_eps);
        TRY(matmul(s, last_logits, &m->output, s->xb, 1, err));
    }
    return SL_OK;
}
