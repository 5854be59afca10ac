/* tokenizer.c — building a tokenizer from tokenizer.ggml.* keys, the
 * special-token partition, pieces for decoding, and the encode driver.
 * The merge algorithms live in spm.c and bpe.c.
 *
 * Semantics follow llama.cpp's llama-vocab.cpp (which its vocab fixtures
 * check against Hugging Face tokenizers):
 * - special tokens are cut out of the text before the model's own
 *   tokenizer runs: USER_DEFINED always, CONTROL and UNKNOWN only when
 *   parse_special is set (as HF does: added tokens that are not "special"
 *   are always matched); the longest token is cut first, leftmost first;
 * - SPM prefixes a space to the first text fragment and to each fragment
 *   that follows a special token, when add_space_prefix;
 * - BOS is prepended when asked and the vocabulary has one.
 *
 * Letters: V = vocabulary size, n = text bytes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "model/gguf_names.h"
#include "tokenizer/tok_internal.h"

void tok_list_push(tok_list *l, int32_t id) {
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 256;
        int32_t *ids = realloc(l->ids, cap * sizeof *ids);
        if (!ids) {
            l->oom = true;
            return;
        }
        l->ids = ids;
        l->cap = cap;
    }
    l->ids[l->n++] = id;
}

/* ---- vocabulary hash --------------------------------------------------------- */

int32_t tok_vocab_find(const sl_tokenizer *t, const char *s, size_t n) {
    size_t mask = t->vocab_cap - 1;
    uint64_t h = tok_hash(s, n, 0);
    uint32_t tag = (uint32_t)(h >> 32);
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        tok_slot sl = t->vocab_slots[i];
        if (sl.id < 0) return -1;
        if (sl.tag != tag) continue;
        const sl_gguf_str *w = &t->tokens[sl.id];
        if (w->len == n && memcmp(w->ptr, s, n) == 0) return sl.id;
    }
}

static sl_status build_vocab_hash(sl_tokenizer *t, const char *path, sl_error *err) {
    size_t cap = 16;
    while (cap < 2 * (size_t)t->n_vocab) cap *= 2;
    t->vocab_cap = cap;
    t->vocab_slots = malloc(cap * sizeof *t->vocab_slots);
    if (!t->vocab_slots) return sl_fail(err, SL_ERR_NOMEM, "%s: out of memory for the vocabulary", path);
    for (size_t i = 0; i < cap; i++) t->vocab_slots[i] = (tok_slot){-1, 0};
    for (int32_t id = 0; id < t->n_vocab; id++) {
        const sl_gguf_str *w = &t->tokens[id];
        if (w->len == 0) continue; /* an empty token can never be matched */
        uint64_t h = tok_hash(w->ptr, w->len, 0);
        size_t i = h & (cap - 1);
        for (; t->vocab_slots[i].id >= 0; i = (i + 1) & (cap - 1)) {
            const sl_gguf_str *o = &t->tokens[t->vocab_slots[i].id];
            if (o->len == w->len && memcmp(o->ptr, w->ptr, w->len) == 0)
                return sl_fail(err, SL_ERR_FORMAT, "%s: %s: token '%.*s' appears twice (ids %d and %d)",
                               path, KEY_TOK_TOKENS, (int)(w->len > 64 ? 64 : w->len), w->ptr,
                               t->vocab_slots[i].id, id);
        }
        t->vocab_slots[i] = (tok_slot){id, (uint32_t)(h >> 32)};
    }
    return SL_OK;
}

/* ---- loading ------------------------------------------------------------------- */

/* Reads an optional token id key: absent keeps *id; negative means none. */
static sl_status read_id(const sl_gguf *g, const char *key, int n_vocab, int32_t *id, sl_error *err) {
    int64_t v;
    sl_status st = sl_gguf_get_i64(g, key, &v, err);
    if (st == SL_ERR_NOT_FOUND) return SL_OK;
    if (st != SL_OK) return st;
    if (v >= n_vocab)
        return sl_fail(err, SL_ERR_FORMAT, "%s: %s = %lld is outside the vocabulary of %d tokens",
                       g->path, key, (long long)v, n_vocab);
    *id = v < 0 ? -1 : (int32_t)v;
    return SL_OK;
}

static sl_status read_bool(const sl_gguf *g, const char *key, bool *out, sl_error *err) {
    sl_status st = sl_gguf_get_bool(g, key, out, err);
    return st == SL_ERR_NOT_FOUND ? SL_OK : st;
}

static bool tok_is(const sl_gguf_str *w, const char *s) { return sl_gguf_str_eq(*w, s); }

/* End-of-generation: EOS, EOT, and control tokens whose text says "end of
 * turn" in one of the common chat formats (llama.cpp keeps the same list,
 * because files rarely mark them). */
static void mark_eog(sl_tokenizer *t) {
    static const char *const names[] = {"<|eot_id|>", "<|im_end|>", "<|endoftext|>", "<|end|>",
                                        "</s>", "<end_of_turn>", "<|end_of_text|>", "<|eom_id|>"};
    for (int32_t id = 0; id < t->n_vocab; id++) {
        if (t->types[id] != SL_TOKEN_CONTROL) continue;
        for (size_t k = 0; k < sizeof names / sizeof names[0]; k++)
            if (tok_is(&t->tokens[id], names[k])) t->flags[id] |= TOK_FLAG_EOG;
    }
    if (t->eos >= 0) t->flags[t->eos] |= TOK_FLAG_EOG;
    if (t->eot >= 0) t->flags[t->eot] |= TOK_FLAG_EOG;
}

/* Specials are tried longest first; equal lengths by id, so the order never
 * depends on the sort algorithm. */
typedef struct {
    size_t pos; /* byte offset in the text (unused when sorting the table) */
    uint64_t len;
    int32_t id;
} special_ref;

static int cmp_special(const void *a, const void *b) {
    const special_ref *x = a, *y = b;
    if (x->len != y->len) return x->len > y->len ? -1 : 1;
    if (x->id != y->id) return (x->id > y->id) - (x->id < y->id);
    return (x->pos > y->pos) - (x->pos < y->pos);
}

static sl_status build_specials(sl_tokenizer *t, const char *path, sl_error *err) {
    int n = 0;
    for (int32_t id = 0; id < t->n_vocab; id++) {
        int ty = t->types[id];
        if ((ty == SL_TOKEN_CONTROL || ty == SL_TOKEN_USER_DEFINED || ty == SL_TOKEN_UNKNOWN) &&
            t->tokens[id].len > 0)
            n++;
    }
    special_ref *refs = malloc((size_t)(n ? n : 1) * sizeof *refs);
    t->specials = malloc((size_t)(n ? n : 1) * sizeof *t->specials);
    t->special_lens = malloc((size_t)(n ? n : 1) * sizeof *t->special_lens);
    if (!refs || !t->specials || !t->special_lens) {
        free(refs);
        return sl_fail(err, SL_ERR_NOMEM, "%s: out of memory for special tokens", path);
    }
    n = 0;
    for (int32_t id = 0; id < t->n_vocab; id++) {
        int ty = t->types[id];
        if (!(ty == SL_TOKEN_CONTROL || ty == SL_TOKEN_USER_DEFINED || ty == SL_TOKEN_UNKNOWN) ||
            t->tokens[id].len == 0)
            continue;
        refs[n++] = (special_ref){0, t->tokens[id].len, id};
        unsigned char first = (unsigned char)t->tokens[id].ptr[0];
        t->special_first[first] |= ty == SL_TOKEN_USER_DEFINED ? 2 : 1;
    }
    qsort(refs, (size_t)n, sizeof *refs, cmp_special);
    for (int i = 0; i < n; i++) t->specials[i] = refs[i].id;
    free(refs);
    t->n_specials = n;
    t->n_special_lens = 0;
    for (int i = 0; i < n; i++) {
        int len = (int)t->tokens[t->specials[i]].len;
        if (t->n_special_lens == 0 || t->special_lens[t->n_special_lens - 1] != len)
            t->special_lens[t->n_special_lens++] = len;
    }
    return SL_OK;
}

/* SPM's byte fallback table and the split points that keep merges local. */
static void build_spm_tables(sl_tokenizer *t) {
    static const char hex[] = "0123456789ABCDEF";
    for (int b = 0; b < 256; b++) {
        char name[7] = {'<', '0', 'x', hex[b >> 4], hex[b & 15], '>', 0};
        int32_t id = tok_vocab_find(t, name, 6);
        if (id < 0) { /* llama.cpp also accepts the raw byte as a token */
            char c = (char)b;
            id = tok_vocab_find(t, &c, 1);
        }
        t->byte_tok[b] = id;
    }
    /* An ASCII char that no multi-byte token contains can never be merged
     * with a neighbour, so the text can be split there and each part merged
     * on its own with the same result: merges stay per line, not per book. */
    bool used[128] = {0};
    for (int32_t id = 0; id < t->n_vocab; id++) {
        const sl_gguf_str *w = &t->tokens[id];
        if (w->len < 2) continue;
        for (uint64_t i = 0; i < w->len; i++) {
            unsigned char c = (unsigned char)w->ptr[i];
            if (c < 128) used[c] = true;
        }
    }
    for (int c = 0; c < 128; c++) t->spm_barrier[c] = !used[c];
}

/* "<0xAB>" -> 0xAB; -1 when the text is not a byte token's. */
static int parse_byte_token(const sl_gguf_str *w) {
    if (w->len != 6 || memcmp(w->ptr, "<0x", 3) != 0 || w->ptr[5] != '>') return -1;
    int v = 0;
    for (int i = 3; i < 5; i++) {
        char c = w->ptr[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10
                : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (d < 0) return -1;
        v = v * 16 + d;
    }
    return v;
}

/* Decoded bytes of every token, computed once so decoding is a lookup. */
static sl_status build_pieces(sl_tokenizer *t, const char *path, sl_error *err) {
    size_t total = 0;
    for (int32_t id = 0; id < t->n_vocab; id++) total += t->tokens[id].len;
    t->piece_off = malloc(((size_t)t->n_vocab + 1) * sizeof *t->piece_off);
    t->piece_buf = malloc(total + 1);
    if (!t->piece_off || !t->piece_buf)
        return sl_fail(err, SL_ERR_NOMEM, "%s: out of memory for pieces", path);
    size_t o = 0;
    for (int32_t id = 0; id < t->n_vocab; id++) {
        const sl_gguf_str *w = &t->tokens[id];
        t->piece_off[id] = o;
        switch (t->types[id]) {
        case SL_TOKEN_NORMAL:
            if (t->kind == SL_TOK_BPE) {
                o += tok_bpe_decode_text(w->ptr, w->len, t->piece_buf + o);
            } else { /* U+2581 -> ' ' (3 bytes become 1, so it fits in place) */
                for (uint64_t i = 0; i < w->len; i++) {
                    if (i + 2 < w->len && memcmp(w->ptr + i, "\xE2\x96\x81", 3) == 0) {
                        t->piece_buf[o++] = ' ';
                        i += 2;
                    } else {
                        t->piece_buf[o++] = w->ptr[i];
                    }
                }
            }
            break;
        case SL_TOKEN_USER_DEFINED: /* shown as written */
            memcpy(t->piece_buf + o, w->ptr, w->len);
            o += w->len;
            break;
        case SL_TOKEN_BYTE: {
            int b = parse_byte_token(w);
            if (b >= 0) {
                t->piece_buf[o++] = (char)b;
            } else {
                memcpy(t->piece_buf + o, w->ptr, w->len);
                o += w->len;
            }
            break;
        }
        default: /* control, unknown, unused, undefined: nothing to print */
            break;
        }
    }
    t->piece_off[t->n_vocab] = o;
    return SL_OK;
}

static sl_status load_arrays(sl_tokenizer *t, const sl_gguf *g, sl_error *err) {
    const sl_gguf_kv *kv;
    sl_status st = sl_gguf_get_arr(g, KEY_TOK_TOKENS, SL_GGUF_STRING, &kv, err);
    if (st == SL_ERR_NOT_FOUND)
        return sl_fail(err, SL_ERR_FORMAT, "%s: missing key %s", g->path, KEY_TOK_TOKENS);
    if (st != SL_OK) return st;
    if (kv->arr_n == 0 || kv->arr_n > INT32_MAX)
        return sl_fail(err, SL_ERR_FORMAT, "%s: %s has %llu tokens, expected 1..%d", g->path,
                       KEY_TOK_TOKENS, (unsigned long long)kv->arr_n, INT32_MAX);
    t->n_vocab = (int)kv->arr_n;
    t->tokens = kv->arr_strs;
    size_t V = (size_t)t->n_vocab;

    t->scores = calloc(V, sizeof *t->scores);
    t->types = malloc(V);
    t->flags = calloc(V, 1);
    t->text_off = malloc(V * sizeof *t->text_off);
    size_t total = 0;
    for (size_t i = 0; i < V; i++) total += t->tokens[i].len + 1;
    t->text_buf = malloc(total);
    if (!t->scores || !t->types || !t->flags || !t->text_off || !t->text_buf)
        return sl_fail(err, SL_ERR_NOMEM, "%s: out of memory for %zu tokens", g->path, V);
    size_t o = 0;
    for (size_t i = 0; i < V; i++) {
        t->text_off[i] = o;
        memcpy(t->text_buf + o, t->tokens[i].ptr, t->tokens[i].len);
        o += t->tokens[i].len;
        t->text_buf[o++] = '\0';
    }

    /* scores: f32 (or i32 in some converters); elements may be unaligned */
    st = sl_gguf_get_arr(g, KEY_TOK_SCORES, SL_GGUF_TYPE_COUNT, &kv, err);
    if (st == SL_OK) {
        if (kv->arr_type != SL_GGUF_FLOAT32 && kv->arr_type != SL_GGUF_INT32)
            return sl_fail(err, SL_ERR_FORMAT, "%s: %s has element type %s, expected float32",
                           g->path, KEY_TOK_SCORES, sl_gguf_type_name(kv->arr_type));
        if (kv->arr_n < V)
            return sl_fail(err, SL_ERR_FORMAT, "%s: %s has %llu entries for %zu tokens", g->path,
                           KEY_TOK_SCORES, (unsigned long long)kv->arr_n, V);
        const unsigned char *p = kv->arr_data;
        for (size_t i = 0; i < V; i++) {
            if (kv->arr_type == SL_GGUF_FLOAT32) {
                memcpy(&t->scores[i], p + 4 * i, 4);
            } else {
                int32_t v;
                memcpy(&v, p + 4 * i, 4);
                t->scores[i] = (float)v;
            }
        }
    } else if (st != SL_ERR_NOT_FOUND) {
        return st;
    }

    /* token types: absent means every token is NORMAL (llama.cpp's rule) */
    memset(t->types, SL_TOKEN_NORMAL, V);
    st = sl_gguf_get_arr(g, KEY_TOK_TYPES, SL_GGUF_INT32, &kv, err);
    if (st == SL_OK) {
        if (kv->arr_n < V)
            return sl_fail(err, SL_ERR_FORMAT, "%s: %s has %llu entries for %zu tokens", g->path,
                           KEY_TOK_TYPES, (unsigned long long)kv->arr_n, V);
        const unsigned char *p = kv->arr_data;
        for (size_t i = 0; i < V; i++) {
            int32_t v;
            memcpy(&v, p + 4 * i, 4);
            t->types[i] = (uint8_t)(v >= SL_TOKEN_NORMAL && v <= SL_TOKEN_BYTE ? v : SL_TOKEN_UNDEFINED);
        }
    } else if (st != SL_ERR_NOT_FOUND) {
        return st;
    }
    return SL_OK;
}

sl_status sl_tokenizer_load(sl_tokenizer **out, const sl_gguf *g, sl_error *err) {
    *out = NULL;
    sl_gguf_str model;
    sl_status st = sl_gguf_get_str(g, KEY_TOK_MODEL, &model, err);
    if (st == SL_ERR_NOT_FOUND)
        return sl_fail(err, SL_ERR_FORMAT, "%s: missing key %s", g->path, KEY_TOK_MODEL);
    if (st != SL_OK) return st;
    sl_tok_kind kind;
    if (sl_gguf_str_eq(model, "llama")) {
        kind = SL_TOK_SPM;
    } else if (sl_gguf_str_eq(model, "gpt2")) {
        kind = SL_TOK_BPE;
    } else {
        return sl_fail(err, SL_ERR_UNSUPPORTED, "%s: %s '%.*s' is not supported (llama, gpt2)",
                       g->path, KEY_TOK_MODEL, (int)(model.len > 64 ? 64 : model.len), model.ptr);
    }

    sl_tokenizer *t = calloc(1, sizeof *t);
    if (!t) return sl_fail(err, SL_ERR_NOMEM, "%s: out of memory", g->path);
    t->kind = kind;
    t->bos = t->eos = t->eot = t->unk = -1;
    if ((st = load_arrays(t, g, err)) != SL_OK) goto fail;
    if ((st = build_vocab_hash(t, g->path, err)) != SL_OK) goto fail;

    if (kind == SL_TOK_SPM) { /* llama.cpp's defaults for files that omit the keys */
        t->bos = t->n_vocab > 1 ? 1 : -1;
        t->eos = t->n_vocab > 2 ? 2 : -1;
        t->unk = 0;
        t->add_bos = true;
        t->add_space_prefix = true;
    }
    if ((st = read_id(g, KEY_TOK_BOS, t->n_vocab, &t->bos, err)) != SL_OK ||
        (st = read_id(g, KEY_TOK_EOS, t->n_vocab, &t->eos, err)) != SL_OK ||
        (st = read_id(g, KEY_TOK_EOT, t->n_vocab, &t->eot, err)) != SL_OK ||
        (st = read_id(g, KEY_TOK_UNK, t->n_vocab, &t->unk, err)) != SL_OK)
        goto fail;

    if (kind == SL_TOK_BPE) {
        if ((st = tok_bpe_init(t, g, err)) != SL_OK) goto fail; /* sets add_bos per pre */
    } else {
        build_spm_tables(t);
    }
    if ((st = read_bool(g, KEY_TOK_ADD_BOS, &t->add_bos, err)) != SL_OK) goto fail;
    if (kind == SL_TOK_SPM && (st = read_bool(g, KEY_TOK_ADD_SPACE, &t->add_space_prefix, err)) != SL_OK)
        goto fail;
    if (t->add_bos && t->bos < 0) {
        st = sl_fail(err, SL_ERR_FORMAT, "%s: %s is true but there is no %s", g->path,
                     KEY_TOK_ADD_BOS, KEY_TOK_BOS);
        goto fail;
    }
    mark_eog(t);
    if ((st = build_specials(t, g->path, err)) != SL_OK) goto fail;
    if ((st = build_pieces(t, g->path, err)) != SL_OK) goto fail;
    *out = t;
    return SL_OK;
fail:
    sl_tokenizer_free(t);
    return st;
}

void sl_tokenizer_free(sl_tokenizer *t) {
    if (!t) return;
    tok_bpe_free(t);
    free(t->scores);
    free(t->types);
    free(t->flags);
    free(t->text_buf);
    free(t->text_off);
    free(t->piece_buf);
    free(t->piece_off);
    free(t->vocab_slots);
    free(t->specials);
    free(t->special_lens);
    free(t);
}

/* ---- getters ---------------------------------------------------------------------- */

int sl_tokenizer_n_vocab(const sl_tokenizer *t) { return t->n_vocab; }
sl_tok_kind sl_tokenizer_kind(const sl_tokenizer *t) { return t->kind; }
int32_t sl_tokenizer_bos(const sl_tokenizer *t) { return t->bos; }
int32_t sl_tokenizer_eos(const sl_tokenizer *t) { return t->eos; }
bool sl_tokenizer_add_bos(const sl_tokenizer *t) { return t->add_bos; }

bool sl_tokenizer_is_eog(const sl_tokenizer *t, int32_t id) {
    return id >= 0 && id < t->n_vocab && (t->flags[id] & TOK_FLAG_EOG);
}

int sl_tokenizer_token_type(const sl_tokenizer *t, int32_t id) {
    return id >= 0 && id < t->n_vocab ? t->types[id] : SL_TOKEN_UNDEFINED;
}

const char *sl_tokenizer_token_text(const sl_tokenizer *t, int32_t id) {
    return id >= 0 && id < t->n_vocab ? t->text_buf + t->text_off[id] : "";
}

int32_t sl_tokenizer_find(const sl_tokenizer *t, const char *text) {
    return tok_vocab_find(t, text, strlen(text));
}

const char *sl_tokenizer_piece(const sl_tokenizer *t, int32_t id, size_t *len) {
    if (id < 0 || id >= t->n_vocab) {
        if (len) *len = 0;
        return "";
    }
    if (len) *len = t->piece_off[id + 1] - t->piece_off[id];
    return t->piece_buf + t->piece_off[id];
}

/* ---- special-token partition -------------------------------------------------------- */

typedef struct {
    size_t off, len;
    int32_t id; /* -1: text to tokenize */
} fragment;

static int cmp_occ_pos(const void *a, const void *b) {
    const special_ref *x = a, *y = b;
    return (x->pos > y->pos) - (x->pos < y->pos);
}

/* Splits s into text fragments and special tokens. The result equals
 * llama.cpp's tokenizer_st_partition (each special, longest first, cut at
 * every leftmost non-overlapping occurrence inside what is still text), but
 * finds all occurrences in one pass over s instead of one pass per token. */
static sl_status partition(const sl_tokenizer *t, const char *s, size_t n, bool parse_special,
                           fragment **out, size_t *n_out, sl_error *err) {
    *out = NULL;
    *n_out = 0;
    unsigned mask = parse_special ? 3u : 2u;
    special_ref *occ = NULL;
    size_t n_occ = 0, cap_occ = 0;
    sl_status st = SL_OK;
    for (size_t i = 0; i < n && t->n_specials > 0; i++) {
        if (!(t->special_first[(unsigned char)s[i]] & mask)) continue;
        for (int k = 0; k < t->n_special_lens; k++) {
            size_t L = (size_t)t->special_lens[k];
            if (L > n - i) continue;
            int32_t id = tok_vocab_find(t, s + i, L);
            if (id < 0) continue;
            int ty = t->types[id];
            bool active = ty == SL_TOKEN_USER_DEFINED ||
                          (parse_special && (ty == SL_TOKEN_CONTROL || ty == SL_TOKEN_UNKNOWN));
            if (!active) continue;
            if (n_occ == cap_occ) {
                cap_occ = cap_occ ? 2 * cap_occ : 64;
                special_ref *o = realloc(occ, cap_occ * sizeof *o);
                if (!o) { st = sl_fail(err, SL_ERR_NOMEM, "tokenize: out of memory"); goto done; }
                occ = o;
            }
            occ[n_occ++] = (special_ref){i, L, id};
        }
    }
    size_t n_keep = 0;
    if (n_occ > 0) {
        unsigned char *claimed = calloc(n, 1);
        if (!claimed) { st = sl_fail(err, SL_ERR_NOMEM, "tokenize: out of memory"); goto done; }
        qsort(occ, n_occ, sizeof *occ, cmp_special);
        for (size_t k = 0; k < n_occ; k++) {
            size_t L = occ[k].len;
            bool free_span = memchr(claimed + occ[k].pos, 1, L) == NULL;
            if (!free_span) continue;
            memset(claimed + occ[k].pos, 1, L);
            occ[n_keep++] = occ[k];
        }
        free(claimed);
        qsort(occ, n_keep, sizeof *occ, cmp_occ_pos);
    }
    fragment *f = malloc((2 * n_keep + 1) * sizeof *f);
    if (!f) { st = sl_fail(err, SL_ERR_NOMEM, "tokenize: out of memory"); goto done; }
    size_t nf = 0, at = 0;
    for (size_t k = 0; k < n_keep; k++) {
        if (occ[k].pos > at) f[nf++] = (fragment){at, occ[k].pos - at, -1};
        size_t L = occ[k].len;
        f[nf++] = (fragment){occ[k].pos, L, occ[k].id};
        at = occ[k].pos + L;
    }
    if (at < n) f[nf++] = (fragment){at, n - at, -1};
    *out = f;
    *n_out = nf;
done:
    free(occ);
    return st;
}

/* ---- encode --------------------------------------------------------------------------- */

/* SPM input: optional leading U+2581, every ' ' replaced by U+2581. */
static char *spm_escape(const char *s, size_t n, bool prefix, size_t *out_n) {
    size_t spaces = prefix ? 1 : 0;
    for (size_t i = 0; i < n; i++) spaces += s[i] == ' ';
    char *e = malloc(n + 2 * spaces + 1);
    if (!e) return NULL;
    size_t o = 0;
    if (prefix) {
        memcpy(e, "\xE2\x96\x81", 3);
        o = 3;
    }
    for (size_t i = 0; i < n; i++) {
        if (s[i] == ' ') {
            memcpy(e + o, "\xE2\x96\x81", 3);
            o += 3;
        } else {
            e[o++] = s[i];
        }
    }
    *out_n = o;
    return e;
}

sl_status sl_tokenizer_encode(const sl_tokenizer *t, const char *text, size_t len, bool add_bos,
                              bool parse_special, int32_t **ids, size_t *n, sl_error *err) {
    *ids = NULL;
    *n = 0;
    if (len > 0 && !text) return sl_fail(err, SL_ERR_INVALID_ARG, "tokenize: text is NULL");
    size_t bad = sl_utf8_validate(text, len);
    if (bad != (size_t)-1)
        return sl_fail(err, SL_ERR_INVALID_ARG,
                       "tokenize: invalid UTF-8 at byte offset %zu (byte 0x%02X)", bad,
                       (unsigned char)text[bad]);

    tok_list out = {0};
    fragment *frags = NULL;
    size_t n_frags = 0;
    tok_bpe_ctx *bpe = NULL;
    sl_status st = SL_OK;
    if (add_bos && t->bos >= 0) tok_list_push(&out, t->bos);
    if (len > 0 && (st = partition(t, text, len, parse_special, &frags, &n_frags, err)) != SL_OK)
        goto done;
    if (t->kind == SL_TOK_BPE && (st = tok_bpe_ctx_create(&bpe, t, err)) != SL_OK) goto done;

    bool prev_special = true; /* SPM: the first fragment gets the space prefix */
    for (size_t i = 0; i < n_frags; i++) {
        const fragment *f = &frags[i];
        if (f->id >= 0) {
            tok_list_push(&out, f->id);
            prev_special = true;
            continue;
        }
        if (t->kind == SL_TOK_SPM) {
            size_t en;
            char *esc = spm_escape(text + f->off, f->len, t->add_space_prefix && prev_special, &en);
            if (!esc) { st = sl_fail(err, SL_ERR_NOMEM, "tokenize: out of memory"); goto done; }
            st = tok_spm_encode(t, esc, en, &out, err);
            free(esc);
        } else {
            st = tok_bpe_encode(bpe, text + f->off, f->len, &out, err);
        }
        if (st != SL_OK) goto done;
        prev_special = false;
    }
    if (out.oom) st = sl_fail(err, SL_ERR_NOMEM, "tokenize: out of memory for token ids");
done:
    tok_bpe_ctx_free(bpe);
    free(frags);
    if (st != SL_OK) {
        free(out.ids);
        return st;
    }
    if (!out.ids) out.ids = malloc(sizeof *out.ids); /* a valid pointer even for 0 tokens */
    if (!out.ids) return sl_fail(err, SL_ERR_NOMEM, "tokenize: out of memory");
    *ids = out.ids;
    *n = out.n;
    return SL_OK;
}
