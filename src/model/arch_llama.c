/* arch_llama.c — the Llama family: llama (Llama 2/3, TinyLlama, Mistral,
 * SmolLM, CodeLlama, llama2.c conversions) and qwen2 (q/k/v biases, NEOX RoPE).
 * Reads hyper-parameters from GGUF keys and binds every tensor, checking its
 * shape against them. The forward pass is forward_llama.c. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "model/gguf_names.h"
#include "model/model.h"

/* Reads "<arch>.<suffix>" as a positive int into *out. */
static sl_status get_arch_int(sl_model *m, const char *fmt, int *out, bool required, int64_t lo,
                              int64_t hi, sl_error *err) {
    char key[128];
    snprintf(key, sizeof key, fmt, m->arch);
    int64_t v;
    sl_status st = sl_gguf_get_i64(m->gguf, key, &v, err);
    if (st == SL_ERR_NOT_FOUND) {
        if (!required) return SL_OK;
        return sl_fail(err, SL_ERR_FORMAT, "%s: key '%s' is missing", m->gguf->path, key);
    }
    if (st != SL_OK) return st;
    if (v < lo || v > hi)
        return sl_fail(err, SL_ERR_FORMAT, "%s: key '%s' is %lld, expected %lld..%lld",
                       m->gguf->path, key, (long long)v, (long long)lo, (long long)hi);
    *out = (int)v;
    return SL_OK;
}

static sl_status get_arch_f32(sl_model *m, const char *fmt, float *out, sl_error *err) {
    char key[128];
    snprintf(key, sizeof key, fmt, m->arch);
    sl_status st = sl_gguf_get_f32(m->gguf, key, out, err);
    return st == SL_ERR_NOT_FOUND ? SL_OK : st;
}

#define TRY(x)                                                                                    \
    do {                                                                                          \
        sl_status st_ = (x);                                                                      \
        if (st_ != SL_OK) return st_;                                                             \
    } while (0)

static sl_status read_hparams(sl_model *m, sl_error *err) {
    sl_hparams *hp = &m->hp;
    const int BIG = 1 << 20;
    TRY(get_arch_int(m, KEY_EMBD, &hp->n_embd, true, 1, BIG, err));
    TRY(get_arch_int(m, KEY_BLOCKS, &hp->n_layer, true, 1, 4096, err));
    TRY(get_arch_int(m, KEY_FF, &hp->n_ff, true, 1, BIG, err));
    TRY(get_arch_int(m, KEY_HEADS, &hp->n_head, true, 1, 4096, err));
    hp->n_head_kv = hp->n_head;
    TRY(get_arch_int(m, KEY_HEADS_KV, &hp->n_head_kv, false, 1, 4096, err));
    hp->n_ctx_train = 2048;
    TRY(get_arch_int(m, KEY_CTX_LEN, &hp->n_ctx_train, false, 1, 1 << 30, err));
    if (hp->n_embd % hp->n_head != 0)
        return sl_fail(err, SL_ERR_FORMAT, "%s: embedding_length %d is not a multiple of head_count %d",
                       m->gguf->path, hp->n_embd, hp->n_head);
    if (hp->n_head % hp->n_head_kv != 0)
        return sl_fail(err, SL_ERR_FORMAT, "%s: head_count %d is not a multiple of head_count_kv %d",
                       m->gguf->path, hp->n_head, hp->n_head_kv);
    hp->head_dim = hp->n_embd / hp->n_head;
    TRY(get_arch_int(m, KEY_KEY_LENGTH, &hp->head_dim, false, 1, 65536, err));
    int vlen = hp->head_dim;
    TRY(get_arch_int(m, KEY_VALUE_LENGTH, &vlen, false, 1, 65536, err));
    if (vlen != hp->head_dim)
        return sl_fail(err, SL_ERR_UNSUPPORTED, "%s: value_length %d differs from key_length %d",
                       m->gguf->path, vlen, hp->head_dim);
    hp->n_rot = hp->head_dim;
    TRY(get_arch_int(m, KEY_ROPE_DIM, &hp->n_rot, false, 0, hp->head_dim, err));
    if (hp->n_rot % 2 != 0)
        return sl_fail(err, SL_ERR_FORMAT, "%s: rope.dimension_count %d must be even", m->gguf->path,
                       hp->n_rot);

    hp->rms_eps = 1e-5f;
    TRY(get_arch_f32(m, KEY_RMS_EPS, &hp->rms_eps, err));
    if (!(hp->rms_eps > 0 && hp->rms_eps < 1))
        return sl_fail(err, SL_ERR_FORMAT, "%s: layer_norm_rms_epsilon %g is not in (0, 1)",
                       m->gguf->path, hp->rms_eps);
    float base = 10000.0f;
    TRY(get_arch_f32(m, KEY_ROPE_BASE, &base, err));
    if (!(base > 1.0f))
        return sl_fail(err, SL_ERR_FORMAT, "%s: rope.freq_base %g must be > 1", m->gguf->path, base);
    hp->rope_base = base;

    /* Linear RoPE scaling: positions are multiplied by 1/factor. */
    float factor = 0.0f;
    char key[128];
    snprintf(key, sizeof key, KEY_ROPE_SCALING_TYPE, m->arch);
    sl_gguf_str stype;
    bool linear = false;
    if (sl_gguf_get_str(m->gguf, key, &stype, NULL) == SL_OK) {
        if (sl_gguf_str_eq(stype, "linear")) linear = true;
        else if (!sl_gguf_str_eq(stype, "none") && !sl_gguf_str_eq(stype, ""))
            return sl_fail(err, SL_ERR_UNSUPPORTED, "%s: rope scaling type '%.*s' is not supported "
                           "(supported: none, linear)", m->gguf->path, (int)stype.len, stype.ptr);
    }
    if (linear) TRY(get_arch_f32(m, KEY_ROPE_SCALING_FACTOR, &factor, err));
    float old_scale = 0.0f;
    TRY(get_arch_f32(m, KEY_ROPE_SCALE_LINEAR, &old_scale, err));
    if (old_scale > 0) factor = old_scale;
    hp->rope_freq_scale = factor > 0 ? 1.0 / factor : 1.0;

    hp->rope_style = !strcmp(m->arch, "qwen2") ? SL_ROPE_NEOX : SL_ROPE_NORM;

    hp->sink_token = -1;
    int64_t sink;
    if (sl_gguf_get_i64(m->gguf, KEY_SINK_TOKEN, &sink, NULL) == SL_OK) hp->sink_token = (int32_t)sink;
    bool zs = false;
    if (sl_gguf_get_bool(m->gguf, KEY_ZERO_SINK, &zs, NULL) == SL_OK) hp->zero_sink = zs;
    return SL_OK;
}

sl_status sl_arch_llama_load(sl_model *m, sl_error *err) {
    TRY(read_hparams(m, err));
    sl_hparams *hp = &m->hp;

    const sl_gguf_tensor *te = sl_gguf_find_tensor(m->gguf, TN_TOKEN_EMBD);
    if (!te) return sl_fail(err, SL_ERR_FORMAT, "%s: tensor '%s' is missing", m->gguf->path, TN_TOKEN_EMBD);
    if (te->n_dims != 2 || te->ne[1] < 1 || te->ne[1] > (1u << 24))
        return sl_fail(err, SL_ERR_FORMAT, "%s: tensor '%s' must be 2-D [n_embd x n_vocab]",
                       m->gguf->path, TN_TOKEN_EMBD);
    hp->n_vocab = (int)te->ne[1];
    int nv_key = hp->n_vocab;
    TRY(get_arch_int(m, KEY_VOCAB_SIZE, &nv_key, false, 1, 1 << 24, err));
    if (nv_key != hp->n_vocab)
        return sl_fail(err, SL_ERR_FORMAT, "%s: vocab_size %d but %s has %d rows", m->gguf->path,
                       nv_key, TN_TOKEN_EMBD, hp->n_vocab);

    const int64_t E = hp->n_embd, Q = (int64_t)hp->n_head * hp->head_dim,
                  KV = (int64_t)hp->n_head_kv * hp->head_dim, F = hp->n_ff, V = hp->n_vocab;
    TRY(sl_model_bind_matrix(m, &m->tok_embd, TN_TOKEN_EMBD, V, E, true, err));
    TRY(sl_model_bind_vector(m, &m->output_norm, TN_OUTPUT_NORM, E, true, err));
    TRY(sl_model_bind_matrix(m, &m->output, TN_OUTPUT, V, E, false, err));
    if (!m->output.data) m->output = m->tok_embd; /* tied */
    TRY(sl_model_bind_vector(m, &m->rope_freqs, TN_ROPE_FREQS, hp->n_rot / 2, false, err));

    m->layers = calloc((size_t)hp->n_layer, sizeof *m->layers);
    if (!m->layers) return sl_fail(err, SL_ERR_NOMEM, "%s: out of memory", m->gguf->path);
    bool biases = !strcmp(m->arch, "qwen2");
    for (int il = 0; il < hp->n_layer; il++) {
        sl_layer *l = &m->layers[il];
        char n[96];
#define NAME(fmt) (snprintf(n, sizeof n, fmt, il), n)
        TRY(sl_model_bind_vector(m, &l->attn_norm, NAME(TN_ATTN_NORM), E, true, err));
        TRY(sl_model_bind_matrix(m, &l->wq, NAME(TN_ATTN_Q), Q, E, true, err));
        TRY(sl_model_bind_matrix(m, &l->wk, NAME(TN_ATTN_K), KV, E, true, err));
        TRY(sl_model_bind_matrix(m, &l->wv, NAME(TN_ATTN_V), KV, E, true, err));
        TRY(sl_model_bind_vector(m, &l->bq, NAME(TN_ATTN_Q_BIAS), Q, biases, err));
        TRY(sl_model_bind_vector(m, &l->bk, NAME(TN_ATTN_K_BIAS), KV, biases, err));
        TRY(sl_model_bind_vector(m, &l->bv, NAME(TN_ATTN_V_BIAS), KV, biases, err));
        TRY(sl_model_bind_matrix(m, &l->wo, NAME(TN_ATTN_OUT), E, Q, true, err));
        TRY(sl_model_bind_vector(m, &l->ffn_norm, NAME(TN_FFN_NORM), E, true, err));
        TRY(sl_model_bind_matrix(m, &l->w_gate, NAME(TN_FFN_GATE), F, E, true, err));
        TRY(sl_model_bind_matrix(m, &l->w_up, NAME(TN_FFN_UP), F, E, true, err));
        TRY(sl_model_bind_matrix(m, &l->w_down, NAME(TN_FFN_DOWN), E, F, true, err));
#undef NAME
    }
    return SL_OK;
}
