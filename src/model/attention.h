/* attention.h — causal attention of a batch of queries over the streaming
 * cache plus the batch's own new keys (see kv/kv_cache.h for the semantics).
 * Letters: T batch tokens, H query heads, G kv heads, D head_dim, KV = G*D. */
#ifndef SL_MODEL_ATTENTION_H
#define SL_MODEL_ATTENTION_H

#include <stdbool.h>
#include <stdint.h>

#include "core/thread_pool.h"
#include "kv/kv_cache.h"
#include "model/rope.h"

/* Optional observer: called for every (token, head) with the attention
 * weights over the keys it attended, in key order (pinned, then window by
 * increasing absolute position), and those keys' absolute positions.
 * Runs on worker threads; must be thread-safe. */
typedef void (*sl_attn_observer)(void *user, int layer, int head, uint64_t query_pos,
                                 const float *weights, const uint64_t *key_pos, int n);

typedef struct {
    const sl_kv_cache *kv;
    int layer;
    int T, H, G, D;
    int t_out;              /* first token whose query is attended (0: all); the
                             * rows of out before it are left as they are */
    uint64_t p0;            /* absolute position of the first batch token */
    const float *q;         /* (T, H*D) NOT rotated */
    const void *k_new;      /* (T, KV) cache element type, rotated at absolute positions */
    const void *v_new;      /* (T, KV) cache element type */
    const sl_rope *rope;
    const float *cs_window; /* (T, n_rot) sin/cos at each token's absolute position */
    const float *cs_pinned; /* (T, n_rot) at each token's cache position */
    bool zero_sink;         /* softmax with +1 in the denominator */
    float *out;             /* (T, H*D) */
    void *scratch;          /* per thread: sl_attn_scratch_bytes(D, max_keys, H, G) */
    size_t scratch_stride;  /* bytes per thread */
    int max_keys;
    sl_attn_observer observer;
    void *observer_user;
} sl_attn_batch;

/* Per-thread scratch bytes needed for max_keys attended keys, H query and
 * G kv heads (the heads of a kv group are attended together). */
size_t sl_attn_scratch_bytes(int D, int max_keys, int H, int G);
void sl_attention(sl_pool *pool, sl_attn_batch *b);

#endif
