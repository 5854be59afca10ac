/* trainer.h — the training loop around sl_train_model: data sampling,
 * gradient accumulation, global-norm clipping, AdamW with warm-up and cosine
 * decay, evaluation, resumable checkpoints, and GGUF export.
 *
 * Determinism: the data sampler, the initialisation and every reduction are
 * fixed by the seed and the thread count, so a run resumed from a checkpoint
 * continues bit for bit as the uninterrupted run (same machine and threads). */
#ifndef SL_TRAIN_TRAINER_H
#define SL_TRAIN_TRAINER_H

#include <stdint.h>

#include "gguf/gguf.h"
#include "train/train_model.h"

typedef struct {
    int batch;         /* B: sequences per micro-batch */
    int accum;         /* micro-batches per optimizer step */
    int steps;         /* total optimizer steps (the cosine ends here) */
    int warmup;        /* linear warm-up steps */
    float lr, min_lr;  /* peak and final learning rate */
    float wd;          /* decoupled weight decay on matrices (not norms) */
    float clip;        /* global gradient norm limit, 0 = off */
    float beta1, beta2, adam_eps;
    float init_std;
    uint64_t seed;
} sl_train_opts;

/* batch 8, accum 1, steps 1000, warmup 100, lr 1e-3, min_lr 1e-4, wd 0.1,
 * clip 1, betas (0.9, 0.95), eps 1e-8, init_std 0.02, seed 1. */
void sl_train_opts_default(sl_train_opts *o);

typedef struct {
    sl_train_config cfg;
    sl_train_opts o;
    sl_train_model m;
    float *adam_m, *adam_v;   /* (n_params) first and second moments */
    uint64_t step;            /* optimizer steps done */
    uint64_t rng;             /* data sampler state */
    const int32_t *data;      /* (n_data) training tokens, not owned */
    size_t n_data;
    uint64_t data_hash;       /* FNV-1a of the token ids, checked on resume */
    int32_t *inp, *tgt;       /* (B*T) the current micro-batch */
    /* last step */
    double loss;              /* mean loss per target over the step */
    double grad_norm;         /* before clipping */
    double lr_now;
} sl_trainer;

/* Builds a fresh model. data must hold at least n_ctx + 1 tokens, all in
 * [0, n_vocab). Errors: SL_ERR_INVALID_ARG (the message names the problem),
 * SL_ERR_NOMEM. Free with sl_trainer_free (safe on a zeroed struct). */
sl_status sl_trainer_init(sl_trainer *t, const sl_train_config *cfg, const sl_train_opts *o,
                          sl_pool *pool, const int32_t *data, size_t n_data, sl_error *err);
void sl_trainer_free(sl_trainer *t);

/* The learning rate of optimizer step `step` (0-based). */
double sl_train_lr(const sl_train_opts *o, uint64_t step);

/* One optimizer step: accum micro-batches, clip, AdamW. */
void sl_trainer_step(sl_trainer *t);

/* Mean loss per predicted token over up to max_chunks consecutive
 * non-overlapping windows of tokens (each laid out as in training: the sink
 * first when there is one). Errors: SL_ERR_INVALID_ARG when the text is
 * shorter than one window. */
sl_status sl_trainer_eval(sl_trainer *t, const int32_t *tokens, size_t n, int max_chunks,
                          double *mean_loss, size_t *n_predicted, sl_error *err);

/* Lays out one training window starting at data[off]: inputs and targets of
 * n_ctx tokens (the sink first when cfg has one). Needs sl_train_window_need
 * tokens from off. */
void sl_train_window(const sl_train_config *c, const int32_t *data, size_t off, int32_t *inp,
                     int32_t *tgt);
size_t sl_train_window_need(const sl_train_config *c);

/* Checkpoints: config, options, step, sampler state, parameters and both
 * moments, with a checksum. sl_trainer_load builds t from the file (the file's
 * config and options win) over the same data; errors: SL_ERR_IO,
 * SL_ERR_FORMAT (bad magic, size, checksum: "corrupt"), SL_ERR_INVALID_ARG
 * (the data differs from the checkpoint's). */
sl_status sl_trainer_save(const sl_trainer *t, const char *path, sl_error *err);
sl_status sl_trainer_load(sl_trainer *t, const char *path, sl_pool *pool, const int32_t *data,
                          size_t n_data, sl_error *err);

/* Writes a llama GGUF (standard names, tied output) from the parameters.
 * vocab: a GGUF whose tokenizer.* keys are copied (its token count must equal
 * n_vocab). wtype: SL_TYPE_F32 or SL_TYPE_F16 for matrices; norms stay f32. */
sl_status sl_train_export(const sl_train_model *m, const sl_gguf *vocab, const char *name,
                          uint32_t wtype, const char *path, sl_error *err);

uint64_t sl_train_hash_tokens(const int32_t *tok, size_t n);

#endif
