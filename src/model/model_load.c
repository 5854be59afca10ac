/* model_load.c — open a GGUF, dispatch on general.architecture, build the
 * tokenizer; the public sl_model_* and sl_tokenize entry points. */
#include "model/model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "model/gguf_names.h"

typedef struct {
    const char *arch;
    sl_status (*load)(sl_model *m, sl_error *err);
} arch_entry;

static const arch_entry ARCHES[] = {
    {"llama", sl_arch_llama_load},
    {"qwen2", sl_arch_llama_load},
};

static void copy_str(char *dst, size_t cap, sl_gguf_str s) {
    size_t n = s.len < cap - 1 ? (size_t)s.len : cap - 1;
    memcpy(dst, s.ptr, n);
    dst[n] = '\0';
}

sl_status sl_model_load(sl_model **out, const char *path, sl_error *err) {
    *out = NULL;
    sl_model *m = calloc(1, sizeof *m);
    if (!m) return sl_fail(err, SL_ERR_NOMEM, "%s: out of memory", path);
    sl_status st = sl_gguf_open(&m->gguf, path, err);
    if (st != SL_OK) goto fail;

    sl_gguf_str s;
    st = sl_gguf_get_str(m->gguf, KEY_ARCH, &s, err);
    if (st == SL_ERR_NOT_FOUND) {
        st = sl_fail(err, SL_ERR_FORMAT, "%s: key '%s' is missing (is this a model file?)", path,
                     KEY_ARCH);
        goto fail;
    }
    if (st != SL_OK) goto fail;
    copy_str(m->arch, sizeof m->arch, s);
    if (sl_gguf_get_str(m->gguf, KEY_NAME, &s, NULL) == SL_OK) copy_str(m->name, sizeof m->name, s);

    const arch_entry *a = NULL;
    for (size_t i = 0; i < sizeof ARCHES / sizeof ARCHES[0]; i++)
        if (!strcmp(ARCHES[i].arch, m->arch)) a = &ARCHES[i];
    if (!a) {
        st = sl_fail(err, SL_ERR_UNSUPPORTED,
                     "%s: architecture '%s' is not supported (supported: llama, qwen2)", path,
                     m->arch);
        goto fail;
    }
    st = a->load(m, err);
    if (st != SL_OK) goto fail;
    st = sl_model_repack(m, err);
    if (st != SL_OK) goto fail;

    st = sl_tokenizer_load(&m->tok, m->gguf, err);
    if (st != SL_OK) goto fail;
    if (sl_tokenizer_n_vocab(m->tok) != m->hp.n_vocab) {
        st = sl_fail(err, SL_ERR_FORMAT, "%s: tokenizer has %d tokens but %s has %d rows", path,
                     sl_tokenizer_n_vocab(m->tok), TN_TOKEN_EMBD, m->hp.n_vocab);
        goto fail;
    }
    *out = m;
    return SL_OK;
fail:
    sl_model_free(m);
    return st;
}

void sl_model_free(sl_model *m) {
    if (!m) return;
    sl_tokenizer_free(m->tok);
    free(m->layers);
    for (void *c = m->f32_copies; c;) {
        void *next = *(void **)c;
        free(c);
        c = next;
    }
    sl_model_repack_free(m->x8_copies);
    sl_gguf_close(m->gguf);
    free(m);
}

void sl_model_get_info(const sl_model *m, sl_model_info *o) {
    memset(o, 0, sizeof *o);
    o->arch = m->arch;
    o->name = m->name;
    o->n_vocab = m->hp.n_vocab;
    o->n_embd = m->hp.n_embd;
    o->n_layer = m->hp.n_layer;
    o->n_head = m->hp.n_head;
    o->n_head_kv = m->hp.n_head_kv;
    o->n_ff = m->hp.n_ff;
    o->n_ctx_train = m->hp.n_ctx_train;
    o->head_dim = m->hp.head_dim;
    o->bos_id = m->tok ? sl_tokenizer_bos(m->tok) : -1;
    o->eos_id = m->tok ? sl_tokenizer_eos(m->tok) : -1;
    o->add_bos = m->tok ? sl_tokenizer_add_bos(m->tok) : false;
}

/* ---- binding helpers ---------------------------------------------------- */

sl_status sl_model_bind_matrix(sl_model *m, sl_matrix *out, const char *name, int64_t rows,
                               int64_t cols, bool required, sl_error *err) {
    memset(out, 0, sizeof *out);
    const sl_gguf_tensor *t = sl_gguf_find_tensor(m->gguf, name);
    if (!t) {
        if (!required) return SL_OK;
        return sl_fail(err, SL_ERR_FORMAT, "%s: tensor '%s' is missing", m->gguf->path, name);
    }
    if (t->n_dims != 2 || (int64_t)t->ne[0] != cols || (int64_t)t->ne[1] != rows)
        return sl_fail(err, SL_ERR_FORMAT,
                       "%s: tensor '%s' has shape [%llu x %llu] (n_dims %u) but the "
                       "hyper-parameters need [%lld x %lld]",
                       m->gguf->path, name, (unsigned long long)t->ne[0],
                       (unsigned long long)(t->n_dims > 1 ? t->ne[1] : 1), t->n_dims,
                       (long long)cols, (long long)rows);
    const sl_type_traits *tr = sl_type_get(t->type);
    if (!tr || !tr->supported || !tr->vec_dot || !tr->to_float)
        return sl_fail(err, SL_ERR_UNSUPPORTED, "%s: tensor '%s' has type %s, which is not supported",
                       m->gguf->path, name, sl_type_name(t->type));
    out->data = t->data;
    out->type = (sl_type)t->type;
    out->rows = rows;
    out->cols = cols;
    return SL_OK;
}

sl_status sl_model_bind_vector(sl_model *m, const float **out, const char *name, int64_t n,
                               bool required, sl_error *err) {
    *out = NULL;
    const sl_gguf_tensor *t = sl_gguf_find_tensor(m->gguf, name);
    if (!t) {
        if (!required) return SL_OK;
        return sl_fail(err, SL_ERR_FORMAT, "%s: tensor '%s' is missing", m->gguf->path, name);
    }
    uint64_t count = t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3];
    if ((int64_t)count != n)
        return sl_fail(err, SL_ERR_FORMAT, "%s: tensor '%s' has %llu elements but %lld are needed",
                       m->gguf->path, name, (unsigned long long)count, (long long)n);
    if (t->type == SL_TYPE_F32) {
        /* The mapping is aligned to general.alignment (>= 32 by validation of
         * offsets), so f32 data can be used in place. */
        *out = t->data;
        return SL_OK;
    }
    const sl_type_traits *tr = sl_type_get(t->type);
    if (!tr || !tr->to_float || n % tr->blck_size != 0)
        return sl_fail(err, SL_ERR_UNSUPPORTED, "%s: tensor '%s' has type %s, expected f32 or f16",
                       m->gguf->path, name, sl_type_name(t->type));
    /* Convert once into an owned buffer. Pointers handed out earlier must
     * stay valid, so each copy is its own allocation chained in a list. */
    /* 16 bytes of header keep the floats aligned. */
    char *buf = malloc(16 + (size_t)n * sizeof(float));
    if (!buf) return sl_fail(err, SL_ERR_NOMEM, "%s: out of memory", m->gguf->path);
    *(void **)buf = m->f32_copies;
    m->f32_copies = buf;
    float *vals = (float *)(buf + 16);
    tr->to_float(vals, t->data, n);
    *out = vals;
    return SL_OK;
}

/* ---- tokenizer entry points --------------------------------------------- */

sl_status sl_tokenize(const sl_model *m, const char *text, size_t len, bool add_bos,
                      bool parse_special, int32_t *out, size_t cap, size_t *n_out, sl_error *err) {
    int32_t *ids = NULL;
    size_t n = 0;
    sl_status st = sl_tokenizer_encode(m->tok, text, len, add_bos, parse_special, &ids, &n, err);
    if (st != SL_OK) return st;
    *n_out = n;
    if (n > cap) {
        free(ids);
        return sl_fail(err, SL_ERR_INVALID_ARG, "tokenize: %zu tokens do not fit in %zu", n, cap);
    }
    memcpy(out, ids, n * sizeof *ids);
    free(ids);
    return SL_OK;
}

const char *sl_token_piece(const sl_model *m, int32_t id, size_t *len) {
    return sl_tokenizer_piece(m->tok, id, len);
}
