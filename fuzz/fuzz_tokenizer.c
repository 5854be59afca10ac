/* fuzz_tokenizer.c — libFuzzer target for the tokenizers on any bytes.
 *
 * Byte 0 picks the vocabulary (SentencePiece from the tiny synthetic model;
 * byte-level BPE with the default, gpt-2, llama3, qwen2, smollm and falcon
 * pre-tokenizers) and the flags (add BOS, parse control-token text); the
 * rest is the text. Invalid UTF-8 must be refused with an error, never read
 * past. Valid text must encode to ids inside the vocabulary, and for
 * byte-level BPE without special parsing it must decode back to itself.
 * Build: make fuzz CC=clang BUILD=build-fuzz; seeds in fuzz/corpus/tokenizer/. */
#include "fuzz_util.h"

#include "model/model.h"

#define N_VOCABS 7

static const sl_tokenizer *vocab(int k) {
    static const sl_tokenizer *v[N_VOCABS];
    static const char *const pre[N_VOCABS] = {NULL, "default", "gpt-2", "llama3", "qwen2", "smollm", "falcon"};
    if (!v[k]) v[k] = k == 0 ? fuzz_tiny_model()->tok : fuzz_bpe_tokenizer(pre[k]);
    return v[k];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    const int k = data[0] % N_VOCABS;
    const bool bos = data[0] & 0x40, special = data[0] & 0x80;
    const sl_tokenizer *t = vocab(k);
    const char *text = (const char *)data + 1;
    const size_t len = size - 1;
    int32_t *ids = NULL;
    size_t n = 0;
    sl_error err;
    bool valid = sl_utf8_validate(text, len) == (size_t)-1;
    sl_status st = sl_tokenizer_encode(t, text, len, bos, special, &ids, &n, &err);
    if (st != SL_OK) {
        if (valid) __builtin_trap(); /* valid text always has a tokenization */
        fuzz_touch(err.msg, strlen(err.msg));
        free(ids);
        return 0;
    }
    if (!valid) __builtin_trap(); /* invalid UTF-8 must be refused */
    const int V = sl_tokenizer_n_vocab(t);
    size_t out_len = 0;
    char *out = malloc(len + 1);
    bool roundtrip = k != 0 && !special && out;
    for (size_t i = 0; i < n; i++) {
        if (ids[i] < 0 || ids[i] >= V) __builtin_trap();
        size_t pl;
        const char *piece = sl_tokenizer_piece(t, ids[i], &pl);
        fuzz_touch(piece, pl);
        const char *tx = sl_tokenizer_token_text(t, ids[i]);
        fuzz_touch(tx, strlen(tx));
        if (roundtrip && !(bos && i == 0 && ids[i] == sl_tokenizer_bos(t))) {
            if (out_len + pl > len) __builtin_trap(); /* decodes to more than the text */
            memcpy(out + out_len, piece, pl);
            out_len += pl;
        }
    }
    if (roundtrip && (out_len != len || memcmp(out, text, len) != 0)) __builtin_trap();
    free(out);
    free(ids);
    return 0;
}
