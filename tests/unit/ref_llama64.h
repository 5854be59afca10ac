/* ref_llama64.h — an independent float64 reference forward pass for tests.
 *
 * Written from the math, sharing no code with src/model, src/kv or
 * src/kernels: it uses only the GGUF reader and the scalar reference
 * dequantizers (sl_type_get_ref()->to_float) to turn every weight into a
 * double array, then runs one token at a time in double precision. Slow and
 * simple on purpose: it is what the fast path is checked against.
 *
 * Architectures: llama (RoPE rotates adjacent pairs (2i, 2i+1)) and qwen2
 * (q/k/v biases; NEOX RoPE rotates pairs (i, i + R/2)). RMSNorm, SwiGLU,
 * GQA/MQA, tied output, RoPE with freq_base, partial rotation (R < D: only
 * the first R dims of each head rotate), linear scaling (position / factor),
 * Llama-3 rope_freqs (theta_i / factor_i).
 *
 * Cache semantics are the StreamingLLM reference code's (mit-han-lab
 * streaming-llm, see PAPER.md): per layer the cache holds the PRE-RoPE keys
 * and the values of the cached tokens. Each fed token is appended; with n
 * tokens cached, key j is rotated to position j (0..n-1, positions inside
 * the cache, not the text) and the query to n-1. After the forward the cache
 * is trimmed to its first `start` plus its last `recent` tokens (never, when
 * dense). zero_sink: softmax with +1 in the denominator (softmax-off-by-one).
 *
 * Letters: V vocab, E n_embd, L layers, H heads, G kv heads, D head_dim,
 * F n_ff, R n_rot, KV = G*D, Q = H*D, N tokens in the cache. */
#ifndef SL_TEST_REF_LLAMA64_H
#define SL_TEST_REF_LLAMA64_H

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gguf/gguf.h"
#include "tensor/quant.h"

typedef struct {
    bool dense;     /* true: never evict */
    int start;      /* sinks kept forever */
    int recent;     /* most recent tokens kept */
    bool zero_sink; /* softmax-off-by-one (also on when the file says streamllm.zero_sink) */
} ref64_policy;

static inline ref64_policy ref64_dense(void) {
    ref64_policy p = {true, 0, 0, false};
    return p;
}
static inline ref64_policy ref64_streaming(int start, int recent) {
    ref64_policy p = {false, start, recent, false};
    return p;
}

typedef struct {
    double *attn_norm;      /* (E) */
    double *wq, *wk, *wv;   /* (Q, E), (KV, E), (KV, E) row-major (out, in) */
    double *bq, *bk, *bv;   /* (Q), (KV), (KV) or NULL */
    double *wo;             /* (E, Q) */
    double *ffn_norm;       /* (E) */
    double *w_gate, *w_up;  /* (F, E) */
    double *w_down;         /* (E, F) */
    double *k_cache;        /* (cap, KV) pre-RoPE keys */
    double *v_cache;        /* (cap, KV) */
} ref64_layer;

typedef struct {
    bool neox;
    int n_vocab, n_embd, n_layer, n_head, n_head_kv, head_dim, n_ff, n_rot;
    double eps, freq_base, freq_scale; /* freq_scale = 1 / linear factor */
    double *rope_ff;        /* (R/2) divisors or NULL */
    double *tok_embd;       /* (V, E) */
    double *out_norm;       /* (E) */
    double *output;         /* (V, E); == tok_embd when tied */
    ref64_layer *layers;    /* (L) */
    ref64_policy pol;
    int n_cache, cap;       /* tokens cached, capacity of each layer cache */
    long n_fed;             /* tokens fed since load/reset */
    /* per-step scratch */
    double *x, *xb, *q, *att, *hb, *hb2; /* (E) (E) (Q) (Q) (F) (F) */
    double *krot;           /* (cap, KV) keys rotated for this step */
    double *scores;         /* (cap) */
    double *cos_t, *sin_t;  /* (cap, R/2) per-position angles, grown as positions appear */
    int n_angles;           /* positions with angles computed */
} ref64;

/* ---- loading -------------------------------------------------------------------- */

static inline void ref64_free(ref64 *r) {
    if (!r) return;
    if (r->layers) {
        for (int l = 0; l < r->n_layer; l++) {
            ref64_layer *y = &r->layers[l];
            double *ps[] = {y->attn_norm, y->wq, y->wk, y->wv, y->bq, y->bk, y->bv, y->wo,
                            y->ffn_norm, y->w_gate, y->w_up, y->w_down, y->k_cache, y->v_cache};
            for (size_t i = 0; i < sizeof ps / sizeof ps[0]; i++) free(ps[i]);
        }
        free(r->layers);
    }
    if (r->output != r->tok_embd) free(r->output);
    free(r->tok_embd);
    free(r->out_norm);
    free(r->rope_ff);
    double *ps[] = {r->x, r->xb, r->q, r->att, r->hb, r->hb2,
                    r->krot, r->scores, r->cos_t, r->sin_t};
    for (size_t i = 0; i < sizeof ps / sizeof ps[0]; i++) free(ps[i]);
    free(r);
}

/* Dequantizes tensor `name` into a new double array after checking its shape
 * is exactly (rows, cols) (rows = 1 for vectors). NULL + message on failure;
 * *absent set (and no message) when optional and missing. */
static inline double *ref64_tensor(const sl_gguf *g, const char *name, long long rows,
                                   long long cols, bool optional, bool *absent) {
    const sl_gguf_tensor *t = sl_gguf_find_tensor(g, name);
    if (absent) *absent = t == NULL;
    if (!t) {
        if (!optional) fprintf(stderr, "ref64: %s: tensor %s is missing\n", g->path, name);
        return NULL;
    }
    long long t_rows = 1;
    for (uint32_t d = 1; d < t->n_dims; d++) t_rows *= (long long)t->ne[d];
    if ((long long)t->ne[0] != cols || t_rows != rows) {
        fprintf(stderr, "ref64: %s: tensor %s has ne[0]=%llu x %lld rows, expected %lld x %lld\n",
                g->path, name, (unsigned long long)t->ne[0], t_rows, cols, rows);
        return NULL;
    }
    double *out = malloc((size_t)(rows * cols) * sizeof *out);
    float *row = malloc((size_t)cols * sizeof *row);
    const sl_type_traits *tt = sl_type_get_ref(t->type);
    size_t row_bytes = sl_row_size(t->type, cols);
    if (!out || !row || row_bytes == 0 || (t->type != SL_TYPE_F32 && (!tt || !tt->to_float))) {
        fprintf(stderr, "ref64: %s: tensor %s: type %s cannot be dequantized (or no memory)\n",
                g->path, name, sl_type_name(t->type));
        free(out);
        free(row);
        return NULL;
    }
    const unsigned char *src = t->data;
    for (long long rI = 0; rI < rows; rI++) {
        if (t->type == SL_TYPE_F32) memcpy(row, src + rI * (long long)row_bytes, row_bytes);
        else tt->to_float(row, src + rI * (long long)row_bytes, cols);
        for (long long c = 0; c < cols; c++) out[rI * cols + c] = row[c];
    }
    free(row);
    return out;
}

/* Reads an integer hyper-parameter "<arch>.<suffix>"; def when absent (-1 = required). */
static inline bool ref64_key_int(const sl_gguf *g, const char *arch, const char *suffix, long def,
                                 int *out) {
    char key[128];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    int64_t v;
    sl_error err = {0};
    sl_status st = sl_gguf_get_i64(g, key, &v, &err);
    if (st == SL_ERR_NOT_FOUND && def >= 0) {
        *out = (int)def;
        return true;
    }
    if (st != SL_OK || v <= 0 || v > (1 << 24)) {
        fprintf(stderr, "ref64: %s: key %s missing or out of range\n", g->path, key);
        return false;
    }
    *out = (int)v;
    return true;
}

static inline double ref64_key_f(const sl_gguf *g, const char *arch, const char *suffix,
                                 double def) {
    char key[128];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    float v;
    return sl_gguf_get_f32(g, key, &v, NULL) == SL_OK ? (double)v : def;
}

static inline bool ref64_alloc_scratch(ref64 *r) {
    int Q = r->n_head * r->head_dim;
    r->x = calloc((size_t)r->n_embd, sizeof(double));
    r->xb = calloc((size_t)r->n_embd, sizeof(double));
    r->q = calloc((size_t)Q, sizeof(double));
    r->att = calloc((size_t)Q, sizeof(double));
    r->hb = calloc((size_t)r->n_ff, sizeof(double));
    r->hb2 = calloc((size_t)r->n_ff, sizeof(double));
    return r->x && r->xb && r->q && r->att && r->hb && r->hb2;
}

/* Loads every weight of a llama/qwen2 GGUF into doubles. Returns NULL (and
 * prints why on stderr) when the file cannot be run. */
static inline ref64 *ref64_load(const char *path, ref64_policy pol) {
    sl_gguf *g = NULL;
    sl_error err = {0};
    if (sl_gguf_open(&g, path, &err) != SL_OK) {
        fprintf(stderr, "ref64: %s\n", err.msg);
        return NULL;
    }
    ref64 *r = calloc(1, sizeof *r);
    char arch[32] = "";
    sl_gguf_str s;
    bool ok = r != NULL;
    if (ok && sl_gguf_get_str(g, "general.architecture", &s, NULL) == SL_OK && s.len < sizeof arch)
        memcpy(arch, s.ptr, s.len);
    if (ok && strcmp(arch, "llama") && strcmp(arch, "qwen2")) {
        fprintf(stderr, "ref64: %s: architecture '%s' is not llama or qwen2\n", path, arch);
        ok = false;
    }
    if (!ok) goto fail;
    r->neox = strcmp(arch, "qwen2") == 0;
    r->pol = pol;
    ok = ref64_key_int(g, arch, "embedding_length", -1, &r->n_embd) &&
         ref64_key_int(g, arch, "block_count", -1, &r->n_layer) &&
         ref64_key_int(g, arch, "attention.head_count", -1, &r->n_head) &&
         ref64_key_int(g, arch, "feed_forward_length", -1, &r->n_ff);
    if (!ok) goto fail;
    ok = ref64_key_int(g, arch, "attention.head_count_kv", r->n_head, &r->n_head_kv);
    if (!ok || r->n_embd % r->n_head || r->n_head % r->n_head_kv) {
        fprintf(stderr, "ref64: %s: inconsistent head counts\n", path);
        goto fail;
    }
    r->head_dim = r->n_embd / r->n_head;
    int key_len = r->head_dim;
    ok = ref64_key_int(g, arch, "attention.key_length", r->head_dim, &key_len) &&
         ref64_key_int(g, arch, "rope.dimension_count", r->head_dim, &r->n_rot);
    if (!ok || key_len != r->head_dim || r->n_rot > r->head_dim || r->n_rot % 2) {
        fprintf(stderr, "ref64: %s: unsupported key_length %d / rope dims %d (head_dim %d)\n",
                path, key_len, r->n_rot, r->head_dim);
        goto fail;
    }
    r->eps = ref64_key_f(g, arch, "attention.layer_norm_rms_epsilon", 1e-5);
    r->freq_base = ref64_key_f(g, arch, "rope.freq_base", 10000.0);
    r->freq_scale = 1.0;
    {
        char key[128];
        snprintf(key, sizeof key, "%s.rope.scaling.type", arch);
        bool has_type = sl_gguf_get_str(g, key, &s, NULL) == SL_OK;
        if (has_type && !sl_gguf_str_eq(s, "linear") && !sl_gguf_str_eq(s, "none")) {
            fprintf(stderr, "ref64: %s: rope scaling '%.*s' is not supported\n", path, (int)s.len,
                    s.ptr);
            goto fail;
        }
        double factor = 0;
        if (!has_type || sl_gguf_str_eq(s, "linear"))
            factor = ref64_key_f(g, arch, "rope.scaling.factor",
                                 ref64_key_f(g, arch, "rope.scale_linear", 0.0));
        if (factor > 0) r->freq_scale = 1.0 / factor;
    }
    {
        bool zs = false;
        if (sl_gguf_get_bool(g, "streamllm.zero_sink", &zs, NULL) == SL_OK && zs)
            r->pol.zero_sink = true;
    }

    const sl_gguf_tensor *te = sl_gguf_find_tensor(g, "token_embd.weight");
    if (!te || te->n_dims != 2 || te->ne[1] < 1 || te->ne[1] > (1u << 24)) {
        fprintf(stderr, "ref64: %s: token_embd.weight missing or not 2-D\n", path);
        goto fail;
    }
    r->n_vocab = (int)te->ne[1];
    int E = r->n_embd, F = r->n_ff, Q = r->n_head * r->head_dim, KV = r->n_head_kv * r->head_dim;
    bool absent;
    r->tok_embd = ref64_tensor(g, "token_embd.weight", r->n_vocab, E, false, NULL);
    r->out_norm = ref64_tensor(g, "output_norm.weight", 1, E, false, NULL);
    r->output = ref64_tensor(g, "output.weight", r->n_vocab, E, true, &absent);
    if (absent) r->output = r->tok_embd; /* tied */
    r->rope_ff = ref64_tensor(g, "rope_freqs.weight", 1, r->n_rot / 2, true, &absent);
    if (!r->tok_embd || !r->out_norm || !r->output || (!absent && !r->rope_ff)) goto fail;
    r->layers = calloc((size_t)r->n_layer, sizeof *r->layers);
    if (!r->layers) goto fail;
    for (int l = 0; l < r->n_layer; l++) {
        ref64_layer *y = &r->layers[l];
        char n[96];
#define W(field, suffix, rows, cols)                                               \
    do {                                                                           \
        snprintf(n, sizeof n, "blk.%d." suffix, l);                                \
        y->field = ref64_tensor(g, n, rows, cols, false, NULL);                    \
        if (!y->field) goto fail;                                                  \
    } while (0)
#define B(field, suffix, cols)                                                     \
    do {                                                                           \
        snprintf(n, sizeof n, "blk.%d." suffix, l);                                \
        y->field = ref64_tensor(g, n, 1, cols, true, &absent);                     \
        if (!absent && !y->field) goto fail;                                       \
    } while (0)
        W(attn_norm, "attn_norm.weight", 1, E);
        W(wq, "attn_q.weight", Q, E);
        W(wk, "attn_k.weight", KV, E);
        W(wv, "attn_v.weight", KV, E);
        B(bq, "attn_q.bias", Q);
        B(bk, "attn_k.bias", KV);
        B(bv, "attn_v.bias", KV);
        W(wo, "attn_output.weight", E, Q);
        W(ffn_norm, "ffn_norm.weight", 1, E);
        W(w_gate, "ffn_gate.weight", F, E);
        W(w_up, "ffn_up.weight", F, E);
        W(w_down, "ffn_down.weight", E, F);
#undef W
#undef B
    }
    if (!ref64_alloc_scratch(r)) goto fail;
    sl_gguf_close(g);
    return r;
fail:
    sl_gguf_close(g);
    ref64_free(r);
    return NULL;
}

/* ---- the forward ------------------------------------------------------------------ */

/* y (n) = W (n, k) x (k) [+ b (n)] */
static inline void ref64_matvec(double *y, const double *W, const double *x, const double *b,
                                int n, int k) {
    for (int i = 0; i < n; i++) {
        double s = b ? b[i] : 0.0;
        const double *w = W + (size_t)i * (size_t)k;
        for (int j = 0; j < k; j++) s += w[j] * x[j];
        y[i] = s;
    }
}

/* y = x / sqrt(mean(x^2) + eps) * w, all (n) */
static inline void ref64_rmsnorm(double *y, const double *x, const double *w, int n, double eps) {
    double ss = 0;
    for (int i = 0; i < n; i++) ss += x[i] * x[i];
    double inv = 1.0 / sqrt(ss / n + eps);
    for (int i = 0; i < n; i++) y[i] = x[i] * inv * w[i];
}

/* Grows every per-token buffer to hold at least n tokens. */
static inline bool ref64_reserve(ref64 *r, int n) {
    if (n <= r->cap) return true;
    int cap = r->cap ? r->cap : 64;
    while (cap < n) cap *= 2;
    size_t KV = (size_t)r->n_head_kv * (size_t)r->head_dim, R2 = (size_t)r->n_rot / 2;
    for (int l = 0; l < r->n_layer; l++) {
        double *k = realloc(r->layers[l].k_cache, (size_t)cap * KV * sizeof(double));
        if (k) r->layers[l].k_cache = k;
        double *v = realloc(r->layers[l].v_cache, (size_t)cap * KV * sizeof(double));
        if (v) r->layers[l].v_cache = v;
        if (!k || !v) return false;
    }
    double *p;
    if (!(p = realloc(r->krot, (size_t)cap * KV * sizeof(double)))) return false;
    r->krot = p;
    if (!(p = realloc(r->scores, (size_t)cap * sizeof(double)))) return false;
    r->scores = p;
    if (!(p = realloc(r->cos_t, (size_t)cap * (R2 ? R2 : 1) * sizeof(double)))) return false;
    r->cos_t = p;
    if (!(p = realloc(r->sin_t, (size_t)cap * (R2 ? R2 : 1) * sizeof(double)))) return false;
    r->sin_t = p;
    r->cap = cap;
    return true;
}

/* Angles of positions [r->n_angles, n): theta_i = (pos * freq_scale) *
 * base^(-2i/R) / factor_i for i < R/2. */
static inline void ref64_angles(ref64 *r, int n) {
    int R2 = r->n_rot / 2;
    for (int pos = r->n_angles; pos < n; pos++) {
        for (int i = 0; i < R2; i++) {
            double theta = pos * r->freq_scale * pow(r->freq_base, -2.0 * i / r->n_rot);
            if (r->rope_ff) theta /= r->rope_ff[i];
            r->cos_t[(size_t)pos * R2 + i] = cos(theta);
            r->sin_t[(size_t)pos * R2 + i] = sin(theta);
        }
    }
    if (n > r->n_angles) r->n_angles = n;
}

/* Rotates one head vector (D) in place to position pos. Only the first R dims
 * turn: llama pairs (2i, 2i+1), NEOX pairs (i, i + R/2). */
static inline void ref64_rope(const ref64 *r, double *vec, int pos) {
    int R2 = r->n_rot / 2;
    for (int i = 0; i < R2; i++) {
        double c = r->cos_t[(size_t)pos * R2 + i], s = r->sin_t[(size_t)pos * R2 + i];
        int a = r->neox ? i : 2 * i, b = r->neox ? i + R2 : 2 * i + 1;
        double x0 = vec[a], x1 = vec[b];
        vec[a] = x0 * c - x1 * s;
        vec[b] = x0 * s + x1 * c;
    }
}

/* Drops cache entries so the first `start` and the last `recent` remain. */
static inline void ref64_trim(ref64 *r) {
    if (r->pol.dense || r->n_cache <= r->pol.start + r->pol.recent) return;
    size_t KV = (size_t)r->n_head_kv * (size_t)r->head_dim;
    int drop = r->n_cache - r->pol.start - r->pol.recent;
    for (int l = 0; l < r->n_layer; l++) {
        ref64_layer *y = &r->layers[l];
        memmove(y->k_cache + (size_t)r->pol.start * KV,
                y->k_cache + (size_t)(r->pol.start + drop) * KV,
                (size_t)r->pol.recent * KV * sizeof(double));
        memmove(y->v_cache + (size_t)r->pol.start * KV,
                y->v_cache + (size_t)(r->pol.start + drop) * KV,
                (size_t)r->pol.recent * KV * sizeof(double));
    }
    r->n_cache = r->pol.start + r->pol.recent;
}

/* Feeds one token; logits (V) gets the next-token logits when non-NULL.
 * Returns 0, or -1 (message on stderr) for a bad token or no memory. */
static inline int ref64_feed(ref64 *r, int token, double *logits) {
    if (token < 0 || token >= r->n_vocab) {
        fprintf(stderr, "ref64: token %d out of range [0, %d)\n", token, r->n_vocab);
        return -1;
    }
    int n = r->n_cache + 1;
    if (!ref64_reserve(r, n)) {
        fprintf(stderr, "ref64: out of memory for %d cached tokens\n", n);
        return -1;
    }
    ref64_angles(r, n);
    int E = r->n_embd, F = r->n_ff, D = r->head_dim, H = r->n_head, G = r->n_head_kv;
    int KV = G * D, Q = H * D, group = H / G;
    double scale = 1.0 / sqrt((double)D);
    memcpy(r->x, r->tok_embd + (size_t)token * E, (size_t)E * sizeof(double));

    for (int l = 0; l < r->n_layer; l++) {
        ref64_layer *y = &r->layers[l];
        ref64_rmsnorm(r->xb, r->x, y->attn_norm, E, r->eps);
        ref64_matvec(r->q, y->wq, r->xb, y->bq, Q, E);
        ref64_matvec(y->k_cache + (size_t)(n - 1) * KV, y->wk, r->xb, y->bk, KV, E);
        ref64_matvec(y->v_cache + (size_t)(n - 1) * KV, y->wv, r->xb, y->bv, KV, E);
        /* Re-rotate every cached key to its cache position, as the reference
         * implementation does at each step. */
        memcpy(r->krot, y->k_cache, (size_t)n * KV * sizeof(double));
        for (int j = 0; j < n; j++)
            for (int g = 0; g < G; g++) ref64_rope(r, r->krot + (size_t)j * KV + g * D, j);
        for (int h = 0; h < H; h++) ref64_rope(r, r->q + h * D, n - 1);

        for (int h = 0; h < H; h++) {
            const double *qh = r->q + h * D;
            int g = h / group;
            double mx = -INFINITY;
            for (int j = 0; j < n; j++) {
                const double *kj = r->krot + (size_t)j * KV + g * D;
                double s = 0;
                for (int d = 0; d < D; d++) s += qh[d] * kj[d];
                r->scores[j] = s * scale;
                if (r->scores[j] > mx) mx = r->scores[j];
            }
            /* softmax; off-by-one adds exp(0 - mx) for the implicit zero logit */
            double sum = r->pol.zero_sink ? exp(-mx) : 0.0;
            for (int j = 0; j < n; j++) {
                r->scores[j] = exp(r->scores[j] - mx);
                sum += r->scores[j];
            }
            double *out = r->att + h * D;
            for (int d = 0; d < D; d++) out[d] = 0;
            for (int j = 0; j < n; j++) {
                double a = r->scores[j] / sum;
                const double *vj = y->v_cache + (size_t)j * KV + g * D;
                for (int d = 0; d < D; d++) out[d] += a * vj[d];
            }
        }
        ref64_matvec(r->xb, y->wo, r->att, NULL, E, Q);
        for (int i = 0; i < E; i++) r->x[i] += r->xb[i];

        ref64_rmsnorm(r->xb, r->x, y->ffn_norm, E, r->eps);
        ref64_matvec(r->hb, y->w_gate, r->xb, NULL, F, E);
        ref64_matvec(r->hb2, y->w_up, r->xb, NULL, F, E);
        for (int i = 0; i < F; i++) r->hb[i] = r->hb[i] / (1.0 + exp(-r->hb[i])) * r->hb2[i];
        ref64_matvec(r->xb, y->w_down, r->hb, NULL, E, F);
        for (int i = 0; i < E; i++) r->x[i] += r->xb[i];
    }
    r->n_cache = n;
    r->n_fed++;
    if (logits) {
        ref64_rmsnorm(r->xb, r->x, r->out_norm, E, r->eps);
        ref64_matvec(logits, r->output, r->xb, NULL, r->n_vocab, E);
    }
    ref64_trim(r);
    return 0;
}

/* Forgets every cached token (weights stay). */
static inline void ref64_reset(ref64 *r) {
    r->n_cache = 0;
    r->n_fed = 0;
}

static inline int ref64_argmax(const double *x, int n) {
    int best = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[best]) best = i;
    return best;
}

#endif
