/* kv_cache.c — allocation, slot writes and room checks of the streaming
 * cache. The attention that reads it is model/attention.c. */
#include "kv/kv_cache.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"
#include "tensor/quant.h"

static const char *policy_name(sl_policy p) {
    switch (p) {
    case SL_POLICY_STREAMING: return "streaming";
    case SL_POLICY_WINDOW: return "window";
    case SL_POLICY_DENSE: return "dense";
    case SL_POLICY_RECOMPUTE: return "recompute";
    }
    return "?";
}

sl_status sl_kv_init(sl_kv_cache *c, sl_policy policy, int n_layer, int kv_dim, int n_sink,
                     int n_keep, int64_t n_window, sl_kv_type type, sl_error *err) {
    memset(c, 0, sizeof *c);
    if (n_sink < 0 || n_sink > 1024)
        return sl_fail(err, SL_ERR_INVALID_ARG, "--sinks: %d is out of range [0, 1024]", n_sink);
    if (n_keep < 0)
        return sl_fail(err, SL_ERR_INVALID_ARG, "--keep: %d must not be negative", n_keep);
    if (n_window < 1)
        return sl_fail(err, SL_ERR_INVALID_ARG, "--window: %lld must be at least 1",
                       (long long)n_window);
    if (type != SL_KV_F32 && type != SL_KV_F16 && type != SL_KV_Q8_0)
        return sl_fail(err, SL_ERR_INVALID_ARG, "--kv-type: unknown type %d", (int)type);
    if (type == SL_KV_Q8_0 && kv_dim % 32 != 0)
        return sl_fail(err, SL_ERR_INVALID_ARG,
                       "--kv-type q8_0: the kv row (%d values) is not a whole number of 32-value blocks",
                       kv_dim);
    c->policy = policy;
    c->type = type;
    c->n_layer = n_layer;
    c->kv_dim = kv_dim;
    c->n_sink = n_sink;
    c->n_keep = n_keep;
    c->elem_size = type == SL_KV_F32 ? 4 : 2;
    c->row_bytes = type == SL_KV_F32 ? (size_t)kv_dim * 4
                 : type == SL_KV_F16 ? (size_t)kv_dim * 2 : sl_row_size(SL_TYPE_Q8_0, kv_dim);
    switch (policy) {
    case SL_POLICY_STREAMING: c->n_pinned = n_sink + n_keep; break;
    case SL_POLICY_WINDOW: c->n_pinned = n_keep; break;
    case SL_POLICY_DENSE:
    case SL_POLICY_RECOMPUTE: c->n_pinned = 0; break;
    default: return sl_fail(err, SL_ERR_INVALID_ARG, "--policy: unknown policy %d", (int)policy);
    }
    c->n_window = n_window;
    c->n_ring = n_window;
    c->unbounded = policy == SL_POLICY_DENSE;

    size_t slots = (size_t)c->n_pinned + (size_t)c->n_ring, bytes;
    if (__builtin_mul_overflow(slots, (size_t)n_layer * c->row_bytes, &bytes) || bytes > (SIZE_MAX >> 2))
        return sl_fail(err, SL_ERR_NOMEM, "%s cache of %zu tokens is too large for memory",
                       policy_name(policy), slots);
    /* malloc of more than RAM may "succeed" under overcommit and be killed
     * later when the window fills; refuse it up front with a clear message. */
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    if (pages > 0 && page > 0 && 2.0 * (double)bytes >= (double)pages * (double)page)
        return sl_fail(err, SL_ERR_NOMEM,
                       "%s cache: 2 x %.1f MiB for %zu tokens exceeds this machine's memory "
                       "(%.1f GiB); lower --window or --sinks",
                       policy_name(policy), (double)bytes / (1 << 20), slots,
                       (double)pages * (double)page / (1 << 30));
    c->k = malloc(bytes);
    c->v = malloc(bytes);
    if (!c->k || !c->v) {
        sl_kv_free(c);
        return sl_fail(err, SL_ERR_NOMEM,
                       "%s cache: cannot allocate 2 x %.1f MiB for %zu tokens (--sinks + --window "
                       "too large for memory)",
                       policy_name(policy), (double)bytes / (1 << 20), slots);
    }
    return SL_OK;
}

void sl_kv_free(sl_kv_cache *c) {
    if (!c) return;
    free(c->k);
    free(c->v);
    c->k = c->v = NULL;
}

void sl_kv_reset(sl_kv_cache *c) {
    c->n_past = 0;
    c->floor = 0;
}

void sl_kv_evict_before(sl_kv_cache *c, uint64_t pos) {
    if (pos > c->n_past) pos = c->n_past;
    if (pos > c->floor) c->floor = pos;
}

size_t sl_kv_bytes(const sl_kv_cache *c) {
    return 2 * (size_t)c->n_layer * (size_t)(c->n_pinned + c->n_ring) * c->row_bytes;
}

size_t sl_kv_len(const sl_kv_cache *c) {
    uint64_t P = (uint64_t)c->n_pinned, n = c->n_past;
    if (n <= P) return (size_t)n;
    /* The next query would sit at n: what it sees before itself. */
    return (size_t)(P + (n - sl_kv_window_start(c, n)));
}

sl_status sl_kv_check_room(const sl_kv_cache *c, size_t n, sl_error *err) {
    if (!c->unbounded) return SL_OK;
    if (c->n_past + n > (uint64_t)c->n_ring)
        return sl_fail(err, SL_ERR_CONTEXT_FULL,
                       "dense cache is full: %llu + %zu tokens exceed its capacity of %lld "
                       "(use the streaming policy to run on, or --allow-overflow with a larger window)",
                       (unsigned long long)c->n_past, n, (long long)c->n_ring);
    return SL_OK;
}

void sl_kv_convert_row(const sl_kv_cache *c, void *dst, const float *src, size_t n) {
    if (c->type == SL_KV_F32) {
        memcpy(dst, src, n * sizeof(float));
        return;
    }
    /* the weight table's converters: SIMD where the CPU has it, exact either way */
    sl_type_get(c->type == SL_KV_F16 ? SL_TYPE_F16 : SL_TYPE_Q8_0)->from_float(dst, src, (int64_t)n);
}

void sl_kv_store(sl_kv_cache *c, int il, const void *k_rows, const void *v_rows, size_t n) {
    size_t row_bytes = c->row_bytes;
    uint64_t end = c->n_past + n;
    for (size_t t = 0; t < n; t++) {
        uint64_t a = c->n_past + t;
        /* A window token that a later token of this same batch already pushes
         * out is never needed again: skip it rather than write it twice. */
        if (a >= (uint64_t)c->n_pinned && !c->unbounded && a + (uint64_t)c->n_ring < end) continue;
        int64_t s = sl_kv_slot(c, a);
        memcpy(sl_kv_k_row(c, il, s), (const char *)k_rows + t * row_bytes, row_bytes);
        memcpy(sl_kv_v_row(c, il, s), (const char *)v_rows + t * row_bytes, row_bytes);
    }
}

void sl_kv_advance(sl_kv_cache *c, size_t n) { c->n_past += n; }
