/* session_state.c — saving and restoring a session's bounded streaming
 * state (file layout in session.h).
 *
 * Only the rows the cache holds are written: the pinned prefix and the live
 * window, so a file is at most (P + W) rows per layer whatever the stream
 * length. Restoring writes each row back into the slot sl_kv_slot gives for
 * its position; the attention reads nothing else, so a restored session
 * continues bit for bit like the one that was saved. */
#include "session/session.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"
#include "core/le_bytes.h"
#include "sampling/sampler_state.h"

static const char MAGIC[8] = {'S', 'L', 'S', 'T', 'A', 'T', 'E', '\0'};
#define HEADER_BYTES 32u

/* ---- checksum and fingerprint ------------------------------------------------- */

uint32_t sl_crc32(uint32_t crc, const void *data, size_t n) {
    static uint32_t table[256];
    static volatile int ready; /* idempotent fill: a race writes the same values */
    if (!ready) {
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t c = i;
            for (int k = 0; k < 8; k++) c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            table[i] = c;
        }
        ready = 1;
    }
    const unsigned char *p = data;
    crc = ~crc;
    for (size_t i = 0; i < n; i++) crc = table[(crc ^ p[i]) & 0xFF] ^ (crc >> 8);
    return ~crc;
}

static uint64_t fnv1a(uint64_t h, const void *data, size_t n) {
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

uint64_t sl_model_fingerprint(const sl_model *m) {
    uint64_t h = 0xcbf29ce484222325ull;
    const sl_gguf *g = m->gguf;
    const unsigned char *base = g->file.data;
    size_t size = g->file.size;
    /* The header: magic, metadata and the tensor table (names, types, shapes,
     * offsets). */
    size_t head = g->data_offset < size ? (size_t)g->data_offset : size;
    if (base) h = fnv1a(h, base, head);
    /* Samples of the weights: 64 bytes at the start, middle and end of each
     * tensor, so a fine-tune of the same shape gets another fingerprint. */
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        const sl_gguf_tensor *t = &g->tensors[i];
        const unsigned char *d = t->data;
        uint64_t nb = t->nbytes;
        if (!d || nb == 0) continue;
        size_t take = nb < 64 ? (size_t)nb : 64;
        h = fnv1a(h, d, take);
        h = fnv1a(h, d + (nb - take) / 2, take);
        h = fnv1a(h, d + nb - take, take);
    }
    return h;
}

/* ---- little-endian helpers ----------------------------------------------------- */


/* ---- the model identity block ---------------------------------------------------- */

#define ID_ARCH 32
#define ID_NAME 64
#define ID_BYTES (8 + 6 * 4 + ID_ARCH + ID_NAME)

typedef struct {
    uint64_t fingerprint;
    uint32_t n_vocab, n_embd, n_layer, n_head, n_head_kv, head_dim;
    char arch[ID_ARCH + 1], name[ID_NAME + 1];
} model_id;

static void model_id_of(const sl_model *m, model_id *id) {
    memset(id, 0, sizeof *id);
    id->fingerprint = sl_model_fingerprint(m);
    const sl_hparams *hp = &m->hp;
    id->n_vocab = (uint32_t)hp->n_vocab;
    id->n_embd = (uint32_t)hp->n_embd;
    id->n_layer = (uint32_t)hp->n_layer;
    id->n_head = (uint32_t)hp->n_head;
    id->n_head_kv = (uint32_t)hp->n_head_kv;
    id->head_dim = (uint32_t)hp->head_dim;
    /* Truncated to the fixed fields: they name the model in messages only. */
    memcpy(id->arch, m->arch, strnlen(m->arch, ID_ARCH));
    memcpy(id->name, m->name, strnlen(m->name, ID_NAME));
}

static void model_id_put(unsigned char *b, const model_id *id) {
    memset(b, 0, ID_BYTES);
    sl_put_u64(b, id->fingerprint);
    const uint32_t v[6] = {id->n_vocab, id->n_embd, id->n_layer, id->n_head, id->n_head_kv,
                           id->head_dim};
    for (int i = 0; i < 6; i++) sl_put_u32(b + 8 + 4 * i, v[i]);
    memcpy(b + 32, id->arch, strnlen(id->arch, ID_ARCH));
    memcpy(b + 32 + ID_ARCH, id->name, strnlen(id->name, ID_NAME));
}

static void model_id_get(const unsigned char *b, model_id *id) {
    memset(id, 0, sizeof *id);
    id->fingerprint = sl_get_u64(b);
    uint32_t *v[6] = {&id->n_vocab, &id->n_embd, &id->n_layer, &id->n_head, &id->n_head_kv,
                      &id->head_dim};
    for (int i = 0; i < 6; i++) *v[i] = sl_get_u32(b + 8 + 4 * i);
    memcpy(id->arch, b + 32, ID_ARCH);
    memcpy(id->name, b + 32 + ID_ARCH, ID_NAME);
    /* Saved strings may hold anything: keep them printable for messages. */
    for (char *s = id->arch; *s; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s == 0x7f) *s = '?';
    for (char *s = id->name; *s; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s == 0x7f) *s = '?';
}

static void model_id_describe(const model_id *id, char *out, size_t cap) {
    snprintf(out, cap, "'%s' (%s, %u layers, embd %u, vocab %u, fingerprint %016llx)",
             id->name[0] ? id->name : "unnamed", id->arch, id->n_layer, id->n_embd, id->n_vocab,
             (unsigned long long)id->fingerprint);
}

/* ---- the fixed part of the payload ---------------------------------------------- */

/* After the identity: u32 policy, kv_type, n_sink, n_keep, allow_overflow,
 * n_layer, kv_dim, row_bytes; u64 n_window, n_pinned, n_ring, n_fed, n_past,
 * floor, pin_rows, win_start, win_rows, hist_n, sampler_len, app_len. */
#define FIXED_BYTES (ID_BYTES + 8 * 4 + 12 * 8)

/* Held window of a cache with n_past tokens: [win_start, n_past) when the
 * stream has passed the pinned prefix. */
static void held_rows(const sl_kv_cache *c, uint64_t n_past, uint64_t *pin_rows, uint64_t *ws,
                      uint64_t *wn) {
    uint64_t P = (uint64_t)c->n_pinned;
    *pin_rows = n_past < P ? n_past : P;
    *ws = n_past;
    *wn = 0;
    if (n_past > P) {
        *ws = sl_kv_window_start(c, n_past);
        *wn = n_past - *ws;
    }
}

/* ---- save ----------------------------------------------------------------------------- */

typedef struct {
    FILE *fp;
    uint32_t crc;
    uint64_t n;
    bool failed;
} writer;

static void w_bytes(writer *w, const void *p, size_t n) {
    if (w->failed || n == 0) return;
    if (fwrite(p, 1, n, w->fp) != n) {
        w->failed = true;
        return;
    }
    w->crc = sl_crc32(w->crc, p, n);
    w->n += n;
}

static void w_rows(writer *w, const sl_kv_cache *c, bool k, int il, uint64_t a0, uint64_t n) {
    size_t row = c->row_bytes;
    for (uint64_t a = a0; a < a0 + n; a++) {
        int64_t s = sl_kv_slot(c, a);
        w_bytes(w, k ? sl_kv_k_row(c, il, s) : sl_kv_v_row(c, il, s), row);
    }
}

sl_status sl_session_state_save(const sl_session *s, const sl_sampler *smp, const void *app,
                                size_t app_len, const char *path, sl_error *err) {
    const sl_kv_cache *c = &s->kv;
    const bool recompute = s->p.policy == SL_POLICY_RECOMPUTE;
    /* Recompute rebuilds its cache from the token history before every
     * token, so the history is its whole state. */
    uint64_t pin_rows = 0, ws = 0, wn = 0, hist_n = 0;
    if (recompute) {
        uint64_t W = (uint64_t)s->p.n_window;
        hist_n = s->n_fed < W ? s->n_fed : W;
    } else {
        held_rows(c, c->n_past, &pin_rows, &ws, &wn);
    }

    unsigned char *sampler = NULL;
    size_t sampler_len = 0;
    if (smp) {
        size_t need = sl_sampler_state_size(smp);
        sampler = malloc(need ? need : 1);
        if (!sampler) return sl_fail(err, SL_ERR_NOMEM, "%s: out of memory", path);
        sl_status st = sl_sampler_state_save(smp, sampler, need, &sampler_len, err);
        if (st != SL_OK) {
            free(sampler);
            return st;
        }
    }

    char tmp[4096 + 16];
    if (snprintf(tmp, sizeof tmp, "%s.tmp%ld", path, (long)getpid()) >= (int)sizeof tmp) {
        free(sampler);
        return sl_fail(err, SL_ERR_IO, "%s: path too long", path);
    }
    FILE *fp = fopen(tmp, "wb");
    if (!fp) {
        free(sampler);
        return sl_fail(err, SL_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
    }
    writer w = {fp, 0, 0, false};
    unsigned char header[HEADER_BYTES] = {0};
    if (fwrite(header, 1, sizeof header, fp) != sizeof header) w.failed = true;

    unsigned char fixed[FIXED_BYTES];
    model_id id;
    model_id_of(s->m, &id);
    model_id_put(fixed, &id);
    unsigned char *b = fixed + ID_BYTES;
    const uint32_t u32s[8] = {(uint32_t)s->p.policy, (uint32_t)s->p.kv_type, (uint32_t)s->p.n_sink,
                              (uint32_t)s->p.n_keep, s->p.allow_overflow ? 1u : 0u,
                              (uint32_t)c->n_layer, (uint32_t)c->kv_dim, (uint32_t)c->row_bytes};
    for (int i = 0; i < 8; i++) sl_put_u32(b + 4 * i, u32s[i]);
    b += 32;
    const uint64_t u64s[12] = {(uint64_t)s->p.n_window, (uint64_t)c->n_pinned, (uint64_t)c->n_ring,
                               s->n_fed, c->n_past, c->floor, pin_rows, ws, wn, hist_n,
                               sampler_len, app_len};
    for (int i = 0; i < 12; i++) sl_put_u64(b + 8 * i, u64s[i]);
    w_bytes(&w, fixed, sizeof fixed);

    if (recompute) {
        uint64_t W = (uint64_t)s->p.n_window, first = s->n_fed - hist_n;
        for (uint64_t i = 0; i < hist_n; i++) {
            unsigned char t[4];
            sl_put_u32(t, (uint32_t)s->hist[(first + i) % W]);
            w_bytes(&w, t, 4);
        }
    }
    w_bytes(&w, sampler, sampler_len);
    w_bytes(&w, app, app_len);
    for (int il = 0; il < c->n_layer; il++) {
        for (int kv = 0; kv < 2; kv++) {
            w_rows(&w, c, kv == 0, il, 0, pin_rows);
            w_rows(&w, c, kv == 0, il, ws, wn);
        }
    }
    free(sampler);

    memcpy(header, MAGIC, 8);
    sl_put_u32(header + 8, SL_STATE_VERSION);
    sl_put_u32(header + 12, HEADER_BYTES);
    sl_put_u64(header + 16, w.n);
    sl_put_u32(header + 24, w.crc);
    if (!w.failed && (fseek(fp, 0, SEEK_SET) != 0 || fwrite(header, 1, sizeof header, fp) != sizeof header))
        w.failed = true;
    if (fflush(fp) != 0 || fsync(fileno(fp)) != 0) w.failed = true;
    int saved_errno = errno;
    if (fclose(fp) != 0) w.failed = true;
    if (w.failed) {
        unlink(tmp);
        return sl_fail(err, SL_ERR_IO, "%s: write failed: %s", path, strerror(saved_errno));
    }
    if (rename(tmp, path) != 0) {
        saved_errno = errno;
        unlink(tmp);
        return sl_fail(err, SL_ERR_IO, "%s: cannot replace: %s", path, strerror(saved_errno));
    }
    return SL_OK;
}

/* ---- open and validate ------------------------------------------------------------------ */

void sl_session_state_close(sl_session_state *st) {
    if (!st) return;
    sl_mapped_file_close(&st->file);
    memset(st, 0, sizeof *st);
}

static sl_status bad(sl_session_state *st, sl_error *err, sl_status code, const char *fmt,
                     const char *what) {
    char path[256];
    snprintf(path, sizeof path, "%s", st->path);
    sl_session_state_close(st);
    return sl_fail(err, code, fmt, path, what);
}

sl_status sl_session_state_open(sl_session_state *st, const sl_model *m, const char *path,
                                sl_error *err) {
    memset(st, 0, sizeof *st);
    snprintf(st->path, sizeof st->path, "%s", path);
    sl_status rc = sl_mapped_file_open(&st->file, path, err);
    if (rc != SL_OK) return rc;
    const unsigned char *d = st->file.data;
    size_t size = st->file.size;
    if (size < HEADER_BYTES || memcmp(d, MAGIC, 8) != 0)
        return bad(st, err, SL_ERR_FORMAT, "%s: not a streamllm state file (%s)",
                   size < HEADER_BYTES ? "shorter than its header" : "bad magic");
    uint32_t version = sl_get_u32(d + 8);
    if (version != SL_STATE_VERSION) {
        char msg[96];
        snprintf(msg, sizeof msg, "version %u; this build reads version %u", version,
                 SL_STATE_VERSION);
        return bad(st, err, SL_ERR_UNSUPPORTED, "%s: state file %s", msg);
    }
    uint64_t payload = sl_get_u64(d + 16);
    if (sl_get_u32(d + 12) != HEADER_BYTES || payload != size - HEADER_BYTES) {
        char msg[128];
        snprintf(msg, sizeof msg, "header says %llu payload bytes, the file has %zu",
                 (unsigned long long)payload, size - HEADER_BYTES);
        return bad(st, err, SL_ERR_FORMAT, "%s: truncated or padded state file: %s", msg);
    }
    uint32_t want = sl_get_u32(d + 24), got = sl_crc32(0, d + HEADER_BYTES, (size_t)payload);
    if (want != got) {
        char msg[96];
        snprintf(msg, sizeof msg, "stored CRC-32 %08x, computed %08x", want, got);
        return bad(st, err, SL_ERR_FORMAT, "%s: checksum mismatch (%s): the file is corrupt", msg);
    }
    const unsigned char *p = d + HEADER_BYTES, *end = d + size;
    if ((size_t)(end - p) < FIXED_BYTES)
        return bad(st, err, SL_ERR_FORMAT, "%s: %s", "payload shorter than its fixed part");

    /* The model first: a foreign file is the likely mistake, so say so. */
    model_id saved, mine;
    model_id_get(p, &saved);
    model_id_of(m, &mine);
    if (saved.fingerprint != mine.fingerprint || saved.n_vocab != mine.n_vocab ||
        saved.n_layer != mine.n_layer || saved.n_embd != mine.n_embd) {
        char a[200], b2[200], msg[480];
        model_id_describe(&saved, a, sizeof a);
        model_id_describe(&mine, b2, sizeof b2);
        snprintf(msg, sizeof msg, "it was saved with model %s, not with this model %s", a, b2);
        return bad(st, err, SL_ERR_INVALID_ARG, "%s: %s", msg);
    }
    const unsigned char *b = p + ID_BYTES;
    uint32_t policy = sl_get_u32(b), kv_type = sl_get_u32(b + 4), n_sink = sl_get_u32(b + 8),
             n_keep = sl_get_u32(b + 12), overflow = sl_get_u32(b + 16), n_layer = sl_get_u32(b + 20),
             kv_dim = sl_get_u32(b + 24), row_bytes = sl_get_u32(b + 28);
    b += 32;
    uint64_t v[12];
    for (int i = 0; i < 12; i++) v[i] = sl_get_u64(b + 8 * i);
    uint64_t n_window = v[0], n_pinned = v[1], n_ring = v[2];
    st->n_fed = v[3];
    st->n_past = v[4];
    st->floor = v[5];
    st->pin_rows = v[6];
    st->win_start = v[7];
    st->win_rows = v[8];
    st->hist_n = v[9];
    uint64_t sampler_len = v[10], app_len = v[11];
    p += FIXED_BYTES;

    /* Geometry: every number checked before anything is sized from it. */
    const char *why = NULL;
    if (policy > SL_POLICY_RECOMPUTE) why = "unknown cache policy";
    else if (kv_type > SL_KV_Q8_0) why = "unknown KV element type";
    /* Between q8_0's 34 bytes per 32 values and f32's 4 bytes per value;
     * apply checks the exact size against the session's cache. */
    else if (row_bytes < kv_dim || row_bytes > 4 * kv_dim) why = "KV row size does not fit its width";
    else if (n_layer != (uint32_t)m->hp.n_layer || kv_dim != (uint32_t)(m->hp.n_head_kv * m->hp.head_dim))
        why = "layer count or KV width differs from the model";
    else if (n_sink > 1024 || n_keep > (1u << 20)) why = "sinks or keep out of range";
    else if (n_window < 1 || n_window > (1ull << 31) || n_ring < 1 || n_ring > (1ull << 32))
        why = "window out of range";
    else if (n_pinned != (policy == SL_POLICY_STREAMING ? (uint64_t)n_sink + n_keep
                          : policy == SL_POLICY_WINDOW  ? (uint64_t)n_keep
                                                        : 0))
        why = "pinned prefix does not match sinks + keep";
    else if (st->floor > st->n_past) why = "eviction floor past the stream position";
    if (why) return bad(st, err, SL_ERR_FORMAT, "%s: inconsistent state file: %s", why);

    /* Loading allocates the whole cache the file describes (window slots,
     * not only the rows it holds): refuse one larger than this machine
     * rather than let calloc succeed lazily and the process die later. */
    long pages = sysconf(_SC_PHYS_PAGES), psz = sysconf(_SC_PAGE_SIZE);
    double need = 2.0 * n_layer * ((double)n_pinned + (double)n_ring + 1) * row_bytes;
    if (pages > 0 && psz > 0 && need > (double)pages * (double)psz) {
        char msg[160];
        snprintf(msg, sizeof msg, "its cache of %llu tokens needs %.1f GiB, more than the %.1f GiB of "
                 "memory here", (unsigned long long)(n_pinned + n_ring), need / (1 << 30),
                 (double)pages * (double)psz / (1 << 30));
        return bad(st, err, SL_ERR_FORMAT, "%s: %s", msg);
    }

    st->params.policy = (sl_policy)policy;
    st->params.kv_type = (sl_kv_type)kv_type;
    st->params.n_sink = (int)n_sink;
    st->params.n_keep = (int)n_keep;
    st->params.n_window = (int)n_window;
    st->params.allow_overflow = overflow != 0;
    st->n_layer = (int)n_layer;
    st->kv_dim = (int)kv_dim;
    st->n_pinned = (int64_t)n_pinned;
    st->n_ring = (int64_t)n_ring;
    st->row_bytes = row_bytes;

    /* The held rows must be exactly what a cache in this state holds. */
    if (policy == SL_POLICY_RECOMPUTE) {
        uint64_t hn = st->n_fed < n_window ? st->n_fed : n_window;
        if (st->pin_rows || st->win_rows || st->hist_n != hn)
            return bad(st, err, SL_ERR_FORMAT, "%s: inconsistent state file: %s",
                       "recompute history does not match the stream position");
    } else {
        sl_kv_cache probe = {0};
        probe.n_pinned = (int)n_pinned;
        probe.n_window = (int64_t)n_window;
        probe.n_ring = (int64_t)n_ring;
        probe.unbounded = policy == SL_POLICY_DENSE;
        probe.floor = st->floor;
        uint64_t pr, ws, wn;
        held_rows(&probe, st->n_past, &pr, &ws, &wn);
        if (st->n_fed != st->n_past || st->hist_n != 0 || pr != st->pin_rows || ws != st->win_start ||
            wn != st->win_rows || wn > n_ring)
            return bad(st, err, SL_ERR_FORMAT, "%s: inconsistent state file: %s",
                       "held rows do not match the stream position and window");
    }

    /* Variable parts, each bounded by what is left. */
    size_t left = (size_t)(end - p);
    if (st->hist_n > left / 4) goto short_file;
    st->hist = p;
    p += st->hist_n * 4;
    left = (size_t)(end - p);
    if (sampler_len > left) goto short_file;
    st->sampler = sampler_len ? p : NULL;
    st->sampler_len = (size_t)sampler_len;
    p += sampler_len;
    left = (size_t)(end - p);
    if (app_len > left) goto short_file;
    st->app = app_len ? p : NULL;
    st->app_len = (size_t)app_len;
    p += app_len;
    left = (size_t)(end - p);
    uint64_t rows = st->pin_rows + st->win_rows, kv_bytes;
    if (__builtin_mul_overflow(rows, (uint64_t)2 * n_layer * row_bytes, &kv_bytes) ||
        kv_bytes != left)
        return bad(st, err, SL_ERR_FORMAT, "%s: inconsistent state file: %s",
                   "KV section size does not match the held rows");
    st->kv = p;
    for (uint64_t i = 0; i < st->hist_n; i++)
        if (sl_get_u32(st->hist + 4 * i) >= (uint32_t)m->hp.n_vocab)
            return bad(st, err, SL_ERR_FORMAT, "%s: inconsistent state file: %s",
                       "a history token is outside the vocabulary");
    return SL_OK;
short_file:
    return bad(st, err, SL_ERR_FORMAT, "%s: inconsistent state file: %s",
               "a section runs past the end of the file");
}

static const char *kv_type_name(sl_kv_type t) {
    return t == SL_KV_F32 ? "f32" : t == SL_KV_F16 ? "f16" : t == SL_KV_Q8_0 ? "q8_0" : "?";
}

/* ---- apply --------------------------------------------------------------------------------- */

sl_status sl_session_state_apply(const sl_session_state *st, sl_session *s, sl_sampler *smp,
                                 sl_error *err) {
    const sl_kv_cache *c = &s->kv;
    if (s->p.policy != st->params.policy)
        return sl_fail(err, SL_ERR_INVALID_ARG, "%s: saved with --policy %d, this session has %d",
                       st->path, (int)st->params.policy, (int)s->p.policy);
    if (c->n_pinned != st->n_pinned || s->p.n_window != st->params.n_window || c->n_ring != st->n_ring)
        return sl_fail(err, SL_ERR_INVALID_ARG,
                       "%s: saved with %lld pinned tokens (--sinks + --keep) and --window %d; this "
                       "session has %d and %d",
                       st->path, (long long)st->n_pinned, st->params.n_window, c->n_pinned,
                       s->p.n_window);
    if (c->type != st->params.kv_type || c->n_layer != st->n_layer || c->kv_dim != st->kv_dim ||
        c->row_bytes != st->row_bytes)
        return sl_fail(err, SL_ERR_INVALID_ARG, "%s: saved with --kv-type %s, this session has %s",
                       st->path, kv_type_name(st->params.kv_type), kv_type_name(c->type));
    /* The sampler first: it is the only part that can still refuse. */
    if (smp && st->sampler) {
        sl_status rc = sl_sampler_state_load(smp, st->sampler, st->sampler_len, err);
        if (rc != SL_OK) return rc;
    }
    sl_kv_reset(&s->kv);
    s->kv.n_past = st->n_past;
    s->kv.floor = st->floor;
    s->n_fed = st->n_fed;
    size_t row = c->row_bytes;
    const unsigned char *src = st->kv;
    for (int il = 0; il < c->n_layer; il++) {
        for (int kv = 0; kv < 2; kv++) {
            for (int part = 0; part < 2; part++) {
                uint64_t a0 = part == 0 ? 0 : st->win_start;
                uint64_t n = part == 0 ? st->pin_rows : st->win_rows;
                for (uint64_t a = a0; a < a0 + n; a++, src += row) {
                    int64_t slot = sl_kv_slot(c, a);
                    memcpy(kv == 0 ? sl_kv_k_row(c, il, slot) : sl_kv_v_row(c, il, slot), src, row);
                }
            }
        }
    }
    if (s->p.policy == SL_POLICY_RECOMPUTE && s->hist) {
        uint64_t W = (uint64_t)s->p.n_window, first = st->n_fed - st->hist_n;
        for (uint64_t i = 0; i < st->hist_n; i++)
            s->hist[(first + i) % W] = (int32_t)sl_get_u32(st->hist + 4 * i);
    }
    return SL_OK;
}
