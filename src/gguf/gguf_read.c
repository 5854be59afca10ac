/* gguf_read.c — the GGUF v2/v3 parser.
 *
 * Layout (ggml docs/gguf.md, all little-endian):
 *   u32 magic "GGUF" | u32 version | u64 n_tensors | u64 n_kv
 *   n_kv x { str key | u32 type | value }            value of an array:
 *                                                    u32 elem type | u64 n | n elems
 *   n_tensors x { str name | u32 n_dims | u64 ne[n_dims] | u32 ggml type | u64 offset }
 *   padding to general.alignment (default 32)
 *   tensor data; each offset is relative to here and aligned
 * where str = u64 length + bytes (no NUL).
 *
 * Nothing read from the file is trusted: every count is bounded by the bytes
 * that remain *before* anything of that size is allocated, every product and
 * sum is overflow-checked, and every view points inside the mapping. All
 * failures leave through one path (sl_gguf_close on the half-built object). */
#include "gguf/gguf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "tensor/quant.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the GGUF reader assumes a little-endian host"
#endif

/* Smallest possible encodings, used to bound counts before allocating:
 * a kv is a non-empty key (8 + 1), a type (4) and at least one value byte;
 * a tensor info is a non-empty name (8 + 1), n_dims (4), one ne (8), a type
 * (4) and an offset (8). */
#define MIN_KV_BYTES 14u
#define MIN_TENSOR_INFO_BYTES 33u
/* ggml keeps tensor names in char[64]; longer names cannot come from a valid writer. */
#define MAX_TENSOR_NAME 63u
/* How much of a key or tensor name goes into a message. */
#define MSG_NAME_MAX 96

/* A cursor over the file plus what it is reading, so messages can say
 * "key 'x'" or "tensor 'y'" without formatting anything on the happy path. */
typedef struct {
    const unsigned char *base;
    size_t size, pos;
    const char *path;
    sl_error *err;
    const char *kind; /* "header", "key", "tensor" */
    uint64_t index;
    sl_gguf_str name; /* empty until the name is read */
} reader;

static size_t remaining(const reader *r) { return r->size - r->pos; }

/* A file's name bytes made safe for a message: at most MSG_NAME_MAX bytes,
 * unprintables as '?'. dst holds MSG_NAME_MAX + 1 bytes. */
static const char *show_name(char *dst, sl_gguf_str s) {
    size_t n = s.len < MSG_NAME_MAX ? (size_t)s.len : MSG_NAME_MAX;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s.ptr[i];
        dst[i] = c >= 0x20 && c < 0x7f ? (char)c : '?';
    }
    dst[n] = 0;
    return dst;
}

SL_PRINTF(3, 4)
static sl_status fail(const reader *r, sl_status st, const char *fmt, ...) {
    char msg[384], where[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (r->name.len) {
        char name[MSG_NAME_MAX + 1];
        snprintf(where, sizeof where, "%s '%s'", r->kind, show_name(name, r->name));
    } else if (strcmp(r->kind, "header") == 0)
        snprintf(where, sizeof where, "header");
    else
        snprintf(where, sizeof where, "%s #%llu", r->kind, (unsigned long long)r->index);
    return sl_fail(r->err, st, "%s: %s: %s", r->path, where, msg);
}

static sl_status need(const reader *r, uint64_t n, const char *what) {
    if (n <= remaining(r)) return SL_OK;
    return fail(r, SL_ERR_FORMAT,
                "truncated: %s needs %llu bytes at offset %zu, only %zu remain", what,
                (unsigned long long)n, r->pos, remaining(r));
}

static sl_status rd_u32(reader *r, uint32_t *v, const char *what) {
    sl_status st = need(r, 4, what);
    if (st) return st;
    memcpy(v, r->base + r->pos, 4);
    r->pos += 4;
    return SL_OK;
}

static sl_status rd_u64(reader *r, uint64_t *v, const char *what) {
    sl_status st = need(r, 8, what);
    if (st) return st;
    memcpy(v, r->base + r->pos, 8);
    r->pos += 8;
    return SL_OK;
}

static sl_status rd_str(reader *r, sl_gguf_str *s, const char *what) {
    uint64_t len;
    sl_status st = rd_u64(r, &len, what);
    if (st) return st;
    if (len > remaining(r))
        return fail(r, SL_ERR_FORMAT,
                    "%s: string length %llu runs past the end of the file (%zu bytes remain at "
                    "offset %zu)",
                    what, (unsigned long long)len, remaining(r), r->pos);
    s->ptr = (const char *)r->base + r->pos;
    s->len = len;
    r->pos += (size_t)len;
    return SL_OK;
}

/* ---- a set of names, to reject duplicates in O(n) ------------------------ */

typedef struct {
    const char *ptr; /* NULL: empty slot (names are never empty, so never NULL) */
    uint64_t len;
    uint64_t index;
} name_slot;

typedef struct {
    name_slot *slots;
    size_t mask; /* capacity - 1, capacity a power of two >= 2n */
} name_set;

static uint64_t hash_name(sl_gguf_str s) {
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (uint64_t i = 0; i < s.len; i++) h = (h ^ (unsigned char)s.ptr[i]) * 1099511628211ull;
    return h;
}

static bool name_set_init(name_set *set, uint64_t n) {
    size_t cap = 16;
    while (cap < 2 * n) cap *= 2; /* n is bounded by file size / 14, no overflow */
    set->slots = calloc(cap, sizeof *set->slots);
    set->mask = cap - 1;
    return set->slots != NULL;
}

static void name_set_free(name_set *set) {
    free(set->slots);
    set->slots = NULL;
}

/* Inserts s; returns false and sets *first when it was already present. */
static bool name_set_insert(name_set *set, sl_gguf_str s, uint64_t index, uint64_t *first) {
    size_t i = (size_t)hash_name(s) & set->mask;
    for (;; i = (i + 1) & set->mask) {
        name_slot *e = &set->slots[i];
        if (!e->ptr) {
            e->ptr = s.ptr;
            e->len = s.len;
            e->index = index;
            return true;
        }
        if (e->len == s.len && memcmp(e->ptr, s.ptr, (size_t)s.len) == 0) {
            *first = e->index;
            return false;
        }
    }
}

/* ---- metadata ------------------------------------------------------------ */

static sl_status read_scalar(reader *r, sl_gguf_kv *kv) {
    size_t n = sl_gguf_type_size(kv->type);
    sl_status st = need(r, n, "value");
    if (st) return st;
    const unsigned char *p = r->base + r->pos;
    r->pos += n;
    switch (kv->type) {
    case SL_GGUF_UINT8: kv->v.u64 = p[0]; break;
    case SL_GGUF_BOOL: kv->v.u64 = p[0] != 0; break; /* as ggml: any non-zero byte is true */
    case SL_GGUF_INT8: kv->v.i64 = (int8_t)p[0]; break;
    case SL_GGUF_UINT16: { uint16_t x; memcpy(&x, p, 2); kv->v.u64 = x; break; }
    case SL_GGUF_INT16: { int16_t x; memcpy(&x, p, 2); kv->v.i64 = x; break; }
    case SL_GGUF_UINT32: { uint32_t x; memcpy(&x, p, 4); kv->v.u64 = x; break; }
    case SL_GGUF_INT32: { int32_t x; memcpy(&x, p, 4); kv->v.i64 = x; break; }
    case SL_GGUF_UINT64: memcpy(&kv->v.u64, p, 8); break;
    case SL_GGUF_INT64: memcpy(&kv->v.i64, p, 8); break;
    case SL_GGUF_FLOAT32: { float x; memcpy(&x, p, 4); kv->v.f64 = x; break; }
    case SL_GGUF_FLOAT64: memcpy(&kv->v.f64, p, 8); break;
    default: break; /* callers handle string and array */
    }
    return SL_OK;
}

static sl_status read_array(reader *r, sl_gguf_kv *kv) {
    uint32_t et;
    uint64_t n;
    sl_status st = rd_u32(r, &et, "array element type");
    if (st) return st;
    if (et == SL_GGUF_ARRAY)
        return fail(r, SL_ERR_FORMAT, "nested arrays (array of arrays) are not supported");
    if (et >= SL_GGUF_TYPE_COUNT)
        return fail(r, SL_ERR_FORMAT, "unknown array element type id %u (expected 0..%d)", et,
                    SL_GGUF_TYPE_COUNT - 1);
    if ((st = rd_u64(r, &n, "array count"))) return st;
    kv->arr_type = (sl_gguf_type)et;
    if (et == SL_GGUF_STRING) {
        /* Each string costs at least its 8-byte length, so this bounds the
         * allocation by the file size. */
        if (n > remaining(r) / 8)
            return fail(r, SL_ERR_FORMAT,
                        "array count %llu of strings cannot fit: %zu bytes remain, each string "
                        "needs at least 8",
                        (unsigned long long)n, remaining(r));
        if (n) {
            kv->arr_strs = calloc((size_t)n, sizeof *kv->arr_strs);
            if (!kv->arr_strs)
                return fail(r, SL_ERR_NOMEM, "cannot allocate %llu string views",
                            (unsigned long long)n);
        }
        kv->arr_n = n;
        for (uint64_t i = 0; i < n; i++) {
            char what[48];
            snprintf(what, sizeof what, "element %llu", (unsigned long long)i);
            if ((st = rd_str(r, &kv->arr_strs[i], what))) return st;
        }
        return SL_OK;
    }
    size_t esz = sl_gguf_type_size((sl_gguf_type)et);
    if (n > remaining(r) / esz)
        return fail(r, SL_ERR_FORMAT,
                    "array count %llu of %s (%zu bytes each) runs past the end of the file (%zu "
                    "bytes remain)",
                    (unsigned long long)n, sl_gguf_type_name((sl_gguf_type)et), esz, remaining(r));
    kv->arr_n = n;
    kv->arr_data = r->base + r->pos;
    r->pos += (size_t)n * esz;
    return SL_OK;
}

static sl_status read_kvs(reader *r, sl_gguf *g) {
    if (g->n_kv == 0) return SL_OK;
    g->kv = calloc((size_t)g->n_kv, sizeof *g->kv);
    if (!g->kv) return fail(r, SL_ERR_NOMEM, "cannot allocate %llu key/value pairs",
                            (unsigned long long)g->n_kv);
    name_set seen;
    if (!name_set_init(&seen, g->n_kv)) return fail(r, SL_ERR_NOMEM, "out of memory");
    sl_status st = SL_OK;
    r->kind = "key";
    for (uint64_t i = 0; i < g->n_kv && !st; i++) {
        sl_gguf_kv *kv = &g->kv[i];
        uint32_t type;
        uint64_t first;
        r->index = i;
        r->name.len = 0;
        if ((st = rd_str(r, &kv->key, "key"))) break;
        if (kv->key.len == 0) {
            st = fail(r, SL_ERR_FORMAT, "empty key (expected a name such as general.name)");
            break;
        }
        r->name = kv->key;
        if (!name_set_insert(&seen, kv->key, i, &first)) {
            st = fail(r, SL_ERR_FORMAT, "duplicate key (first defined as key #%llu)",
                      (unsigned long long)first);
            break;
        }
        if ((st = rd_u32(r, &type, "value type"))) break;
        if (type >= SL_GGUF_TYPE_COUNT) {
            st = fail(r, SL_ERR_FORMAT, "unknown value type id %u (expected 0..%d)", type,
                      SL_GGUF_TYPE_COUNT - 1);
            break;
        }
        kv->type = (sl_gguf_type)type;
        if (type == SL_GGUF_ARRAY)
            st = read_array(r, kv);
        else if (type == SL_GGUF_STRING)
            st = rd_str(r, &kv->v.str, "string value");
        else
            st = read_scalar(r, kv);
    }
    name_set_free(&seen);
    return st;
}

static sl_status read_alignment(reader *r, sl_gguf *g) {
    g->alignment = SL_GGUF_DEFAULT_ALIGNMENT;
    const sl_gguf_kv *kv = sl_gguf_find(g, "general.alignment");
    if (!kv) return SL_OK;
    r->kind = "key";
    r->name = kv->key;
    if (kv->type != SL_GGUF_UINT32)
        return fail(r, SL_ERR_FORMAT, "type is %s, expected uint32", sl_gguf_type_name(kv->type));
    uint64_t a = kv->v.u64;
    if (a == 0 || (a & (a - 1)) != 0)
        return fail(r, SL_ERR_FORMAT, "alignment %llu is not a non-zero power of two",
                    (unsigned long long)a);
    g->alignment = a;
    return SL_OK;
}

/* ---- tensors --------------------------------------------------------------- */

static sl_status read_tensor_info(reader *r, sl_gguf_tensor *t) {
    sl_status st;
    if ((st = rd_str(r, &t->name, "name"))) return st;
    if (t->name.len == 0) return fail(r, SL_ERR_FORMAT, "empty tensor name");
    if (t->name.len > MAX_TENSOR_NAME)
        return fail(r, SL_ERR_FORMAT, "name is %llu bytes long, at most %u allowed",
                    (unsigned long long)t->name.len, MAX_TENSOR_NAME);
    r->name = t->name;
    if ((st = rd_u32(r, &t->n_dims, "n_dims"))) return st;
    if (t->n_dims < 1 || t->n_dims > SL_GGUF_MAX_DIMS)
        return fail(r, SL_ERR_FORMAT, "n_dims = %u, expected 1..%d", t->n_dims, SL_GGUF_MAX_DIMS);
    int64_t nel = 1;
    for (int d = 0; d < SL_GGUF_MAX_DIMS; d++) t->ne[d] = 1;
    for (uint32_t d = 0; d < t->n_dims; d++) {
        if ((st = rd_u64(r, &t->ne[d], "shape"))) return st;
        if (t->ne[d] == 0 || t->ne[d] > (uint64_t)INT64_MAX)
            return fail(r, SL_ERR_FORMAT, "ne[%u] = %llu, expected 1..2^63-1", d,
                        (unsigned long long)t->ne[d]);
        if (__builtin_mul_overflow(nel, (int64_t)t->ne[d], &nel))
            return fail(r, SL_ERR_FORMAT, "element count of shape overflows 64 bits at ne[%u]", d);
    }
    if ((st = rd_u32(r, &t->type, "type"))) return st;
    int bs = sl_type_block_size(t->type);
    if (bs == 0)
        return fail(r, SL_ERR_UNSUPPORTED, "unknown type id %u (not a ggml type this reader knows)",
                    t->type);
    if (t->ne[0] % (uint64_t)bs != 0)
        return fail(r, SL_ERR_FORMAT, "ne[0] = %llu is not a multiple of the %s block size %d",
                    (unsigned long long)t->ne[0], sl_type_name(t->type), bs);
    uint64_t bytes;
    if (__builtin_mul_overflow((uint64_t)nel / (uint64_t)bs,
                               (uint64_t)sl_type_block_bytes(t->type), &bytes))
        return fail(r, SL_ERR_FORMAT, "byte size of %lld %s elements overflows 64 bits",
                    (long long)nel, sl_type_name(t->type));
    t->nbytes = bytes;
    return rd_u64(r, &t->offset, "offset");
}

typedef struct {
    uint64_t begin, end, index;
} span;

static int span_cmp(const void *a, const void *b) {
    const span *x = a, *y = b;
    return x->begin < y->begin ? -1 : x->begin > y->begin ? 1 : 0;
}

/* Places every tensor inside the data section and rejects overlaps, so a
 * consumer may treat each tensor's bytes as its own. */
static sl_status place_tensors(reader *r, sl_gguf *g) {
    if (g->n_tensors == 0) return SL_OK;
    r->kind = "tensor";
    r->name.len = 0;
    if (g->data_offset > r->size)
        return fail(r, SL_ERR_FORMAT,
                    "data section starts at %llu (header end aligned to %llu), past the end of "
                    "the file (%zu bytes)",
                    (unsigned long long)g->data_offset, (unsigned long long)g->alignment, r->size);
    uint64_t avail = r->size - g->data_offset;
    span *spans = malloc((size_t)g->n_tensors * sizeof *spans);
    if (!spans) return fail(r, SL_ERR_NOMEM, "out of memory");
    sl_status st = SL_OK;
    for (uint64_t i = 0; i < g->n_tensors && !st; i++) {
        sl_gguf_tensor *t = &g->tensors[i];
        r->index = i;
        r->name = t->name;
        if (t->offset % g->alignment != 0) {
            st = fail(r, SL_ERR_FORMAT, "offset %llu is not a multiple of the alignment %llu",
                      (unsigned long long)t->offset, (unsigned long long)g->alignment);
            break;
        }
        if (t->offset > avail || t->nbytes > avail - t->offset) {
            st = fail(r, SL_ERR_FORMAT,
                      "data at offset %llu + %llu bytes runs past the end of the file (the "
                      "data section holds %llu bytes)",
                      (unsigned long long)t->offset, (unsigned long long)t->nbytes,
                      (unsigned long long)avail);
            break;
        }
        spans[i] = (span){t->offset, t->offset + t->nbytes, i};
        t->data = r->base + g->data_offset + t->offset;
    }
    if (!st) {
        qsort(spans, (size_t)g->n_tensors, sizeof *spans, span_cmp);
        for (uint64_t i = 1; i < g->n_tensors && !st; i++) {
            if (spans[i].begin >= spans[i - 1].end) continue;
            const sl_gguf_tensor *a = &g->tensors[spans[i - 1].index];
            r->index = spans[i].index;
            r->name = g->tensors[spans[i].index].name;
            char name[MSG_NAME_MAX + 1];
            st = fail(r, SL_ERR_FORMAT, "data at offset %llu overlaps tensor '%s' [%llu, %llu)",
                      (unsigned long long)spans[i].begin, show_name(name, a->name),
                      (unsigned long long)spans[i - 1].begin,
                      (unsigned long long)spans[i - 1].end);
        }
    }
    free(spans);
    return st;
}

static sl_status read_tensors(reader *r, sl_gguf *g) {
    if (g->n_tensors == 0) return SL_OK;
    r->kind = "tensor";
    r->name.len = 0;
    if (g->n_tensors > remaining(r) / MIN_TENSOR_INFO_BYTES)
        return fail(r, SL_ERR_FORMAT,
                    "n_tensors = %llu cannot fit in the %zu bytes left after the metadata",
                    (unsigned long long)g->n_tensors, remaining(r));
    g->tensors = calloc((size_t)g->n_tensors, sizeof *g->tensors);
    if (!g->tensors) return fail(r, SL_ERR_NOMEM, "out of memory");
    name_set seen;
    if (!name_set_init(&seen, g->n_tensors)) return fail(r, SL_ERR_NOMEM, "out of memory");
    sl_status st = SL_OK;
    for (uint64_t i = 0; i < g->n_tensors && !st; i++) {
        uint64_t first;
        r->index = i;
        r->name.len = 0;
        if ((st = read_tensor_info(r, &g->tensors[i]))) break;
        if (!name_set_insert(&seen, g->tensors[i].name, i, &first))
            st = fail(r, SL_ERR_FORMAT, "duplicate tensor name (first defined as tensor #%llu)",
                      (unsigned long long)first);
    }
    name_set_free(&seen);
    return st;
}

/* ---- header and entry points ------------------------------------------------ */

static sl_status parse(sl_gguf *g, sl_error *err) {
    reader r = {.base = g->file.data, .size = g->file.size, .path = g->path, .err = err,
                .kind = "header"};
    uint32_t magic;
    sl_status st;
    if (r.size < 4)
        return fail(&r, SL_ERR_FORMAT, "truncated: file is %zu bytes, too short for the magic",
                    r.size);
    memcpy(&magic, r.base, 4);
    if (magic != SL_GGUF_MAGIC) {
        char shown[5];
        for (int i = 0; i < 4; i++)
            shown[i] = r.base[i] >= 0x20 && r.base[i] < 0x7f ? (char)r.base[i] : '?';
        shown[4] = 0;
        return fail(&r, SL_ERR_FORMAT,
                    "not a GGUF file: magic is %02x %02x %02x %02x (\"%s\"), expected \"GGUF\"",
                    r.base[0], r.base[1], r.base[2], r.base[3], shown);
    }
    r.pos = 4;
    if ((st = rd_u32(&r, &g->version, "version"))) return st;
    if (g->version == 1)
        return fail(&r, SL_ERR_UNSUPPORTED,
                    "GGUF version 1 is not supported (expected version 2 or 3; re-convert the file)");
    if (g->version != 2 && g->version != 3)
        return fail(&r, SL_ERR_UNSUPPORTED, "GGUF version %u is not supported (expected 2 or 3%s)",
                    g->version,
                    (g->version & 0xffffu) == 0 ? "; is this a big-endian file?" : "");
    if ((st = rd_u64(&r, &g->n_tensors, "n_tensors"))) return st;
    if ((st = rd_u64(&r, &g->n_kv, "n_kv"))) return st;
    /* Bound both counts by what even the smallest encodings would need, so a
     * lying header cannot make us allocate. */
    if (g->n_kv > remaining(&r) / MIN_KV_BYTES)
        return fail(&r, SL_ERR_FORMAT,
                    "n_kv = %llu cannot fit: %zu bytes remain, each key/value needs at least %u",
                    (unsigned long long)g->n_kv, remaining(&r), MIN_KV_BYTES);
    if (g->n_tensors > remaining(&r) / MIN_TENSOR_INFO_BYTES)
        return fail(&r, SL_ERR_FORMAT,
                    "n_tensors = %llu cannot fit: %zu bytes remain, each tensor info needs at "
                    "least %u",
                    (unsigned long long)g->n_tensors, remaining(&r), MIN_TENSOR_INFO_BYTES);
    if ((st = read_kvs(&r, g))) return st;
    if ((st = read_alignment(&r, g))) return st;
    if ((st = read_tensors(&r, g))) return st;
    /* pos <= size and alignment <= 2^31, so the rounding cannot overflow. */
    g->data_offset = ((uint64_t)r.pos + g->alignment - 1) / g->alignment * g->alignment;
    return place_tensors(&r, g);
}

static sl_status open_common(sl_gguf **out, sl_gguf *g, sl_error *err) {
    sl_status st = parse(g, err);
    if (st) {
        sl_gguf_close(g);
        return st;
    }
    *out = g;
    return SL_OK;
}

sl_status sl_gguf_open(sl_gguf **out, const char *path, sl_error *err) {
    if (!out || !path) return sl_fail(err, SL_ERR_INVALID_ARG, "sl_gguf_open: NULL argument");
    *out = NULL;
    sl_gguf *g = calloc(1, sizeof *g);
    if (!g) return sl_fail(err, SL_ERR_NOMEM, "%s: out of memory", path);
    snprintf(g->path, sizeof g->path, "%s", path);
    sl_status st = sl_mapped_file_open(&g->file, path, err);
    if (st) {
        sl_gguf_close(g);
        return st;
    }
    return open_common(out, g, err);
}

sl_status sl_gguf_open_memory(sl_gguf **out, const void *data, size_t size, const char *name,
                              sl_error *err) {
    if (!out || (!data && size))
        return sl_fail(err, SL_ERR_INVALID_ARG, "sl_gguf_open_memory: NULL argument");
    *out = NULL;
    sl_gguf *g = calloc(1, sizeof *g);
    if (!g) return sl_fail(err, SL_ERR_NOMEM, "%s: out of memory", name ? name : "<memory>");
    snprintf(g->path, sizeof g->path, "%s", name ? name : "<memory>");
    sl_mapped_file_borrow(&g->file, data, size);
    return open_common(out, g, err);
}

void sl_gguf_close(sl_gguf *g) {
    if (!g) return;
    if (g->kv)
        for (uint64_t i = 0; i < g->n_kv; i++) free(g->kv[i].arr_strs);
    free(g->kv);
    free(g->tensors);
    sl_mapped_file_close(&g->file);
    free(g);
}

const sl_gguf_kv *sl_gguf_find(const sl_gguf *g, const char *key) {
    if (!g || !key) return NULL;
    for (uint64_t i = 0; i < g->n_kv; i++)
        if (sl_gguf_str_eq(g->kv[i].key, key)) return &g->kv[i];
    return NULL;
}

const sl_gguf_tensor *sl_gguf_find_tensor(const sl_gguf *g, const char *name) {
    if (!g || !name) return NULL;
    for (uint64_t i = 0; i < g->n_tensors; i++)
        if (sl_gguf_str_eq(g->tensors[i].name, name)) return &g->tensors[i];
    return NULL;
}
