/* llama2c.c — llama2.c checkpoint + tok.bin -> GGUF (see llama2c.h).
 *
 * Letters: V vocab, E dim, F hidden_dim, L layers, KV = n_kv_heads * head_size,
 * S seq_len, D head_size. llama2.c stores every matrix row-major as
 * (out, in), which is GGUF's ne = {in, out}. */
#include "model/llama2c.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/mapped_file.h"
#include "gguf/gguf.h"
#include "model/gguf_names.h"
#include "model/spm_vocab_keys.h"
#include "tensor/quant.h"

#define V0_HEADER_BYTES 28u   /* 7 x int32 */
#define V1_HEADER_BYTES 256u
#define V1_MAGIC 0x616b3432u  /* "ak42" */
/* Generous bounds so every product below fits easily in 64 bits. */
#define MAX_DIM (1 << 20)
#define MAX_VOCAB (1 << 24)

static int32_t rd_i32(const unsigned char *p) {
    uint32_t v = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    int32_t s;
    memcpy(&s, &v, sizeof s);
    return s;
}

static float rd_f32(const unsigned char *p) {
    uint32_t v = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    float f;
    memcpy(&f, &v, sizeof f);
    return f;
}

/* Byte offsets of each weight block inside the checkpoint. */
typedef struct {
    uint64_t tok_embd;  /* (V, E) */
    uint64_t rms_att;   /* (L, E) */
    uint64_t wq;        /* (L, E, E) as (out, in) */
    uint64_t wk, wv;    /* (L, KV, E) */
    uint64_t wo;        /* (L, E, E) */
    uint64_t rms_ffn;   /* (L, E) */
    uint64_t w1;        /* (L, F, E) gate */
    uint64_t w2;        /* (L, E, F) down */
    uint64_t w3;        /* (L, F, E) up */
    uint64_t rms_final; /* (E) */
    uint64_t wcls;      /* (V, E), only when not shared */
    uint64_t end;       /* expected file size */
} ckpt_layout;

/* Lays out the weights for version c->version starting at the header's end.
 * All products are < 2^62 thanks to the MAX_* bounds checked before. */
static void layout(const sl_llama2c_config *c, ckpt_layout *lo) {
    uint64_t E = (uint64_t)c->dim, F = (uint64_t)c->hidden_dim, L = (uint64_t)c->n_layers;
    uint64_t V = (uint64_t)c->vocab_size, S = (uint64_t)c->seq_len;
    uint64_t D = E / (uint64_t)c->n_heads, KV = D * (uint64_t)c->n_kv_heads;
    uint64_t off;
    memset(lo, 0, sizeof *lo);
    if (c->version == 0) {
        off = V0_HEADER_BYTES;
        lo->tok_embd = off; off += 4 * V * E;
        lo->rms_att = off;  off += 4 * L * E;
        lo->wq = off;       off += 4 * L * E * E;
        lo->wk = off;       off += 4 * L * KV * E;
        lo->wv = off;       off += 4 * L * KV * E;
        lo->wo = off;       off += 4 * L * E * E;
        lo->rms_ffn = off;  off += 4 * L * E;
        lo->w1 = off;       off += 4 * L * F * E;
        lo->w2 = off;       off += 4 * L * E * F;
        lo->w3 = off;       off += 4 * L * F * E;
        lo->rms_final = off; off += 4 * E;
        off += 2 * 4 * S * (D / 2); /* freq_cis_real, freq_cis_imag: unused */
    } else {
        /* export.py version1_export order: norms first, then the matrices. */
        off = V1_HEADER_BYTES;
        lo->rms_att = off;  off += 4 * L * E;
        lo->rms_ffn = off;  off += 4 * L * E;
        lo->rms_final = off; off += 4 * E;
        lo->tok_embd = off; off += 4 * V * E;
        lo->wq = off;       off += 4 * L * E * E;
        lo->wk = off;       off += 4 * L * KV * E;
        lo->wv = off;       off += 4 * L * KV * E;
        lo->wo = off;       off += 4 * L * E * E;
        lo->w1 = off;       off += 4 * L * F * E;
        lo->w2 = off;       off += 4 * L * E * F;
        lo->w3 = off;       off += 4 * L * F * E;
    }
    if (!c->shared_classifier) {
        lo->wcls = off;
        off += 4 * V * E;
    }
    lo->end = off;
}

/* Parses the header of an already mapped checkpoint. */
static sl_status parse_header(const sl_mapped_file *f, const char *path, sl_llama2c_config *c,
                              sl_error *err) {
    memset(c, 0, sizeof *c);
    if (f->size < V0_HEADER_BYTES)
        return sl_fail(err, SL_ERR_FORMAT, "%s: %zu bytes is too small for a llama2.c checkpoint",
                       path, f->size);
    const unsigned char *p = f->data;
    int32_t h[7];
    if ((uint32_t)rd_i32(p) == V1_MAGIC) {
        int32_t version = rd_i32(p + 4);
        if (version != 1)
            return sl_fail(err, SL_ERR_UNSUPPORTED,
                           "%s: llama2.c checkpoint version %d is not supported (only v0 and "
                           "v1 fp32; v2 is int8)", path, (int)version);
        if (f->size < V1_HEADER_BYTES)
            return sl_fail(err, SL_ERR_FORMAT, "%s: truncated v1 header (%zu of %u bytes)", path,
                           f->size, V1_HEADER_BYTES);
        for (int i = 0; i < 7; i++) h[i] = rd_i32(p + 8 + 4 * i);
        c->version = 1;
        c->shared_classifier = p[36] != 0;
        if (h[5] <= 0)
            return sl_fail(err, SL_ERR_FORMAT, "%s: vocab_size %d must be positive in a v1 header",
                           path, (int)h[5]);
    } else {
        for (int i = 0; i < 7; i++) h[i] = rd_i32(p + 4 * i);
        c->version = 0;
        /* Legacy: a negative vocab_size flags an unshared classifier. */
        c->shared_classifier = h[5] > 0;
        if (h[5] < 0 && h[5] != INT32_MIN) h[5] = -h[5];
    }
    c->dim = h[0];
    c->hidden_dim = h[1];
    c->n_layers = h[2];
    c->n_heads = h[3];
    c->n_kv_heads = h[4];
    c->vocab_size = h[5];
    c->seq_len = h[6];

    static const char *const names[7] = {"dim", "hidden_dim", "n_layers", "n_heads",
                                         "n_kv_heads", "vocab_size", "seq_len"};
    static const int32_t maxes[7] = {MAX_DIM, MAX_DIM, 4096, MAX_DIM, MAX_DIM, MAX_VOCAB, 1 << 24};
    for (int i = 0; i < 7; i++) {
        int32_t v = i == 5 ? c->vocab_size : h[i];
        if (v <= 0 || v > maxes[i])
            return sl_fail(err, SL_ERR_FORMAT,
                           "%s: header field %s = %d is out of range [1, %d] (not a llama2.c "
                           "checkpoint?)", path, names[i], (int)v, (int)maxes[i]);
    }
    if (c->dim % c->n_heads != 0 || (c->dim / c->n_heads) % 2 != 0)
        return sl_fail(err, SL_ERR_FORMAT,
                       "%s: dim %d is not n_heads %d times an even head size", path, c->dim,
                       c->n_heads);
    if (c->n_kv_heads > c->n_heads || c->n_heads % c->n_kv_heads != 0)
        return sl_fail(err, SL_ERR_FORMAT, "%s: n_heads %d is not a multiple of n_kv_heads %d",
                       path, c->n_heads, c->n_kv_heads);

    ckpt_layout lo;
    layout(c, &lo);
    if (lo.end != (uint64_t)f->size)
        return sl_fail(err, SL_ERR_FORMAT,
                       "%s: file has %zu bytes but a v%d checkpoint with dim=%d hidden_dim=%d "
                       "n_layers=%d n_heads=%d n_kv_heads=%d vocab_size=%d seq_len=%d (%s "
                       "classifier) needs %llu (%s)",
                       path, f->size, c->version, c->dim, c->hidden_dim, c->n_layers, c->n_heads,
                       c->n_kv_heads, c->vocab_size, c->seq_len,
                       c->shared_classifier ? "shared" : "separate", (unsigned long long)lo.end,
                       (uint64_t)f->size < lo.end ? "truncated" : "trailing bytes");
    return SL_OK;
}

sl_status sl_llama2c_read_config(const char *model_bin, sl_llama2c_config *out, sl_error *err) {
    sl_mapped_file f = {0};
    sl_status st = sl_mapped_file_open(&f, model_bin, err);
    if (st != SL_OK) return st;
    st = parse_header(&f, model_bin, out, err);
    sl_mapped_file_close(&f);
    return st;
}

/* ---- tokenizer -------------------------------------------------------------- */

/* A vocabulary converted to GGUF's conventions. */
typedef struct {
    int n;
    char **text;     /* (n) NUL-terminated, U+2581 for spaces */
    uint64_t *len;   /* (n) bytes of text[i] (pieces may hold NUL bytes) */
    float *score;    /* (n) */
    int32_t *type;   /* (n) llama.cpp token types */
} vocab;

static void vocab_free(vocab *v) {
    if (v->text)
        for (int i = 0; i < v->n; i++) free(v->text[i]);
    free(v->text);
    free(v->len);
    free(v->score);
    free(v->type);
    memset(v, 0, sizeof *v);
}

static bool is_upper_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F'); }

/* SentencePiece byte-fallback pieces are exactly "<0xXX>" with upper-case hex. */
static bool is_byte_token(const char *s, uint64_t n) {
    return n == 6 && memcmp(s, "<0x", 3) == 0 && is_upper_hex(s[3]) && is_upper_hex(s[4]) &&
           s[5] == '>';
}

/* Undoes llama2.c's export: "\n<s>\n" -> "<s>", "\n</s>\n" -> "</s>",
 * ' ' -> U+2581 (E2 96 81). Returns a malloc'd copy, or NULL. */
static char *spm_text(const unsigned char *b, uint32_t n, uint64_t *out_len) {
    if (n == 5 && memcmp(b, "\n<s>\n", 5) == 0) b = (const unsigned char *)"<s>", n = 3;
    else if (n == 6 && memcmp(b, "\n</s>\n", 6) == 0) b = (const unsigned char *)"</s>", n = 4;
    uint64_t spaces = 0;
    for (uint32_t i = 0; i < n; i++) spaces += b[i] == ' ';
    char *s = malloc(n + 2 * spaces + 1);
    if (!s) return NULL;
    uint64_t k = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (b[i] == ' ') {
            s[k++] = (char)0xE2;
            s[k++] = (char)0x96;
            s[k++] = (char)0x81;
        } else {
            s[k++] = (char)b[i];
        }
    }
    s[k] = '\0';
    *out_len = k;
    return s;
}

static sl_status read_vocab(const char *path, int want_n, vocab *v, sl_error *err) {
    memset(v, 0, sizeof *v);
    sl_mapped_file f = {0};
    sl_status st = sl_mapped_file_open(&f, path, err);
    if (st != SL_OK) return st;
    if (f.size < 4) {
        st = sl_fail(err, SL_ERR_FORMAT, "%s: %zu bytes is too small for a llama2.c tokenizer",
                     path, f.size);
        goto done;
    }
    /* After the size check: an empty file maps to NULL, and NULL + 0 is UB. */
    const unsigned char *p = f.data, *end = f.data + f.size;
    int32_t max_len = rd_i32(p);
    p += 4;
    if (max_len <= 0 || max_len > (1 << 20)) {
        st = sl_fail(err, SL_ERR_FORMAT, "%s: max_token_length %d is out of range [1, %d]", path,
                     (int)max_len, 1 << 20);
        goto done;
    }
    v->text = calloc((size_t)want_n, sizeof *v->text);
    v->len = calloc((size_t)want_n, sizeof *v->len);
    v->score = calloc((size_t)want_n, sizeof *v->score);
    v->type = calloc((size_t)want_n, sizeof *v->type);
    if (!v->text || !v->len || !v->score || !v->type) {
        st = sl_fail(err, SL_ERR_NOMEM, "%s: out of memory for %d tokens", path, want_n);
        goto done;
    }
    int n = 0;
    while (p < end) {
        if (end - p < 8) {
            st = sl_fail(err, SL_ERR_FORMAT, "%s: truncated entry for token %d at byte %td", path,
                         n, p - f.data);
            goto done;
        }
        float score = rd_f32(p);
        int32_t len = rd_i32(p + 4);
        p += 8;
        if (len < 0 || len > max_len || len > end - p) {
            st = sl_fail(err, SL_ERR_FORMAT,
                         "%s: token %d has length %d (max_token_length %d, %td bytes left)", path,
                         n, (int)len, (int)max_len, end - p);
            goto done;
        }
        if (n == want_n) {
            /* Count the rest so the message says how many there are. */
            int extra = 1;
            p += len;
            while (end - p >= 8) {
                int32_t l = rd_i32(p + 4);
                if (l < 0 || l > end - p - 8) break;
                p += 8 + l;
                extra++;
            }
            st = sl_fail(err, SL_ERR_FORMAT,
                         "%s: tokenizer has %s%d tokens but the checkpoint's vocab_size is %d",
                         path, p < end ? "more than " : "", want_n + extra, want_n);
            goto done;
        }
        v->text[n] = spm_text(p, (uint32_t)len, &v->len[n]);
        if (!v->text[n]) {
            st = sl_fail(err, SL_ERR_NOMEM, "%s: out of memory", path);
            goto done;
        }
        v->score[n] = score;
        const char *t = v->text[n];
        if (!strcmp(t, "<unk>")) v->type[n] = 2;                      /* UNKNOWN */
        else if (!strcmp(t, "<s>") || !strcmp(t, "</s>")) v->type[n] = 3; /* CONTROL */
        else if (is_byte_token(t, v->len[n])) v->type[n] = 6;        /* BYTE */
        else v->type[n] = 1;                                          /* NORMAL */
        p += len;
        n++;
        v->n = n;
    }
    if (n != want_n)
        st = sl_fail(err, SL_ERR_FORMAT,
                     "%s: tokenizer has %d tokens but the checkpoint's vocab_size is %d", path, n,
                     want_n);
done:
    sl_mapped_file_close(&f);
    if (st != SL_OK) vocab_free(v);
    return st;
}

/* ---- GGUF output -------------------------------------------------------------- */

static sl_status add_f32(sl_gguf_writer *w, const sl_mapped_file *f, const char *name,
                         uint64_t off, uint64_t cols, uint64_t rows, sl_error *err) {
    uint64_t ne[2] = {cols, rows};
    return sl_gguf_writer_add_tensor(w, name, SL_TYPE_F32, rows > 1 ? 2 : 1, ne, f->data + off,
                                     4 * cols * rows, err);
}

static sl_status set_meta(sl_gguf_writer *w, const sl_llama2c_config *c, const char *model_bin,
                          const vocab *v) {
    char key[128];
    sl_status st = SL_OK;
    const char *base = strrchr(model_bin, '/');
    base = base ? base + 1 : model_bin;
    char name[128];
    snprintf(name, sizeof name, "%s", base);
    char *dot = strrchr(name, '.');
    if (dot && dot != name) *dot = '\0';

#define SET(call) do { if (st == SL_OK) st = (call); } while (0)
#define K(fmt) (snprintf(key, sizeof key, fmt, "llama"), key)
    SET(sl_gguf_writer_set_str(w, KEY_ARCH, "llama"));
    SET(sl_gguf_writer_set_str(w, KEY_NAME, name));
    SET(sl_gguf_writer_set_u32(w, KEY_FILE_TYPE, 0)); /* LLAMA_FTYPE_ALL_F32 */
    SET(sl_gguf_writer_set_u32(w, K(KEY_CTX_LEN), (uint32_t)c->seq_len));
    SET(sl_gguf_writer_set_u32(w, K(KEY_EMBD), (uint32_t)c->dim));
    SET(sl_gguf_writer_set_u32(w, K(KEY_BLOCKS), (uint32_t)c->n_layers));
    SET(sl_gguf_writer_set_u32(w, K(KEY_FF), (uint32_t)c->hidden_dim));
    SET(sl_gguf_writer_set_u32(w, K(KEY_HEADS), (uint32_t)c->n_heads));
    SET(sl_gguf_writer_set_u32(w, K(KEY_HEADS_KV), (uint32_t)c->n_kv_heads));
    SET(sl_gguf_writer_set_u32(w, K(KEY_ROPE_DIM), (uint32_t)(c->dim / c->n_heads)));
    SET(sl_gguf_writer_set_f32(w, K(KEY_ROPE_BASE), 10000.0f));
    SET(sl_gguf_writer_set_f32(w, K(KEY_RMS_EPS), 1e-5f));
    SET(sl_gguf_writer_set_u32(w, K(KEY_VOCAB_SIZE), (uint32_t)c->vocab_size));
#undef K
    SET(sl_write_spm_vocab_keys(w, (const char *const *)v->text, v->len, v->score, v->type,
                                (uint64_t)v->n));
#undef SET
    return st;
}

static sl_status add_tensors(sl_gguf_writer *w, const sl_mapped_file *f,
                             const sl_llama2c_config *c, sl_error *err) {
    ckpt_layout lo;
    layout(c, &lo);
    uint64_t E = (uint64_t)c->dim, F = (uint64_t)c->hidden_dim, V = (uint64_t)c->vocab_size;
    uint64_t KV = E / (uint64_t)c->n_heads * (uint64_t)c->n_kv_heads;
    char name[96];
    sl_status st = add_f32(w, f, TN_TOKEN_EMBD, lo.tok_embd, E, V, err);
    for (int l = 0; l < c->n_layers && st == SL_OK; l++) {
        uint64_t L = (uint64_t)l;
#define T(fmt, base, cols, rows)                                                     \
    do {                                                                             \
        if (st != SL_OK) break;                                                      \
        snprintf(name, sizeof name, fmt, l);                                         \
        st = add_f32(w, f, name, (base) + 4 * L * (cols) * (rows), cols, rows, err); \
    } while (0)
        T(TN_ATTN_NORM, lo.rms_att, E, 1);
        T(TN_ATTN_Q, lo.wq, E, E);
        T(TN_ATTN_K, lo.wk, E, KV);
        T(TN_ATTN_V, lo.wv, E, KV);
        T(TN_ATTN_OUT, lo.wo, E, E);
        T(TN_FFN_NORM, lo.rms_ffn, E, 1);
        T(TN_FFN_GATE, lo.w1, E, F);
        T(TN_FFN_DOWN, lo.w2, F, E);
        T(TN_FFN_UP, lo.w3, E, F);
#undef T
    }
    if (st == SL_OK) st = add_f32(w, f, TN_OUTPUT_NORM, lo.rms_final, E, 1, err);
    if (st == SL_OK && !c->shared_classifier) st = add_f32(w, f, TN_OUTPUT, lo.wcls, E, V, err);
    return st;
}

sl_status sl_llama2c_convert(const char *model_bin, const char *tok_bin, const char *out_gguf,
                             sl_error *err) {
    if (!model_bin || !tok_bin || !out_gguf)
        return sl_fail(err, SL_ERR_INVALID_ARG, "llama2.c convert: model, tokenizer and output "
                                                "paths are all required");
    sl_mapped_file f = {0};
    vocab v = {0};
    sl_gguf_writer *w = NULL;
    sl_llama2c_config c;
    char *tmp = NULL;
    sl_status st = sl_mapped_file_open(&f, model_bin, err);
    if (st == SL_OK) st = parse_header(&f, model_bin, &c, err);
    if (st == SL_OK) st = read_vocab(tok_bin, c.vocab_size, &v, err);
    if (st == SL_OK) st = sl_gguf_writer_create(&w, err);
    if (st == SL_OK) {
        st = set_meta(w, &c, model_bin, &v);
        if (st != SL_OK) sl_fail(err, st, "%s: cannot build GGUF metadata", out_gguf);
    }
    if (st == SL_OK) st = add_tensors(w, &f, &c, err);
    /* Write beside the target and rename, so a failure never leaves a
     * half-written file under the requested name. */
    if (st == SL_OK) {
        size_t n = strlen(out_gguf) + 16;
        tmp = malloc(n);
        if (!tmp) st = sl_fail(err, SL_ERR_NOMEM, "out of memory");
        else snprintf(tmp, n, "%s.partial", out_gguf);
    }
    if (st == SL_OK) {
        st = sl_gguf_writer_write(w, tmp, err);
        if (st == SL_OK && rename(tmp, out_gguf) != 0)
            st = sl_fail(err, SL_ERR_IO, "%s: cannot rename from %s", out_gguf, tmp);
        if (st != SL_OK) remove(tmp);
    }
    free(tmp);
    sl_gguf_writer_free(w);
    vocab_free(&v);
    sl_mapped_file_close(&f);
    return st;
}
