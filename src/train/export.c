/* export.c — a trained model as a llama GGUF with llama.cpp's names and keys
 * (the same set model/synth.c writes), so `generate`, `ppl` and other GGUF
 * readers load it. The output matrix is tied to token_embd (no output.weight). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "model/gguf_names.h"
#include "tensor/quant.h"
#include "train/trainer.h"

static sl_status add(sl_gguf_writer *w, const char *name, const float *x, int64_t rows,
                     int64_t cols, uint32_t type, sl_error *err) {
    size_t rb = sl_row_size(type, cols);
    void *buf = NULL;
    const void *src = x;
    if (type != SL_TYPE_F32) {
        buf = malloc(rb * (size_t)rows);
        if (!buf) return sl_fail(err, SL_ERR_NOMEM, "export: out of memory for %s", name);
        const sl_type_traits *tt = sl_type_get(type);
        for (int64_t r = 0; r < rows; r++)
            tt->from_float((char *)buf + (size_t)r * rb, x + (size_t)r * cols, cols);
        src = buf;
    }
    uint64_t ne[2] = {(uint64_t)cols, (uint64_t)rows};
    sl_status st = sl_gguf_writer_add_tensor(w, name, type, rows > 1 ? 2 : 1, ne, src,
                                             rb * (uint64_t)rows, err);
    free(buf);
    return st;
}

/* Every key of vocab that is not tokenizer.* goes on the skip list. */
static sl_status copy_tokenizer(sl_gguf_writer *w, const sl_gguf *g, sl_error *err) {
    const char **skip = calloc(g->n_kv + 1, sizeof *skip);
    char **owned = calloc(g->n_kv + 1, sizeof *owned);
    sl_status st = SL_OK;
    if (!skip || !owned) st = sl_fail(err, SL_ERR_NOMEM, "export: out of memory");
    size_t n = 0;
    for (uint64_t i = 0; st == SL_OK && i < g->n_kv; i++) {
        sl_gguf_str k = g->kv[i].key;
        if (k.len >= 10 && memcmp(k.ptr, "tokenizer.", 10) == 0) continue;
        owned[n] = strndup(k.ptr, k.len);
        if (!owned[n]) st = sl_fail(err, SL_ERR_NOMEM, "export: out of memory");
        else skip[n] = owned[n], n++;
    }
    if (st == SL_OK) st = sl_gguf_writer_copy_kvs(w, g, skip, err);
    for (size_t i = 0; owned && i < n; i++) free(owned[i]);
    free(owned);
    free(skip);
    return st;
}

sl_status sl_train_export(const sl_train_model *m, const sl_gguf *vocab, const char *name,
                          uint32_t wtype, const char *path, sl_error *err) {
    const sl_train_config *c = &m->c;
    if (wtype != SL_TYPE_F32 && wtype != SL_TYPE_F16)
        return sl_fail(err, SL_ERR_INVALID_ARG, "export: weight type must be f32 or f16");
    const sl_gguf_kv *toks;
    if (!vocab || sl_gguf_get_arr(vocab, KEY_TOK_TOKENS, SL_GGUF_STRING, &toks, NULL) != SL_OK)
        return sl_fail(err, SL_ERR_INVALID_ARG, "export: the vocabulary file has no %s", KEY_TOK_TOKENS);
    if (toks->arr_n != (uint64_t)c->n_vocab)
        return sl_fail(err, SL_ERR_INVALID_ARG, "export: the vocabulary has %llu tokens but the "
                       "model %d", (unsigned long long)toks->arr_n, c->n_vocab);
    sl_gguf_writer *w;
    sl_status st = sl_gguf_writer_create(&w, err);
    if (st != SL_OK) return st;
    char key[128];
    const int E = c->n_embd, F = c->n_ff, V = c->n_vocab;
#define SET(call) do { if (st == SL_OK) st = (call); } while (0)
#define K(fmt) (snprintf(key, sizeof key, fmt, "llama"), key)
    SET(sl_gguf_writer_set_str(w, KEY_ARCH, "llama"));
    SET(sl_gguf_writer_set_str(w, KEY_NAME, name ? name : "streamllm-trained"));
    SET(sl_gguf_writer_set_u32(w, KEY_FILE_TYPE, wtype == SL_TYPE_F16 ? 1 : 0));
    SET(sl_gguf_writer_set_u32(w, K(KEY_CTX_LEN), (uint32_t)c->n_ctx));
    SET(sl_gguf_writer_set_u32(w, K(KEY_EMBD), (uint32_t)E));
    SET(sl_gguf_writer_set_u32(w, K(KEY_BLOCKS), (uint32_t)c->n_layer));
    SET(sl_gguf_writer_set_u32(w, K(KEY_FF), (uint32_t)F));
    SET(sl_gguf_writer_set_u32(w, K(KEY_HEADS), (uint32_t)c->n_head));
    SET(sl_gguf_writer_set_u32(w, K(KEY_HEADS_KV), (uint32_t)c->n_head));
    SET(sl_gguf_writer_set_u32(w, K(KEY_ROPE_DIM), (uint32_t)(E / c->n_head)));
    SET(sl_gguf_writer_set_f32(w, K(KEY_ROPE_BASE), (float)c->rope_base));
    SET(sl_gguf_writer_set_f32(w, K(KEY_RMS_EPS), c->rms_eps));
    SET(sl_gguf_writer_set_u32(w, K(KEY_VOCAB_SIZE), (uint32_t)V));
    if (c->sink_token >= 0) SET(sl_gguf_writer_set_i32(w, KEY_SINK_TOKEN, c->sink_token));
    if (c->zero_sink) SET(sl_gguf_writer_set_bool(w, KEY_ZERO_SINK, true));
#undef K
#undef SET
    if (st != SL_OK) st = sl_fail(err, st, "%s: cannot store the hyper-parameters", path);
    if (st == SL_OK) st = copy_tokenizer(w, vocab, err);
    const sl_train_weights *W = &m->w;
    if (st == SL_OK) st = add(w, TN_TOKEN_EMBD, W->tok_embd, V, E, wtype, err);
    if (st == SL_OK) st = add(w, TN_OUTPUT_NORM, W->output_norm, 1, E, SL_TYPE_F32, err);
    char n[96];
    for (int l = 0; l < c->n_layer && st == SL_OK; l++) {
        const sl_train_layer *L = &W->layers[l];
#define T(fmt, x, rows, cols, type)                                                 \
    do {                                                                            \
        snprintf(n, sizeof n, fmt, l);                                              \
        if (st == SL_OK) st = add(w, n, x, rows, cols, type, err);                  \
    } while (0)
        T(TN_ATTN_NORM, L->attn_norm, 1, E, SL_TYPE_F32);
        T(TN_ATTN_Q, L->wq, E, E, wtype);
        T(TN_ATTN_K, L->wk, E, E, wtype);
        T(TN_ATTN_V, L->wv, E, E, wtype);
        T(TN_ATTN_OUT, L->wo, E, E, wtype);
        T(TN_FFN_NORM, L->ffn_norm, 1, E, SL_TYPE_F32);
        T(TN_FFN_GATE, L->w_gate, F, E, wtype);
        T(TN_FFN_UP, L->w_up, F, E, wtype);
        T(TN_FFN_DOWN, L->w_down, E, F, wtype);
#undef T
    }
    if (st == SL_OK) st = sl_gguf_writer_write(w, path, err);
    sl_gguf_writer_free(w);
    return st;
}
