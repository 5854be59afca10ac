/* gguf.h — GGUF v2/v3 reader and writer. Knows nothing of models.
 *
 * The reader maps the file read-only and validates every count, length and
 * offset against the file size with overflow-safe arithmetic before anything
 * points into it. Strings are (ptr, len) views into the mapping, NOT
 * NUL-terminated. Tensor data pointers also point into the mapping, so they
 * live as long as the sl_gguf.
 *
 * Spec: ggml's docs/gguf.md. Little-endian only. */
#ifndef SL_GGUF_H
#define SL_GGUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "streamllm.h"
#include "core/mapped_file.h"

#define SL_GGUF_MAGIC 0x46554747u /* "GGUF" little-endian */
#define SL_GGUF_DEFAULT_ALIGNMENT 32
#define SL_GGUF_MAX_DIMS 4

typedef enum {
    SL_GGUF_UINT8 = 0,
    SL_GGUF_INT8 = 1,
    SL_GGUF_UINT16 = 2,
    SL_GGUF_INT16 = 3,
    SL_GGUF_UINT32 = 4,
    SL_GGUF_INT32 = 5,
    SL_GGUF_FLOAT32 = 6,
    SL_GGUF_BOOL = 7,
    SL_GGUF_STRING = 8,
    SL_GGUF_ARRAY = 9,
    SL_GGUF_UINT64 = 10,
    SL_GGUF_INT64 = 11,
    SL_GGUF_FLOAT64 = 12,
    SL_GGUF_TYPE_COUNT
} sl_gguf_type;

typedef struct {
    const char *ptr; /* not NUL-terminated */
    uint64_t len;
} sl_gguf_str;

typedef struct {
    sl_gguf_str key;
    sl_gguf_type type;
    union {
        uint64_t u64; /* all unsigned ints and bool, widened */
        int64_t i64;  /* all signed ints, widened */
        double f64;   /* float32 and float64, widened */
        sl_gguf_str str;
    } v;
    /* arrays (type == SL_GGUF_ARRAY): element type, count, and the raw
     * little-endian elements. For arrays of strings, strs holds n views
     * (allocated by the reader) and data is NULL. Nested arrays are rejected. */
    sl_gguf_type arr_type;
    uint64_t arr_n;
    const void *arr_data;
    sl_gguf_str *arr_strs;
} sl_gguf_kv;

typedef struct {
    sl_gguf_str name;
    uint32_t n_dims;
    uint64_t ne[SL_GGUF_MAX_DIMS]; /* ne[0] is the contiguous (row) dimension; unused dims = 1 */
    uint32_t type;                 /* a ggml type id, see tensor/quant.h */
    uint64_t offset;               /* relative to the data section */
    uint64_t nbytes;               /* validated against the type's block size */
    const void *data;              /* into the mapping */
} sl_gguf_tensor;

typedef struct {
    sl_mapped_file file;
    char path[256];       /* for messages */
    uint32_t version;     /* 2 or 3 */
    uint64_t n_kv;
    sl_gguf_kv *kv;       /* (n_kv) */
    uint64_t n_tensors;
    sl_gguf_tensor *tensors; /* (n_tensors) */
    uint64_t alignment;   /* general.alignment or 32 */
    uint64_t data_offset; /* start of the tensor data section in the file */
} sl_gguf;

/* Opens and validates path. On success *out must be closed with sl_gguf_close.
 * Errors: SL_ERR_IO (cannot open), SL_ERR_FORMAT (anything malformed, message
 * names the key/tensor and what was expected), SL_ERR_UNSUPPORTED (unknown
 * tensor type id, version 1). */
sl_status sl_gguf_open(sl_gguf **out, const char *path, sl_error *err);
/* Same over a caller-owned buffer (fuzzing, tests). name is used in messages. */
sl_status sl_gguf_open_memory(sl_gguf **out, const void *data, size_t size, const char *name,
                              sl_error *err);
void sl_gguf_close(sl_gguf *g);

/* Lookup. Return NULL when absent. */
const sl_gguf_kv *sl_gguf_find(const sl_gguf *g, const char *key);
const sl_gguf_tensor *sl_gguf_find_tensor(const sl_gguf *g, const char *name);

/* Typed getters: SL_OK, SL_ERR_NOT_FOUND (absent, *out untouched) or
 * SL_ERR_FORMAT (present with a type that cannot convert; message names key).
 * Integer getters accept any integer type whose value fits. */
sl_status sl_gguf_get_i64(const sl_gguf *g, const char *key, int64_t *out, sl_error *err);
sl_status sl_gguf_get_u32(const sl_gguf *g, const char *key, uint32_t *out, sl_error *err);
sl_status sl_gguf_get_f32(const sl_gguf *g, const char *key, float *out, sl_error *err);
sl_status sl_gguf_get_bool(const sl_gguf *g, const char *key, bool *out, sl_error *err);
sl_status sl_gguf_get_str(const sl_gguf *g, const char *key, sl_gguf_str *out, sl_error *err);
/* Array getter: checks element type (pass SL_GGUF_TYPE_COUNT to accept any). */
sl_status sl_gguf_get_arr(const sl_gguf *g, const char *key, sl_gguf_type want,
                          const sl_gguf_kv **out, sl_error *err);

/* Compares a view with a C string. */
bool sl_gguf_str_eq(sl_gguf_str s, const char *c);
const char *sl_gguf_type_name(sl_gguf_type t);

/* ---- writer ---------------------------------------------------------------
 * Collects metadata and tensors in memory, then writes a v3 file. Tensor data
 * is copied at add time (callers may free theirs). */
typedef struct sl_gguf_writer sl_gguf_writer;

sl_status sl_gguf_writer_create(sl_gguf_writer **out, sl_error *err);
void sl_gguf_writer_free(sl_gguf_writer *w);

sl_status sl_gguf_writer_set_u32(sl_gguf_writer *w, const char *key, uint32_t v);
sl_status sl_gguf_writer_set_i32(sl_gguf_writer *w, const char *key, int32_t v);
sl_status sl_gguf_writer_set_u64(sl_gguf_writer *w, const char *key, uint64_t v);
sl_status sl_gguf_writer_set_f32(sl_gguf_writer *w, const char *key, float v);
sl_status sl_gguf_writer_set_bool(sl_gguf_writer *w, const char *key, bool v);
sl_status sl_gguf_writer_set_str(sl_gguf_writer *w, const char *key, const char *v);
/* Any scalar type as raw little-endian bytes: value has sl_gguf_type_size(type) bytes. */
sl_status sl_gguf_writer_set_scalar(sl_gguf_writer *w, const char *key, sl_gguf_type type,
                                    const void *value);
/* Array of a fixed-size element type: n elements of sl_gguf_type_size(type). */
sl_status sl_gguf_writer_set_arr(sl_gguf_writer *w, const char *key, sl_gguf_type type,
                                 const void *data, uint64_t n);
/* Array of strings; lens may be NULL for NUL-terminated strings. */
sl_status sl_gguf_writer_set_arr_str(sl_gguf_writer *w, const char *key, const char *const *strs,
                                     const uint64_t *lens, uint64_t n);
/* Copies a tensor. ne has n_dims entries, ne[0] contiguous; nbytes must equal
 * what the type's block layout needs. */
sl_status sl_gguf_writer_add_tensor(sl_gguf_writer *w, const char *name, uint32_t type,
                                    uint32_t n_dims, const uint64_t *ne, const void *data,
                                    uint64_t nbytes, sl_error *err);
/* Copies every kv of src except those whose key is in skip (NULL-terminated
 * list, may be NULL). For conversion tools. */
sl_status sl_gguf_writer_copy_kvs(sl_gguf_writer *w, const sl_gguf *src, const char *const *skip,
                                  sl_error *err);
sl_status sl_gguf_writer_write(sl_gguf_writer *w, const char *path, sl_error *err);
/* Same bytes into a malloc'd buffer (*out, *size); the caller frees *out.
 * For tests, fuzz corpora and in-memory round trips. */
sl_status sl_gguf_writer_write_memory(sl_gguf_writer *w, void **out, size_t *size, sl_error *err);

/* Bytes of one scalar of type t (0 for string/array). */
size_t sl_gguf_type_size(sl_gguf_type t);

#endif
