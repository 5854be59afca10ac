/* bpe.c — byte-level BPE: training, encoding, GGUF (see bpe.h).
 *
 * Training counts the distinct pre-tokenized chunks of the corpus (the GPT-2
 * regex, the same one src/tokenizer/bpe.c runs for pre = "gpt-2"), then
 * repeatedly merges the most frequent adjacent pair (ties: the lowest left
 * id, then right id), updating pair counts only for the chunks that held it. */
#include "train/bpe.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "core/error.h"
#include "model/gguf_names.h"
#include "tokenizer/tokenizer.h"

#define RE_GPT2 "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+"

/* ---- hash maps ----------------------------------------------------------------- */

static uint64_t hash_bytes(const void *p, size_t n) {
    const unsigned char *s = p;
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) h = (h ^ s[i]) * 0x100000001b3ull;
    return h ^ (h >> 31);
}
static uint64_t hash_u64(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    return x;
}

/* Byte strings -> int, keys copied into an arena of chunks. */
typedef struct {
    char **key;
    uint32_t *len;
    int32_t *val;
    size_t cap, n;
} strmap;

static void strmap_free(strmap *m) {
    for (size_t i = 0; m->key && i < m->cap; i++) free(m->key[i]);
    free(m->key);
    free(m->len);
    free(m->val);
    memset(m, 0, sizeof *m);
}

static bool strmap_init(strmap *m, size_t cap) {
    memset(m, 0, sizeof *m);
    m->cap = cap;
    m->key = calloc(cap, sizeof *m->key);
    m->len = calloc(cap, sizeof *m->len);
    m->val = calloc(cap, sizeof *m->val);
    return m->key && m->len && m->val;
}

static size_t strmap_slot(const strmap *m, const char *s, size_t n) {
    size_t i = hash_bytes(s, n) & (m->cap - 1);
    while (m->key[i] && !(m->len[i] == n && memcmp(m->key[i], s, n) == 0)) i = (i + 1) & (m->cap - 1);
    return i;
}

static int32_t strmap_get(const strmap *m, const char *s, size_t n) {
    size_t i = strmap_slot(m, s, n);
    return m->key[i] ? m->val[i] : -1;
}

/* Returns the slot's value pointer (inserting val when new), NULL on OOM. */
static int32_t *strmap_put(strmap *m, const char *s, size_t n, int32_t val, bool *inserted) {
    if (2 * (m->n + 1) > m->cap) {
        strmap big;
        if (!strmap_init(&big, m->cap * 2)) {
            strmap_free(&big);
            return NULL;
        }
        for (size_t i = 0; i < m->cap; i++) {
            if (!m->key[i]) continue;
            size_t j = strmap_slot(&big, m->key[i], m->len[i]);
            big.key[j] = m->key[i];
            big.len[j] = m->len[i];
            big.val[j] = m->val[i];
            m->key[i] = NULL;
        }
        big.n = m->n;
        strmap_free(m);
        *m = big;
    }
    size_t i = strmap_slot(m, s, n);
    if (inserted) *inserted = !m->key[i];
    if (!m->key[i]) {
        m->key[i] = malloc(n + 1);
        if (!m->key[i]) return NULL;
        memcpy(m->key[i], s, n);
        m->key[i][n] = '\0';
        m->len[i] = (uint32_t)n;
        m->val[i] = val;
        m->n++;
    }
    return &m->val[i];
}

/* u64 -> i64 (pair counts) or rank; no deletion. */
typedef struct {
    uint64_t *key; /* pair + 1 so 0 means empty */
    int64_t *val;
    size_t cap, n;
} u64map;

static void u64map_free(u64map *m) {
    free(m->key);
    free(m->val);
    memset(m, 0, sizeof *m);
}
static bool u64map_init(u64map *m, size_t cap) {
    m->cap = cap;
    m->n = 0;
    m->key = calloc(cap, sizeof *m->key);
    m->val = calloc(cap, sizeof *m->val);
    return m->key && m->val;
}
static size_t u64map_slot(const u64map *m, uint64_t k) {
    size_t i = hash_u64(k) & (m->cap - 1);
    while (m->key[i] && m->key[i] != k + 1) i = (i + 1) & (m->cap - 1);
    return i;
}
static int64_t *u64map_at(u64map *m, uint64_t k) {
    if (2 * (m->n + 1) > m->cap) {
        u64map big;
        if (!u64map_init(&big, m->cap * 2)) {
            u64map_free(&big);
            return NULL;
        }
        for (size_t i = 0; i < m->cap; i++)
            if (m->key[i]) {
                size_t j = u64map_slot(&big, m->key[i] - 1);
                big.key[j] = m->key[i];
                big.val[j] = m->val[i];
            }
        big.n = m->n;
        u64map_free(m);
        *m = big;
    }
    size_t i = u64map_slot(m, k);
    if (!m->key[i]) {
        m->key[i] = k + 1;
        m->val[i] = 0;
        m->n++;
    }
    return &m->val[i];
}
static const int64_t *u64map_find(const u64map *m, uint64_t k) {
    size_t i = u64map_slot(m, k);
    return m->key[i] ? &m->val[i] : NULL;
}

#define PAIR(a, b) (((uint64_t)(uint32_t)(a) << 32) | (uint32_t)(b))

/* ---- bytes and the split ------------------------------------------------------------ */

int sl_bpe_byte_char(unsigned char c, char *out) {
    /* GPT-2: printable Latin-1 bytes stand for themselves, the other 68 take
     * code points 256, 257, ... in byte order. */
    unsigned cp;
    if ((c >= 33 && c <= 126) || (c >= 161 && c <= 172) || c >= 174) cp = c;
    else {
        unsigned n = 0;
        for (unsigned b = 0; b < c; b++)
            if (!((b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174)) n++;
        cp = 256 + n;
    }
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    out[0] = (char)(0xC0 | (cp >> 6));
    out[1] = (char)(0x80 | (cp & 0x3F));
    return 2;
}

typedef struct {
    pcre2_code *re;
    pcre2_match_data *md;
} splitter;

static sl_status splitter_init(splitter *s, sl_error *err) {
    int ec;
    PCRE2_SIZE eo;
    s->re = pcre2_compile((PCRE2_SPTR)RE_GPT2, PCRE2_ZERO_TERMINATED, PCRE2_UTF | PCRE2_UCP, &ec,
                          &eo, NULL);
    s->md = s->re ? pcre2_match_data_create_from_pattern(s->re, NULL) : NULL;
    if (!s->re || !s->md) return sl_fail(err, SL_ERR_NOMEM, "bpe: cannot compile the GPT-2 regex");
    pcre2_jit_compile(s->re, PCRE2_JIT_COMPLETE); /* optional: falls back to the interpreter */
    return SL_OK;
}
static void splitter_free(splitter *s) {
    pcre2_match_data_free(s->md);
    pcre2_code_free(s->re);
}

/* Calls fn on every chunk of text in order: matches and the gaps between them. */
static sl_status split(splitter *s, const char *text, size_t len,
                       sl_status (*fn)(void *u, const char *c, size_t n), void *u, sl_error *err) {
    /* Validate once: PCRE2 would re-check the whole rest of the subject on
     * every call, which is quadratic over a book. */
    size_t bad = sl_utf8_validate(text, len);
    if (bad != (size_t)-1)
        return sl_fail(err, SL_ERR_INVALID_ARG, "bpe: the text is not valid UTF-8 at byte %zu", bad);
    size_t pos = 0;
    while (pos < len) {
        int rc = pcre2_match(s->re, (PCRE2_SPTR)text, len, pos, PCRE2_NO_UTF_CHECK, s->md, NULL);
        size_t a = len, b = len;
        if (rc >= 0) {
            PCRE2_SIZE *ov = pcre2_get_ovector_pointer(s->md);
            a = ov[0];
            b = ov[1];
        } else if (rc != PCRE2_ERROR_NOMATCH) {
            return sl_fail(err, SL_ERR_INVALID_ARG, "bpe: the text is not valid UTF-8 near byte %zu", pos);
        }
        if (a > pos) {
            sl_status st = fn(u, text + pos, a - pos);
            if (st != SL_OK) return st;
        }
        if (b > a) {
            sl_status st = fn(u, text + a, b - a);
            if (st != SL_OK) return st;
        }
        pos = b > a ? b : (a < len ? a + 1 : len);
    }
    return SL_OK;
}

/* ---- vocabulary ------------------------------------------------------------------- */

static bool vocab_push(sl_bpe *b, char *text, int32_t type, int *cap) {
    if (b->n_vocab == *cap) {
        int nc = *cap ? 2 * *cap : 512;
        char **t = realloc(b->text, (size_t)nc * sizeof *t);
        if (t) b->text = t;
        int32_t *ty = realloc(b->type, (size_t)nc * sizeof *ty);
        if (ty) b->type = ty;
        if (!t || !ty) return false;
        *cap = nc;
    }
    b->text[b->n_vocab] = text;
    b->type[b->n_vocab] = type;
    b->n_vocab++;
    return true;
}

static bool merges_push(sl_bpe *b, int32_t l, int32_t r, int32_t out, int *cap) {
    if (b->n_merges == *cap) {
        int nc = *cap ? 2 * *cap : 512;
        int32_t *a = realloc(b->merge_l, (size_t)nc * 4);
        if (a) b->merge_l = a;
        int32_t *c = realloc(b->merge_r, (size_t)nc * 4);
        if (c) b->merge_r = c;
        int32_t *o = realloc(b->merge_out, (size_t)nc * 4);
        if (o) b->merge_out = o;
        if (!a || !c || !o) return false;
        *cap = nc;
    }
    b->merge_l[b->n_merges] = l;
    b->merge_r[b->n_merges] = r;
    b->merge_out[b->n_merges] = out;
    b->n_merges++;
    return true;
}

struct sl_bpe_maps {
    strmap vocab;     /* text -> id */
    u64map rank;      /* pair -> merge rank */
    int32_t byte_id[256];
    strmap cache;     /* chunk -> index into cache_ids */
    int32_t *cache_ids;
    size_t cache_n, cache_cap;
    uint32_t *cache_off; /* per cache entry: offset, count in cache_meta */
    size_t meta_n, meta_cap;
    splitter sp;
};

void sl_bpe_free(sl_bpe *b) {
    if (!b) return;
    for (int i = 0; b->text && i < b->n_vocab; i++) free(b->text[i]);
    free(b->text);
    free(b->type);
    free(b->merge_l);
    free(b->merge_r);
    free(b->merge_out);
    if (b->maps) {
        strmap_free(&b->maps->vocab);
        u64map_free(&b->maps->rank);
        strmap_free(&b->maps->cache);
        free(b->maps->cache_ids);
        free(b->maps->cache_off);
        splitter_free(&b->maps->sp);
        free(b->maps);
    }
    memset(b, 0, sizeof *b);
}

/* ---- training --------------------------------------------------------------------- */

typedef struct {
    strmap words;      /* chunk -> word index */
    int64_t *count;    /* (n) occurrences */
    size_t n, cap;
} word_counts;

static sl_status count_chunk(void *u, const char *c, size_t n) {
    word_counts *w = u;
    bool ins;
    int32_t *v = strmap_put(&w->words, c, n, (int32_t)w->n, &ins);
    if (!v) return SL_ERR_NOMEM;
    if (ins) {
        if (w->n == w->cap) {
            size_t nc = w->cap ? 2 * w->cap : 4096;
            int64_t *p = realloc(w->count, nc * sizeof *p);
            if (!p) return SL_ERR_NOMEM;
            w->count = p;
            w->cap = nc;
        }
        w->count[w->n++] = 0;
    }
    w->count[*v]++;
    return SL_OK;
}

/* Adds sign * count for every adjacent pair of word s (n symbols). */
static bool add_pairs(u64map *pc, const int32_t *s, int n, int64_t count) {
    for (int i = 0; i + 1 < n; i++) {
        int64_t *v = u64map_at(pc, PAIR(s[i], s[i + 1]));
        if (!v) return false;
        *v += count;
    }
    return true;
}

sl_status sl_bpe_train(sl_bpe *b, const char *const *texts, const size_t *lens, int n_texts,
                       int vocab_size, void (*progress)(void *user, int done, int total),
                       void *user, sl_error *err) {
    memset(b, 0, sizeof *b);
    b->eot = b->sink = -1;
    if (vocab_size < SL_BPE_MIN_VOCAB || vocab_size > (1 << 20))
        return sl_fail(err, SL_ERR_INVALID_ARG, "--vocab %d is out of range [%d, %d] (256 bytes, "
                       "at least one merge, and the 2 control tokens)", vocab_size, SL_BPE_MIN_VOCAB, 1 << 20);
    size_t total = 0;
    for (int i = 0; i < n_texts; i++) total += lens[i];
    if (total == 0) return sl_fail(err, SL_ERR_INVALID_ARG, "bpe: the corpus is empty");

    splitter sp = {0};
    word_counts wc = {0};
    int32_t **sym = NULL; /* (n words) symbol ids */
    int *nsym = NULL;
    u64map pc = {0};
    strmap vocab = {0};
    int vcap = 0, mcap = 0;
    sl_status st = splitter_init(&sp, err);
    if (st == SL_OK && (!strmap_init(&wc.words, 1 << 16) || !strmap_init(&vocab, 1 << 12) ||
                        !u64map_init(&pc, 1 << 16)))
        st = sl_fail(err, SL_ERR_NOMEM, "bpe: out of memory");
    for (int i = 0; st == SL_OK && i < n_texts; i++) {
        st = split(&sp, texts[i], lens[i], count_chunk, &wc, err);
        if (st == SL_ERR_NOMEM) st = sl_fail(err, st, "bpe: out of memory counting chunks");
    }
    /* ids 0..255: the bytes */
    for (int c = 0; st == SL_OK && c < 256; c++) {
        char s[3] = {0};
        sl_bpe_byte_char((unsigned char)c, s);
        char *t = strdup(s);
        if (!t || !vocab_push(b, t, SL_TOKEN_NORMAL, &vcap) || !strmap_put(&vocab, s, strlen(s), c, NULL)) {
            free(t);
            st = sl_fail(err, SL_ERR_NOMEM, "bpe: out of memory");
        }
    }
    if (st == SL_OK) {
        sym = calloc(wc.n ? wc.n : 1, sizeof *sym);
        nsym = calloc(wc.n ? wc.n : 1, sizeof *nsym);
        if (!sym || !nsym) st = sl_fail(err, SL_ERR_NOMEM, "bpe: out of memory");
    }
    for (size_t k = 0; st == SL_OK && k < wc.words.cap; k++) {
        if (!wc.words.key[k]) continue;
        size_t w = (size_t)wc.words.val[k], n = wc.words.len[k];
        sym[w] = malloc(n * sizeof(int32_t));
        if (!sym[w]) {
            st = sl_fail(err, SL_ERR_NOMEM, "bpe: out of memory");
            break;
        }
        for (size_t i = 0; i < n; i++) sym[w][i] = (unsigned char)wc.words.key[k][i];
        nsym[w] = (int)n;
        if (!add_pairs(&pc, sym[w], (int)n, wc.count[w])) st = sl_fail(err, SL_ERR_NOMEM, "bpe: out of memory");
    }

    const int target = vocab_size - 2;
    int n_steps = 0;
    while (st == SL_OK && b->n_vocab < target) {
        /* the most frequent pair; ties go to the lowest (left, right) */
        int64_t best = 1;
        uint64_t bk = 0;
        for (size_t i = 0; i < pc.cap; i++) {
            if (!pc.key[i]) continue;
            int64_t c = pc.val[i];
            if (c > best || (c == best && best > 1 && pc.key[i] - 1 < bk)) {
                best = c;
                bk = pc.key[i] - 1;
            }
        }
        if (best < 2) {
            st = sl_fail(err, SL_ERR_INVALID_ARG, "--vocab %d is larger than this corpus supports: no "
                         "pair of tokens occurs twice after %d tokens (the largest possible --vocab is %d)",
                         vocab_size, b->n_vocab, b->n_vocab + 2);
            break;
        }
        int32_t l = (int32_t)(bk >> 32), r = (int32_t)(bk & 0xFFFFFFFFu);
        size_t ll = strlen(b->text[l]), rl = strlen(b->text[r]);
        char *t = malloc(ll + rl + 1);
        if (!t) {
            st = sl_fail(err, SL_ERR_NOMEM, "bpe: out of memory");
            break;
        }
        memcpy(t, b->text[l], ll);
        memcpy(t + ll, b->text[r], rl + 1);
        /* Two merge paths can spell the same text ("ab c", "a bc"): one token. */
        int32_t out = strmap_get(&vocab, t, ll + rl);
        if (out < 0) {
            out = b->n_vocab;
            if (!vocab_push(b, t, SL_TOKEN_NORMAL, &vcap) || !strmap_put(&vocab, t, ll + rl, out, NULL)) {
                st = sl_fail(err, SL_ERR_NOMEM, "bpe: out of memory");
                break;
            }
        } else {
            free(t);
        }
        if (!merges_push(b, l, r, out, &mcap)) {
            st = sl_fail(err, SL_ERR_NOMEM, "bpe: out of memory");
            break;
        }
        /* apply to every word holding the pair, left to right */
        for (size_t w = 0; w < wc.n && st == SL_OK; w++) {
            int32_t *s = sym[w];
            int n = nsym[w], i = 0;
            for (; i + 1 < n; i++)
                if (s[i] == l && s[i + 1] == r) break;
            if (i + 1 >= n) continue;
            if (!add_pairs(&pc, s, n, -wc.count[w])) st = SL_ERR_NOMEM;
            int o = 0;
            for (int j = 0; j < n;) {
                if (j + 1 < n && s[j] == l && s[j + 1] == r) {
                    s[o++] = out;
                    j += 2;
                } else {
                    s[o++] = s[j++];
                }
            }
            nsym[w] = o;
            if (st == SL_OK && !add_pairs(&pc, s, o, wc.count[w])) st = SL_ERR_NOMEM;
            if (st != SL_OK) st = sl_fail(err, st, "bpe: out of memory");
        }
        if (progress && ++n_steps % 100 == 0) progress(user, b->n_vocab, vocab_size);
    }
    char *eot = strdup(SL_BPE_EOT), *snk = strdup(SL_BPE_SINK);
    if (st == SL_OK && (!eot || !snk || !vocab_push(b, eot, SL_TOKEN_CONTROL, &vcap))) {
        free(eot);
        eot = NULL;
        st = sl_fail(err, SL_ERR_NOMEM, "bpe: out of memory");
    } else if (st == SL_OK) {
        eot = NULL;
        b->eot = b->n_vocab - 1;
        if (!vocab_push(b, snk, SL_TOKEN_CONTROL, &vcap)) st = sl_fail(err, SL_ERR_NOMEM, "bpe: out of memory");
        else snk = NULL, b->sink = b->n_vocab - 1;
    }
    free(eot);
    free(snk);
    for (size_t w = 0; sym && w < wc.n; w++) free(sym[w]);
    free(sym);
    free(nsym);
    u64map_free(&pc);
    strmap_free(&vocab);
    strmap_free(&wc.words);
    free(wc.count);
    splitter_free(&sp);
    if (st != SL_OK) sl_bpe_free(b);
    return st;
}

/* ---- encoding ----------------------------------------------------------------------- */

static sl_status build_maps(sl_bpe *b, sl_error *err) {
    if (b->maps) return SL_OK;
    sl_bpe_maps *m = calloc(1, sizeof *m);
    if (!m) return sl_fail(err, SL_ERR_NOMEM, "bpe: out of memory");
    b->maps = m;
    size_t cap = 64;
    while (cap < 4 * (size_t)b->n_vocab) cap *= 2;
    if (!strmap_init(&m->vocab, cap) || !u64map_init(&m->rank, cap) || !strmap_init(&m->cache, 1 << 14))
        return sl_fail(err, SL_ERR_NOMEM, "bpe: out of memory");
    for (int i = 0; i < b->n_vocab; i++)
        if (!strmap_put(&m->vocab, b->text[i], strlen(b->text[i]), i, NULL))
            return sl_fail(err, SL_ERR_NOMEM, "bpe: out of memory");
    for (int c = 0; c < 256; c++) {
        char s[3] = {0};
        sl_bpe_byte_char((unsigned char)c, s);
        m->byte_id[c] = strmap_get(&m->vocab, s, strlen(s));
        if (m->byte_id[c] < 0)
            return sl_fail(err, SL_ERR_FORMAT, "bpe: the vocabulary lacks the token of byte 0x%02X", c);
    }
    for (int r = 0; r < b->n_merges; r++) {
        int64_t *v = u64map_at(&m->rank, PAIR(b->merge_l[r], b->merge_r[r]));
        if (!v) return sl_fail(err, SL_ERR_NOMEM, "bpe: out of memory");
        if (*v == 0) *v = r + 1; /* the first (lowest) rank of a repeated pair wins */
    }
    return splitter_init(&m->sp, err);
}

typedef struct {
    sl_bpe *b;
    int32_t *out;
    size_t n, cap;
    int32_t *work;
    size_t work_cap;
} enc_state;

static bool push_ids(enc_state *e, const int32_t *ids, size_t n) {
    if (e->n + n > e->cap) {
        size_t nc = e->cap ? e->cap : 1024;
        while (nc < e->n + n) nc *= 2;
        int32_t *p = realloc(e->out, nc * sizeof *p);
        if (!p) return false;
        e->out = p;
        e->cap = nc;
    }
    memcpy(e->out + e->n, ids, n * sizeof *ids);
    e->n += n;
    return true;
}

static sl_status encode_chunk(void *u, const char *c, size_t n) {
    enc_state *e = u;
    sl_bpe_maps *m = e->b->maps;
    int32_t idx = strmap_get(&m->cache, c, n);
    if (idx >= 0) {
        uint32_t off = m->cache_off[2 * idx], cnt = m->cache_off[2 * idx + 1];
        return push_ids(e, m->cache_ids + off, cnt) ? SL_OK : SL_ERR_NOMEM;
    }
    if (n > e->work_cap) {
        int32_t *w = realloc(e->work, n * sizeof *w);
        if (!w) return SL_ERR_NOMEM;
        e->work = w;
        e->work_cap = n;
    }
    int32_t *s = e->work;
    size_t k = n;
    for (size_t i = 0; i < n; i++) s[i] = m->byte_id[(unsigned char)c[i]];
    for (;;) { /* the lowest-rank adjacent pair, leftmost first */
        int64_t best = INT64_MAX;
        size_t at = 0;
        for (size_t i = 0; i + 1 < k; i++) {
            const int64_t *r = u64map_find(&m->rank, PAIR(s[i], s[i + 1]));
            if (r && *r < best) best = *r, at = i;
        }
        if (best == INT64_MAX) break;
        s[at] = e->b->merge_out[best - 1];
        memmove(s + at + 1, s + at + 2, (k - at - 2) * sizeof *s);
        k--;
    }
    /* remember the chunk (short ones only: long runs of text are rare) */
    if (n <= 64) {
        if (m->cache_n + k > m->cache_cap) {
            size_t nc = m->cache_cap ? 2 * m->cache_cap : 1 << 16;
            while (nc < m->cache_n + k) nc *= 2;
            int32_t *p = realloc(m->cache_ids, nc * sizeof *p);
            if (!p) return SL_ERR_NOMEM;
            m->cache_ids = p;
            m->cache_cap = nc;
        }
        if (m->meta_n + 2 > m->meta_cap) {
            size_t nc = m->meta_cap ? 2 * m->meta_cap : 1 << 14;
            uint32_t *p = realloc(m->cache_off, nc * sizeof *p);
            if (!p) return SL_ERR_NOMEM;
            m->cache_off = p;
            m->meta_cap = nc;
        }
        if (!strmap_put(&m->cache, c, n, (int32_t)(m->meta_n / 2), NULL)) return SL_ERR_NOMEM;
        m->cache_off[m->meta_n++] = (uint32_t)m->cache_n;
        m->cache_off[m->meta_n++] = (uint32_t)k;
        memcpy(m->cache_ids + m->cache_n, s, k * sizeof *s);
        m->cache_n += k;
    }
    return push_ids(e, s, k) ? SL_OK : SL_ERR_NOMEM;
}

sl_status sl_bpe_encode(sl_bpe *b, const char *text, size_t len, int32_t **ids, size_t *n,
                        sl_error *err) {
    *ids = NULL;
    *n = 0;
    sl_status st = build_maps(b, err);
    if (st != SL_OK) return st;
    size_t bad = sl_utf8_validate(text, len);
    if (bad != (size_t)-1)
        return sl_fail(err, SL_ERR_INVALID_ARG, "bpe: the text is not valid UTF-8 at byte %zu", bad);
    enc_state e = {.b = b};
    st = split(&b->maps->sp, text, len, encode_chunk, &e, err);
    free(e.work);
    if (st != SL_OK) {
        free(e.out);
        return st == SL_ERR_NOMEM ? sl_fail(err, st, "bpe: out of memory while encoding") : st;
    }
    *ids = e.out ? e.out : malloc(sizeof(int32_t));
    *n = e.n;
    return SL_OK;
}

/* ---- GGUF --------------------------------------------------------------------------- */

sl_status sl_bpe_write(const sl_bpe *b, const char *path, sl_error *err) {
    sl_gguf_writer *w;
    sl_status st = sl_gguf_writer_create(&w, err);
    if (st != SL_OK) return st;
    char **merges = calloc((size_t)b->n_merges + 1, sizeof *merges);
    if (!merges) st = SL_ERR_NOMEM;
    for (int i = 0; st == SL_OK && i < b->n_merges; i++) {
        const char *l = b->text[b->merge_l[i]], *r = b->text[b->merge_r[i]];
        size_t n = strlen(l) + strlen(r) + 2;
        merges[i] = malloc(n);
        if (!merges[i]) st = SL_ERR_NOMEM;
        else snprintf(merges[i], n, "%s %s", l, r);
    }
#define SET(call) do { if (st == SL_OK) st = (call); } while (0)
    SET(sl_gguf_writer_set_str(w, KEY_ARCH, "llama"));
    SET(sl_gguf_writer_set_str(w, KEY_NAME, "streamllm-bpe"));
    SET(sl_gguf_writer_set_str(w, KEY_TOK_MODEL, "gpt2"));
    SET(sl_gguf_writer_set_str(w, KEY_TOK_PRE, "gpt-2"));
    SET(sl_gguf_writer_set_arr_str(w, KEY_TOK_TOKENS, (const char *const *)b->text, NULL,
                                   (uint64_t)b->n_vocab));
    SET(sl_gguf_writer_set_arr(w, KEY_TOK_TYPES, SL_GGUF_INT32, b->type, (uint64_t)b->n_vocab));
    SET(sl_gguf_writer_set_arr_str(w, KEY_TOK_MERGES, (const char *const *)merges, NULL,
                                   (uint64_t)b->n_merges));
    if (b->eot >= 0) {
        SET(sl_gguf_writer_set_u32(w, KEY_TOK_BOS, (uint32_t)b->eot));
        SET(sl_gguf_writer_set_u32(w, KEY_TOK_EOS, (uint32_t)b->eot));
    }
    SET(sl_gguf_writer_set_bool(w, KEY_TOK_ADD_BOS, false));
    SET(sl_gguf_writer_set_bool(w, KEY_TOK_ADD_EOS, false));
#undef SET
    for (int i = 0; merges && i < b->n_merges; i++) free(merges[i]);
    free(merges);
    if (st != SL_OK) st = sl_fail(err, st, "%s: cannot store the vocabulary", path);
    else st = sl_gguf_writer_write(w, path, err);
    sl_gguf_writer_free(w);
    return st;
}

sl_status sl_bpe_from_gguf(sl_bpe *b, const sl_gguf *g, sl_error *err) {
    memset(b, 0, sizeof *b);
    b->eot = b->sink = -1;
    const sl_gguf_kv *toks, *types = NULL, *merges;
    sl_gguf_str model;
    if (sl_gguf_get_str(g, KEY_TOK_MODEL, &model, NULL) != SL_OK || !sl_gguf_str_eq(model, "gpt2"))
        return sl_fail(err, SL_ERR_FORMAT, "%s: %s is not \"gpt2\" (train a vocabulary with "
                       "`streamllm train-tokenizer`)", g->path, KEY_TOK_MODEL);
    if (sl_gguf_get_arr(g, KEY_TOK_TOKENS, SL_GGUF_STRING, &toks, NULL) != SL_OK ||
        sl_gguf_get_arr(g, KEY_TOK_MERGES, SL_GGUF_STRING, &merges, NULL) != SL_OK)
        return sl_fail(err, SL_ERR_FORMAT, "%s: no %s or %s string array", g->path, KEY_TOK_TOKENS,
                       KEY_TOK_MERGES);
    if (toks->arr_n < 256 || toks->arr_n > (1u << 22))
        return sl_fail(err, SL_ERR_FORMAT, "%s: %llu tokens, expected 256..%u", g->path,
                       (unsigned long long)toks->arr_n, 1u << 22);
    sl_gguf_get_arr(g, KEY_TOK_TYPES, SL_GGUF_INT32, &types, NULL);
    if (types && types->arr_n != toks->arr_n) types = NULL;
    b->n_vocab = (int)toks->arr_n;
    b->text = calloc((size_t)b->n_vocab, sizeof *b->text);
    b->type = calloc((size_t)b->n_vocab, sizeof *b->type);
    b->n_merges = (int)merges->arr_n;
    b->merge_l = malloc(((size_t)b->n_merges + 1) * 4);
    b->merge_r = malloc(((size_t)b->n_merges + 1) * 4);
    b->merge_out = malloc(((size_t)b->n_merges + 1) * 4);
    if (!b->text || !b->type || !b->merge_l || !b->merge_r || !b->merge_out) {
        sl_bpe_free(b);
        return sl_fail(err, SL_ERR_NOMEM, "bpe: out of memory");
    }
    for (int i = 0; i < b->n_vocab; i++) {
        b->text[i] = strndup(toks->arr_strs[i].ptr, toks->arr_strs[i].len);
        if (!b->text[i]) {
            sl_bpe_free(b);
            return sl_fail(err, SL_ERR_NOMEM, "bpe: out of memory");
        }
        int32_t ty = SL_TOKEN_NORMAL;
        if (types) memcpy(&ty, (const char *)types->arr_data + 4 * (size_t)i, 4);
        b->type[i] = ty;
        if (!strcmp(b->text[i], SL_BPE_EOT)) b->eot = i;
        if (!strcmp(b->text[i], SL_BPE_SINK)) b->sink = i;
    }
    /* the maps need the vocabulary only; ranks are added once merges are known */
    int n_merges = b->n_merges;
    b->n_merges = 0;
    sl_status st = build_maps(b, err);
    b->n_merges = n_merges;
    for (int r = 0; st == SL_OK && r < b->n_merges; r++) {
        sl_gguf_str s = merges->arr_strs[r];
        const char *sp = memchr(s.ptr, ' ', s.len);
        int32_t l = sp ? strmap_get(&b->maps->vocab, s.ptr, (size_t)(sp - s.ptr)) : -1;
        int32_t rr = sp ? strmap_get(&b->maps->vocab, sp + 1, s.len - (size_t)(sp - s.ptr) - 1) : -1;
        char buf[1024];
        int32_t out = -1;
        if (sp && s.len < sizeof buf) {
            size_t ln = (size_t)(sp - s.ptr);
            memcpy(buf, s.ptr, ln);
            memcpy(buf + ln, sp + 1, s.len - ln - 1);
            out = strmap_get(&b->maps->vocab, buf, s.len - 1);
        }
        if (l < 0 || rr < 0 || out < 0)
            st = sl_fail(err, SL_ERR_FORMAT, "%s: merge %d '%.*s' does not join two tokens into a "
                         "third", g->path, r, (int)s.len, s.ptr);
        b->merge_l[r] = l;
        b->merge_r[r] = rr;
        b->merge_out[r] = out;
    }
    if (st == SL_OK) {
        for (int r = 0; st == SL_OK && r < b->n_merges; r++) {
            int64_t *v = u64map_at(&b->maps->rank, PAIR(b->merge_l[r], b->merge_r[r]));
            if (!v) st = sl_fail(err, SL_ERR_NOMEM, "bpe: out of memory");
            else if (*v == 0) *v = r + 1;
        }
    }
    if (st != SL_OK) sl_bpe_free(b);
    return st;
}
