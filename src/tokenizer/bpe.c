/* bpe.c — GPT-2 style byte-level BPE (llama.cpp's llm_tokenizer_bpe).
 *
 * 1. Pre-tokenize: the regexes of tokenizer.ggml.pre run in turn; each one
 *    splits every chunk the previous one produced into its matches and the
 *    gaps between them (llama.cpp's unicode_regex_split). A chunk ends where
 *    it ends: a lookahead such as \s+(?!\S) sees end-of-text there.
 * 2. Byte-encode each chunk: every byte becomes one printable char through
 *    GPT-2's byte<->unicode table (bytes_to_unicode in openai/gpt-2).
 * 3. Merge: one symbol per byte; the adjacent pair with the lowest merge
 *    rank merges first (ties: leftmost), with a min-heap.
 * 4. Each final symbol is a vocabulary token (or falls back char by char).
 * Chunks repeat a lot in real text, so one encode call caches chunk -> ids.
 *
 * Letters: M = merges, n = chunk bytes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "model/gguf_names.h"
#include "tokenizer/tok_internal.h"

/* ---- GPT-2 byte <-> unicode ------------------------------------------------
 * Printable Latin-1 bytes ('!'..'~', 0xA1..0xAC, 0xAE..0xFF) stand for
 * themselves; the other 68 bytes map, in byte order, to U+0100..U+0143. */

static uint32_t byte_to_cp(unsigned b) {
    if ((b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF)) return b;
    if (b <= 0x20) return 0x100 + b;              /* 33 chars: U+0100..U+0120 */
    if (b >= 0x7F && b <= 0xA0) return 0x121 + (b - 0x7F); /* 34 chars: U+0121..U+0142 */
    return 0x143;                                  /* 0xAD */
}

/* -1 when cp is not one of the 256 byte chars. */
static int cp_to_byte(uint32_t cp) {
    if ((cp >= 0x21 && cp <= 0x7E) || (cp >= 0xA1 && cp <= 0xAC) || (cp >= 0xAE && cp <= 0xFF))
        return (int)cp;
    if (cp >= 0x100 && cp <= 0x120) return (int)(cp - 0x100);
    if (cp >= 0x121 && cp <= 0x142) return (int)(0x7F + (cp - 0x121));
    if (cp == 0x143) return 0xAD;
    return -1;
}

size_t tok_bpe_decode_text(const char *s, size_t n, char *out) {
    const unsigned char *p = (const unsigned char *)s;
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        int len = tok_utf8_char_len(p + i, n - i);
        if (len == 0) { /* not UTF-8: copy the byte through */
            out[o++] = (char)p[i++];
            continue;
        }
        uint32_t cp = len == 1 ? p[i] : len == 2 ? ((p[i] & 0x1Fu) << 6) | (p[i + 1] & 0x3Fu) : 0x110000;
        int b = cp_to_byte(cp);
        if (b >= 0) {
            out[o++] = (char)b;
        } else { /* a char outside the table (added tokens): keep it as written */
            memcpy(out + o, p + i, (size_t)len);
            o += (size_t)len;
        }
        i += (size_t)len;
    }
    return o;
}

/* ---- pre-tokenizer regexes -------------------------------------------------- */

#define RE_GPT2 "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+"
#define RE_LLAMA3_HEAD \
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|"
#define RE_LLAMA3_TAIL "| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
#define RE_LLAMA3 RE_LLAMA3_HEAD "\\p{N}{1,3}" RE_LLAMA3_TAIL
#define RE_QWEN2 RE_LLAMA3_HEAD "\\p{N}" RE_LLAMA3_TAIL

/* llama.cpp's table (llm_tokenizer_bpe), for the pre-tokenizers we run. */
typedef struct {
    const char *names; /* '|'-separated tokenizer.ggml.pre values */
    const char *re[TOK_MAX_REGEX];
    bool ignore_merges, add_bos;
} pre_entry;

static const pre_entry PRE_TABLE[] = {
    /* "default" (and files without tokenizer.ggml.pre): llama.cpp's legacy
     * split, punctuation runs and digit triples first. */
    {"default", {"[\\p{P}\\$\\+<=>\\^~\\|]+", RE_GPT2, "\\p{N}+", "[0-9][0-9][0-9]"}, false, false},
    {"gpt-2|phi-2|mpt|olmo|jais|exaone4|trillion", {RE_GPT2}, false, false},
    {"llama3|llama-v3|llama-bpe|falcon3|pixtral", {RE_LLAMA3}, true, true},
    {"dbrx|smaug-bpe", {RE_LLAMA3}, false, false},
    {"qwen2|deepseek-r1-qwen|megrez|stablelm2", {RE_QWEN2}, false, false},
    /* smollm is not plain GPT-2: every digit is split off first. */
    {"smollm|starcoder|refact|command-r|codeshell|exaone|minerva-7b", {"\\p{N}", RE_GPT2}, false, false},
    {"falcon", {"[\\p{P}\\$\\+<=>\\^~\\|`]+", RE_GPT2, "[0-9][0-9][0-9]"}, false, false},
};

static bool name_in(const char *names, const char *name, size_t n) {
    for (const char *p = names; *p;) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (len == n && memcmp(p, name, n) == 0) return true;
        if (!bar) break;
        p = bar + 1;
    }
    return false;
}

/* ---- merges table ------------------------------------------------------------- */

static uint64_t hash2(const char *a, size_t na, const char *b, size_t nb, uint64_t split) {
    uint64_t h = 0xcbf29ce484222325ull ^ split;
    for (size_t i = 0; i < na; i++) h = (h ^ (unsigned char)a[i]) * 0x100000001b3ull;
    for (size_t i = 0; i < nb; i++) h = (h ^ (unsigned char)b[i]) * 0x100000001b3ull;
    return h ^ (h >> 29);
}

/* Rank of merging s[0..split) with s[split..n), or -1. */
static int32_t merge_rank(const sl_tokenizer *t, const char *s, size_t split, size_t n) {
    size_t mask = t->merge_cap - 1;
    for (size_t i = hash2(s, split, s + split, n - split, split) & mask;; i = (i + 1) & mask) {
        int32_t r = t->merge_slots[i];
        if (r < 0) return -1;
        const sl_gguf_str *m = &t->merges[r];
        if (t->merge_split[r] == split && m->len == n + 1 && memcmp(m->ptr, s, split) == 0 &&
            memcmp(m->ptr + split + 1, s + split, n - split) == 0)
            return r;
    }
}

sl_status tok_bpe_init(sl_tokenizer *t, const sl_gguf *g, sl_error *err) {
    /* pre-tokenizer */
    sl_gguf_str pre = {"default", 7};
    sl_status st = sl_gguf_get_str(g, KEY_TOK_PRE, &pre, err);
    if (st != SL_OK && st != SL_ERR_NOT_FOUND) return st;
    const pre_entry *e = NULL;
    for (size_t i = 0; i < sizeof PRE_TABLE / sizeof PRE_TABLE[0] && !e; i++)
        if (name_in(PRE_TABLE[i].names, pre.ptr, pre.len)) e = &PRE_TABLE[i];
    if (!e)
        return sl_fail(err, SL_ERR_UNSUPPORTED,
                       "%s: %s '%.*s' is not supported (default, gpt-2, llama3/llama-bpe, qwen2, "
                       "smollm/starcoder, falcon, ...)",
                       g->path, KEY_TOK_PRE, (int)(pre.len > 64 ? 64 : pre.len), pre.ptr);
    snprintf(t->pre, sizeof t->pre, "%.*s", (int)(pre.len > 63 ? 63 : pre.len), pre.ptr);
    t->ignore_merges = e->ignore_merges;
    t->add_bos = e->add_bos;
    for (int i = 0; i < TOK_MAX_REGEX && e->re[i]; i++) {
        int code;
        PCRE2_SIZE at;
        t->re[i] = pcre2_compile((PCRE2_SPTR)e->re[i], PCRE2_ZERO_TERMINATED, PCRE2_UTF | PCRE2_UCP,
                                 &code, &at, NULL);
        if (!t->re[i]) {
            PCRE2_UCHAR msg[128];
            pcre2_get_error_message(code, msg, sizeof msg);
            return sl_fail(err, SL_ERR_UNSUPPORTED, "%s: pre-tokenizer '%s': regex %d: %s at %zu",
                           g->path, t->pre, i, (const char *)msg, (size_t)at);
        }
        t->n_re = i + 1;
        /* JIT is several times faster; without it (no JIT support) the
         * interpreter gives the same matches. */
        (void)pcre2_jit_compile(t->re[i], PCRE2_JIT_COMPLETE);
    }

    /* merges: "first second", rank = index */
    const sl_gguf_kv *kv;
    st = sl_gguf_get_arr(g, KEY_TOK_MERGES, SL_GGUF_STRING, &kv, err);
    if (st == SL_ERR_NOT_FOUND)
        return sl_fail(err, SL_ERR_FORMAT, "%s: missing key %s", g->path, KEY_TOK_MERGES);
    if (st != SL_OK) return st;
    if (kv->arr_n > INT32_MAX)
        return sl_fail(err, SL_ERR_FORMAT, "%s: %s has %llu entries", g->path, KEY_TOK_MERGES,
                       (unsigned long long)kv->arr_n);
    size_t M = (size_t)kv->arr_n;
    t->merges = kv->arr_strs;
    size_t cap = 16;
    while (cap < 2 * M) cap *= 2;
    t->merge_cap = cap;
    t->merge_split = malloc((M ? M : 1) * sizeof *t->merge_split);
    t->merge_slots = malloc(cap * sizeof *t->merge_slots);
    if (!t->merge_split || !t->merge_slots)
        return sl_fail(err, SL_ERR_NOMEM, "%s: out of memory for merges", g->path);
    memset(t->merge_slots, 0xff, cap * sizeof *t->merge_slots);
    for (size_t r = 0; r < M; r++) {
        const sl_gguf_str *m = &t->merges[r];
        /* the separator is the first space after position 0, as llama.cpp */
        const char *sp = m->len > 1 ? memchr(m->ptr + 1, ' ', m->len - 1) : NULL;
        if (!sp) {
            t->merge_split[r] = UINT32_MAX; /* never matches */
            continue;
        }
        size_t split = (size_t)(sp - m->ptr), n = m->len - 1;
        t->merge_split[r] = (uint32_t)split;
        size_t i = hash2(m->ptr, split, sp + 1, n - split, split) & (cap - 1);
        bool dup = false;
        for (; t->merge_slots[i] >= 0; i = (i + 1) & (cap - 1)) {
            const sl_gguf_str *o = &t->merges[t->merge_slots[i]];
            if (t->merge_split[t->merge_slots[i]] == split && o->len == m->len &&
                memcmp(o->ptr, m->ptr, m->len) == 0) {
                dup = true; /* the first (lowest) rank wins */
                break;
            }
        }
        if (!dup) t->merge_slots[i] = (int32_t)r;
    }
    return SL_OK;
}

void tok_bpe_free(sl_tokenizer *t) {
    for (int i = 0; i < TOK_MAX_REGEX; i++) {
        pcre2_code_free(t->re[i]);
        t->re[i] = NULL;
    }
    free(t->merge_split);
    free(t->merge_slots);
    t->merge_split = NULL;
    t->merge_slots = NULL;
}

/* ---- per-call state ---------------------------------------------------------------- */

typedef struct {
    size_t off, len;
} span;

typedef struct {
    int prev, next;
    uint32_t off, n; /* into the encoded chunk; n = 0 once merged away */
} bpe_sym;

typedef struct {
    int32_t rank;
    int left, right;
    uint32_t size;
} bpe_pair;

typedef struct {
    const char *key; /* raw chunk bytes, inside the text being encoded */
    size_t len;
    uint32_t first, count; /* ids in pool[first .. first + count) */
} cache_slot;

struct tok_bpe_ctx {
    const sl_tokenizer *t;
    pcre2_match_data *md;
    span *cur, *nxt;
    size_t n_cur, cap_cur, n_nxt, cap_nxt;
    char *enc; /* the byte-encoded chunk */
    size_t enc_cap;
    bpe_sym *sym;
    size_t sym_cap;
    bpe_pair *heap;
    size_t heap_n, heap_cap;
    cache_slot *cache; /* open addressing; key NULL = empty */
    size_t cache_cap, cache_n;
    tok_list pool;
    bool oom;
};

sl_status tok_bpe_ctx_create(tok_bpe_ctx **out, const sl_tokenizer *t, sl_error *err) {
    tok_bpe_ctx *c = calloc(1, sizeof *c);
    if (!c) return sl_fail(err, SL_ERR_NOMEM, "tokenize: out of memory");
    c->t = t;
    c->md = pcre2_match_data_create(1, NULL); /* only the whole match is needed */
    c->cache_cap = 1024;
    c->cache = calloc(c->cache_cap, sizeof *c->cache);
    if (!c->md || !c->cache) {
        tok_bpe_ctx_free(c);
        return sl_fail(err, SL_ERR_NOMEM, "tokenize: out of memory");
    }
    *out = c;
    return SL_OK;
}

void tok_bpe_ctx_free(tok_bpe_ctx *c) {
    if (!c) return;
    pcre2_match_data_free(c->md);
    free(c->cur);
    free(c->nxt);
    free(c->enc);
    free(c->sym);
    free(c->heap);
    free(c->cache);
    free(c->pool.ids);
    free(c);
}

static bool grow(void **p, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) return true;
    size_t n = *cap ? *cap : 64;
    while (n < need) n *= 2;
    void *q = realloc(*p, n * elem);
    if (!q) return false;
    *p = q;
    *cap = n;
    return true;
}

/* ---- merging one chunk -------------------------------------------------------------- */

static bool pair_before(const bpe_pair *a, const bpe_pair *b) {
    return a->rank < b->rank || (a->rank == b->rank && a->left < b->left);
}

static void heap_push(tok_bpe_ctx *c, bpe_pair p) {
    if (!grow((void **)&c->heap, &c->heap_cap, c->heap_n + 1, sizeof *c->heap)) {
        c->oom = true;
        return;
    }
    size_t i = c->heap_n++;
    while (i > 0 && pair_before(&p, &c->heap[(i - 1) / 2])) {
        c->heap[i] = c->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    c->heap[i] = p;
}

static bpe_pair heap_pop(tok_bpe_ctx *c) {
    bpe_pair top = c->heap[0], last = c->heap[--c->heap_n];
    size_t i = 0, n = c->heap_n;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, best = i;
        const bpe_pair *bp = &last;
        if (l < n && pair_before(&c->heap[l], bp)) best = l, bp = &c->heap[l];
        if (r < n && pair_before(&c->heap[r], bp)) best = r;
        if (best == i) break;
        c->heap[i] = c->heap[best];
        i = best;
    }
    if (n > 0) c->heap[i] = last;
    return top;
}

static void try_pair(tok_bpe_ctx *c, int left, int right) {
    if (left < 0 || right < 0) return;
    const bpe_sym *l = &c->sym[left], *r = &c->sym[right];
    int32_t rank = merge_rank(c->t, c->enc + l->off, l->n, (size_t)l->n + r->n);
    if (rank >= 0) heap_push(c, (bpe_pair){rank, left, right, l->n + r->n});
}

/* A final symbol outside the vocabulary (inconsistent merges): one token per
 * char, else per byte (llama.cpp's fallback), else it is dropped. */
static void emit_fallback(const sl_tokenizer *t, const char *s, size_t n, tok_list *out) {
    for (size_t i = 0; i < n;) {
        int len = tok_utf8_char_len((const unsigned char *)s + i, n - i);
        if (len == 0) len = 1;
        int32_t id = tok_vocab_find(t, s + i, (size_t)len);
        if (id >= 0) {
            tok_list_push(out, id);
        } else {
            for (int k = 0; k < len; k++) {
                id = tok_vocab_find(t, s + i + k, 1);
                if (id < 0) id = t->unk;
                if (id >= 0) tok_list_push(out, id);
            }
        }
        i += (size_t)len;
    }
}

static sl_status merge_chunk(tok_bpe_ctx *c, const char *raw, size_t n, tok_list *out, sl_error *err) {
    const sl_tokenizer *t = c->t;
    if (n > UINT32_MAX / 4)
        return sl_fail(err, SL_ERR_INVALID_ARG, "tokenize: a word of %zu bytes is too long", n);
    if (!grow((void **)&c->enc, &c->enc_cap, 2 * n, 1) ||
        !grow((void **)&c->sym, &c->sym_cap, n, sizeof *c->sym))
        return sl_fail(err, SL_ERR_NOMEM, "tokenize: out of memory");
    size_t en = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t cp = byte_to_cp((unsigned char)raw[i]);
        uint32_t off = (uint32_t)en;
        if (cp < 0x80) {
            c->enc[en++] = (char)cp;
        } else {
            c->enc[en++] = (char)(0xC0 | (cp >> 6));
            c->enc[en++] = (char)(0x80 | (cp & 0x3F));
        }
        c->sym[i] = (bpe_sym){(int)i - 1, i + 1 < n ? (int)i + 1 : -1, off, (uint32_t)en - off};
    }
    if (t->ignore_merges) {
        int32_t id = tok_vocab_find(t, c->enc, en);
        if (id >= 0) {
            tok_list_push(out, id);
            return SL_OK;
        }
    }
    c->heap_n = 0;
    for (size_t i = 1; i < n; i++) try_pair(c, (int)i - 1, (int)i);
    while (c->heap_n > 0) {
        bpe_pair p = heap_pop(c);
        bpe_sym *l = &c->sym[p.left], *r = &c->sym[p.right];
        if (l->n == 0 || r->n == 0 || l->n + r->n != p.size) continue; /* stale */
        l->n += r->n;
        r->n = 0;
        l->next = r->next;
        if (r->next >= 0) c->sym[r->next].prev = p.left;
        try_pair(c, l->prev, p.left);
        try_pair(c, p.left, l->next);
    }
    if (c->oom) return sl_fail(err, SL_ERR_NOMEM, "tokenize: out of memory");
    for (int i = 0; i >= 0; i = c->sym[i].next) {
        const char *s = c->enc + c->sym[i].off;
        int32_t id = tok_vocab_find(t, s, c->sym[i].n);
        if (id >= 0)
            tok_list_push(out, id);
        else
            emit_fallback(t, s, c->sym[i].n, out);
    }
    return SL_OK;
}

/* Encodes one pre-tokenized chunk, through the cache. */
static sl_status encode_chunk(tok_bpe_ctx *c, const char *raw, size_t n, tok_list *out, sl_error *err) {
    if (n == 0) return SL_OK;
    if (2 * (c->cache_n + 1) > c->cache_cap) { /* keep the load under 1/2 */
        size_t cap = 2 * c->cache_cap;
        cache_slot *s = calloc(cap, sizeof *s);
        if (!s) return sl_fail(err, SL_ERR_NOMEM, "tokenize: out of memory");
        for (size_t i = 0; i < c->cache_cap; i++) {
            if (!c->cache[i].key) continue;
            size_t j = tok_hash(c->cache[i].key, c->cache[i].len, 0) & (cap - 1);
            while (s[j].key) j = (j + 1) & (cap - 1);
            s[j] = c->cache[i];
        }
        free(c->cache);
        c->cache = s;
        c->cache_cap = cap;
    }
    size_t j = tok_hash(raw, n, 0) & (c->cache_cap - 1);
    for (; c->cache[j].key; j = (j + 1) & (c->cache_cap - 1)) {
        cache_slot *e = &c->cache[j];
        if (e->len == n && memcmp(e->key, raw, n) == 0) {
            for (uint32_t k = 0; k < e->count; k++) tok_list_push(out, c->pool.ids[e->first + k]);
            return SL_OK;
        }
    }
    size_t first = c->pool.n;
    sl_status st = merge_chunk(c, raw, n, &c->pool, err);
    if (st != SL_OK) return st;
    if (c->pool.oom || c->pool.n > UINT32_MAX) return sl_fail(err, SL_ERR_NOMEM, "tokenize: out of memory");
    c->cache[j] = (cache_slot){raw, n, (uint32_t)first, (uint32_t)(c->pool.n - first)};
    c->cache_n++;
    for (size_t k = first; k < c->pool.n; k++) tok_list_push(out, c->pool.ids[k]);
    return SL_OK;
}

/* ---- pre-tokenizer split ----------------------------------------------------------- */

static sl_status push_span(tok_bpe_ctx *c, size_t off, size_t len, sl_error *err) {
    if (!grow((void **)&c->nxt, &c->cap_nxt, c->n_nxt + 1, sizeof *c->nxt))
        return sl_fail(err, SL_ERR_NOMEM, "tokenize: out of memory");
    c->nxt[c->n_nxt++] = (span){off, len};
    return SL_OK;
}

/* A piece of the split: pushed for the next regex, or encoded after the last. */
static sl_status emit_piece(tok_bpe_ctx *c, const char *text, size_t off, size_t len, bool last,
                            tok_list *out, sl_error *err) {
    return last ? encode_chunk(c, text + off, len, out, err) : push_span(c, off, len, err);
}

sl_status tok_bpe_encode(tok_bpe_ctx *c, const char *text, size_t n, tok_list *out, sl_error *err) {
    const sl_tokenizer *t = c->t;
    if (n == 0) return SL_OK;
    c->n_cur = 0;
    if (!grow((void **)&c->cur, &c->cap_cur, 1, sizeof *c->cur))
        return sl_fail(err, SL_ERR_NOMEM, "tokenize: out of memory");
    c->cur[c->n_cur++] = (span){0, n};
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(c->md);
    for (int r = 0; r < t->n_re; r++) {
        bool last = r == t->n_re - 1;
        c->n_nxt = 0;
        for (size_t k = 0; k < c->n_cur; k++) {
            size_t base = c->cur[k].off, len = c->cur[k].len, gap = 0, pos = 0;
            const char *sub = text + base;
            while (pos < len) {
                int rc = pcre2_match(t->re[r], (PCRE2_SPTR)sub, len, pos, PCRE2_NO_UTF_CHECK, c->md, NULL);
                if (rc == PCRE2_ERROR_NOMATCH) break;
                if (rc < 0) {
                    PCRE2_UCHAR msg[128];
                    pcre2_get_error_message(rc, msg, sizeof msg);
                    return sl_fail(err, SL_ERR_INVALID_ARG, "tokenize: pre-tokenizer '%s': %s",
                                   t->pre, (const char *)msg);
                }
                size_t ms = ov[0], me = ov[1];
                if (me == ms) { /* an empty match splits nothing: step over one char */
                    int cl = tok_utf8_char_len((const unsigned char *)sub + ms, len - ms);
                    pos = ms + (size_t)(cl > 0 ? cl : 1);
                    continue;
                }
                sl_status st;
                if (ms > gap && (st = emit_piece(c, text, base + gap, ms - gap, last, out, err)) != SL_OK)
                    return st;
                if ((st = emit_piece(c, text, base + ms, me - ms, last, out, err)) != SL_OK)
                    return st;
                gap = pos = me;
            }
            if (gap < len) {
                sl_status st = emit_piece(c, text, base + gap, len - gap, last, out, err);
                if (st != SL_OK) return st;
            }
        }
        span *tmp = c->cur;
        c->cur = c->nxt;
        c->nxt = tmp;
        size_t tc = c->cap_cur;
        c->cap_cur = c->cap_nxt;
        c->cap_nxt = tc;
        c->n_cur = c->n_nxt;
    }
    return SL_OK;
}
