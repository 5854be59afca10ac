/* kv_cache.h — THE StreamingLLM cache: attention sinks plus a rolling window.
 *
 * One cache, one place; every tool goes through it (docs/KV_POLICY.md).
 *
 * Tokens are numbered by absolute stream position a = 0, 1, 2, ...
 * The cache keeps a pinned prefix of P = n_sink + n_keep tokens forever
 * (streaming; P = n_keep for window; 0 for dense/recompute) and a rolling
 * window of the W most recent tokens. When a token at position p is
 * processed it attends to exactly
 *     S(p) = { a <= p : a < P  or  a >= p - W }
 * i.e. the pinned tokens, its last W predecessors and itself, so at most
 * P + W + 1 keys. Eviction is implicit and O(1): the window is a ring of W
 * slots and writing token p overwrites token p - W, which no later token needs.
 *
 * Positions are numbered inside the cache (the paper's pos_shift): the pinned
 * token i sits at position i, the window follows contiguously, and the query
 * sits last, at cache position |S(p)| - 1. Keys are stored rotated once, by
 * their ABSOLUTE position. RoPE scores depend only on the distance between
 * query and key positions, and the window is contiguous in both numberings,
 * so query·key for window keys is exact with the query rotated by p. Only the
 * pinned keys need the query rotated by its cache position instead: the
 * attention computes both rotations of q (see sl_kv_query_positions).
 *
 * Storage: per layer, K and V of (P + W) slots of KV values, in f32, f16 or
 * q8_0 (blocks of 32 int8 and an f16 scale; heads must be whole blocks).
 * Memory = layers x (P + W) x 2 x row_bytes. New tokens of a batch
 * are attended from the batch's own scratch and written to the ring only
 * after every query of the batch has attended (sl_kv_store). */
#ifndef SL_KV_CACHE_H
#define SL_KV_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "streamllm.h"

typedef struct {
    sl_policy policy;
    sl_kv_type type;
    int n_layer;
    int kv_dim;          /* KV = n_head_kv * head_dim floats per token per layer */
    int n_sink, n_keep;  /* as requested */
    int n_pinned;        /* P: slots 0..P-1 hold tokens 0..P-1 forever */
    int64_t n_window;    /* W: ring slots; INT64_MAX-like when dense is unbounded */
    int64_t n_ring;      /* allocated ring slots (= W, or the dense capacity) */
    bool unbounded;      /* dense: no window limit, capacity n_ring tokens */
    size_t elem_size;    /* bytes per value for f32 (4) and f16 (2); q8_0 (1.0625) says 2:
                          * an upper bound, for buffers of rows sized per value */
    size_t row_bytes;    /* bytes of one token's K (or V) row of one layer */
    void *k, *v;         /* (n_layer, P + n_ring, KV) elements each */
    uint64_t n_past;     /* tokens stored so far = absolute position of the next token */
    uint64_t floor;      /* window tokens below this position were evicted early (turn
                          * boundaries in chat); 0 = only the window size evicts */
} sl_kv_cache;

/* Allocates the whole cache. For dense, n_window is the capacity in tokens.
 * Errors name the flag (--sinks, --window) and the bytes that were needed. */
sl_status sl_kv_init(sl_kv_cache *c, sl_policy policy, int n_layer, int kv_dim, int n_sink,
                     int n_keep, int64_t n_window, sl_kv_type type, sl_error *err);
void sl_kv_free(sl_kv_cache *c);
void sl_kv_reset(sl_kv_cache *c);
size_t sl_kv_bytes(const sl_kv_cache *c);

/* Tokens held now: the pinned ones plus the window after evictions. */
size_t sl_kv_len(const sl_kv_cache *c);

/* True when absolute position a is attended by a query at position p >= a. */
static inline bool sl_kv_attends(const sl_kv_cache *c, uint64_t p, uint64_t a) {
    if (a < (uint64_t)c->n_pinned) return true;
    if (a < c->floor) return false;
    return c->unbounded || a + (uint64_t)c->n_window >= p;
}

/* Slot index (row in a layer's K or V) of absolute position a. */
static inline int64_t sl_kv_slot(const sl_kv_cache *c, uint64_t a) {
    if (a < (uint64_t)c->n_pinned) return (int64_t)a;
    return c->n_pinned + (int64_t)((a - (uint64_t)c->n_pinned) % (uint64_t)c->n_ring);
}

/* Oldest absolute position of the window part attended by a query at p:
 * max(P, p - W, floor), or p + 1 (empty) while p itself is pinned. */
static inline uint64_t sl_kv_window_start(const sl_kv_cache *c, uint64_t p) {
    uint64_t P = (uint64_t)c->n_pinned;
    if (p < P) return p + 1;
    uint64_t w = P;
    if (!c->unbounded && p > P + (uint64_t)c->n_window) w = p - (uint64_t)c->n_window;
    if (c->floor > w) w = c->floor < p ? c->floor : p;
    return w;
}

/* For a query at absolute position p: the position its rotation must use
 * against window keys (p itself) and against pinned keys (its cache position:
 * P pinned keys, then the window keys before it). They differ only once the
 * window has moved past the pinned prefix. */
static inline void sl_kv_query_positions(const sl_kv_cache *c, uint64_t p, uint64_t *pos_window,
                                         uint64_t *pos_pinned) {
    *pos_window = p;
    uint64_t P = (uint64_t)c->n_pinned;
    uint64_t w0 = sl_kv_window_start(c, p);
    *pos_pinned = (p >= P && w0 > P) ? P + (p - w0) : p;
}

/* Row pointers (elements of the cache type) for layer il, slot s. */
static inline void *sl_kv_k_row(const sl_kv_cache *c, int il, int64_t s) {
    return (char *)c->k + ((size_t)il * (size_t)(c->n_pinned + c->n_ring) + (size_t)s) * c->row_bytes;
}
static inline void *sl_kv_v_row(const sl_kv_cache *c, int il, int64_t s) {
    return (char *)c->v + ((size_t)il * (size_t)(c->n_pinned + c->n_ring) + (size_t)s) * c->row_bytes;
}

/* Evicts every window token before absolute position pos now, ahead of the
 * window's own schedule, so the cache can start at a boundary the caller
 * chooses (a chat turn, never halfway through a template's special tokens).
 * Pinned tokens stay. pos is clamped to n_past. Memory does not change. */
void sl_kv_evict_before(sl_kv_cache *c, uint64_t pos);

/* Checks that n more tokens fit (dense refuses past its capacity). */
sl_status sl_kv_check_room(const sl_kv_cache *c, size_t n, sl_error *err);

/* Writes the K and V rows (in cache element type) of tokens n_past..n_past+n-1
 * for layer il. Rows that the window would evict within the same batch are
 * skipped. Does not advance n_past (sl_kv_advance does, after all layers). */
void sl_kv_store(sl_kv_cache *c, int il, const void *k_rows, const void *v_rows, size_t n);
void sl_kv_advance(sl_kv_cache *c, size_t n);

/* Converts n floats (a whole row, or whole q8_0 blocks) to the cache element type. */
void sl_kv_convert_row(const sl_kv_cache *c, void *dst, const float *src, size_t n);

#endif
