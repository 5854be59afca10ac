/* train_model.c — forward with stored activations and the backward pass
 * (see train_model.h). Every product is C = A · B^T through sl_gemm_nt:
 *   forward   Y (M, N)  = X (M, K) · W (N, K)^T
 *   input     dX (M, K) = dY (M, N) · (W^T) (K, N)^T
 *   weight    dW (N, K) += (dY^T) (N, M) · (X^T) (K, M)^T
 * Attention runs per (sequence, head) on the pool. */
#include "train/train_model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "train/gemm.h"

/* ---- layout and memory ------------------------------------------------------ */

static size_t layer_params(const sl_train_config *c) {
    size_t E = (size_t)c->n_embd, F = (size_t)c->n_ff;
    return 2 * E + 4 * E * E + 3 * E * F;
}

size_t sl_train_n_params(const sl_train_config *c) {
    return (size_t)c->n_vocab * c->n_embd + c->n_embd + (size_t)c->n_layer * layer_params(c);
}

void sl_train_weights_bind(sl_train_weights *w, sl_train_layer *layers, const sl_train_config *c,
                           float *base) {
    size_t E = (size_t)c->n_embd, F = (size_t)c->n_ff;
    float *p = base;
    w->tok_embd = p; p += (size_t)c->n_vocab * E;
    w->output_norm = p; p += E;
    w->layers = layers;
    for (int l = 0; l < c->n_layer; l++) {
        sl_train_layer *L = &layers[l];
        L->attn_norm = p; p += E;
        L->wq = p; p += E * E;
        L->wk = p; p += E * E;
        L->wv = p; p += E * E;
        L->wo = p; p += E * E;
        L->ffn_norm = p; p += E;
        L->w_gate = p; p += F * E;
        L->w_up = p; p += F * E;
        L->w_down = p; p += E * F;
    }
}

static size_t max3(size_t a, size_t b, size_t c) { return a > b ? (a > c ? a : c) : (b > c ? b : c); }

/* A transpose buffer holds any weight (N, K) or activation (M, N) of the pass:
 * the attention weights are (E, E), which the other terms do not cover when
 * the embedding is wider than the vocabulary, ff and B x ctx (fuzz_train_ckpt
 * found the overflow). */
static size_t tmp_floats(const sl_train_config *c, int B) {
    size_t M = (size_t)B * c->n_ctx, E = (size_t)c->n_embd, F = (size_t)c->n_ff, V = (size_t)c->n_vocab;
    size_t w = max3(V * E, F * E, E * E);
    return M * max3(V, F, E) > w ? M * max3(V, F, E) : w;
}

/* Floats of activations and scratch, in one formula shared by the estimate and
 * the allocation. */
static uint64_t act_floats(const sl_train_config *c, int B) {
    uint64_t T = (uint64_t)c->n_ctx, M = (uint64_t)B * T, E = (uint64_t)c->n_embd,
             F = (uint64_t)c->n_ff, V = (uint64_t)c->n_vocab, H = (uint64_t)c->n_head;
    uint64_t per_layer = 8 * M * E + 2 * M + 3 * M * F + (uint64_t)B * H * T * T;
    return (uint64_t)c->n_layer * per_layer + 2 * M * E + M + M * V + 6 * M * E + 3 * M * F +
           2 * (uint64_t)tmp_floats(c, B);
}

uint64_t sl_train_model_bytes(const sl_train_config *c, int B) {
    return 4 * (2 * (uint64_t)sl_train_n_params(c) + act_floats(c, B));
}

sl_status sl_train_config_check(const sl_train_config *c, int B, sl_error *err) {
#define RANGE(v, flag, lo, hi)                                                                    \
    if ((v) < (lo) || (v) > (hi))                                                                 \
        return sl_fail(err, SL_ERR_INVALID_ARG, flag ": %d is out of range [%d, %d]", (int)(v),   \
                       (lo), (hi));
    RANGE(c->n_vocab, "vocab", 2, 1 << 20)
    RANGE(c->n_embd, "--dim", 2, 1 << 14)
    RANGE(c->n_layer, "--layers", 1, 256)
    RANGE(c->n_head, "--heads", 1, 1024)
    RANGE(c->n_ff, "--ff", 1, 1 << 16)
    RANGE(c->n_ctx, "--ctx", 2, 1 << 14)
    RANGE(B, "--batch", 1, 1 << 12)
#undef RANGE
    if (c->n_embd % c->n_head || (c->n_embd / c->n_head) % 2)
        return sl_fail(err, SL_ERR_INVALID_ARG, "--dim %d must be --heads %d times an even head size",
                       c->n_embd, c->n_head);
    if (c->sink_token >= c->n_vocab)
        return sl_fail(err, SL_ERR_INVALID_ARG, "sink token %d is outside the vocabulary [0, %d)",
                       c->sink_token, c->n_vocab);
    if (!(c->rms_eps > 0) || !(c->rope_base > 1))
        return sl_fail(err, SL_ERR_INVALID_ARG, "rms_eps must be > 0 and rope_base > 1");
    /* Indices into the attention probabilities and logits are size_t, but the
     * products take int sizes: keep every dimension product below 2^31. */
    if ((uint64_t)B * c->n_ctx * (uint64_t)(c->n_vocab > c->n_ff ? c->n_vocab : c->n_ff) >= (1ull << 31))
        return sl_fail(err, SL_ERR_INVALID_ARG,
                       "--batch %d x --ctx %d x vocab/ff is too large for one micro-batch", B, c->n_ctx);
    return SL_OK;
}

void sl_train_model_free(sl_train_model *m) {
    if (!m) return;
    free(m->params);
    free(m->grads);
    free(m->w.layers);
    free(m->gw.layers);
    sl_rope_free(&m->rope);
    free(m->cs);
    if (m->acts) {
        for (int l = 0; l < m->c.n_layer; l++) free(m->acts[l].x_in); /* one block per layer */
        free(m->acts);
    }
    free(m->x_out);
    free(m->logits);
    free(m->dx);
    free(m->tmp_a);
    free(m->tmp_b);
    free(m->attn_scr);
    memset(m, 0, sizeof *m);
}

/* splitmix64 and an approximately normal draw (Irwin-Hall of 4 uniforms),
 * the same generator family as model/synth.c. */
static uint64_t rng_next(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
static float rng_normal(uint64_t *s) {
    uint64_t r = rng_next(s);
    float sum = (float)(r & 0xFFFF) + (float)((r >> 16) & 0xFFFF) + (float)((r >> 32) & 0xFFFF) +
                (float)(r >> 48) + 2.0f;
    return (sum * (1.0f / 65536.0f) - 2.0f) * 1.7320508f;
}

static void fill(float *p, size_t n, float std, uint64_t *s) {
    for (size_t i = 0; i < n; i++) p[i] = std * rng_normal(s);
}
static void ones(float *p, size_t n) {
    for (size_t i = 0; i < n; i++) p[i] = 1.0f;
}

sl_status sl_train_model_init(sl_train_model *m, const sl_train_config *cfg, int B, sl_pool *pool,
                              uint64_t seed, float init_std, sl_error *err) {
    memset(m, 0, sizeof *m);
    sl_status st = sl_train_config_check(cfg, B, err);
    if (st != SL_OK) return st;
    m->c = *cfg;
    m->B = B;
    m->pool = pool;
    const sl_train_config *c = &m->c;
    const size_t T = (size_t)c->n_ctx, M = (size_t)B * T, E = (size_t)c->n_embd,
                 F = (size_t)c->n_ff, V = (size_t)c->n_vocab, H = (size_t)c->n_head, D = E / H;
    m->n_params = sl_train_n_params(c);
    m->params = calloc(m->n_params, sizeof(float));
    m->grads = calloc(m->n_params, sizeof(float));
    m->w.layers = calloc((size_t)c->n_layer, sizeof(sl_train_layer));
    m->gw.layers = calloc((size_t)c->n_layer, sizeof(sl_train_layer));
    m->acts = calloc((size_t)c->n_layer, sizeof(sl_train_acts));
    bool ok = m->params && m->grads && m->w.layers && m->gw.layers && m->acts;
    for (int l = 0; ok && l < c->n_layer; l++) {
        sl_train_acts *a = &m->acts[l];
        size_t n = 8 * M * E + 2 * M + 3 * M * F + (size_t)B * H * T * T;
        float *p = malloc(n * sizeof(float));
        if (!p) { ok = false; break; }
        a->x_in = p; p += M * E;
        a->xn1 = p; p += M * E;
        a->rs1 = p; p += M;
        a->q = p; p += M * E;
        a->k = p; p += M * E;
        a->v = p; p += M * E;
        a->att = p; p += M * E;
        a->x_mid = p; p += M * E;
        a->xn2 = p; p += M * E;
        a->rs2 = p; p += M;
        a->g = p; p += M * F;
        a->u = p; p += M * F;
        a->h = p; p += M * F;
        a->p = p;
    }
    if (ok) {
        float *p = m->x_out = malloc((2 * M * E + M) * sizeof(float));
        if (p) { m->xnf = p + M * E; m->rsf = p + 2 * M * E; }
        m->logits = malloc(M * V * sizeof(float));
        float *d = m->dx = malloc((6 * M * E + 3 * M * F) * sizeof(float));
        if (d) {
            m->dxn = d + M * E; m->dq = d + 2 * M * E; m->dk = d + 3 * M * E;
            m->dv = d + 4 * M * E; m->datt = d + 5 * M * E;
            m->dg = d + 6 * M * E; m->du = m->dg + M * F; m->dh = m->du + M * F;
        }
        size_t tsz = tmp_floats(c, B);
        m->tmp_a = malloc(tsz * sizeof(float));
        m->tmp_b = malloc(tsz * sizeof(float));
        int nth = pool ? sl_pool_n_threads(pool) : 1;
        m->attn_scr = malloc((size_t)nth * T * sizeof(float));
        m->cs = malloc(T * D * sizeof(float));
        ok = m->x_out && m->logits && m->dx && m->tmp_a && m->tmp_b && m->attn_scr && m->cs;
    }
    sl_hparams hp = {0};
    hp.n_rot = (int)D;
    hp.rope_base = c->rope_base;
    hp.rope_freq_scale = 1.0;
    hp.rope_style = SL_ROPE_NORM;
    if (ok && sl_rope_init(&m->rope, &hp, NULL) != 0) ok = false;
    if (!ok) {
        sl_train_model_free(m);
        return sl_fail(err, SL_ERR_NOMEM, "train: cannot allocate %.1f MiB for the model and its "
                       "activations (reduce --batch, --ctx or the model size)",
                       (double)sl_train_model_bytes(cfg, B) / (1 << 20));
    }
    for (size_t t = 0; t < T; t++) sl_rope_sincos(&m->rope, t, m->cs + t * D);
    sl_train_weights_bind(&m->w, m->w.layers, c, m->params);
    sl_train_weights_bind(&m->gw, m->gw.layers, c, m->grads);

    uint64_t s = seed ^ 0x5EEDull;
    float proj_std = init_std / sqrtf(2.0f * (float)c->n_layer);
    fill(m->w.tok_embd, V * E, init_std, &s);
    ones(m->w.output_norm, E);
    for (int l = 0; l < c->n_layer; l++) {
        sl_train_layer *L = &m->w.layers[l];
        ones(L->attn_norm, E);
        ones(L->ffn_norm, E);
        fill(L->wq, E * E, init_std, &s);
        fill(L->wk, E * E, init_std, &s);
        fill(L->wv, E * E, init_std, &s);
        fill(L->wo, E * E, proj_std, &s);
        fill(L->w_gate, F * E, init_std, &s);
        fill(L->w_up, F * E, init_std, &s);
        fill(L->w_down, E * F, proj_std, &s);
    }
    return SL_OK;
}

/* ---- small kernels ---------------------------------------------------------------- */

/* The engine's RMSNorm: sum of squares in double, 1/rms rounded to float. */
static void rmsnorm_fwd(float *y, float *rs, const float *x, const float *w, int rows, int n,
                        float eps) {
    for (int r = 0; r < rows; r++) {
        const float *xr = x + (size_t)r * n;
        float *yr = y + (size_t)r * n;
        double ss = 0;
        for (int i = 0; i < n; i++) ss += (double)xr[i] * xr[i];
        float inv = (float)(1.0 / sqrt(ss / n + eps));
        rs[r] = inv;
        for (int i = 0; i < n; i++) yr[i] = xr[i] * inv * w[i];
    }
}

/* y = x * r * w with r = (mean(x^2) + eps)^-1/2:
 *   dw += dy * x * r
 *   dx += r * dy * w - x * r^3 / n * sum(dy * w * x) */
static void rmsnorm_bwd(float *dx, float *dw, const float *dy, const float *x, const float *rs,
                        const float *w, int rows, int n) {
    for (int r = 0; r < rows; r++) {
        const float *xr = x + (size_t)r * n, *dyr = dy + (size_t)r * n;
        float *dxr = dx + (size_t)r * n;
        double dot = 0;
        float inv = rs[r];
        for (int i = 0; i < n; i++) {
            dot += (double)dyr[i] * w[i] * xr[i];
            dw[i] += dyr[i] * xr[i] * inv;
        }
        float coef = (float)(dot * inv * inv * inv / n);
        for (int i = 0; i < n; i++) dxr[i] += inv * dyr[i] * w[i] - xr[i] * coef;
    }
}

/* RoPE and its inverse (the transpose of a rotation) on every head of rows. */
static void rope_rows(const sl_train_model *m, float *x, bool inverse) {
    const int E = m->c.n_embd, H = m->c.n_head, D = E / H, T = m->c.n_ctx;
    for (int r = 0; r < m->B * T; r++) {
        const float *cs = m->cs + (size_t)(r % T) * D;
        float *row = x + (size_t)r * E;
        if (!inverse) {
            sl_rope_apply(&m->rope, row, H, D, cs);
            continue;
        }
        for (int h = 0; h < H; h++)
            for (int i = 0; i < D / 2; i++) {
                float *v = row + h * D + 2 * i, c = cs[2 * i], s = cs[2 * i + 1];
                float x0 = v[0], x1 = v[1];
                v[0] = x0 * c + x1 * s;
                v[1] = -x0 * s + x1 * c;
            }
    }
}

typedef struct {
    float *dst;
    const float *src;
    int rows, cols;
} transpose_job;

static void transpose_task(void *ctx, int ith, int nth) {
    const transpose_job *j = ctx;
    long lo, hi;
    sl_split_range((j->rows + 31) / 32, ith, nth, &lo, &hi);
    int r0 = (int)lo * 32, r1 = (int)hi * 32 < j->rows ? (int)hi * 32 : j->rows;
    enum { TB = 32 };
    for (int rb = r0; rb < r1; rb += TB)
        for (int c0 = 0; c0 < j->cols; c0 += TB) {
            int re = rb + TB < r1 ? rb + TB : r1, ce = c0 + TB < j->cols ? c0 + TB : j->cols;
            for (int r = rb; r < re; r++)
                for (int c = c0; c < ce; c++)
                    j->dst[(size_t)c * j->rows + r] = j->src[(size_t)r * j->cols + c];
        }
}

static void transpose(sl_pool *pool, float *dst, const float *src, int rows, int cols) {
    transpose_job j = {dst, src, rows, cols};
    if (pool) sl_pool_run(pool, transpose_task, &j);
    else transpose_task(&j, 0, 1);
}

/* y (M, N) = x (M, K) · w (N, K)^T */
static void linear_fwd(sl_train_model *m, float *y, const float *x, const float *w, int M, int N,
                       int K) {
    sl_gemm_nt(m->pool, y, x, w, M, N, K, false);
}

/* dx (M, K) (+)= dy (M, N) · w (N, K);  dw (N, K) += dy^T · x */
static void linear_bwd(sl_train_model *m, float *dx, bool dx_acc, float *dw, const float *dy,
                       const float *x, const float *w, int M, int N, int K) {
    transpose(m->pool, m->tmp_a, w, N, K); /* (K, N) */
    sl_gemm_nt(m->pool, dx, dy, m->tmp_a, M, K, N, dx_acc);
    transpose(m->pool, m->tmp_a, dy, M, N); /* (N, M) */
    transpose(m->pool, m->tmp_b, x, M, K);  /* (K, M) */
    sl_gemm_nt(m->pool, dw, m->tmp_a, m->tmp_b, N, K, M, true);
}

/* ---- attention ------------------------------------------------------------------- */

typedef struct {
    sl_train_model *m;
    sl_train_acts *a;
} attn_job;

static void attn_fwd_task(void *ctx, int ith, int nth) {
    attn_job *j = ctx;
    const sl_train_model *m = j->m;
    const sl_train_acts *a = j->a;
    const int E = m->c.n_embd, H = m->c.n_head, D = E / H, T = m->c.n_ctx;
    const float scale = 1.0f / sqrtf((float)D);
    long lo, hi;
    sl_split_range((long)m->B * H, ith, nth, &lo, &hi);
    for (long bh = lo; bh < hi; bh++) {
        int b = (int)(bh / H), h = (int)(bh % H);
        float *P = a->p + (size_t)bh * T * T;
        for (int i = 0; i < T; i++) {
            const float *qi = a->q + ((size_t)b * T + i) * E + h * D;
            float *pi = P + (size_t)i * T, mx = -INFINITY;
            for (int jj = 0; jj <= i; jj++) {
                const float *kj = a->k + ((size_t)b * T + jj) * E + h * D;
                pi[jj] = sl_vdot(qi, kj, D) * scale;
                if (pi[jj] > mx) mx = pi[jj];
            }
            float sum = 0;
            for (int jj = 0; jj <= i; jj++) {
                pi[jj] = expf(pi[jj] - mx);
                sum += pi[jj];
            }
            /* off-by-one: an implicit logit 0 joins the denominator */
            if (m->c.zero_sink) sum += expf(-mx);
            float inv = 1.0f / sum;
            float *o = a->att + ((size_t)b * T + i) * E + h * D;
            memset(o, 0, (size_t)D * sizeof(float));
            for (int jj = 0; jj <= i; jj++) {
                pi[jj] *= inv;
                sl_vaxpy(o, pi[jj], a->v + ((size_t)b * T + jj) * E + h * D, D);
            }
        }
    }
}

/* With P = softmax (off-by-one or not, the Jacobian is the same:
 * dP_j/ds_i = P_j (delta_ij - P_i)):
 *   dP_ij = datt_i . v_j     dv_j += sum_i P_ij datt_i
 *   dS_ij = P_ij (dP_ij - sum_j' P_ij' dP_ij')
 *   dq_i = scale sum_j dS_ij k_j     dk_j += scale sum_i dS_ij q_i */
static void attn_bwd_task(void *ctx, int ith, int nth) {
    attn_job *j = ctx;
    sl_train_model *m = j->m;
    const sl_train_acts *a = j->a;
    const int E = m->c.n_embd, H = m->c.n_head, D = E / H, T = m->c.n_ctx;
    const float scale = 1.0f / sqrtf((float)D);
    float *dp = m->attn_scr + (size_t)ith * T;
    long lo, hi;
    sl_split_range((long)m->B * H, ith, nth, &lo, &hi);
    for (long bh = lo; bh < hi; bh++) {
        int b = (int)(bh / H), h = (int)(bh % H);
        const float *P = a->p + (size_t)bh * T * T;
        for (int i = 0; i < T; i++) {
            float *dq = m->dq + ((size_t)b * T + i) * E + h * D;
            float *dk = m->dk + ((size_t)b * T + i) * E + h * D;
            float *dv = m->dv + ((size_t)b * T + i) * E + h * D;
            memset(dq, 0, (size_t)D * sizeof(float));
            memset(dk, 0, (size_t)D * sizeof(float));
            memset(dv, 0, (size_t)D * sizeof(float));
        }
        for (int i = 0; i < T; i++) {
            const float *pi = P + (size_t)i * T;
            const float *dai = m->datt + ((size_t)b * T + i) * E + h * D;
            const float *qi = a->q + ((size_t)b * T + i) * E + h * D;
            float *dqi = m->dq + ((size_t)b * T + i) * E + h * D;
            float dot = 0;
            for (int jj = 0; jj <= i; jj++) {
                const float *vj = a->v + ((size_t)b * T + jj) * E + h * D;
                float *dvj = m->dv + ((size_t)b * T + jj) * E + h * D;
                float s = sl_vdot(dai, vj, D);
                sl_vaxpy(dvj, pi[jj], dai, D);
                dp[jj] = s;
                dot += pi[jj] * s;
            }
            for (int jj = 0; jj <= i; jj++) {
                float ds = pi[jj] * (dp[jj] - dot) * scale;
                const float *kj = a->k + ((size_t)b * T + jj) * E + h * D;
                float *dkj = m->dk + ((size_t)b * T + jj) * E + h * D;
                sl_vaxpy(dqi, ds, kj, D);
                sl_vaxpy(dkj, ds, qi, D);
            }
        }
    }
}

/* ---- forward ---------------------------------------------------------------------- */

static void run(sl_pool *pool, sl_pool_fn fn, void *ctx) {
    if (pool) sl_pool_run(pool, fn, ctx);
    else fn(ctx, 0, 1);
}

double sl_train_forward(sl_train_model *m, const int32_t *tokens, const int32_t *targets,
                        size_t *n_targets, double *loss_per_row) {
    const sl_train_config *c = &m->c;
    const int E = c->n_embd, F = c->n_ff, V = c->n_vocab, T = c->n_ctx, M = m->B * T;
    const float eps = c->rms_eps;
    m->tokens = tokens;
    float *x = m->acts[0].x_in;
    for (int r = 0; r < M; r++)
        memcpy(x + (size_t)r * E, m->w.tok_embd + (size_t)tokens[r] * E, (size_t)E * sizeof(float));
    for (int l = 0; l < c->n_layer; l++) {
        sl_train_acts *a = &m->acts[l];
        const sl_train_layer *W = &m->w.layers[l];
        rmsnorm_fwd(a->xn1, a->rs1, a->x_in, W->attn_norm, M, E, eps);
        linear_fwd(m, a->q, a->xn1, W->wq, M, E, E);
        linear_fwd(m, a->k, a->xn1, W->wk, M, E, E);
        linear_fwd(m, a->v, a->xn1, W->wv, M, E, E);
        rope_rows(m, a->q, false);
        rope_rows(m, a->k, false);
        attn_job aj = {m, a};
        run(m->pool, attn_fwd_task, &aj);
        linear_fwd(m, a->x_mid, a->att, W->wo, M, E, E);
        for (size_t i = 0; i < (size_t)M * E; i++) a->x_mid[i] += a->x_in[i];
        rmsnorm_fwd(a->xn2, a->rs2, a->x_mid, W->ffn_norm, M, E, eps);
        linear_fwd(m, a->g, a->xn2, W->w_gate, M, F, E);
        linear_fwd(m, a->u, a->xn2, W->w_up, M, F, E);
        for (size_t i = 0; i < (size_t)M * F; i++) {
            float g = a->g[i];
            a->h[i] = g / (1.0f + expf(-g)) * a->u[i];
        }
        float *next = l + 1 < c->n_layer ? m->acts[l + 1].x_in : m->x_out;
        linear_fwd(m, next, a->h, W->w_down, M, E, F);
        for (size_t i = 0; i < (size_t)M * E; i++) next[i] += a->x_mid[i];
    }
    rmsnorm_fwd(m->xnf, m->rsf, m->x_out, m->w.output_norm, M, E, eps);
    linear_fwd(m, m->logits, m->xnf, m->w.tok_embd, M, V, E);

    double total = 0;
    size_t n = 0;
    for (int r = 0; r < M; r++) {
        if (loss_per_row) loss_per_row[r] = 0;
        if (targets[r] < 0) continue;
        const float *lr = m->logits + (size_t)r * V;
        float mx = lr[0];
        for (int i = 1; i < V; i++) mx = lr[i] > mx ? lr[i] : mx;
        double se = 0;
        for (int i = 0; i < V; i++) se += exp((double)lr[i] - mx);
        double loss = log(se) + mx - lr[targets[r]];
        if (loss_per_row) loss_per_row[r] = loss;
        total += loss;
        n++;
    }
    if (n_targets) *n_targets = n;
    return total;
}

/* ---- backward --------------------------------------------------------------------- */

void sl_train_backward(sl_train_model *m, const int32_t *targets, float scale) {
    const sl_train_config *c = &m->c;
    const int E = c->n_embd, F = c->n_ff, V = c->n_vocab, T = c->n_ctx, M = m->B * T;
    /* dlogits = scale * (softmax - onehot), in place */
    for (int r = 0; r < M; r++) {
        float *lr = m->logits + (size_t)r * V;
        if (targets[r] < 0) {
            memset(lr, 0, (size_t)V * sizeof(float));
            continue;
        }
        float mx = lr[0];
        for (int i = 1; i < V; i++) mx = lr[i] > mx ? lr[i] : mx;
        double se = 0;
        for (int i = 0; i < V; i++) se += exp((double)lr[i] - mx);
        float inv = (float)(1.0 / se);
        for (int i = 0; i < V; i++) lr[i] = expf(lr[i] - mx) * inv * scale;
        lr[targets[r]] -= scale;
    }
    /* output layer (tied): dxnf = dlogits · Emb, dEmb += dlogits^T · xnf */
    linear_bwd(m, m->dxn, false, m->gw.tok_embd, m->logits, m->xnf, m->w.tok_embd, M, V, E);
    memset(m->dx, 0, (size_t)M * E * sizeof(float));
    rmsnorm_bwd(m->dx, m->gw.output_norm, m->dxn, m->x_out, m->rsf, m->w.output_norm, M, E);

    for (int l = c->n_layer - 1; l >= 0; l--) {
        const sl_train_acts *a = &m->acts[l];
        const sl_train_layer *W = &m->w.layers[l];
        sl_train_layer *G = &m->gw.layers[l];
        /* m->dx holds d(layer output); the residual passes it straight through. */
        linear_bwd(m, m->dh, false, G->w_down, m->dx, a->h, W->w_down, M, E, F);
        for (size_t i = 0; i < (size_t)M * F; i++) {
            float g = a->g[i], sg = 1.0f / (1.0f + expf(-g)), silu = g * sg;
            m->du[i] = m->dh[i] * silu;
            m->dg[i] = m->dh[i] * a->u[i] * sg * (1.0f + g * (1.0f - sg));
        }
        linear_bwd(m, m->dxn, false, G->w_gate, m->dg, a->xn2, W->w_gate, M, F, E);
        linear_bwd(m, m->dxn, true, G->w_up, m->du, a->xn2, W->w_up, M, F, E);
        rmsnorm_bwd(m->dx, G->ffn_norm, m->dxn, a->x_mid, a->rs2, W->ffn_norm, M, E);

        linear_bwd(m, m->datt, false, G->wo, m->dx, a->att, W->wo, M, E, E);
        attn_job aj = {m, (sl_train_acts *)a};
        run(m->pool, attn_bwd_task, &aj);
        rope_rows(m, m->dq, true);
        rope_rows(m, m->dk, true);
        linear_bwd(m, m->dxn, false, G->wq, m->dq, a->xn1, W->wq, M, E, E);
        linear_bwd(m, m->dxn, true, G->wk, m->dk, a->xn1, W->wk, M, E, E);
        linear_bwd(m, m->dxn, true, G->wv, m->dv, a->xn1, W->wv, M, E, E);
        rmsnorm_bwd(m->dx, G->attn_norm, m->dxn, a->x_in, a->rs1, W->attn_norm, M, E);
    }
    for (int r = 0; r < M; r++) {
        float *ge = m->gw.tok_embd + (size_t)m->tokens[r] * E;
        const float *d = m->dx + (size_t)r * E;
        for (int i = 0; i < E; i++) ge[i] += d[i];
    }
}
