/* fuzz_gguf.c — libFuzzer target for the GGUF reader.
 *
 * Parses the input as a GGUF file, then touches every byte the reader claims
 * is valid: each key, each scalar and string, the first and last element of
 * each array, the first and last byte of each tensor, plus the typed getters
 * and lookups. Any view that points outside the input shows up as an ASan
 * report. Build: make fuzz CC=clang BUILD=build-fuzz; seeds in fuzz/corpus/. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gguf/gguf.h"

static volatile unsigned char sink;

static void touch(const void *p, uint64_t n) {
    if (!n) return;
    const unsigned char *b = p;
    sink ^= b[0];
    sink ^= b[n - 1];
}

static void walk_kv(const sl_gguf *g, const sl_gguf_kv *kv) {
    touch(kv->key.ptr, kv->key.len);
    if (kv->type == SL_GGUF_STRING) touch(kv->v.str.ptr, kv->v.str.len);
    if (kv->type == SL_GGUF_ARRAY) {
        if (kv->arr_type == SL_GGUF_STRING) {
            for (uint64_t i = 0; i < kv->arr_n; i++) touch(kv->arr_strs[i].ptr, kv->arr_strs[i].len);
        } else {
            touch(kv->arr_data, kv->arr_n * sl_gguf_type_size(kv->arr_type));
        }
    }
    /* The getters need a C string key; keys may hold NUL bytes, which the
     * copy simply cuts short (a lookup miss is a valid outcome). */
    char key[128];
    size_t n = kv->key.len < sizeof key - 1 ? (size_t)kv->key.len : sizeof key - 1;
    memcpy(key, kv->key.ptr, n);
    key[n] = 0;
    sl_error err;
    int64_t i64;
    uint32_t u32;
    float f32;
    bool b;
    sl_gguf_str s;
    const sl_gguf_kv *arr;
    sl_gguf_get_i64(g, key, &i64, &err);
    sl_gguf_get_u32(g, key, &u32, &err);
    sl_gguf_get_f32(g, key, &f32, &err);
    sl_gguf_get_bool(g, key, &b, &err);
    if (sl_gguf_get_str(g, key, &s, &err) == SL_OK) touch(s.ptr, s.len);
    sl_gguf_get_arr(g, key, SL_GGUF_TYPE_COUNT, &arr, &err);
}

static bool has_nul(sl_gguf_str s) { return s.len && memchr(s.ptr, 0, (size_t)s.len) != NULL; }

/* Every file the reader accepts must survive the writer and read back with
 * the same counts. Names holding NUL bytes cannot pass through the writer's
 * C-string API, so those files are skipped. */
static void check_rewrite(const sl_gguf *g) {
    for (uint64_t i = 0; i < g->n_kv; i++)
        if (has_nul(g->kv[i].key)) return;
    for (uint64_t i = 0; i < g->n_tensors; i++)
        if (has_nul(g->tensors[i].name)) return;
    sl_gguf_writer *w = NULL;
    sl_error err;
    if (sl_gguf_writer_create(&w, &err) != SL_OK) return;
    if (sl_gguf_writer_copy_kvs(w, g, NULL, &err) != SL_OK) __builtin_trap();
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        const sl_gguf_tensor *t = &g->tensors[i];
        char name[64];
        memcpy(name, t->name.ptr, (size_t)t->name.len);
        name[t->name.len] = 0;
        if (sl_gguf_writer_add_tensor(w, name, t->type, t->n_dims, t->ne, t->data, t->nbytes,
                                      &err) != SL_OK)
            __builtin_trap();
    }
    void *buf = NULL;
    size_t n = 0;
    sl_gguf *back = NULL;
    if (sl_gguf_writer_write_memory(w, &buf, &n, &err) != SL_OK) __builtin_trap();
    if (sl_gguf_open_memory(&back, buf, n, "rewrite", &err) != SL_OK) __builtin_trap();
    if (back->n_kv != g->n_kv || back->n_tensors != g->n_tensors ||
        back->alignment != g->alignment)
        __builtin_trap();
    sl_gguf_close(back);
    free(buf);
    sl_gguf_writer_free(w);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    sl_gguf *g = NULL;
    sl_error err;
    if (sl_gguf_open_memory(&g, data, size, "fuzz", &err) != SL_OK) {
        touch(err.msg, strlen(err.msg) + 1);
        return 0;
    }
    /* Lookups are linear, so bound the getter walk to keep each run fast. */
    for (uint64_t i = 0; i < g->n_kv; i++) {
        if (i < 64)
            walk_kv(g, &g->kv[i]);
        else
            touch(g->kv[i].key.ptr, g->kv[i].key.len);
    }
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        const sl_gguf_tensor *t = &g->tensors[i];
        touch(t->name.ptr, t->name.len);
        touch(t->data, t->nbytes);
        if (i < 64) {
            char name[64];
            memcpy(name, t->name.ptr, (size_t)t->name.len); /* names are <= 63 bytes */
            name[t->name.len] = 0;
            sl_gguf_find_tensor(g, name);
        }
    }
    check_rewrite(g);
    sl_gguf_close(g);
    return 0;
}
