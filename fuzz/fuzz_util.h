/* fuzz_util.h — what the libFuzzer targets share: the input as a file (the
 * readers of llama2.c checkpoints, chat saves and training checkpoints take
 * paths), a tiny synthetic model, and byte-level BPE vocabularies built in
 * memory. Header-only: each target is one translation unit linked against
 * the library archive. Built with clang -fsanitize=fuzzer (see Makefile). */
#ifndef SL_FUZZ_UTIL_H
#define SL_FUZZ_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

#include "gguf/gguf.h"
#include "model/synth.h"
#include "streamllm.h"
#include "tokenizer/tokenizer.h"

static volatile unsigned char fuzz_sink;

/* Reads every byte the caller claims is valid; ASan reports a bad view. */
static inline void fuzz_touch(const void *p, size_t n) {
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) fuzz_sink ^= b[i];
}

/* The readers of llama2.c checkpoints, chat saves and training checkpoints
 * take paths, and the writers write a temporary file beside the target and
 * rename it: so inputs and outputs live in one private directory, removed
 * at exit. Each fuzz_file_set rewrites a file with data[0..n). */
typedef struct {
    int fd;
    char path[128];
} fuzz_file;

static char fuzz_dir[64];

static void fuzz_dir_remove(void) {
    char cmd[96];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", fuzz_dir);
    if (fuzz_dir[0] && system(cmd) != 0) fprintf(stderr, "fuzz: cannot remove %s\n", fuzz_dir);
}

static inline const char *fuzz_tmpdir(void) {
    if (!fuzz_dir[0]) {
        const char *base = getenv("TMPDIR");
        snprintf(fuzz_dir, sizeof fuzz_dir, "%s/sl-fuzz-XXXXXX", base && *base && strlen(base) < 40 ? base : "/tmp");
        if (!mkdtemp(fuzz_dir)) abort();
        atexit(fuzz_dir_remove);
    }
    return fuzz_dir;
}

static inline void fuzz_file_open(fuzz_file *f, const char *name) {
    snprintf(f->path, sizeof f->path, "%s/%s", fuzz_tmpdir(), name);
    f->fd = open(f->path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (f->fd < 0) abort();
}

static inline void fuzz_file_set(fuzz_file *f, const void *data, size_t n) {
    if (ftruncate(f->fd, 0) != 0 || (n && pwrite(f->fd, data, n, 0) != (ssize_t)n)) abort();
}

/* A tiny random-weight llama (synth's "tiny" preset with its SentencePiece
 * vocab, ctx 128, made smaller: 64 embd, 1 layer, 2 heads, 1 KV head),
 * written and loaded once. */
static inline sl_model *fuzz_tiny_model(void) {
    static sl_model *m;
    if (m) return m;
    char path[160];
    snprintf(path, sizeof path, "%s/tiny.gguf", fuzz_tmpdir());
    sl_synth_params p;
    sl_synth_params_default(&p);
    /* Small enough that a saved chat fits the 4 KiB inputs CI fuzzes with;
     * head_dim 32 so the q8_0 cache works; GQA (2 query heads per KV head). */
    p.n_embd = 64, p.n_head = 2, p.n_head_kv = 1, p.n_layer = 1, p.n_ff = 64;
    sl_error err;
    if (sl_synth_write(&p, path, &err) != SL_OK || sl_model_load(&m, path, &err) != SL_OK) {
        fprintf(stderr, "fuzz: cannot build the tiny model: %s\n", err.msg);
        abort();
    }
    return m;
}

/* GPT-2's byte -> code point map of byte-level BPE. */
static inline int fuzz_byte_cp(int b) {
    if ((b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF)) return b;
    int n = 0;
    for (int c = 0; c < b; c++)
        if (!((c >= 0x21 && c <= 0x7E) || (c >= 0xA1 && c <= 0xAC) || (c >= 0xAE && c <= 0xFF))) n++;
    return 256 + n;
}

static inline int fuzz_utf8_put(char *o, int cp) {
    if (cp < 0x80) return o[0] = (char)cp, 1;
    if (cp < 0x800) return o[0] = (char)(0xC0 | cp >> 6), o[1] = (char)(0x80 | (cp & 63)), 2;
    o[0] = (char)(0xE0 | cp >> 12), o[1] = (char)(0x80 | ((cp >> 6) & 63)), o[2] = (char)(0x80 | (cp & 63));
    return 3;
}

/* A byte-level BPE vocabulary ("gpt2" model, pre-tokenizer pre): the 256
 * byte tokens, a few merges (" t", "he", " the", "in", "er", " a", "12"),
 * and control tokens <|endoftext|>, <|im_start|>, <|im_end|>. */
static inline sl_tokenizer *fuzz_bpe_tokenizer(const char *pre) {
    static char store[256][4];
    const char *toks[256 + 16];
    int types[256 + 16];
    int n = 0;
    for (int b = 0; b < 256; b++) {
        int k = fuzz_utf8_put(store[b], fuzz_byte_cp(b));
        store[b][k] = 0;
        types[n] = SL_TOKEN_NORMAL;
        toks[n++] = store[b];
    }
    static const char *merged[] = {"\xC4\xA0t", "he", "\xC4\xA0the", "in", "er", "\xC4\xA0\x61", "12"};
    static const char *merges[] = {"\xC4\xA0 t", "h e", "\xC4\xA0t he", "i n", "e r", "\xC4\xA0 a", "1 2"};
    for (int i = 0; i < 7; i++) types[n] = SL_TOKEN_NORMAL, toks[n++] = merged[i];
    static const char *ctl[] = {"<|endoftext|>", "<|im_start|>", "<|im_end|>"};
    for (int i = 0; i < 3; i++) types[n] = SL_TOKEN_CONTROL, toks[n++] = ctl[i];
    sl_gguf_writer *w;
    sl_error err;
    if (sl_gguf_writer_create(&w, &err) != SL_OK) abort();
    sl_gguf_writer_set_str(w, "tokenizer.ggml.model", "gpt2");
    sl_gguf_writer_set_str(w, "tokenizer.ggml.pre", pre);
    sl_gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", toks, NULL, (uint64_t)n);
    sl_gguf_writer_set_arr(w, "tokenizer.ggml.token_type", SL_GGUF_INT32, types, (uint64_t)n);
    sl_gguf_writer_set_arr_str(w, "tokenizer.ggml.merges", merges, NULL, 7);
    sl_gguf_writer_set_u32(w, "tokenizer.ggml.eos_token_id", (uint32_t)(n - 3));
    sl_gguf_writer_set_u32(w, "tokenizer.ggml.bos_token_id", (uint32_t)(n - 3)); /* llama3 adds BOS */
    void *buf;
    size_t len;
    sl_gguf *g;
    sl_tokenizer *t;
    if (sl_gguf_writer_write_memory(w, &buf, &len, &err) != SL_OK ||
        sl_gguf_open_memory(&g, buf, len, "bpe", &err) != SL_OK || sl_tokenizer_load(&t, g, &err) != SL_OK) {
        fprintf(stderr, "fuzz: cannot build the BPE vocabulary (%s): %s\n", pre, err.msg);
        abort();
    }
    sl_gguf_writer_free(w);
    /* g and buf live as long as the process, reachable (not leaks) for LSan. */
    static void *keep[32];
    static int n_keep;
    if (n_keep + 2 <= 32) keep[n_keep++] = g, keep[n_keep++] = buf;
    return t;
}

#endif
