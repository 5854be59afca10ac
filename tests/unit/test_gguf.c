/* test_gguf.c — the GGUF reader and writer.
 *
 * Corrupt files are assembled here byte by byte from the spec (ggml
 * docs/gguf.md), not with our writer, so the reader is checked against the
 * format rather than against itself. Each corrupt file is copied into a
 * buffer of exactly its size, so ASan catches any read past the end. The
 * writer is checked byte-for-byte against a hand-assembled file and against
 * real files written by llama.cpp's gguf-py. */
#include <stdint.h>

#include "core/error.h"
#include "gguf/gguf.h"
#include "tensor/quant.h"
#include "test_util.h"

/* ---- a byte builder, independent of the writer under test ---------------- */

typedef struct {
    unsigned char p[4096];
    size_t n;
} tb;

static void tb_raw(tb *b, const void *src, size_t n) {
    if (b->n + n > sizeof b->p) { fprintf(stderr, "tb overflow\n"); exit(2); }
    memcpy(b->p + b->n, src, n);
    b->n += n;
}
static void tb_u8(tb *b, uint8_t v) { tb_raw(b, &v, 1); }
static void tb_u32(tb *b, uint32_t v) {
    unsigned char x[4] = {v & 255, (v >> 8) & 255, (v >> 16) & 255, v >> 24};
    tb_raw(b, x, 4);
}
static void tb_u64(tb *b, uint64_t v) {
    tb_u32(b, (uint32_t)v);
    tb_u32(b, (uint32_t)(v >> 32));
}
static void tb_str(tb *b, const char *s) {
    tb_u64(b, strlen(s));
    tb_raw(b, s, strlen(s));
}
static void tb_pad(tb *b, size_t align) {
    while (b->n % align) tb_u8(b, 0);
}
static void tb_hdr(tb *b, uint32_t version, uint64_t n_tensors, uint64_t n_kv) {
    tb_raw(b, "GGUF", 4);
    tb_u32(b, version);
    tb_u64(b, n_tensors);
    tb_u64(b, n_kv);
}
static void tb_kv_u32(tb *b, const char *key, uint32_t v) {
    tb_str(b, key);
    tb_u32(b, SL_GGUF_UINT32);
    tb_u32(b, v);
}
/* A tensor info with up to 4 dims. */
static void tb_tensor(tb *b, const char *name, uint32_t n_dims, const uint64_t *ne, uint32_t type,
                      uint64_t offset) {
    tb_str(b, name);
    tb_u32(b, n_dims);
    for (uint32_t d = 0; d < n_dims; d++) tb_u64(b, ne[d]);
    tb_u32(b, type);
    tb_u64(b, offset);
}

/* Opens an exact-size private copy of buf. Returns the status; on success
 * *out holds the file and *copy must be freed after closing it. */
static sl_status open_copy(const void *buf, size_t n, sl_gguf **out, void **copy, sl_error *err) {
    *copy = malloc(n ? n : 1);
    memcpy(*copy, buf, n);
    sl_error_clear(err);
    return sl_gguf_open_memory(out, *copy, n, "corrupt.gguf", err);
}

/* The file must be rejected with status want and a message that names the
 * file and contains substr. */
static void expect_reject_at(const tb *b, sl_status want, const char *substr, int line) {
    sl_gguf *g = (sl_gguf *)1;
    void *copy;
    sl_error err;
    sl_status st = open_copy(b->p, b->n, &g, &copy, &err);
    if (st == SL_OK) sl_gguf_close(g);
    T_CHECK(st == want, "line %d: status %s, want %s (msg: %s)", line, sl_status_str(st),
            sl_status_str(want), err.msg);
    T_CHECK(st == SL_OK || g == NULL, "line %d: *out not NULL on failure", line);
    if (want == SL_OK) {
        free(copy);
        return;
    }
    T_CHECK(strstr(err.msg, substr) != NULL, "line %d: message '%s' lacks '%s'", line, err.msg,
            substr);
    T_CHECK(strncmp(err.msg, "corrupt.gguf: ", 14) == 0, "line %d: message '%s' does not name the file",
            line, err.msg);
    free(copy);
}
#define expect_reject(b, want, substr) expect_reject_at(b, want, substr, __LINE__)

/* A small valid v3 file: 3 kvs (u32, string, array of strings), two tensors
 * (f32 [4] at 0, f16 [2,2] at 32), the second ending exactly at EOF. */
static void build_small(tb *b, uint32_t version) {
    const uint64_t ne1[1] = {4}, ne2[2] = {2, 2};
    tb_hdr(b, version, 2, 3);
    tb_kv_u32(b, "test.n", 7);
    tb_str(b, "general.name");
    tb_u32(b, SL_GGUF_STRING);
    tb_str(b, "tiny");
    tb_str(b, "test.words");
    tb_u32(b, SL_GGUF_ARRAY);
    tb_u32(b, SL_GGUF_STRING);
    tb_u64(b, 2);
    tb_str(b, "ab");
    tb_str(b, "");
    tb_tensor(b, "a", 1, ne1, SL_TYPE_F32, 0);
    tb_tensor(b, "b", 2, ne2, SL_TYPE_F16, 32);
    tb_pad(b, 32);
    for (int i = 0; i < 4; i++) {
        float f = (float)i + 0.5f;
        tb_raw(b, &f, 4);
    }
    tb_pad(b, 32);
    for (int i = 0; i < 4; i++) tb_u8(b, 0x3c), tb_u8(b, (uint8_t)i); /* 4 halves */
}

/* ---- reader on hand-made files ------------------------------------------------- */

static void test_small_valid(void) {
    for (uint32_t version = 2; version <= 3; version++) {
        tb b = {0};
        build_small(&b, version);
        sl_gguf *g = NULL;
        void *copy;
        sl_error err;
        sl_status st = open_copy(b.p, b.n, &g, &copy, &err);
        T_CHECK(st == SL_OK, "v%u: %s", version, err.msg);
        if (st) { free(copy); continue; }
        T_CHECK(g->version == version, "version %u", g->version);
        T_CHECK(g->n_kv == 3 && g->n_tensors == 2, "counts %llu %llu",
                (unsigned long long)g->n_kv, (unsigned long long)g->n_tensors);
        T_CHECK(g->alignment == 32, "alignment %llu", (unsigned long long)g->alignment);
        T_CHECK(g->data_offset % 32 == 0 && g->data_offset + 40 == b.n, "data_offset %llu size %zu",
                (unsigned long long)g->data_offset, b.n);
        uint32_t n = 0;
        T_CHECK(sl_gguf_get_u32(g, "test.n", &n, &err) == SL_OK && n == 7, "test.n = %u", n);
        sl_gguf_str s = {0};
        T_CHECK(sl_gguf_get_str(g, "general.name", &s, &err) == SL_OK && sl_gguf_str_eq(s, "tiny"),
                "general.name");
        const sl_gguf_kv *kv = NULL;
        T_CHECK(sl_gguf_get_arr(g, "test.words", SL_GGUF_STRING, &kv, &err) == SL_OK, "%s", err.msg);
        if (kv) {
            T_CHECK(kv->arr_n == 2 && kv->arr_data == NULL, "arr_n %llu", (unsigned long long)kv->arr_n);
            T_CHECK(sl_gguf_str_eq(kv->arr_strs[0], "ab") && kv->arr_strs[1].len == 0, "strings");
        }
        const sl_gguf_tensor *a = sl_gguf_find_tensor(g, "a"), *t = sl_gguf_find_tensor(g, "b");
        T_CHECK(a && t, "tensors found");
        if (a && t) {
            T_CHECK(a->nbytes == 16 && a->n_dims == 1 && a->ne[0] == 4 && a->ne[1] == 1, "a shape");
            T_CHECK(t->nbytes == 8 && t->n_dims == 2 && t->ne[0] == 2 && t->ne[1] == 2, "b shape");
            float f;
            memcpy(&f, (const char *)a->data + 12, 4);
            T_CHECK(f == 3.5f, "a[3] = %g", f);
            T_CHECK((const unsigned char *)t->data == (const unsigned char *)copy + b.n - 8, "b data");
        }
        T_CHECK(sl_gguf_find(g, "absent") == NULL && sl_gguf_find_tensor(g, "c") == NULL, "absent");
        sl_gguf_close(g);
        free(copy);
    }
}

/* Every proper prefix of a valid file must fail cleanly (exact-size copies,
 * so ASan sees any over-read); the whole file must open. */
static void test_every_prefix_rejected(void) {
    tb b = {0};
    build_small(&b, 3);
    for (size_t n = 0; n <= b.n; n++) {
        sl_gguf *g = NULL;
        void *copy;
        sl_error err;
        sl_status st = open_copy(b.p, n, &g, &copy, &err);
        if (n == b.n) {
            T_CHECK(st == SL_OK, "full file: %s", err.msg);
        } else {
            T_CHECK(st == SL_ERR_FORMAT && g == NULL, "prefix %zu: status %s", n, sl_status_str(st));
            T_CHECK(strncmp(err.msg, "corrupt.gguf: ", 14) == 0 && strlen(err.msg) > 20,
                    "prefix %zu: message '%s'", n, err.msg);
        }
        sl_gguf_close(g);
        free(copy);
    }
}

static void test_corrupt_header(void) {
    tb b = {0};
    tb_raw(&b, "GGML", 4);
    tb_u32(&b, 3), tb_u64(&b, 0), tb_u64(&b, 0);
    expect_reject(&b, SL_ERR_FORMAT, "not a GGUF file");

    b.n = 0;
    expect_reject(&b, SL_ERR_FORMAT, "too short");

    b.n = 0;
    tb_hdr(&b, 1, 0, 0);
    expect_reject(&b, SL_ERR_UNSUPPORTED, "version 1 is not supported");
    b.n = 0;
    tb_hdr(&b, 99, 0, 0);
    expect_reject(&b, SL_ERR_UNSUPPORTED, "version 99 is not supported");
    b.n = 0;
    tb_hdr(&b, 0x03000000u, 0, 0); /* a v3 file read with the wrong byte order */
    expect_reject(&b, SL_ERR_UNSUPPORTED, "big-endian");

    b.n = 0;
    tb_hdr(&b, 3, 0, 1ull << 60);
    tb_kv_u32(&b, "a", 1);
    expect_reject(&b, SL_ERR_FORMAT, "n_kv = 1152921504606846976 cannot fit");
    b.n = 0;
    tb_hdr(&b, 3, UINT64_MAX, 0);
    expect_reject(&b, SL_ERR_FORMAT, "n_tensors = 18446744073709551615 cannot fit");
    b.n = 0;
    tb_hdr(&b, 3, 0, 2); /* claims two kvs, holds one */
    tb_kv_u32(&b, "a", 1);
    expect_reject(&b, SL_ERR_FORMAT, "cannot fit");
}

static void test_corrupt_kv(void) {
    tb b = {0};
    tb_hdr(&b, 3, 0, 1); /* huge key length */
    tb_u64(&b, 1ull << 62);
    tb_raw(&b, "abcdefghijklmnop", 16);
    expect_reject(&b, SL_ERR_FORMAT, "string length 4611686018427387904 runs past the end");

    b.n = 0;
    tb_hdr(&b, 3, 0, 1); /* string value running past the end */
    tb_str(&b, "general.name");
    tb_u32(&b, SL_GGUF_STRING);
    tb_u64(&b, 100);
    tb_raw(&b, "0123456789", 10);
    expect_reject(&b, SL_ERR_FORMAT, "key 'general.name': string value: string length 100");

    b.n = 0;
    tb_hdr(&b, 3, 0, 1);
    tb_str(&b, "k");
    tb_u32(&b, 13);
    tb_u32(&b, 0);
    expect_reject(&b, SL_ERR_FORMAT, "key 'k': unknown value type id 13");

    b.n = 0;
    tb_hdr(&b, 3, 0, 1);
    tb_str(&b, "k");
    tb_u32(&b, SL_GGUF_ARRAY);
    tb_u32(&b, 0xffffffffu);
    tb_u64(&b, 0);
    expect_reject(&b, SL_ERR_FORMAT, "unknown array element type id 4294967295");

    b.n = 0;
    tb_hdr(&b, 3, 0, 1);
    tb_str(&b, "k");
    tb_u32(&b, SL_GGUF_ARRAY);
    tb_u32(&b, SL_GGUF_ARRAY);
    tb_u64(&b, 1);
    tb_u32(&b, SL_GGUF_UINT8), tb_u64(&b, 1), tb_u8(&b, 1);
    expect_reject(&b, SL_ERR_FORMAT, "nested arrays");

    b.n = 0;
    tb_hdr(&b, 3, 0, 1); /* huge array count of a fixed-size type */
    tb_str(&b, "k");
    tb_u32(&b, SL_GGUF_ARRAY);
    tb_u32(&b, SL_GGUF_UINT64);
    tb_u64(&b, 1ull << 61); /* 2^61 * 8 wraps to 0 in 64 bits */
    tb_u64(&b, 5);
    expect_reject(&b, SL_ERR_FORMAT, "array count 2305843009213693952 of uint64");

    b.n = 0;
    tb_hdr(&b, 3, 0, 1); /* huge array count of strings */
    tb_str(&b, "k");
    tb_u32(&b, SL_GGUF_ARRAY);
    tb_u32(&b, SL_GGUF_STRING);
    tb_u64(&b, UINT64_MAX);
    tb_str(&b, "x");
    expect_reject(&b, SL_ERR_FORMAT, "array count 18446744073709551615 of strings cannot fit");

    b.n = 0;
    tb_hdr(&b, 3, 0, 2);
    tb_kv_u32(&b, "dup.key", 1);
    tb_kv_u32(&b, "dup.key", 2);
    expect_reject(&b, SL_ERR_FORMAT, "key 'dup.key': duplicate key (first defined as key #0)");

    b.n = 0;
    tb_hdr(&b, 3, 0, 1);
    tb_kv_u32(&b, "", 1);
    expect_reject(&b, SL_ERR_FORMAT, "key #0: empty key");

    b.n = 0; /* a value cut off after its type */
    tb_hdr(&b, 3, 0, 1);
    tb_str(&b, "k");
    tb_u32(&b, SL_GGUF_FLOAT64);
    tb_u32(&b, 0);
    expect_reject(&b, SL_ERR_FORMAT, "key 'k': truncated: value needs 8 bytes");
}

static void test_bad_alignment(void) {
    const uint32_t bad[] = {0, 3, 48};
    for (size_t i = 0; i < 3; i++) {
        tb b = {0};
        tb_hdr(&b, 3, 0, 1);
        tb_kv_u32(&b, "general.alignment", bad[i]);
        char want[80];
        snprintf(want, sizeof want, "alignment %u is not a non-zero power of two", bad[i]);
        expect_reject(&b, SL_ERR_FORMAT, want);
    }
    tb b = {0};
    tb_hdr(&b, 3, 0, 1);
    tb_str(&b, "general.alignment");
    tb_u32(&b, SL_GGUF_INT32);
    tb_u32(&b, 64);
    expect_reject(&b, SL_ERR_FORMAT, "key 'general.alignment': type is int32, expected uint32");
}

/* One f32 tensor "t" of shape ne with the given type and offset, followed
 * by data_bytes bytes of data. */
static void one_tensor(tb *b, uint32_t n_dims, const uint64_t *ne, uint32_t type, uint64_t offset,
                       size_t data_bytes) {
    b->n = 0;
    tb_hdr(b, 3, 1, 0);
    tb_tensor(b, "t", n_dims, ne, type, offset);
    tb_pad(b, 32);
    for (size_t i = 0; i < data_bytes; i++) tb_u8(b, (uint8_t)i);
}

static void test_corrupt_tensors(void) {
    tb b;
    const uint64_t ne16[1] = {16}, ne5[5] = {1, 1, 1, 1, 1};
    one_tensor(&b, 1, ne16, SL_TYPE_F32, 0, 64);
    expect_reject(&b, SL_OK, ""); /* the control: this one is valid */
    one_tensor(&b, 1, ne16, SL_TYPE_F32, 0, 63);
    expect_reject(&b, SL_ERR_FORMAT, "tensor 't': data at offset 0 + 64 bytes runs past the end");
    one_tensor(&b, 1, ne16, SL_TYPE_F32, 32, 64);
    expect_reject(&b, SL_ERR_FORMAT, "past the end");
    one_tensor(&b, 1, ne16, SL_TYPE_F32, UINT64_MAX - 31, 64); /* offset + nbytes wraps */
    expect_reject(&b, SL_ERR_FORMAT, "past the end");
    one_tensor(&b, 1, ne16, SL_TYPE_F32, 4, 128);
    expect_reject(&b, SL_ERR_FORMAT, "tensor 't': offset 4 is not a multiple of the alignment 32");
    one_tensor(&b, 1, ne16, 77, 0, 64);
    expect_reject(&b, SL_ERR_UNSUPPORTED, "tensor 't': unknown type id 77");
    one_tensor(&b, 1, ne16, 4, 0, 64); /* ids 4 and 5 (q4_2, q4_3) were removed from ggml */
    expect_reject(&b, SL_ERR_UNSUPPORTED, "unknown type id 4");
    one_tensor(&b, 0, ne16, SL_TYPE_F32, 0, 64);
    expect_reject(&b, SL_ERR_FORMAT, "tensor 't': n_dims = 0, expected 1..4");
    one_tensor(&b, 5, ne5, SL_TYPE_F32, 0, 64);
    expect_reject(&b, SL_ERR_FORMAT, "n_dims = 5, expected 1..4");
    one_tensor(&b, 1, ne16, SL_TYPE_Q4_0, 0, 64);
    expect_reject(&b, SL_ERR_FORMAT, "ne[0] = 16 is not a multiple of the q4_0 block size 32");
    const uint64_t ne_q6k[2] = {128, 2};
    one_tensor(&b, 2, ne_q6k, SL_TYPE_Q6_K, 0, 1024);
    expect_reject(&b, SL_ERR_FORMAT, "not a multiple of the q6_k block size 256");
    const uint64_t ne_zero[2] = {4, 0};
    one_tensor(&b, 2, ne_zero, SL_TYPE_F32, 0, 64);
    expect_reject(&b, SL_ERR_FORMAT, "ne[1] = 0");
    const uint64_t ne_big[2] = {1ull << 32, 1ull << 32};
    one_tensor(&b, 2, ne_big, SL_TYPE_F32, 0, 64);
    expect_reject(&b, SL_ERR_FORMAT, "overflows");
    const uint64_t ne_bytes[1] = {1ull << 62}; /* elements fit, bytes (x4) do not */
    one_tensor(&b, 1, ne_bytes, SL_TYPE_F32, 0, 64);
    expect_reject(&b, SL_ERR_FORMAT, "byte size");

    /* two tensors with the same name / overlapping data */
    const char *second[2] = {"t", "u"};
    const uint64_t second_off[2] = {32, 0};
    const char *msg[2] = {"tensor 't': duplicate tensor name (first defined as tensor #0)",
                          "overlaps tensor"};
    for (int i = 0; i < 2; i++) {
        b.n = 0;
        tb_hdr(&b, 3, 2, 0);
        tb_tensor(&b, "t", 1, ne16, SL_TYPE_F32, 0);
        tb_tensor(&b, second[i], 1, ne16, SL_TYPE_F32, second_off[i]);
        tb_pad(&b, 32);
        for (int k = 0; k < 128; k++) tb_u8(&b, 0);
        expect_reject(&b, SL_ERR_FORMAT, msg[i]);
    }
    /* data section would start past the end of the file */
    b.n = 0;
    tb_hdr(&b, 3, 1, 0);
    tb_tensor(&b, "t", 1, ne16, SL_TYPE_F32, 0); /* header ends at 57, data would start at 64 */
    expect_reject(&b, SL_ERR_FORMAT, "data section starts at 64");
    /* an absurd name length */
    b.n = 0;
    tb_hdr(&b, 3, 1, 0);
    tb_str(&b, "0123456789012345678901234567890123456789012345678901234567890123");
    tb_u32(&b, 1), tb_u64(&b, 1), tb_u32(&b, 0), tb_u64(&b, 0);
    tb_pad(&b, 32);
    tb_u32(&b, 0);
    expect_reject(&b, SL_ERR_FORMAT, "name is 64 bytes long, at most 63");
}

static void test_open_errors(void) {
    sl_gguf *g = (sl_gguf *)1;
    sl_error err = {0};
    T_CHECK(sl_gguf_open(&g, "/nonexistent/x.gguf", &err) == SL_ERR_IO && g == NULL, "missing file");
    T_CHECK(strstr(err.msg, "/nonexistent/x.gguf") != NULL, "message '%s'", err.msg);
    char path[512];
    snprintf(path, sizeof path, "%s/empty.gguf", t_tmpdir());
    FILE *fp = fopen(path, "wb");
    if (fp) fclose(fp);
    T_CHECK(sl_gguf_open(&g, path, &err) == SL_ERR_FORMAT && strstr(err.msg, "empty.gguf: header"),
            "empty file: %s", err.msg);
    remove(path);
    T_CHECK(sl_gguf_open_memory(&g, NULL, 0, "none", &err) == SL_ERR_FORMAT, "NULL, 0");
    sl_gguf_close(NULL);
}

/* ---- writer --------------------------------------------------------------------- */

static sl_gguf *reopen(sl_gguf_writer *w, void **buf, sl_error *err) {
    size_t n;
    sl_gguf *g = NULL;
    if (sl_gguf_writer_write_memory(w, buf, &n, err) != SL_OK) return NULL;
    if (sl_gguf_open_memory(&g, *buf, n, "roundtrip.gguf", err) != SL_OK) return NULL;
    return g;
}

static void test_writer_bytes_match_spec(void) {
    sl_gguf_writer *w = NULL;
    sl_error err;
    T_CHECK(sl_gguf_writer_create(&w, &err) == SL_OK, "create");
    float x = 1.5f;
    const uint64_t ne[1] = {1};
    sl_gguf_writer_set_u32(w, "a.b", 5);
    T_CHECK(sl_gguf_writer_add_tensor(w, "w", SL_TYPE_F32, 1, ne, &x, 4, &err) == SL_OK, "%s", err.msg);
    void *buf = NULL;
    size_t n = 0;
    T_CHECK(sl_gguf_writer_write_memory(w, &buf, &n, &err) == SL_OK, "%s", err.msg);
    tb want = {0};
    tb_hdr(&want, 3, 1, 1);
    tb_kv_u32(&want, "a.b", 5);
    tb_tensor(&want, "w", 1, ne, SL_TYPE_F32, 0);
    tb_pad(&want, 32);
    tb_raw(&want, &x, 4);
    tb_pad(&want, 32); /* ggml pads every tensor, the last included */
    T_CHECK(n == want.n && buf && memcmp(buf, want.p, n) == 0, "writer bytes differ (%zu vs %zu)", n,
            want.n);
    free(buf);
    sl_gguf_writer_free(w);
    sl_gguf_writer_free(NULL);
}

static bool kv_equal(const sl_gguf_kv *a, const sl_gguf_kv *b) {
    if (a->key.len != b->key.len || memcmp(a->key.ptr, b->key.ptr, a->key.len) || a->type != b->type)
        return false;
    if (a->type == SL_GGUF_STRING)
        return a->v.str.len == b->v.str.len && !memcmp(a->v.str.ptr, b->v.str.ptr, a->v.str.len);
    if (a->type != SL_GGUF_ARRAY) return a->v.u64 == b->v.u64; /* bit-equal union */
    if (a->arr_type != b->arr_type || a->arr_n != b->arr_n) return false;
    if (a->arr_type != SL_GGUF_STRING)
        return !a->arr_n || !memcmp(a->arr_data, b->arr_data, a->arr_n * sl_gguf_type_size(a->arr_type));
    for (uint64_t i = 0; i < a->arr_n; i++)
        if (a->arr_strs[i].len != b->arr_strs[i].len ||
            memcmp(a->arr_strs[i].ptr, b->arr_strs[i].ptr, a->arr_strs[i].len))
            return false;
    return true;
}

static void test_roundtrip_metadata(void) {
    sl_gguf_writer *w = NULL;
    sl_error err;
    sl_gguf_writer_create(&w, &err);
    sl_gguf_writer_set_u32(w, "t.replace", 1); /* replaced below, must stay first */
    uint8_t u8 = 200; int8_t i8 = -100; uint16_t u16 = 60000; int16_t i16 = -30000;
    uint64_t u64 = (1ull << 63) + 5; int64_t i64 = -(1ll << 62) - 3; double f64 = -1e300;
    T_CHECK(sl_gguf_writer_set_scalar(w, "t.u8", SL_GGUF_UINT8, &u8) == SL_OK, "u8");
    sl_gguf_writer_set_scalar(w, "t.i8", SL_GGUF_INT8, &i8);
    sl_gguf_writer_set_scalar(w, "t.u16", SL_GGUF_UINT16, &u16);
    sl_gguf_writer_set_scalar(w, "t.i16", SL_GGUF_INT16, &i16);
    sl_gguf_writer_set_u32(w, "t.u32", 4000000000u);
    sl_gguf_writer_set_i32(w, "t.i32", -2000000000);
    sl_gguf_writer_set_f32(w, "t.f32", 3.25f);
    sl_gguf_writer_set_bool(w, "t.true", true);
    sl_gguf_writer_set_bool(w, "t.false", false);
    sl_gguf_writer_set_str(w, "t.str", "h\xc3\xa9llo");
    sl_gguf_writer_set_str(w, "t.empty", "");
    sl_gguf_writer_set_u64(w, "t.u64", u64);
    sl_gguf_writer_set_scalar(w, "t.i64", SL_GGUF_INT64, &i64);
    sl_gguf_writer_set_scalar(w, "t.f64", SL_GGUF_FLOAT64, &f64);
    /* arrays of every fixed-size type: 3 elements of distinctive bytes */
    static const sl_gguf_type fixed[] = {SL_GGUF_UINT8, SL_GGUF_INT8, SL_GGUF_UINT16, SL_GGUF_INT16,
                                         SL_GGUF_UINT32, SL_GGUF_INT32, SL_GGUF_FLOAT32, SL_GGUF_BOOL,
                                         SL_GGUF_UINT64, SL_GGUF_INT64, SL_GGUF_FLOAT64};
    unsigned char elems[24];
    for (int i = 0; i < 24; i++) elems[i] = (unsigned char)(0x11 * (i + 1));
    const unsigned char bools[3] = {1, 0, 1};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
        char key[32];
        snprintf(key, sizeof key, "arr.%s", sl_gguf_type_name(fixed[i]));
        const void *src = fixed[i] == SL_GGUF_BOOL ? (const void *)bools : elems;
        T_CHECK(sl_gguf_writer_set_arr(w, key, fixed[i], src, 3) == SL_OK, "%s", key);
    }
    const char *strs[3] = {"one", "", "th\0ree"};
    const uint64_t lens[3] = {3, 0, 6};
    sl_gguf_writer_set_arr_str(w, "arr.str", strs, lens, 3);
    sl_gguf_writer_set_arr_str(w, "arr.str_nul", strs, NULL, 2);
    sl_gguf_writer_set_arr(w, "arr.empty", SL_GGUF_UINT32, NULL, 0);
    sl_gguf_writer_set_arr_str(w, "arr.empty_str", NULL, NULL, 0);
    /* replacing keeps the position and changes the type */
    sl_gguf_writer_set_str(w, "t.replace", "now a string");
    /* invalid calls */
    T_CHECK(sl_gguf_writer_set_arr(w, "x", SL_GGUF_STRING, elems, 1) == SL_ERR_INVALID_ARG, "arr str");
    T_CHECK(sl_gguf_writer_set_scalar(w, "x", SL_GGUF_ARRAY, elems) == SL_ERR_INVALID_ARG, "arr scalar");
    T_CHECK(sl_gguf_writer_set_u32(w, "", 1) == SL_ERR_INVALID_ARG, "empty key");
    T_CHECK(sl_gguf_writer_set_str(w, "x", NULL) == SL_ERR_INVALID_ARG, "NULL string");

    void *buf = NULL;
    sl_gguf *g = reopen(w, &buf, &err);
    T_CHECK(g != NULL, "reopen: %s", err.msg);
    if (!g) goto done;
    T_CHECK(g->n_kv == 14 + 11 + 4 + 1, "n_kv = %llu", (unsigned long long)g->n_kv);
    int64_t iv = 0;
    uint32_t uv = 0;
    float fv = 0;
    bool bv = false;
    sl_gguf_str sv = {0};
    T_CHECK(sl_gguf_get_i64(g, "t.u8", &iv, &err) == SL_OK && iv == 200, "u8 %lld", (long long)iv);
    T_CHECK(sl_gguf_get_i64(g, "t.i8", &iv, &err) == SL_OK && iv == -100, "i8");
    T_CHECK(sl_gguf_get_u32(g, "t.u16", &uv, &err) == SL_OK && uv == 60000, "u16");
    T_CHECK(sl_gguf_get_i64(g, "t.i16", &iv, &err) == SL_OK && iv == -30000, "i16");
    T_CHECK(sl_gguf_get_u32(g, "t.u32", &uv, &err) == SL_OK && uv == 4000000000u, "u32");
    T_CHECK(sl_gguf_get_i64(g, "t.i32", &iv, &err) == SL_OK && iv == -2000000000, "i32");
    T_CHECK(sl_gguf_get_f32(g, "t.f32", &fv, &err) == SL_OK && fv == 3.25f, "f32");
    T_CHECK(sl_gguf_get_bool(g, "t.true", &bv, &err) == SL_OK && bv, "true");
    T_CHECK(sl_gguf_get_bool(g, "t.false", &bv, &err) == SL_OK && !bv, "false");
    T_CHECK(sl_gguf_get_str(g, "t.str", &sv, &err) == SL_OK && sl_gguf_str_eq(sv, "h\xc3\xa9llo"), "str");
    T_CHECK(sl_gguf_get_str(g, "t.empty", &sv, &err) == SL_OK && sv.len == 0, "empty str");
    const sl_gguf_kv *kv = sl_gguf_find(g, "t.u64");
    T_CHECK(kv && kv->type == SL_GGUF_UINT64 && kv->v.u64 == u64, "u64");
    kv = sl_gguf_find(g, "t.i64");
    T_CHECK(kv && kv->type == SL_GGUF_INT64 && kv->v.i64 == i64, "i64");
    kv = sl_gguf_find(g, "t.f64");
    T_CHECK(kv && kv->type == SL_GGUF_FLOAT64 && kv->v.f64 == f64, "f64");
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
        char key[32];
        snprintf(key, sizeof key, "arr.%s", sl_gguf_type_name(fixed[i]));
        kv = NULL;
        T_CHECK(sl_gguf_get_arr(g, key, fixed[i], &kv, &err) == SL_OK, "%s: %s", key, err.msg);
        if (!kv) continue;
        const void *src = fixed[i] == SL_GGUF_BOOL ? (const void *)bools : elems;
        T_CHECK(kv->arr_n == 3 && !memcmp(kv->arr_data, src, 3 * sl_gguf_type_size(fixed[i])),
                "%s elements differ", key);
    }
    kv = sl_gguf_find(g, "arr.str");
    T_CHECK(kv && kv->arr_type == SL_GGUF_STRING && kv->arr_n == 3, "arr.str");
    if (kv && kv->arr_n == 3)
        for (int i = 0; i < 3; i++)
            T_CHECK(kv->arr_strs[i].len == lens[i] && !memcmp(kv->arr_strs[i].ptr, strs[i], lens[i]),
                    "arr.str[%d]", i);
    kv = sl_gguf_find(g, "arr.str_nul");
    T_CHECK(kv && kv->arr_n == 2 && sl_gguf_str_eq(kv->arr_strs[0], "one"), "arr.str_nul");
    kv = sl_gguf_find(g, "arr.empty");
    T_CHECK(kv && kv->arr_type == SL_GGUF_UINT32 && kv->arr_n == 0, "arr.empty");
    kv = sl_gguf_find(g, "arr.empty_str");
    T_CHECK(kv && kv->arr_type == SL_GGUF_STRING && kv->arr_n == 0 && !kv->arr_strs, "arr.empty_str");
    /* insertion order, with the replaced key at its first position */
    T_CHECK(sl_gguf_str_eq(g->kv[0].key, "t.replace") && sl_gguf_str_eq(g->kv[1].key, "t.u8") &&
                sl_gguf_str_eq(g->kv[g->n_kv - 1].key, "arr.empty_str"),
            "order");
    T_CHECK(sl_gguf_get_str(g, "t.replace", &sv, &err) == SL_OK && sl_gguf_str_eq(sv, "now a string"),
            "replaced value");

    /* getter conversions and refusals */
    T_CHECK(sl_gguf_get_u32(g, "t.i8", &uv, &err) == SL_ERR_FORMAT && strstr(err.msg, "does not fit"),
            "negative into u32: %s", err.msg);
    T_CHECK(sl_gguf_get_i64(g, "t.u64", &iv, &err) == SL_ERR_FORMAT, "2^63+5 into i64");
    T_CHECK(sl_gguf_get_u32(g, "t.u64", &uv, &err) == SL_ERR_FORMAT, "u64 into u32");
    T_CHECK(sl_gguf_get_f32(g, "t.f64", &fv, &err) == SL_ERR_FORMAT, "-1e300 into f32");
    T_CHECK(sl_gguf_get_f32(g, "t.u32", &fv, &err) == SL_ERR_FORMAT &&
                strstr(err.msg, "roundtrip.gguf: key 't.u32' is uint32, expected float32"),
            "int as float: %s", err.msg);
    T_CHECK(sl_gguf_get_bool(g, "t.u8", &bv, &err) == SL_ERR_FORMAT, "u8 as bool");
    T_CHECK(sl_gguf_get_str(g, "arr.str", &sv, &err) == SL_ERR_FORMAT && strstr(err.msg, "an array"),
            "array as str: %s", err.msg);
    T_CHECK(sl_gguf_get_arr(g, "arr.str", SL_GGUF_INT32, &kv, &err) == SL_ERR_FORMAT &&
                strstr(err.msg, "array of string, expected int32"), "elem type: %s", err.msg);
    T_CHECK(sl_gguf_get_arr(g, "arr.str", SL_GGUF_TYPE_COUNT, &kv, &err) == SL_OK, "any elem");
    T_CHECK(sl_gguf_get_i64(g, "t.str", &iv, &err) == SL_ERR_FORMAT, "string as int");
    uv = 12345;
    T_CHECK(sl_gguf_get_u32(g, "no.such.key", &uv, &err) == SL_ERR_NOT_FOUND && uv == 12345,
            "absent key leaves *out");

    /* copy_kvs reproduces every kv, minus the skipped ones */
    sl_gguf_writer *w2 = NULL;
    sl_gguf_writer_create(&w2, &err);
    const char *skip[] = {"t.str", "arr.bool", NULL};
    T_CHECK(sl_gguf_writer_copy_kvs(w2, g, skip, &err) == SL_OK, "copy: %s", err.msg);
    void *buf2 = NULL;
    sl_gguf *g2 = reopen(w2, &buf2, &err);
    T_CHECK(g2 && g2->n_kv == g->n_kv - 2, "copy n_kv");
    for (uint64_t i = 0, j = 0; g2 && i < g->n_kv; i++) {
        if (sl_gguf_str_eq(g->kv[i].key, "t.str") || sl_gguf_str_eq(g->kv[i].key, "arr.bool")) continue;
        T_CHECK(j < g2->n_kv && kv_equal(&g->kv[i], &g2->kv[j]), "copied kv %llu differs",
                (unsigned long long)i);
        j++;
    }
    sl_gguf_close(g2);
    free(buf2);
    sl_gguf_writer_free(w2);
    sl_gguf_close(g);
done:
    free(buf);
    sl_gguf_writer_free(w);
}

static void test_roundtrip_tensors(void) {
    for (int align = 32; align <= 64; align += 32) {
        sl_gguf_writer *w = NULL;
        sl_error err;
        sl_gguf_writer_create(&w, &err);
        if (align != 32) sl_gguf_writer_set_u32(w, "general.alignment", (uint32_t)align);
        struct { const char *name; uint32_t type, n_dims; uint64_t ne[4]; } spec[] = {
            {"f32.3x5", SL_TYPE_F32, 2, {3, 5}},
            {"f16.7", SL_TYPE_F16, 1, {7}},
            {"q4_0.64x2", SL_TYPE_Q4_0, 2, {64, 2}},    /* 4 blocks of 18 bytes */
            {"q8_0.32x1x3", SL_TYPE_Q8_0, 3, {32, 1, 3}}, /* 3 blocks of 34 bytes */
            {"q4_k.256", SL_TYPE_Q4_K, 1, {256}},         /* 1 block of 144 bytes */
            {"bf16.2x2x2x2", SL_TYPE_BF16, 4, {2, 2, 2, 2}},
        };
        const uint64_t want_bytes[] = {60, 14, 72, 102, 144, 32};
        enum { NT = sizeof spec / sizeof spec[0] };
        unsigned char data[NT][160];
        unsigned long long seed = 42;
        for (int i = 0; i < NT; i++) {
            for (int k = 0; k < 160; k++) data[i][k] = (unsigned char)t_rand_u64(&seed);
            T_CHECK(sl_gguf_writer_add_tensor(w, spec[i].name, spec[i].type, spec[i].n_dims,
                                              spec[i].ne, data[i], want_bytes[i], &err) == SL_OK,
                    "%s: %s", spec[i].name, err.msg);
        }
        /* the writer refuses inconsistent tensors */
        const uint64_t ne16[1] = {16};
        T_CHECK(sl_gguf_writer_add_tensor(w, "bad", SL_TYPE_F32, 1, ne16, data[0], 60, &err) ==
                    SL_ERR_INVALID_ARG && strstr(err.msg, "nbytes = 60"), "wrong nbytes: %s", err.msg);
        T_CHECK(sl_gguf_writer_add_tensor(w, "bad", SL_TYPE_Q4_0, 1, ne16, data[0], 9, &err) ==
                    SL_ERR_INVALID_ARG, "q4_0 ne0 16");
        T_CHECK(sl_gguf_writer_add_tensor(w, "f16.7", SL_TYPE_F16, 1, spec[1].ne, data[0], 14, &err) ==
                    SL_ERR_INVALID_ARG && strstr(err.msg, "twice"), "duplicate");
        T_CHECK(sl_gguf_writer_add_tensor(w, "bad", 77, 1, ne16, data[0], 64, &err) ==
                    SL_ERR_INVALID_ARG, "type 77");

        /* through a real file this time */
        char path[512];
        snprintf(path, sizeof path, "%s/rt%d.gguf", t_tmpdir(), align);
        T_CHECK(sl_gguf_writer_write(w, path, &err) == SL_OK, "write: %s", err.msg);
        sl_gguf *g = NULL;
        T_CHECK(sl_gguf_open(&g, path, &err) == SL_OK, "open: %s", err.msg);
        if (g) {
            T_CHECK(g->alignment == (uint64_t)align && g->data_offset % align == 0, "alignment %d", align);
            T_CHECK(g->n_tensors == NT, "n_tensors %llu", (unsigned long long)g->n_tensors);
            for (int i = 0; i < NT && g->n_tensors == NT; i++) {
                const sl_gguf_tensor *t = &g->tensors[i];
                T_CHECK(sl_gguf_str_eq(t->name, spec[i].name) && t->type == spec[i].type &&
                            t->n_dims == spec[i].n_dims, "%s header", spec[i].name);
                for (uint32_t d = 0; d < 4; d++)
                    T_CHECK(t->ne[d] == (d < spec[i].n_dims ? spec[i].ne[d] : 1), "%s ne[%u]",
                            spec[i].name, d);
                T_CHECK(t->nbytes == want_bytes[i] && t->offset % align == 0, "%s nbytes %llu",
                        spec[i].name, (unsigned long long)t->nbytes);
                T_CHECK(!memcmp(t->data, data[i], want_bytes[i]), "%s bytes differ", spec[i].name);
            }
        }
        sl_gguf_close(g);
        sl_gguf_writer_set_u32(w, "general.alignment", 3);
        T_CHECK(sl_gguf_writer_write(w, path, &err) == SL_ERR_INVALID_ARG &&
                    strstr(err.msg, "power of two"), "alignment 3: %s", err.msg);
        sl_gguf_writer_free(w);
        remove(path);
    }
}

/* ---- real files (llama.cpp's gguf-py wrote them) -------------------------------- */

static sl_gguf *open_shared(const char *rel, void **bytes, size_t *size) {
    const char *path = t_shared_file(rel);
    if (!path) return NULL;
    sl_gguf *g = NULL;
    sl_error err;
    if (sl_gguf_open(&g, path, &err) != SL_OK) {
        T_CHECK(0, "%s", err.msg);
        return NULL;
    }
    if (bytes) { /* a private copy of the original bytes, for byte comparisons */
        *size = g->file.size;
        *bytes = malloc(*size);
        memcpy(*bytes, g->file.data, *size);
    }
    return g;
}

static void check_u32(const sl_gguf *g, const char *key, uint32_t want) {
    uint32_t v = 0;
    sl_error err = {0};
    sl_status st = sl_gguf_get_u32(g, key, &v, &err);
    T_CHECK(st == SL_OK && v == want, "%s = %u (%s), want %u", key, v, sl_status_str(st), want);
}

static void check_str(const sl_gguf *g, const char *key, const char *want) {
    sl_gguf_str s = {0};
    sl_error err = {0};
    T_CHECK(sl_gguf_get_str(g, key, &s, &err) == SL_OK && sl_gguf_str_eq(s, want), "%s != '%s'", key,
            want);
}

static const sl_gguf_kv *check_arr(const sl_gguf *g, const char *key, sl_gguf_type type, uint64_t n) {
    const sl_gguf_kv *kv = NULL;
    sl_error err = {0};
    T_CHECK(sl_gguf_get_arr(g, key, type, &kv, &err) == SL_OK && kv->arr_n == n, "%s: %s", key,
            err.msg);
    return kv && kv->arr_n == n ? kv : NULL;
}

/* Writing back every kv (and tensor) of a real file must reproduce it byte
 * for byte: our writer lays files out exactly as gguf-py does. */
static void check_rewrite_identical(const sl_gguf *g, const void *orig, size_t size) {
    sl_gguf_writer *w = NULL;
    sl_error err;
    sl_gguf_writer_create(&w, &err);
    T_CHECK(sl_gguf_writer_copy_kvs(w, g, NULL, &err) == SL_OK, "%s", err.msg);
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        const sl_gguf_tensor *t = &g->tensors[i];
        char name[64];
        snprintf(name, sizeof name, "%.*s", (int)t->name.len, t->name.ptr);
        T_CHECK(sl_gguf_writer_add_tensor(w, name, t->type, t->n_dims, t->ne, t->data, t->nbytes,
                                          &err) == SL_OK, "%s", err.msg);
    }
    void *buf = NULL;
    size_t n = 0;
    T_CHECK(sl_gguf_writer_write_memory(w, &buf, &n, &err) == SL_OK, "%s", err.msg);
    T_CHECK(n == size && memcmp(buf, orig, n) == 0, "%s: rewrite differs (%zu vs %zu bytes)", g->path,
            n, size);
    free(buf);
    sl_gguf_writer_free(w);
}

static void test_real_llama_tiny(void) {
    void *orig = NULL;
    size_t size = 0;
    sl_gguf *g = open_shared("models/llama-2-tiny-random.gguf", &orig, &size);
    if (!g && !t_case_failed) T_SKIP("shared data absent (models/llama-2-tiny-random.gguf)");
    if (!g) return;
    T_CHECK(g->version == 3 && g->n_tensors == 12 && g->alignment == 32, "header");
    check_str(g, "general.architecture", "llama");
    check_u32(g, "llama.embedding_length", 8);
    check_u32(g, "llama.block_count", 1);
    check_u32(g, "llama.attention.head_count", 2);
    check_u32(g, "llama.attention.head_count_kv", 2);
    check_u32(g, "llama.feed_forward_length", 32);
    check_u32(g, "llama.rope.dimension_count", 4);
    check_u32(g, "llama.context_length", 4096);
    check_u32(g, "tokenizer.ggml.bos_token_id", 1);
    check_u32(g, "tokenizer.ggml.eos_token_id", 2);
    check_u32(g, "tokenizer.ggml.unknown_token_id", 0);
    const sl_gguf_kv *tok = check_arr(g, "tokenizer.ggml.tokens", SL_GGUF_STRING, 32000);
    check_arr(g, "tokenizer.ggml.scores", SL_GGUF_FLOAT32, 32000);
    check_arr(g, "tokenizer.ggml.token_type", SL_GGUF_INT32, 32000);
    if (tok)
        T_CHECK(sl_gguf_str_eq(tok->arr_strs[0], "<unk>") && sl_gguf_str_eq(tok->arr_strs[1], "<s>") &&
                    sl_gguf_str_eq(tok->arr_strs[2], "</s>") && sl_gguf_str_eq(tok->arr_strs[3], "<0x00>"),
                "first tokens");
    float eps = 0;
    sl_error err;
    T_CHECK(sl_gguf_get_f32(g, "llama.attention.layer_norm_rms_epsilon", &eps, &err) == SL_OK &&
                eps == 1e-5f, "rms eps %g", eps);
    const sl_gguf_tensor *emb = sl_gguf_find_tensor(g, "token_embd.weight");
    T_CHECK(emb && emb->type == SL_TYPE_F16 && emb->n_dims == 2 && emb->ne[0] == 8 &&
                emb->ne[1] == 32000 && emb->nbytes == 8 * 32000 * 2, "token_embd.weight");
    const sl_gguf_tensor *norm = sl_gguf_find_tensor(g, "blk.0.attn_norm.weight");
    T_CHECK(norm && norm->type == SL_TYPE_F32 && norm->ne[0] == 8 && norm->nbytes == 32, "attn_norm");
    uint64_t end = 0;
    for (uint64_t i = 0; i < g->n_tensors; i++)
        if (g->tensors[i].offset + g->tensors[i].nbytes > end) end = g->tensors[i].offset + g->tensors[i].nbytes;
    T_CHECK(g->data_offset + end == size, "last tensor ends at %llu, file is %zu bytes",
            (unsigned long long)(g->data_offset + end), size);
    check_rewrite_identical(g, orig, size);
    sl_gguf_close(g);
    free(orig);
}

static void test_real_vocab_llama_spm(void) {
    void *orig = NULL;
    size_t size = 0;
    sl_gguf *g = open_shared("tokenizers/ggml-vocab-llama-spm.gguf", &orig, &size);
    if (!g && !t_case_failed) T_SKIP("shared data absent (tokenizers/ggml-vocab-llama-spm.gguf)");
    if (!g) return;
    T_CHECK(g->version == 3 && g->n_tensors == 0, "header");
    check_str(g, "tokenizer.ggml.model", "llama");
    check_str(g, "tokenizer.ggml.pre", "default");
    check_u32(g, "tokenizer.ggml.bos_token_id", 1);
    check_u32(g, "tokenizer.ggml.eos_token_id", 2);
    check_u32(g, "tokenizer.ggml.unknown_token_id", 0);
    bool add_bos = false, add_eos = true;
    sl_error err;
    T_CHECK(sl_gguf_get_bool(g, "tokenizer.ggml.add_bos_token", &add_bos, &err) == SL_OK && add_bos,
            "add_bos");
    T_CHECK(sl_gguf_get_bool(g, "tokenizer.ggml.add_eos_token", &add_eos, &err) == SL_OK && !add_eos,
            "add_eos");
    check_arr(g, "tokenizer.ggml.tokens", SL_GGUF_STRING, 32000);
    check_arr(g, "tokenizer.ggml.scores", SL_GGUF_FLOAT32, 32000);
    check_arr(g, "tokenizer.ggml.token_type", SL_GGUF_INT32, 32000);
    check_rewrite_identical(g, orig, size);
    sl_gguf_close(g);
    free(orig);
}

static void test_real_vocab_gpt2(void) {
    void *orig = NULL;
    size_t size = 0;
    sl_gguf *g = open_shared("tokenizers/ggml-vocab-gpt-2.gguf", &orig, &size);
    if (!g && !t_case_failed) T_SKIP("shared data absent (tokenizers/ggml-vocab-gpt-2.gguf)");
    if (!g) return;
    T_CHECK(g->version == 3 && g->n_tensors == 0, "header");
    check_str(g, "tokenizer.ggml.model", "gpt2");
    check_str(g, "tokenizer.ggml.pre", "gpt-2");
    check_u32(g, "tokenizer.ggml.bos_token_id", 50256);
    check_u32(g, "tokenizer.ggml.eos_token_id", 50256);
    const sl_gguf_kv *tok = check_arr(g, "tokenizer.ggml.tokens", SL_GGUF_STRING, 50257);
    const sl_gguf_kv *merges = check_arr(g, "tokenizer.ggml.merges", SL_GGUF_STRING, 50000);
    if (tok)
        T_CHECK(sl_gguf_str_eq(tok->arr_strs[0], "!") &&
                    sl_gguf_str_eq(tok->arr_strs[50256], "<|endoftext|>"), "tokens 0 and 50256");
    if (merges) /* GPT-2's first merge: "Ġ t" (Ġ is U+0120, the byte-level space) */
        T_CHECK(sl_gguf_str_eq(merges->arr_strs[0], "\xc4\xa0 t"), "first merge");
    /* the same bytes through the memory entry point parse the same */
    sl_gguf *m = NULL;
    sl_error err;
    T_CHECK(sl_gguf_open_memory(&m, orig, size, "copy", &err) == SL_OK && m->n_kv == g->n_kv, "%s", err.msg);
    for (uint64_t i = 0; m && i < m->n_kv; i++)
        T_CHECK(kv_equal(&g->kv[i], &m->kv[i]), "kv %llu", (unsigned long long)i);
    sl_gguf_close(m);
    check_rewrite_identical(g, orig, size);
    sl_gguf_close(g);
    free(orig);
}

int main(void) {
    T_RUN(test_small_valid);
    T_RUN(test_every_prefix_rejected);
    T_RUN(test_corrupt_header);
    T_RUN(test_corrupt_kv);
    T_RUN(test_bad_alignment);
    T_RUN(test_corrupt_tensors);
    T_RUN(test_open_errors);
    T_RUN(test_writer_bytes_match_spec);
    T_RUN(test_roundtrip_metadata);
    T_RUN(test_roundtrip_tensors);
    T_RUN(test_real_llama_tiny);
    T_RUN(test_real_vocab_llama_spm);
    T_RUN(test_real_vocab_gpt2);
    return T_DONE();
}
