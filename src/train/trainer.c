/* trainer.c — the optimizer loop (see trainer.h). Checkpoints and export
 * live in checkpoint.c and export.c. */
#include "train/trainer.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

void sl_train_opts_default(sl_train_opts *o) {
    memset(o, 0, sizeof *o);
    o->batch = 8;
    o->accum = 1;
    o->steps = 1000;
    o->warmup = 100;
    o->lr = 1e-3f;
    o->min_lr = 1e-4f;
    o->wd = 0.1f;
    o->clip = 1.0f;
    o->beta1 = 0.9f;
    o->beta2 = 0.95f;
    o->adam_eps = 1e-8f;
    o->init_std = 0.02f;
    o->seed = 1;
}

uint64_t sl_train_hash_tokens(const int32_t *tok, size_t n) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) {
        uint32_t v = (uint32_t)tok[i];
        for (int b = 0; b < 4; b++) h = (h ^ ((v >> (8 * b)) & 0xFF)) * 0x100000001b3ull;
    }
    return h;
}

static uint64_t rng_next(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

size_t sl_train_window_need(const sl_train_config *c) {
    return (size_t)c->n_ctx + (c->sink_token >= 0 ? 0 : 1);
}

void sl_train_window(const sl_train_config *c, const int32_t *data, size_t off, int32_t *inp,
                     int32_t *tgt) {
    const int T = c->n_ctx;
    if (c->sink_token >= 0) {
        /* [sink, d0 .. d(T-2)] predicts [d0 .. d(T-1)] */
        inp[0] = c->sink_token;
        memcpy(inp + 1, data + off, (size_t)(T - 1) * sizeof *inp);
        memcpy(tgt, data + off, (size_t)T * sizeof *tgt);
    } else {
        memcpy(inp, data + off, (size_t)T * sizeof *inp);
        memcpy(tgt, data + off + 1, (size_t)T * sizeof *tgt);
    }
}

sl_status sl_trainer_init(sl_trainer *t, const sl_train_config *cfg, const sl_train_opts *o,
                          sl_pool *pool, const int32_t *data, size_t n_data, sl_error *err) {
    memset(t, 0, sizeof *t);
    if (o->batch < 1 || o->accum < 1 || o->steps < 1 || o->warmup < 0 || !(o->lr > 0) ||
        !(o->min_lr >= 0) || !(o->wd >= 0) || !(o->clip >= 0) || !(o->init_std > 0))
        return sl_fail(err, SL_ERR_INVALID_ARG, "train: batch, accum and steps must be >= 1, lr > 0, "
                       "warmup, min_lr, wd and clip >= 0");
    size_t need = sl_train_window_need(cfg);
    if (n_data < need)
        return sl_fail(err, SL_ERR_INVALID_ARG, "train: the corpus has %zu tokens, fewer than one "
                       "training window (--ctx %d needs %zu)", n_data, cfg->n_ctx, need);
    for (size_t i = 0; i < n_data; i++)
        if (data[i] < 0 || data[i] >= cfg->n_vocab)
            return sl_fail(err, SL_ERR_INVALID_ARG, "train: token %zu of the corpus is %d, outside "
                           "the vocabulary [0, %d)", i, data[i], cfg->n_vocab);
    t->cfg = *cfg;
    t->o = *o;
    sl_status st = sl_train_model_init(&t->m, cfg, o->batch, pool, o->seed, o->init_std, err);
    if (st != SL_OK) return st;
    size_t M = (size_t)o->batch * cfg->n_ctx;
    t->adam_m = calloc(t->m.n_params, sizeof(float));
    t->adam_v = calloc(t->m.n_params, sizeof(float));
    t->inp = malloc(M * sizeof(int32_t));
    t->tgt = malloc(M * sizeof(int32_t));
    if (!t->adam_m || !t->adam_v || !t->inp || !t->tgt) {
        sl_trainer_free(t);
        return sl_fail(err, SL_ERR_NOMEM, "train: out of memory for the optimizer state");
    }
    t->rng = o->seed * 0x9E3779B97F4A7C15ull + 12345;
    t->data = data;
    t->n_data = n_data;
    t->data_hash = sl_train_hash_tokens(data, n_data);
    return SL_OK;
}

void sl_trainer_free(sl_trainer *t) {
    if (!t) return;
    sl_train_model_free(&t->m);
    free(t->adam_m);
    free(t->adam_v);
    free(t->inp);
    free(t->tgt);
    memset(t, 0, sizeof *t);
}

double sl_train_lr(const sl_train_opts *o, uint64_t step) {
    if ((int64_t)step < o->warmup) return (double)o->lr * (double)(step + 1) / (double)o->warmup;
    double span = o->steps - o->warmup > 0 ? (double)(o->steps - o->warmup) : 1.0;
    double p = ((double)step - o->warmup) / span;
    if (p > 1) p = 1;
    return o->min_lr + 0.5 * ((double)o->lr - o->min_lr) * (1.0 + cos(M_PI * p));
}

/* AdamW on one contiguous range of parameters. */
static void adamw(float *p, const float *g, float *m1, float *m2, size_t n, float lr, float wd,
                  float b1, float b2, float eps, double bc1, double bc2, float gscale) {
    for (size_t i = 0; i < n; i++) {
        float gi = g[i] * gscale;
        m1[i] = b1 * m1[i] + (1.0f - b1) * gi;
        m2[i] = b2 * m2[i] + (1.0f - b2) * gi * gi;
        float mh = (float)(m1[i] / bc1), vh = (float)(m2[i] / bc2);
        p[i] -= lr * (mh / (sqrtf(vh) + eps) + wd * p[i]);
    }
}

void sl_trainer_step(sl_trainer *t) {
    sl_train_model *m = &t->m;
    const sl_train_config *c = &t->cfg;
    const int B = t->o.batch, T = c->n_ctx;
    const size_t need = sl_train_window_need(c), span = t->n_data - need + 1;
    memset(m->grads, 0, m->n_params * sizeof(float));
    /* Every micro-batch has B*T targets, so the mean over the step is the sum
     * scaled by 1/(accum*B*T). */
    const float scale = 1.0f / (float)((double)t->o.accum * B * T);
    double loss = 0;
    for (int a = 0; a < t->o.accum; a++) {
        for (int b = 0; b < B; b++) {
            size_t off = (size_t)(rng_next(&t->rng) % span);
            sl_train_window(c, t->data, off, t->inp + (size_t)b * T, t->tgt + (size_t)b * T);
        }
        loss += sl_train_forward(m, t->inp, t->tgt, NULL, NULL);
        sl_train_backward(m, t->tgt, scale);
    }
    t->loss = loss * scale;

    double ss = 0;
    for (size_t i = 0; i < m->n_params; i++) ss += (double)m->grads[i] * m->grads[i];
    t->grad_norm = sqrt(ss);
    float gscale = 1.0f;
    if (t->o.clip > 0 && t->grad_norm > t->o.clip) gscale = (float)(t->o.clip / t->grad_norm);

    t->lr_now = sl_train_lr(&t->o, t->step);
    const float lr = (float)t->lr_now, wd = t->o.wd, b1 = t->o.beta1, b2 = t->o.beta2;
    double n = (double)t->step + 1;
    double bc1 = 1.0 - pow(b1, n), bc2 = 1.0 - pow(b2, n);
    /* Matrices decay, norms do not: walk the layout in the order of
     * sl_train_weights_bind. */
    const size_t E = (size_t)c->n_embd, F = (size_t)c->n_ff;
    size_t off = 0;
#define SEG(len, decay)                                                                           \
    do {                                                                                          \
        adamw(m->params + off, m->grads + off, t->adam_m + off, t->adam_v + off, (len), lr,       \
              (decay) ? wd : 0.0f, b1, b2, t->o.adam_eps, bc1, bc2, gscale);                      \
        off += (len);                                                                             \
    } while (0)
    SEG((size_t)c->n_vocab * E, true);
    SEG(E, false);
    for (int l = 0; l < c->n_layer; l++) {
        SEG(E, false);
        SEG(4 * E * E, true);
        SEG(E, false);
        SEG(3 * E * F, true);
    }
#undef SEG
    t->step++;
}

sl_status sl_trainer_eval(sl_trainer *t, const int32_t *tokens, size_t n, int max_chunks,
                          double *mean_loss, size_t *n_predicted, sl_error *err) {
    const sl_train_config *c = &t->cfg;
    const int B = t->o.batch, T = c->n_ctx;
    const size_t need = sl_train_window_need(c);
    if (n < need)
        return sl_fail(err, SL_ERR_INVALID_ARG, "eval: the held-out text has %zu tokens, fewer "
                       "than one window of %zu", n, need);
    for (size_t i = 0; i < n; i++)
        if (tokens[i] < 0 || tokens[i] >= c->n_vocab)
            return sl_fail(err, SL_ERR_INVALID_ARG, "eval: token %zu is %d, outside [0, %d)", i,
                           tokens[i], c->n_vocab);
    /* windows start every T text tokens (the sink takes no text) */
    size_t stride = (size_t)T;
    size_t n_chunks = (n - need) / stride + 1;
    if (max_chunks > 0 && n_chunks > (size_t)max_chunks) n_chunks = (size_t)max_chunks;
    double total = 0;
    size_t count = 0;
    for (size_t ch = 0; ch < n_chunks; ch += (size_t)B) {
        for (int b = 0; b < B; b++) {
            int32_t *in = t->inp + (size_t)b * T, *tg = t->tgt + (size_t)b * T;
            if (ch + (size_t)b < n_chunks) {
                sl_train_window(c, tokens, (ch + (size_t)b) * stride, in, tg);
            } else { /* padding rows: valid inputs, no targets */
                memset(in, 0, (size_t)T * sizeof *in);
                for (int i = 0; i < T; i++) tg[i] = -1;
            }
        }
        size_t k = 0;
        total += sl_train_forward(&t->m, t->inp, t->tgt, &k, NULL);
        count += k;
    }
    *mean_loss = total / (double)count;
    if (n_predicted) *n_predicted = count;
    return SL_OK;
}
