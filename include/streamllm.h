/* streamllm.h — the one public header of libstreamllm.
 *
 * streamllm runs Llama-family language models on the CPU with the StreamingLLM
 * cache (Xiao et al., ICLR 2024): the KV of the first few tokens (attention
 * sinks) is kept forever, plus a rolling window of recent tokens, with
 * positions numbered inside the cache. Memory and per-token cost stay constant
 * however long the stream runs. It does NOT widen what the model can recall:
 * a token that has left the window is gone.
 *
 * Conventions
 * - Every fallible function returns an sl_status and, when `err` is non-NULL,
 *   fills it with a one-line message naming the file, key, tensor or flag.
 * - Objects come in create/free pairs. free functions accept NULL.
 * - The library never prints and never exits.
 */
#ifndef STREAMLLM_H
#define STREAMLLM_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SL_VERSION "0.1.0"

typedef enum {
    SL_OK = 0,
    SL_ERR_IO,           /* a file could not be opened, read, mapped or written */
    SL_ERR_FORMAT,       /* a file is malformed, truncated or inconsistent */
    SL_ERR_UNSUPPORTED,  /* a valid file uses an architecture or type we do not run */
    SL_ERR_INVALID_ARG,  /* a caller passed an impossible value */
    SL_ERR_NOMEM,        /* an allocation failed */
    SL_ERR_CONTEXT_FULL, /* dense policy reached the trained context */
    SL_ERR_NOT_FOUND,    /* a key, tensor or token does not exist */
} sl_status;

/* The message that goes with a status. Fixed size so it can live on the stack. */
typedef struct {
    sl_status status;
    char msg[512];
} sl_error;

/* Static string naming a status ("ok", "i/o error", ...). Never NULL. */
const char *sl_status_str(sl_status s);

/* ---- models ------------------------------------------------------------ */

typedef struct sl_model sl_model;

/* Loads a GGUF file (memory-mapped, read-only) and binds its tensors.
 * On success *out owns the mapping; release it with sl_model_free.
 * Returns SL_ERR_IO, SL_ERR_FORMAT or SL_ERR_UNSUPPORTED on failure. */
sl_status sl_model_load(sl_model **out, const char *path, sl_error *err);
void sl_model_free(sl_model *m);

/* Hyper-parameters read from the file (owned by the model). */
typedef struct {
    const char *arch;   /* general.architecture */
    const char *name;   /* general.name or "" */
    int n_vocab, n_embd, n_layer, n_head, n_head_kv, n_ff, n_ctx_train;
    int head_dim;
    int bos_id, eos_id; /* -1 when absent */
    bool add_bos;
} sl_model_info;
void sl_model_get_info(const sl_model *m, sl_model_info *out);

/* ---- tokenizer (part of the model) ------------------------------------- */

/* Encodes UTF-8 text. add_bos prepends BOS when the model has one.
 * parse_special recognises control-token text such as "<|im_start|>".
 * Writes at most cap ids into out and sets *n_out to the full count; when the
 * full count exceeds cap it returns SL_ERR_INVALID_ARG (call again larger). */
sl_status sl_tokenize(const sl_model *m, const char *text, size_t len, bool add_bos,
                      bool parse_special, int32_t *out, size_t cap, size_t *n_out,
                      sl_error *err);

/* The raw bytes one token stands for (byte-fallback tokens give one byte,
 * SentencePiece's U+2581 becomes a space). Control tokens give "".
 * The pointer stays valid while the model lives. */
const char *sl_token_piece(const sl_model *m, int32_t id, size_t *len);

/* ---- sessions: a KV cache plus a position --------------------------------- */

typedef enum {
    SL_POLICY_STREAMING = 0, /* sinks + rolling window, positions inside the cache */
    SL_POLICY_WINDOW,        /* rolling window, no sinks (the paper's failing baseline) */
    SL_POLICY_DENSE,         /* no eviction; refuses past n_ctx_train unless allow_overflow */
    SL_POLICY_RECOMPUTE,     /* sliding window re-computed from scratch per token */
} sl_policy;

/* Element type of the KV cache. q8_0 stores blocks of 32 int8 with an f16
 * scale (34 bytes per 32 values, ~0.53x of f16); it needs head_dim % 32 == 0. */
typedef enum { SL_KV_F32 = 0, SL_KV_F16 = 1, SL_KV_Q8_0 = 2 } sl_kv_type;

typedef struct {
    sl_policy policy;
    int n_sink;          /* default 4 */
    int n_window;        /* <= 0: the model's trained context minus n_sink */
    int n_keep;          /* extra protected prefix (system prompt), default 0 */
    sl_kv_type kv_type;  /* default SL_KV_F16; SL_KV_Q8_0 halves the cache again */
    int n_threads;       /* <= 0: number of cores */
    int n_batch;         /* prompt chunk size, default 64 */
    bool allow_overflow; /* dense only: run past n_ctx_train */
} sl_session_params;

void sl_session_params_default(sl_session_params *p);

typedef struct sl_session sl_session;

/* Creates a session over model m (which must outlive it). Allocates the
 * whole KV cache up front: memory never grows afterwards. */
sl_status sl_session_create(sl_session **out, const sl_model *m, const sl_session_params *p,
                            sl_error *err);
void sl_session_free(sl_session *s);

/* Feeds n tokens. When logits is non-NULL it receives the logits of the last
 * token, (n_vocab) floats; when all_logits is non-NULL it receives
 * (n, n_vocab) floats, one row per token. The session evicts as its policy says. */
sl_status sl_session_feed(sl_session *s, const int32_t *tokens, size_t n, float *logits,
                          float *all_logits, sl_error *err);

/* Tokens fed so far (the stream position, not the cache length). */
uint64_t sl_session_n_past(const sl_session *s);
/* Tokens currently held in the cache. */
size_t sl_session_cache_len(const sl_session *s);
/* Evicts every window token before stream position pos right away (pos is
 * clamped to the tokens fed), so the cache restarts at a boundary the caller
 * chooses, such as the start of a chat turn. Pinned tokens (sinks, --keep)
 * stay; later tokens keep contiguous cache positions. */
void sl_session_evict_before(sl_session *s, uint64_t pos);
/* Forgets everything; keeps the allocation. */
void sl_session_reset(sl_session *s);

/* ---- sampling ------------------------------------------------------------ */

typedef struct {
    float temp;            /* 0 = greedy */
    int top_k;             /* 0 = off */
    float top_p;           /* 1 = off */
    float min_p;           /* 0 = off */
    float repeat_penalty;  /* 1 = off */
    float presence_penalty, frequency_penalty; /* 0 = off */
    int penalty_last_n;    /* how many recent tokens the penalties look at */
    uint64_t seed;
} sl_sampler_params;

void sl_sampler_params_default(sl_sampler_params *p);

/* The largest penalty_last_n sl_sampler_create accepts (its history is
 * allocated up front). */
#define SL_SAMPLER_MAX_LAST_N (1 << 20)

typedef struct sl_sampler sl_sampler;
sl_status sl_sampler_create(sl_sampler **out, const sl_sampler_params *p, int n_vocab,
                            sl_error *err);
void sl_sampler_free(sl_sampler *s);
/* Picks a token from logits (n_vocab floats, modified in place) and records
 * it in the penalty history. */
int32_t sl_sampler_sample(sl_sampler *s, float *logits);
/* Records a token (prompt tokens) in the penalty history without sampling. */
void sl_sampler_accept(sl_sampler *s, int32_t tok);

#ifdef __cplusplus
}
#endif
#endif
