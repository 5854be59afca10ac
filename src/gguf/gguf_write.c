/* gguf_write.c — builds a GGUF v3 file in memory, then writes it out.
 *
 * Each metadata value is encoded once, when set, into the exact bytes that
 * follow its type field in the file; writing is then a walk over those
 * buffers. Setting an existing key replaces its value in place, so keys keep
 * their first insertion order. Tensors are laid out in the order added, each
 * at an offset rounded up to the alignment (general.alignment when set,
 * else 32), and the data section is padded the same way, as ggml does.
 *
 * Files are written to a temporary name beside the target and renamed on
 * success: a failed write never leaves a half file behind, and rewriting a
 * file that is mapped (quantizing in place) never truncates the mapping. */
#include "gguf/gguf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"
#include "tensor/quant.h"

typedef struct {
    char *key;          /* NUL-terminated copy */
    sl_gguf_type type;  /* SL_GGUF_ARRAY for arrays */
    unsigned char *val; /* the encoded value: (val_len) bytes after the type field */
    size_t val_len;
} writer_kv;

typedef struct {
    char *name;
    uint32_t type, n_dims;
    uint64_t ne[SL_GGUF_MAX_DIMS];
    void *data; /* (nbytes) copied bytes */
    uint64_t nbytes;
} writer_tensor;

struct sl_gguf_writer {
    writer_kv *kv; /* (n_kv) in insertion order */
    size_t n_kv, cap_kv;
    writer_tensor *t; /* (n_t) in insertion order */
    size_t n_t, cap_t;
};

/* ---- a growable byte buffer for encoding values ---------------------------- */

typedef struct {
    unsigned char *p;
    size_t n, cap;
    bool oom;
} bytes;

static void put(bytes *b, const void *src, size_t n) {
    if (b->oom || n == 0) return;
    if (n > b->cap - b->n) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap - b->n < n) {
            if (cap > SIZE_MAX / 2) {
                b->oom = true;
                return;
            }
            cap *= 2;
        }
        unsigned char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, src, n);
    b->n += n;
}

static void put_u32(bytes *b, uint32_t v) { put(b, &v, 4); }
static void put_u64(bytes *b, uint64_t v) { put(b, &v, 8); }
static void put_str(bytes *b, const char *s, uint64_t len) {
    put_u64(b, len);
    put(b, s, (size_t)len);
}

/* ---- create / free ------------------------------------------------------------ */

sl_status sl_gguf_writer_create(sl_gguf_writer **out, sl_error *err) {
    if (!out) return sl_fail(err, SL_ERR_INVALID_ARG, "sl_gguf_writer_create: NULL out");
    *out = calloc(1, sizeof **out);
    if (!*out) return sl_fail(err, SL_ERR_NOMEM, "gguf writer: out of memory");
    return SL_OK;
}

void sl_gguf_writer_free(sl_gguf_writer *w) {
    if (!w) return;
    for (size_t i = 0; i < w->n_kv; i++) {
        free(w->kv[i].key);
        free(w->kv[i].val);
    }
    for (size_t i = 0; i < w->n_t; i++) {
        free(w->t[i].name);
        free(w->t[i].data);
    }
    free(w->kv);
    free(w->t);
    free(w);
}

/* ---- metadata ------------------------------------------------------------------ */

static writer_kv *find_kv(sl_gguf_writer *w, const char *key) {
    for (size_t i = 0; i < w->n_kv; i++)
        if (strcmp(w->kv[i].key, key) == 0) return &w->kv[i];
    return NULL;
}

/* Stores an encoded value under key, taking ownership of b's buffer either way. */
static sl_status set_encoded(sl_gguf_writer *w, const char *key, sl_gguf_type type, bytes *b) {
    if (b->oom) {
        free(b->p);
        return SL_ERR_NOMEM;
    }
    writer_kv *kv = find_kv(w, key);
    if (kv) {
        free(kv->val);
    } else {
        if (w->n_kv == w->cap_kv) {
            size_t cap = w->cap_kv ? w->cap_kv * 2 : 16;
            writer_kv *p = realloc(w->kv, cap * sizeof *p);
            if (!p) {
                free(b->p);
                return SL_ERR_NOMEM;
            }
            w->kv = p;
            w->cap_kv = cap;
        }
        char *k = strdup(key);
        if (!k) {
            free(b->p);
            return SL_ERR_NOMEM;
        }
        kv = &w->kv[w->n_kv++];
        kv->key = k;
    }
    kv->type = type;
    kv->val = b->p;
    kv->val_len = b->n;
    return SL_OK;
}

static bool valid_key(const sl_gguf_writer *w, const char *key) { return w && key && *key; }

sl_status sl_gguf_writer_set_scalar(sl_gguf_writer *w, const char *key, sl_gguf_type type,
                                    const void *value) {
    size_t n = sl_gguf_type_size(type);
    if (!valid_key(w, key) || !value || n == 0) return SL_ERR_INVALID_ARG;
    bytes b = {0};
    if (type == SL_GGUF_BOOL) {
        unsigned char v = *(const unsigned char *)value != 0;
        put(&b, &v, 1);
    } else {
        put(&b, value, n);
    }
    return set_encoded(w, key, type, &b);
}

sl_status sl_gguf_writer_set_u32(sl_gguf_writer *w, const char *key, uint32_t v) {
    return sl_gguf_writer_set_scalar(w, key, SL_GGUF_UINT32, &v);
}
sl_status sl_gguf_writer_set_i32(sl_gguf_writer *w, const char *key, int32_t v) {
    return sl_gguf_writer_set_scalar(w, key, SL_GGUF_INT32, &v);
}
sl_status sl_gguf_writer_set_u64(sl_gguf_writer *w, const char *key, uint64_t v) {
    return sl_gguf_writer_set_scalar(w, key, SL_GGUF_UINT64, &v);
}
sl_status sl_gguf_writer_set_f32(sl_gguf_writer *w, const char *key, float v) {
    return sl_gguf_writer_set_scalar(w, key, SL_GGUF_FLOAT32, &v);
}
sl_status sl_gguf_writer_set_bool(sl_gguf_writer *w, const char *key, bool v) {
    unsigned char b = v;
    return sl_gguf_writer_set_scalar(w, key, SL_GGUF_BOOL, &b);
}

static sl_status set_str_n(sl_gguf_writer *w, const char *key, const char *v, uint64_t len) {
    if (!valid_key(w, key) || (!v && len)) return SL_ERR_INVALID_ARG;
    bytes b = {0};
    put_str(&b, v, len);
    return set_encoded(w, key, SL_GGUF_STRING, &b);
}

sl_status sl_gguf_writer_set_str(sl_gguf_writer *w, const char *key, const char *v) {
    if (!v) return SL_ERR_INVALID_ARG;
    return set_str_n(w, key, v, strlen(v));
}

sl_status sl_gguf_writer_set_arr(sl_gguf_writer *w, const char *key, sl_gguf_type type,
                                 const void *data, uint64_t n) {
    size_t esz = sl_gguf_type_size(type);
    if (!valid_key(w, key) || esz == 0 || (!data && n) || n > SIZE_MAX / esz)
        return SL_ERR_INVALID_ARG;
    bytes b = {0};
    put_u32(&b, (uint32_t)type);
    put_u64(&b, n);
    if (type == SL_GGUF_BOOL) {
        const unsigned char *src = data;
        for (uint64_t i = 0; i < n; i++) {
            unsigned char v = src[i] != 0;
            put(&b, &v, 1);
        }
    } else {
        put(&b, data, (size_t)n * esz);
    }
    return set_encoded(w, key, SL_GGUF_ARRAY, &b);
}

/* strs/lens or views: exactly one of them is non-NULL. */
static sl_status set_arr_str_any(sl_gguf_writer *w, const char *key, const char *const *strs,
                                 const uint64_t *lens, const sl_gguf_str *views, uint64_t n) {
    if (!valid_key(w, key) || (n && !strs && !views)) return SL_ERR_INVALID_ARG;
    bytes b = {0};
    put_u32(&b, SL_GGUF_STRING);
    put_u64(&b, n);
    for (uint64_t i = 0; i < n; i++) {
        const char *s = views ? views[i].ptr : strs[i];
        uint64_t len = views ? views[i].len : lens ? lens[i] : s ? strlen(s) : 0;
        if (!s && (len || !views)) {
            free(b.p);
            return SL_ERR_INVALID_ARG;
        }
        put_str(&b, s, len);
    }
    return set_encoded(w, key, SL_GGUF_ARRAY, &b);
}

sl_status sl_gguf_writer_set_arr_str(sl_gguf_writer *w, const char *key, const char *const *strs,
                                     const uint64_t *lens, uint64_t n) {
    return set_arr_str_any(w, key, strs, lens, NULL, n);
}

static bool in_list(const char *const *list, sl_gguf_str key) {
    for (; list && *list; list++)
        if (sl_gguf_str_eq(key, *list)) return true;
    return false;
}

sl_status sl_gguf_writer_copy_kvs(sl_gguf_writer *w, const sl_gguf *src, const char *const *skip,
                                  sl_error *err) {
    if (!w || !src) return sl_fail(err, SL_ERR_INVALID_ARG, "sl_gguf_writer_copy_kvs: NULL argument");
    for (uint64_t i = 0; i < src->n_kv; i++) {
        const sl_gguf_kv *kv = &src->kv[i];
        if (in_list(skip, kv->key)) continue;
        /* Keys in a parsed file are views; the writer's API takes C strings. */
        char *key = strndup(kv->key.ptr, (size_t)kv->key.len);
        if (!key) return sl_fail(err, SL_ERR_NOMEM, "%s: out of memory", src->path);
        if (strlen(key) != kv->key.len) {
            free(key);
            return sl_fail(err, SL_ERR_INVALID_ARG, "%s: key #%llu contains a NUL byte",
                           src->path, (unsigned long long)i);
        }
        sl_status st;
        union {
            uint8_t u8; uint16_t u16; uint32_t u32; uint64_t u64; float f32; double f64;
        } raw;
        switch (kv->type) {
        case SL_GGUF_UINT8: case SL_GGUF_INT8: case SL_GGUF_BOOL:
            raw.u8 = (uint8_t)kv->v.u64; break;
        case SL_GGUF_UINT16: case SL_GGUF_INT16: raw.u16 = (uint16_t)kv->v.u64; break;
        case SL_GGUF_UINT32: case SL_GGUF_INT32: raw.u32 = (uint32_t)kv->v.u64; break;
        case SL_GGUF_FLOAT32: raw.f32 = (float)kv->v.f64; break;
        default: raw.u64 = kv->v.u64; break; /* 64-bit types; unused for string/array */
        }
        if (kv->type == SL_GGUF_STRING)
            st = set_str_n(w, key, kv->v.str.ptr, kv->v.str.len);
        else if (kv->type == SL_GGUF_ARRAY && kv->arr_type == SL_GGUF_STRING)
            st = set_arr_str_any(w, key, NULL, NULL, kv->arr_strs, kv->arr_n);
        else if (kv->type == SL_GGUF_ARRAY)
            st = sl_gguf_writer_set_arr(w, key, kv->arr_type, kv->arr_data, kv->arr_n);
        else
            st = sl_gguf_writer_set_scalar(w, key, kv->type, &raw);
        if (st) sl_fail(err, st, "%s: cannot copy key '%s': %s", src->path, key, sl_status_str(st));
        free(key);
        if (st) return st;
    }
    return SL_OK;
}

/* ---- tensors --------------------------------------------------------------------- */

sl_status sl_gguf_writer_add_tensor(sl_gguf_writer *w, const char *name, uint32_t type,
                                    uint32_t n_dims, const uint64_t *ne, const void *data,
                                    uint64_t nbytes, sl_error *err) {
    if (!w || !name || !*name || !ne || (!data && nbytes))
        return sl_fail(err, SL_ERR_INVALID_ARG, "gguf writer: add_tensor: NULL or empty argument");
    if (strlen(name) > 63)
        return sl_fail(err, SL_ERR_INVALID_ARG,
                       "gguf writer: tensor '%s': name is longer than 63 bytes", name);
    for (size_t i = 0; i < w->n_t; i++)
        if (strcmp(w->t[i].name, name) == 0)
            return sl_fail(err, SL_ERR_INVALID_ARG, "gguf writer: tensor '%s' added twice", name);
    if (n_dims < 1 || n_dims > SL_GGUF_MAX_DIMS)
        return sl_fail(err, SL_ERR_INVALID_ARG, "gguf writer: tensor '%s': n_dims = %u, expected 1..%d",
                       name, n_dims, SL_GGUF_MAX_DIMS);
    int bs = sl_type_block_size(type);
    if (bs == 0)
        return sl_fail(err, SL_ERR_INVALID_ARG, "gguf writer: tensor '%s': unknown type id %u",
                       name, type);
    uint64_t nel = 1;
    for (uint32_t d = 0; d < n_dims; d++) {
        if (ne[d] == 0 || ne[d] > (uint64_t)INT64_MAX || __builtin_mul_overflow(nel, ne[d], &nel) ||
            nel > (uint64_t)INT64_MAX)
            return sl_fail(err, SL_ERR_INVALID_ARG,
                           "gguf writer: tensor '%s': ne[%u] = %llu is zero or overflows", name, d,
                           (unsigned long long)ne[d]);
    }
    if (ne[0] % (uint64_t)bs != 0)
        return sl_fail(err, SL_ERR_INVALID_ARG,
                       "gguf writer: tensor '%s': ne[0] = %llu is not a multiple of the %s block "
                       "size %d",
                       name, (unsigned long long)ne[0], sl_type_name(type), bs);
    uint64_t want;
    if (__builtin_mul_overflow(nel / (uint64_t)bs, (uint64_t)sl_type_block_bytes(type), &want) ||
        want != nbytes || want > SIZE_MAX)
        return sl_fail(err, SL_ERR_INVALID_ARG,
                       "gguf writer: tensor '%s': nbytes = %llu, but %llu %s elements need %llu",
                       name, (unsigned long long)nbytes, (unsigned long long)nel,
                       sl_type_name(type), (unsigned long long)want);
    if (w->n_t == w->cap_t) {
        size_t cap = w->cap_t ? w->cap_t * 2 : 16;
        writer_tensor *p = realloc(w->t, cap * sizeof *p);
        if (!p) return sl_fail(err, SL_ERR_NOMEM, "gguf writer: out of memory");
        w->t = p;
        w->cap_t = cap;
    }
    writer_tensor t = {.type = type, .n_dims = n_dims, .nbytes = nbytes};
    for (int d = 0; d < SL_GGUF_MAX_DIMS; d++) t.ne[d] = d < (int)n_dims ? ne[d] : 1;
    t.name = strdup(name);
    t.data = malloc((size_t)nbytes);
    if (!t.name || !t.data) {
        free(t.name);
        free(t.data);
        return sl_fail(err, SL_ERR_NOMEM, "gguf writer: tensor '%s': cannot copy %llu bytes",
                       name, (unsigned long long)nbytes);
    }
    memcpy(t.data, data, (size_t)nbytes);
    w->t[w->n_t++] = t;
    return SL_OK;
}

/* ---- output ------------------------------------------------------------------------ */

static sl_status alignment_of(sl_gguf_writer *w, uint64_t *align, sl_error *err) {
    *align = SL_GGUF_DEFAULT_ALIGNMENT;
    const writer_kv *kv = find_kv(w, "general.alignment");
    if (!kv) return SL_OK;
    if (kv->type != SL_GGUF_UINT32)
        return sl_fail(err, SL_ERR_INVALID_ARG, "gguf writer: general.alignment is %s, expected uint32",
                       sl_gguf_type_name(kv->type));
    uint32_t a;
    memcpy(&a, kv->val, 4);
    if (a == 0 || (a & (a - 1)) != 0)
        return sl_fail(err, SL_ERR_INVALID_ARG,
                       "gguf writer: general.alignment = %u is not a non-zero power of two", a);
    *align = a;
    return SL_OK;
}

static uint64_t pad_to(uint64_t n, uint64_t align) { return (n + align - 1) / align * align; }

static bool put_zeros(FILE *fp, uint64_t n) {
    static const unsigned char zeros[64];
    while (n) {
        size_t k = n < sizeof zeros ? (size_t)n : sizeof zeros;
        if (fwrite(zeros, 1, k, fp) != k) return false;
        n -= k;
    }
    return true;
}

/* Writes the whole file to fp; false on any write error. */
static bool write_stream(const sl_gguf_writer *w, uint64_t align, FILE *fp) {
    bytes h = {0}; /* everything before the data section */
    put_u32(&h, SL_GGUF_MAGIC);
    put_u32(&h, 3);
    put_u64(&h, w->n_t);
    put_u64(&h, w->n_kv);
    for (size_t i = 0; i < w->n_kv; i++) {
        put_str(&h, w->kv[i].key, strlen(w->kv[i].key));
        put_u32(&h, (uint32_t)w->kv[i].type);
        put(&h, w->kv[i].val, w->kv[i].val_len);
    }
    uint64_t off = 0;
    for (size_t i = 0; i < w->n_t; i++) {
        const writer_tensor *t = &w->t[i];
        put_str(&h, t->name, strlen(t->name));
        put_u32(&h, t->n_dims);
        for (uint32_t d = 0; d < t->n_dims; d++) put_u64(&h, t->ne[d]);
        put_u32(&h, t->type);
        put_u64(&h, off);
        off += pad_to(t->nbytes, align);
    }
    bool ok = !h.oom && fwrite(h.p, 1, h.n, fp) == h.n;
    /* Like ggml: no padding after the header when there is no data section. */
    if (ok && w->n_t) ok = put_zeros(fp, pad_to(h.n, align) - h.n);
    free(h.p);
    for (size_t i = 0; ok && i < w->n_t; i++) {
        const writer_tensor *t = &w->t[i];
        ok = fwrite(t->data, 1, (size_t)t->nbytes, fp) == t->nbytes &&
             put_zeros(fp, pad_to(t->nbytes, align) - t->nbytes);
    }
    return ok;
}

sl_status sl_gguf_writer_write(sl_gguf_writer *w, const char *path, sl_error *err) {
    if (!w || !path) return sl_fail(err, SL_ERR_INVALID_ARG, "sl_gguf_writer_write: NULL argument");
    uint64_t align;
    sl_status st = alignment_of(w, &align, err);
    if (st) return st;
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.%ld.tmp", path, (long)getpid()) >= (int)sizeof tmp)
        return sl_fail(err, SL_ERR_INVALID_ARG, "%s: path too long", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0666);
    if (fd < 0)
        return sl_fail(err, SL_ERR_IO, "%s: cannot create: %s", tmp, strerror(errno));
    FILE *fp = fdopen(fd, "wb");
    if (!fp) {
        int e = errno;
        close(fd);
        unlink(tmp);
        return sl_fail(err, SL_ERR_IO, "%s: cannot open: %s", tmp, strerror(e));
    }
    bool ok = write_stream(w, align, fp);
    int e = errno;
    if (fclose(fp) != 0 && ok) {
        ok = false;
        e = errno;
    }
    if (ok && rename(tmp, path) != 0) {
        ok = false;
        e = errno;
    }
    if (!ok) {
        unlink(tmp);
        return sl_fail(err, SL_ERR_IO, "%s: write failed: %s", path, strerror(e));
    }
    return SL_OK;
}

sl_status sl_gguf_writer_write_memory(sl_gguf_writer *w, void **out, size_t *size, sl_error *err) {
    if (!w || !out || !size)
        return sl_fail(err, SL_ERR_INVALID_ARG, "sl_gguf_writer_write_memory: NULL argument");
    *out = NULL;
    *size = 0;
    uint64_t align;
    sl_status st = alignment_of(w, &align, err);
    if (st) return st;
    char *buf = NULL;
    size_t n = 0;
    FILE *fp = open_memstream(&buf, &n);
    if (!fp) return sl_fail(err, SL_ERR_NOMEM, "gguf writer: cannot open a memory stream");
    bool ok = write_stream(w, align, fp);
    if (fclose(fp) != 0) ok = false;
    if (!ok) {
        free(buf);
        return sl_fail(err, SL_ERR_NOMEM, "gguf writer: out of memory");
    }
    *out = buf;
    *size = n;
    return SL_OK;
}
