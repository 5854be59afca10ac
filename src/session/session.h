/* session.h — internal view of a session: one model, one cache, one thread
 * pool, and every activation buffer, all allocated at creation so memory
 * never grows during a stream (STYLE: memory grouped by lifetime). */
#ifndef SL_SESSION_H
#define SL_SESSION_H

#include "streamllm.h"
#include "core/thread_pool.h"
#include "kernels/matmul.h"
#include "kv/kv_cache.h"
#include "model/attention.h"
#include "model/model.h"
#include "model/rope.h"

struct sl_session {
    const sl_model *m;
    sl_session_params p;   /* resolved: n_window, n_threads filled in */
    sl_kv_cache kv;
    sl_pool *pool;
    sl_matmul_scratch mm;
    sl_rope rope;
    int n_batch;
    /* activations, n_batch rows each (letters as in model/model.h) */
    float *x, *xb;         /* (T, E) */
    float *q, *att;        /* (T, Q) */
    float *k, *v;          /* (T, KV) */
    void *k_new, *v_new;   /* (T, KV) in the cache element type */
    float *gate, *up;      /* (T, F) */
    float *cs_win, *cs_pin; /* (T, n_rot) */
    void *attn_scratch;    /* (n_threads, stride) */
    size_t attn_stride;
    int max_keys;
    float *logits_row;     /* (V) when the caller wants only the last row */
    /* recompute policy: the last W tokens */
    int32_t *hist;         /* (W) ring */
    uint64_t n_fed;        /* tokens fed through the public API (stream position) */
    sl_attn_observer observer;
    void *observer_user;
};

/* Runs T <= n_batch tokens at cache positions kv.n_past.. through the model.
 * all_logits (T, V) and/or last_logits (V) may be NULL. */
sl_status sl_forward_llama(sl_session *s, const int32_t *tokens, int T, float *last_logits,
                           float *all_logits, sl_error *err);

/* Attention observer for analysis tools (attn); NULL to remove. */
void sl_session_set_observer(sl_session *s, sl_attn_observer fn, void *user);
const sl_kv_cache *sl_session_kv(const sl_session *s);

/* ---- saved state (session_state.c) ----------------------------------------
 * A session's bounded streaming state in one file: the KV rows the cache
 * actually holds (pinned prefix + live window, in the cache element type),
 * the stream position, the early-eviction floor, the recompute policy's token
 * history, a sampler state, and an opaque blob for the caller (the chat keeps
 * its turn bookkeeping there). Layout, little-endian:
 *   header (32 B): "SLSTATE\0" | u32 version=1 | u32 header bytes=32 |
 *                  u64 payload bytes | u32 CRC-32 of the payload | u32 0
 *   payload: model identity (fingerprint, shape, arch, name) | cache geometry |
 *            stream counters | recompute history | sampler blob | app blob |
 *            K then V rows per layer, positions in stream order, each row
 *            as the cache stores it (f32, f16 or q8_0 blocks).
 * The file names its model by sl_model_fingerprint; loading it into another
 * model is an error that names both. Little-endian hosts only (like GGUF). */

#define SL_STATE_VERSION 1u

/* A 64-bit FNV-1a fingerprint of the model file: every byte of its GGUF
 * header (metadata and tensor table) plus 64 bytes at the start, middle and
 * end of every tensor's data, so two models with the same shape but other
 * weights differ. Costs one pass over the metadata, not over the weights. */
uint64_t sl_model_fingerprint(const sl_model *m);

/* CRC-32 (IEEE 802.3, reflected 0xEDB88320; "123456789" -> 0xCBF43926).
 * Pass 0 to start; feed the result back to continue. */
uint32_t sl_crc32(uint32_t crc, const void *data, size_t n);

/* Writes s's state, smp's state (smp may be NULL) and app (app_len bytes,
 * may be 0) to path, through a temporary file renamed into place, so a
 * failed save never leaves a half-written file where the last good one was.
 * Errors: SL_ERR_IO (message names the path), SL_ERR_NOMEM. */
sl_status sl_session_state_save(const sl_session *s, const sl_sampler *smp, const void *app,
                                size_t app_len, const char *path, sl_error *err);

/* A validated save file, mapped read-only. Pointers point into the mapping
 * and live until sl_session_state_close. */
typedef struct {
    sl_mapped_file file;
    char path[256];
    sl_session_params params;  /* policy, n_sink, n_keep, n_window, kv_type, allow_overflow
                                * as saved; n_threads/n_batch left 0 (the caller's choice) */
    int n_layer, kv_dim;
    int64_t n_pinned, n_ring;
    size_t row_bytes;          /* one token's K (or V) row of one layer, in the cache type */
    uint64_t n_fed, n_past, floor;
    uint64_t pin_rows, win_start, win_rows; /* held positions: [0, pin_rows) and
                                             * [win_start, win_start + win_rows) */
    uint64_t hist_n;                        /* recompute: the last hist_n tokens */
    const unsigned char *hist;              /* (hist_n) int32 */
    const unsigned char *sampler;           /* (sampler_len) bytes, see sampler_state.h */
    size_t sampler_len;
    const unsigned char *app;               /* (app_len) bytes */
    size_t app_len;
    const unsigned char *kv;                /* (n_layer, 2, pin_rows + win_rows) rows of row_bytes */
} sl_session_state;

/* Maps path and validates it for model m: magic, version, size, checksum,
 * model identity, then every count against the payload size. Errors:
 * SL_ERR_IO (cannot open; names the path), SL_ERR_FORMAT (not a state file,
 * truncated, checksum mismatch, inconsistent counts), SL_ERR_UNSUPPORTED
 * (another version), SL_ERR_INVALID_ARG (saved with another model: the
 * message names both). On error st is closed. */
sl_status sl_session_state_open(sl_session_state *st, const sl_model *m, const char *path,
                                sl_error *err);
void sl_session_state_close(sl_session_state *st);

/* Replaces s's cache and stream position (and smp's state when smp is
 * non-NULL and the file holds one) with the saved ones. s must have been
 * created with st->params on the same model (SL_ERR_INVALID_ARG otherwise,
 * naming the differing flag). On error s and smp are unchanged. */
sl_status sl_session_state_apply(const sl_session_state *st, sl_session *s, sl_sampler *smp,
                                 sl_error *err);

#endif
