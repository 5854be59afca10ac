/* train_model.h — a llama-architecture model in f32 that can learn: the
 * engine's forward pass with every activation kept, and its backward pass.
 *
 * The math is the engine's (src/model/forward_llama.c) so an exported model
 * gives the same logits there: RMSNorm with the sum of squares in double,
 * RoPE from model/rope.h (llama's adjacent pairs), causal softmax attention
 * (optionally with +1 in the denominator), SwiGLU, and an output layer tied
 * to the token embedding. Multi-head attention only (n_head_kv = n_head).
 *
 * Letters: V vocab, E n_embd, L layers, H heads, D head_dim = E/H, F n_ff,
 * B sequences per micro-batch, T tokens per sequence, M = B*T rows. */
#ifndef SL_TRAIN_MODEL_H
#define SL_TRAIN_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "streamllm.h"
#include "core/thread_pool.h"
#include "model/rope.h"

typedef struct {
    int n_vocab, n_embd, n_layer, n_head, n_ff;
    int n_ctx;           /* T: tokens per training sequence (= the exported context length) */
    float rms_eps;       /* 1e-5 */
    double rope_base;    /* 10000 */
    bool zero_sink;      /* softmax-off-by-one attention */
    int32_t sink_token;  /* -1, or the learnable sink prepended to every sample */
} sl_train_config;

/* Views into one flat float array (parameters, gradients or optimizer moments
 * share this layout, so a checkpoint is three flat arrays). */
typedef struct {
    float *attn_norm;           /* (E) */
    float *wq, *wk, *wv, *wo;   /* (E, E) each, rows are outputs */
    float *ffn_norm;            /* (E) */
    float *w_gate, *w_up;       /* (F, E) */
    float *w_down;              /* (E, F) */
} sl_train_layer;

typedef struct {
    float *tok_embd;            /* (V, E), also the output matrix (tied) */
    float *output_norm;         /* (E) */
    sl_train_layer *layers;     /* (L) */
} sl_train_weights;

/* What one layer keeps from the forward pass for the backward pass. */
typedef struct {
    float *x_in;        /* (M, E) residual stream entering the layer */
    float *xn1, *rs1;   /* (M, E) normalized input of attention, (M) its 1/rms */
    float *q, *k, *v;   /* (M, E) q and k rotated */
    float *p;           /* (B, H, T, T) attention probabilities, causal (upper part unused) */
    float *att;         /* (M, E) attention output before wo */
    float *x_mid;       /* (M, E) residual after attention */
    float *xn2, *rs2;   /* (M, E), (M) */
    float *g, *u, *h;   /* (M, F) gate and up pre-activation, h = silu(g) * u */
} sl_train_acts;

typedef struct {
    sl_train_config c;
    int B;                    /* sequences per micro-batch */
    size_t n_params;
    float *params;            /* (n_params) */
    float *grads;             /* (n_params) */
    sl_train_weights w, gw;   /* views of params and grads */
    sl_pool *pool;
    sl_rope rope;
    float *cs;                /* (T, D) RoPE cos/sin per position */
    /* activations of the last forward pass */
    sl_train_acts *acts;      /* (L) */
    float *x_out, *xnf, *rsf; /* (M, E), (M, E), (M) final residual, normalized, 1/rms */
    float *logits;            /* (M, V); holds dlogits after the backward pass */
    const int32_t *tokens;    /* (M) inputs of the last forward pass (not owned) */
    /* backward scratch */
    float *dx, *dxn, *dq, *dk, *dv, *datt; /* (M, E) */
    float *dg, *du, *dh;                   /* (M, F) */
    float *tmp_a, *tmp_b;                  /* transposes: max(M, V, F, E) x max(...) */
    float *attn_scr;                       /* (n_threads, T) */
} sl_train_model;

/* Bytes sl_train_model_init will allocate for cfg and B (for a clear error
 * before trying). */
uint64_t sl_train_model_bytes(const sl_train_config *cfg, int B);
size_t sl_train_n_params(const sl_train_config *cfg);

/* Checks cfg (divisibility, ranges; messages name the flag) without allocating. */
sl_status sl_train_config_check(const sl_train_config *cfg, int B, sl_error *err);

/* Allocates everything for micro-batches of B sequences; the pool (not owned)
 * runs the products. Parameters are initialised from seed: matrices ~N(0, std)
 * with wo and w_down scaled by 1/sqrt(2L), norms 1. Errors: SL_ERR_INVALID_ARG,
 * SL_ERR_NOMEM. Free with sl_train_model_free (safe on a zeroed struct). */
sl_status sl_train_model_init(sl_train_model *m, const sl_train_config *cfg, int B, sl_pool *pool,
                              uint64_t seed, float init_std, sl_error *err);
void sl_train_model_free(sl_train_model *m);

/* Points w at the parameter layout inside base (n_params floats). */
void sl_train_weights_bind(sl_train_weights *w, sl_train_layer *layers, const sl_train_config *c,
                           float *base);

/* Forward over tokens (B*T ids) and cross-entropy against targets (B*T ids,
 * -1 = ignore). Returns the summed loss in nats (double) and the number of
 * targets in *n_targets. Keeps activations for sl_train_backward.
 * Token ids must be in range (the caller validates the corpus once). */
double sl_train_forward(sl_train_model *m, const int32_t *tokens, const int32_t *targets,
                        size_t *n_targets, double *loss_per_row);

/* Adds d(loss_sum * scale)/d(params) to m->grads, for the last forward pass. */
void sl_train_backward(sl_train_model *m, const int32_t *targets, float scale);

#endif
