/* model.h — a loaded model: hyper-parameters, weight views into the mapped
 * GGUF, and the tokenizer. Internal; the public handle is sl_model.
 *
 * Dimension letters used across src/model:
 *   V vocab, E embedding (n_embd), L layers, H query heads, G kv heads,
 *   D head_dim, F feed-forward (n_ff), KV = G*D, Q = H*D, T batch tokens. */
#ifndef SL_MODEL_H
#define SL_MODEL_H

#include <stdbool.h>
#include <stdint.h>

#include "streamllm.h"
#include "gguf/gguf.h"
#include "tensor/quant.h"
#include "tokenizer/tokenizer.h"

/* A weight matrix as stored: rows of `cols` elements, row-major, any type.
 * GGUF's ne[0] is cols (the contiguous dimension), ne[1] is rows. */
typedef struct {
    const void *data; /* into the mapping, or into the model's repacked copies */
    sl_type type;
    int64_t rows, cols;
    int group;        /* SL_ROWS_STORED (0), or repacked into row-interleaved
                         groups of 8 or 16 rows (kernels/gemm.h): only the
                         kernels of that layout can read it */
} sl_matrix;

typedef enum {
    SL_ROPE_NORM = 0, /* rotate adjacent pairs (2i, 2i+1): llama, llama2.c */
    SL_ROPE_NEOX = 1, /* rotate pairs (i, i + n_rot/2): qwen2, gpt-neox */
} sl_rope_style;

typedef struct {
    int n_vocab, n_embd, n_layer, n_head, n_head_kv, head_dim, n_ff, n_ctx_train;
    int n_rot;              /* rotated dims per head, <= head_dim, even */
    float rms_eps;
    double rope_base;
    double rope_freq_scale; /* linear scaling: position * scale (1/factor) */
    sl_rope_style rope_style;
    bool zero_sink;         /* softmax-off-by-one attention (trained with it) */
    int32_t sink_token;     /* -1, or a learnable sink token prepended to every stream */
} sl_hparams;

typedef struct {
    const float *attn_norm;         /* (E) */
    sl_matrix wq, wk, wv;           /* (Q, E), (KV, E), (KV, E) */
    const float *bq, *bk, *bv;      /* (Q), (KV), (KV) or NULL (qwen2 has them) */
    sl_matrix wo;                   /* (E, Q) */
    const float *ffn_norm;          /* (E) */
    sl_matrix w_gate, w_up;         /* (F, E) */
    sl_matrix w_down;               /* (E, F) */
} sl_layer;

struct sl_model {
    sl_gguf *gguf;            /* owns the mapping every pointer below points into */
    char arch[32];
    char name[128];
    sl_hparams hp;
    sl_matrix tok_embd;       /* (V, E) */
    const float *output_norm; /* (E) */
    sl_matrix output;         /* (V, E); the embedding when tied */
    const float *rope_freqs;  /* (n_rot/2) Llama-3 per-frequency divisors, or NULL */
    sl_layer *layers;         /* (L) */
    sl_tokenizer *tok;
    void *f32_copies;         /* chain of 1-D tensors stored as f16/bf16, converted once; owned */
    void *x8_copies;          /* chain of repacked matrices (model_repack.c); owned */
};

/* Architecture hooks: read hyper-parameters and bind tensors, validating
 * every shape against the hyper-parameters (messages name the tensor). */
sl_status sl_arch_llama_load(sl_model *m, sl_error *err);

/* Repacks the layer matrices and an untied output matrix whose type has an
 * x8 kernel (kernels/gemm.h) into owned row-interleaved copies, dropping
 * the mapped originals from memory as it goes. Nothing happens under
 * SL_FORCE_REF, without the SIMD kernels, or with SL_NO_REPACK set (for
 * comparisons). Only fails for lack of memory. */
sl_status sl_model_repack(sl_model *m, sl_error *err);
/* Frees a chain of repacked copies (m->x8_copies); NULL is fine. */
void sl_model_repack_free(void *chain);

/* Binding helpers shared by arch files. */
sl_status sl_model_bind_matrix(sl_model *m, sl_matrix *out, const char *name, int64_t rows,
                               int64_t cols, bool required, sl_error *err);
sl_status sl_model_bind_vector(sl_model *m, const float **out, const char *name, int64_t n,
                               bool required, sl_error *err);

#endif
