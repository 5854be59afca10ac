/* test_tokenizer.c — tokenizers against references we did not write:
 * llama.cpp's vocab fixtures (ids produced by Hugging Face tokenizers) for
 * the Llama SPM and GPT-2 BPE vocabularies, round trips on real text, the
 * same vocabulary inside a model file, and small hand-built vocabularies
 * whose merges and special-token cuts are worked out by hand. */
#include "test_util.h"

#include <stdint.h>
#include <time.h>

#include "gguf/gguf.h"
#include "tokenizer/tokenizer.h"

static char *read_all(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (buf) buf[n] = 0;
    if (len) *len = (size_t)n;
    return buf;
}

typedef struct {
    sl_gguf *g;
    sl_tokenizer *t;
} loaded;

static loaded load(const char *path) {
    loaded l = {0};
    sl_error err = {0};
    if (sl_gguf_open(&l.g, path, &err) != SL_OK) {
        fprintf(stderr, "  open %s: %s\n", path, err.msg);
        return l;
    }
    if (sl_tokenizer_load(&l.t, l.g, &err) != SL_OK) fprintf(stderr, "  load %s: %s\n", path, err.msg);
    return l;
}

static void unload(loaded *l) {
    sl_tokenizer_free(l->t);
    sl_gguf_close(l->g);
}

/* Concatenated pieces of ids (malloc'd, NUL-terminated); *n gets the length. */
static char *decode(const sl_tokenizer *t, const int32_t *ids, size_t n_ids, size_t *n) {
    size_t cap = 64, len = 0;
    char *s = malloc(cap);
    for (size_t i = 0; i < n_ids; i++) {
        size_t pl;
        const char *p = sl_tokenizer_piece(t, ids[i], &pl);
        while (len + pl + 1 > cap) s = realloc(s, cap *= 2);
        memcpy(s + len, p, pl);
        len += pl;
    }
    s[len] = 0;
    *n = len;
    return s;
}

static int32_t *encode(const sl_tokenizer *t, const char *s, size_t len, bool bos, bool special,
                       size_t *n) {
    int32_t *ids = NULL;
    sl_error err = {0};
    sl_status st = sl_tokenizer_encode(t, s, len, bos, special, &ids, n, &err);
    if (st != SL_OK) {
        fprintf(stderr, "  encode failed: %s\n", err.msg);
        *n = 0;
        return NULL;
    }
    return ids;
}

/* ---- llama.cpp fixtures -------------------------------------------------------------- */

#define SEP "\n__ggml_vocab_test__\n"

/* Every case of name.inp must encode (no BOS, no special parsing) to the ids
 * on the matching line of name.out; every case must also round-trip. */
static void run_fixture(const char *name, bool spm) {
    char rel[128];
    snprintf(rel, sizeof rel, "tokenizers/%.100s", name);
    const char *path = t_shared_file(rel);
    if (!path) T_SKIP("%s not found (needs ../shared/data)", rel);
    char gpath[4000], ipath[4096], opath[4096];
    snprintf(gpath, sizeof gpath, "%.3990s", path);
    snprintf(ipath, sizeof ipath, "%s.inp", gpath);
    snprintf(opath, sizeof opath, "%s.out", gpath);
    size_t ilen, olen;
    char *inp = read_all(ipath, &ilen), *outs = read_all(opath, &olen);
    loaded l = load(gpath);
    T_CHECK(inp && outs && l.t, "could not read %s and its fixtures", gpath);
    if (!inp || !outs || !l.t) goto done;

    int n_cases = 0, n_ok = 0;
    char *in_cur = inp, *out_cur = outs;
    for (;;) {
        char *sep = strstr(in_cur, SEP);
        if (!sep) break;
        char *nl = strchr(out_cur, '\n');
        T_CHECK(nl != NULL, "%s.out has fewer lines than cases", name);
        if (!nl) break;
        *nl = 0;
        int32_t want[1024];
        int n_want = 0;
        for (char *p = out_cur; *p;) {
            char *end;
            long v = strtol(p, &end, 10);
            if (end == p) break;
            if (n_want < 1024) want[n_want++] = (int32_t)v;
            p = end;
        }
        size_t len = (size_t)(sep - in_cur), n = 0;
        int32_t *got = encode(l.t, in_cur, len, false, false, &n);
        bool same = got && (int)n == n_want && memcmp(got, want, n * sizeof *got) == 0;
        if (!same) {
            size_t k = 0;
            while (k < n && (int)k < n_want && got[k] == want[k]) k++;
            T_CHECK(same, "%s case %d ('%.40s'): %zu ids, want %d; first difference at %zu: got %d want %d",
                    name, n_cases, in_cur, n, n_want, k, k < n ? got[k] : -1,
                    (int)k < n_want ? want[k] : -1);
        }
        n_ok += same;
        /* round trip */
        size_t dn;
        char *back = decode(l.t, got, n, &dn);
        const char *expect = in_cur;
        size_t en = len;
        if (spm && len > 0) { /* SPM added the leading space */
            T_CHECK(dn >= 1 && back[0] == ' ', "%s case %d: no leading space", name, n_cases);
            if (dn >= 1) {
                memmove(back, back + 1, dn);
                dn--;
            }
        }
        T_CHECK(dn == en && memcmp(back, expect, en) == 0, "%s case %d: decode(encode(x)) != x",
                name, n_cases);
        free(back);
        free(got);
        n_cases++;
        in_cur = sep + strlen(SEP);
        out_cur = nl + 1;
    }
    printf("  %s: %d/%d cases match llama.cpp's expected ids\n", name, n_ok, n_cases);
    T_CHECK(n_cases == 46, "%s: parsed %d cases, expected 46", name, n_cases);
done:
    free(inp);
    free(outs);
    unload(&l);
}

static void test_fixture_llama_spm(void) { run_fixture("ggml-vocab-llama-spm.gguf", true); }
static void test_fixture_gpt2(void) { run_fixture("ggml-vocab-gpt-2.gguf", false); }

/* ---- metadata and pieces ------------------------------------------------------------- */

static void test_spm_metadata(void) {
    const char *path = t_shared_file("tokenizers/ggml-vocab-llama-spm.gguf");
    if (!path) T_SKIP("needs ../shared/data");
    loaded l = load(path);
    if (!l.t) { T_CHECK(0, "load"); unload(&l); return; }
    const sl_tokenizer *t = l.t;
    T_CHECK(sl_tokenizer_kind(t) == SL_TOK_SPM, "kind");
    T_CHECK(sl_tokenizer_n_vocab(t) == 32000, "n_vocab %d", sl_tokenizer_n_vocab(t));
    T_CHECK(sl_tokenizer_bos(t) == 1 && sl_tokenizer_eos(t) == 2, "bos/eos");
    T_CHECK(sl_tokenizer_add_bos(t), "add_bos (file says true)");
    T_CHECK(sl_tokenizer_is_eog(t, 2) && !sl_tokenizer_is_eog(t, 1) && !sl_tokenizer_is_eog(t, 13), "eog");
    T_CHECK(strcmp(sl_tokenizer_token_text(t, 1), "<s>") == 0, "text of 1: %s", sl_tokenizer_token_text(t, 1));
    T_CHECK(sl_tokenizer_token_type(t, 1) == SL_TOKEN_CONTROL, "type of <s>");
    T_CHECK(sl_tokenizer_token_type(t, 13) == SL_TOKEN_BYTE, "type of <0x0A>");
    T_CHECK(sl_tokenizer_find(t, "\xE2\x96\x81Hello") == 15043, "find ▁Hello");
    T_CHECK(sl_tokenizer_find(t, "no-such-token-here") == -1, "find absent");
    size_t n;
    const char *p = sl_tokenizer_piece(t, 15043, &n);
    T_CHECK(n == 6 && memcmp(p, " Hello", 6) == 0, "piece 15043 '%.*s'", (int)n, p);
    p = sl_tokenizer_piece(t, 13, &n); /* <0x0A> */
    T_CHECK(n == 1 && p[0] == '\n', "byte piece");
    p = sl_tokenizer_piece(t, 3, &n); /* <0x00>: a NUL byte, length 1 */
    T_CHECK(n == 1 && p[0] == 0, "NUL byte piece");
    sl_tokenizer_piece(t, 1, &n);
    T_CHECK(n == 0, "control piece is empty");
    /* BOS, and empty text */
    int32_t *ids = encode(t, "", 0, true, false, &n);
    T_CHECK(n == 1 && ids && ids[0] == 1, "empty text with BOS");
    free(ids);
    ids = encode(t, "", 0, false, false, &n);
    T_CHECK(n == 0 && ids != NULL, "empty text without BOS: %zu ids", n);
    free(ids);
    ids = encode(t, "Hello world", 11, true, false, &n);
    T_CHECK(n == 3 && ids[0] == 1 && ids[1] == 15043 && ids[2] == 3186, "BOS + Hello world");
    free(ids);
    unload(&l);
}

static void test_gpt2_metadata(void) {
    const char *path = t_shared_file("tokenizers/ggml-vocab-gpt-2.gguf");
    if (!path) T_SKIP("needs ../shared/data");
    loaded l = load(path);
    if (!l.t) { T_CHECK(0, "load"); unload(&l); return; }
    const sl_tokenizer *t = l.t;
    T_CHECK(sl_tokenizer_kind(t) == SL_TOK_BPE, "kind");
    T_CHECK(sl_tokenizer_n_vocab(t) == 50257, "n_vocab");
    T_CHECK(sl_tokenizer_bos(t) == 50256 && sl_tokenizer_eos(t) == 50256, "bos/eos");
    T_CHECK(!sl_tokenizer_add_bos(t), "gpt2 default add_bos is false");
    T_CHECK(sl_tokenizer_is_eog(t, 50256), "<|endoftext|> is eog");
    size_t n;
    const char *p = sl_tokenizer_piece(t, 995, &n); /* "Ġworld" */
    T_CHECK(n == 6 && memcmp(p, " world", 6) == 0, "piece 995 '%.*s'", (int)n, p);
    p = sl_tokenizer_piece(t, 198, &n); /* "Ċ" */
    T_CHECK(n == 1 && p[0] == '\n', "piece 198");
    unload(&l);
}

/* ---- special tokens ---------------------------------------------------------------- */

static void test_parse_special(void) {
    const char *path = t_shared_file("tokenizers/ggml-vocab-gpt-2.gguf");
    if (!path) T_SKIP("needs ../shared/data");
    loaded l = load(path);
    if (!l.t) { T_CHECK(0, "load"); unload(&l); return; }
    const sl_tokenizer *t = l.t;
    const char *s = "Hello<|endoftext|>world";
    T_CHECK(sl_tokenizer_token_type(t, 50256) == SL_TOKEN_CONTROL, "<|endoftext|> is CONTROL");
    size_t n;
    int32_t *ids = encode(t, s, strlen(s), false, true, &n);
    int32_t hello = sl_tokenizer_find(t, "Hello"), world = sl_tokenizer_find(t, "world");
    T_CHECK(hello >= 0 && world >= 0, "vocab has Hello and world");
    T_CHECK(n == 3 && ids[0] == hello && ids[1] == 50256 && ids[2] == world,
            "parse_special: %zu ids [%d %d %d]", n, n > 0 ? ids[0] : -1, n > 1 ? ids[1] : -1,
            n > 2 ? ids[2] : -1);
    free(ids);
    ids = encode(t, s, strlen(s), false, false, &n);
    bool has = false;
    for (size_t i = 0; i < n; i++) has |= ids[i] == 50256;
    T_CHECK(!has && n > 3, "without parse_special the marker is plain text (%zu ids)", n);
    size_t dn;
    char *back = decode(t, ids, n, &dn);
    T_CHECK(dn == strlen(s) && memcmp(back, s, dn) == 0, "plain-text marker round-trips");
    free(back);
    free(ids);
    unload(&l);

    /* SPM: a text fragment after a special token gets its own space prefix */
    path = t_shared_file("tokenizers/ggml-vocab-llama-spm.gguf");
    if (!path) return;
    l = load(path);
    if (!l.t) { T_CHECK(0, "load spm"); unload(&l); return; }
    t = l.t;
    s = "Hello</s>world";
    ids = encode(t, s, strlen(s), false, true, &n);
    int32_t w = sl_tokenizer_find(t, "\xE2\x96\x81world");
    T_CHECK(n == 3 && ids[0] == 15043 && ids[1] == 2 && ids[2] == w,
            "spm parse_special: %zu ids [%d %d %d], want [15043 2 %d]", n, n > 0 ? ids[0] : -1,
            n > 1 ? ids[1] : -1, n > 2 ? ids[2] : -1, w);
    free(ids);
    ids = encode(t, s, strlen(s), false, false, &n);
    has = false;
    for (size_t i = 0; i < n; i++) has |= ids[i] == 2;
    T_CHECK(!has, "spm without parse_special: </s> is text");
    free(ids);
    unload(&l);
}

/* ---- invalid UTF-8 and streaming ---------------------------------------------------- */

static void test_utf8_validate(void) {
    struct {
        const char *s;
        size_t len, bad;
    } cases[] = {
        {"plain ascii", 11, (size_t)-1},
        {"h\xC3\xA9llo \xF0\x9F\xA6\x99", 11, (size_t)-1}, /* é and U+1F999 */
        {"ab\xC0\xAF", 4, 2},          /* overlong '/' */
        {"\xE0\x80\xAF", 3, 0},        /* overlong 3-byte */
        {"x\xED\xA0\x80", 4, 1},       /* surrogate U+D800 */
        {"\xF4\x90\x80\x80", 4, 0},    /* U+110000 */
        {"abc\xE2\x82", 5, 3},         /* cut at the end */
        {"\x80", 1, 0},                /* lone continuation */
        {"ok\xFF", 3, 2},
        {"\xF4\x8F\xBF\xBF", 4, (size_t)-1}, /* U+10FFFF is the last valid */
        {"a\0b", 3, (size_t)-1},       /* NUL is valid UTF-8 */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t got = sl_utf8_validate(cases[i].s, cases[i].len);
        T_CHECK(got == cases[i].bad, "case %zu: got %zd want %zd", i, (ssize_t)got, (ssize_t)cases[i].bad);
    }
}

static void test_invalid_utf8_rejected(void) {
    const char *path = t_shared_file("tokenizers/ggml-vocab-llama-spm.gguf");
    if (!path) T_SKIP("needs ../shared/data");
    loaded l = load(path);
    if (!l.t) { T_CHECK(0, "load"); unload(&l); return; }
    int32_t *ids = (int32_t *)1;
    size_t n = 99;
    sl_error err = {0};
    sl_status st = sl_tokenizer_encode(l.t, "good\xC3(bad", 9, true, false, &ids, &n, &err);
    T_CHECK(st == SL_ERR_INVALID_ARG, "status %d", st);
    T_CHECK(strstr(err.msg, "offset 4") != NULL, "message names the offset: %s", err.msg);
    T_CHECK(ids == NULL && n == 0, "outputs cleared on error");
    unload(&l);
}

static void test_utf8_stream(void) {
    sl_utf8_stream s = {0};
    char out[64];
    /* U+1F999 split 2 + 2 */
    size_t k = sl_utf8_stream_push(&s, "a\xF0\x9F", 3, out);
    T_CHECK(k == 1 && out[0] == 'a', "first push emits only 'a' (%zu bytes)", k);
    k = sl_utf8_stream_push(&s, "\xA6\x99z", 3, out);
    T_CHECK(k == 5 && memcmp(out, "\xF0\x9F\xA6\x99z", 5) == 0, "completed char emitted (%zu)", k);
    T_CHECK(sl_utf8_stream_flush(&s, out) == 0, "nothing pending");
    /* é split 1 + 1, with empty pushes in between */
    k = sl_utf8_stream_push(&s, "\xC3", 1, out);
    T_CHECK(k == 0, "lead byte alone emits nothing");
    k = sl_utf8_stream_push(&s, "", 0, out);
    T_CHECK(k == 0, "empty push");
    k = sl_utf8_stream_push(&s, "\xA9", 1, out);
    T_CHECK(k == 2 && memcmp(out, "\xC3\xA9", 2) == 0, "é completed");
    /* a cut-off character followed by ASCII: one U+FFFD then the ASCII */
    k = sl_utf8_stream_push(&s, "\xE2\x82", 2, out);
    k = sl_utf8_stream_push(&s, "A", 1, out);
    T_CHECK(k == 4 && memcmp(out, "\xEF\xBF\xBD" "A", 4) == 0, "cut char -> FFFD + A (%zu)", k);
    /* invalid bytes, and a tail left at flush */
    k = sl_utf8_stream_push(&s, "\xFF", 1, out);
    T_CHECK(k == 3 && memcmp(out, "\xEF\xBF\xBD", 3) == 0, "0xFF -> FFFD");
    k = sl_utf8_stream_push(&s, "\xF0\x9F\xA6", 3, out);
    T_CHECK(k == 0, "3 of 4 bytes pending");
    k = sl_utf8_stream_flush(&s, out);
    T_CHECK(k == 3 && memcmp(out, "\xEF\xBF\xBD", 3) == 0 && s.n_pending == 0, "flush -> FFFD");
    /* the documented worst case fits SL_UTF8_STREAM_CAP */
    char worst[8] = "\xE2\xFF\xE2\xFF\xE2\xFF\xE2";
    char big[64];
    sl_utf8_stream_push(&s, "\xF0", 1, big);
    k = sl_utf8_stream_push(&s, worst, 7, big);
    T_CHECK(k <= SL_UTF8_STREAM_CAP(7), "worst case %zu bytes > cap %zu", k, SL_UTF8_STREAM_CAP(7));
}

/* A character split across tokens by the real GPT-2 vocabulary is printed
 * only once complete, and the stream reproduces the text. */
static void test_utf8_stream_tokens(void) {
    const char *path = t_shared_file("tokenizers/ggml-vocab-gpt-2.gguf");
    if (!path) T_SKIP("needs ../shared/data");
    loaded l = load(path);
    if (!l.t) { T_CHECK(0, "load"); unload(&l); return; }
    const char *s = "this is \xF0\x9F\xA6\x99.cpp, caf\xC3\xA9";
    size_t n;
    int32_t *ids = encode(l.t, s, strlen(s), false, false, &n);
    sl_utf8_stream st = {0};
    char acc[256];
    size_t alen = 0;
    int split_tokens = 0;
    for (size_t i = 0; i < n; i++) {
        size_t pl;
        const char *p = sl_tokenizer_piece(l.t, ids[i], &pl);
        char out[128];
        size_t k = sl_utf8_stream_push(&st, p, pl, out);
        split_tokens += k != pl;
        T_CHECK(sl_utf8_validate(out, k) == (size_t)-1, "token %zu: emitted a partial char", i);
        memcpy(acc + alen, out, k);
        alen += k;
    }
    alen += sl_utf8_stream_flush(&st, acc + alen);
    T_CHECK(split_tokens >= 2, "expected the emoji to span tokens (%d split)", split_tokens);
    T_CHECK(alen == strlen(s) && memcmp(acc, s, alen) == 0, "stream reproduces the text");
    free(ids);
    unload(&l);
}

/* ---- real text and the model file ------------------------------------------------------ */

static void roundtrip_text(const char *vocab, bool spm, const char *text, size_t len) {
    const char *path = t_shared_file(vocab);
    loaded l = load(path);
    if (!l.t) { T_CHECK(0, "load %s", vocab); unload(&l); return; }
    clock_t c0 = clock();
    size_t n;
    int32_t *ids = encode(l.t, text, len, false, false, &n);
    double secs = (double)(clock() - c0) / CLOCKS_PER_SEC;
    size_t dn;
    char *back = decode(l.t, ids, n, &dn);
    const char *b = back;
    if (spm && dn > 0 && b[0] == ' ') b++, dn--;
    T_CHECK(dn == len && memcmp(b, text, len) == 0, "%s: decode(encode(text)) differs", vocab);
    printf("  %s: %zu bytes -> %zu tokens in %.3f s\n", vocab, len, n, secs);
    T_CHECK(n > len / 8 && n < len, "%s: %zu tokens for %zu bytes is implausible", vocab, n, len);
    free(back);
    free(ids);
    unload(&l);
}

static void test_roundtrip_sherlock(void) {
    if (!t_shared_file("tokenizers/ggml-vocab-gpt-2.gguf")) T_SKIP("needs ../shared/data");
    const char *p = t_shared_file("text/pg1661-adventures-of-sherlock-holmes.txt");
    if (!p) T_SKIP("needs ../shared/data/text");
    size_t len;
    char *text = read_all(p, &len); /* before t_shared_file's buffer is reused */
    if (!text) { T_CHECK(0, "read"); return; }
    size_t chunk = len < 200000 ? len : 200000;
    while (chunk > 0 && ((unsigned char)text[chunk] & 0xC0) == 0x80) chunk--; /* whole chars */
    roundtrip_text("tokenizers/ggml-vocab-llama-spm.gguf", true, text, chunk);
    roundtrip_text("tokenizers/ggml-vocab-gpt-2.gguf", false, text, chunk);
    free(text);
}

static void test_model_file_vocab(void) {
    const char *m = t_shared_file("models/llama-2-tiny-random.gguf");
    const char *v = t_shared_file("tokenizers/ggml-vocab-llama-spm.gguf");
    if (!m || !v) T_SKIP("needs ../shared/data");
    char mp[4096];
    snprintf(mp, sizeof mp, "%s", m);
    loaded a = load(mp), b = load(v);
    T_CHECK(a.t && b.t, "load both");
    if (a.t && b.t) {
        /* this file has no add_bos key: the SPM default applies */
        T_CHECK(sl_tokenizer_add_bos(a.t) && sl_tokenizer_bos(a.t) == 1, "model file BOS");
        const char *s = "Hello world";
        size_t na, nb;
        int32_t *ia = encode(a.t, s, strlen(s), true, false, &na);
        int32_t *ib = encode(b.t, s, strlen(s), true, false, &nb);
        T_CHECK(na == nb && na == 3 && memcmp(ia, ib, na * sizeof *ia) == 0,
                "model file and vocab file disagree");
        T_CHECK(na == 3 && ia[0] == 1 && ia[1] == 15043 && ia[2] == 3186,
                "Hello world -> [1 15043 3186] (HF ids from the fixture)");
        free(ia);
        free(ib);
    }
    unload(&a);
    unload(&b);
}

/* ---- hand-built vocabularies (no shared data needed) -------------------------------- */

/* Writes a GGUF in memory with the given tokenizer keys and builds it. */
typedef struct {
    const char *model, *pre;
    const char *const *tokens;
    const float *scores;
    const int32_t *types;
    int n;
    const char *const *merges;
    int n_merges;
    bool has_bos; /* write tokenizer.ggml.bos_token_id = bos */
    uint32_t bos;
} synth;

static sl_status build_synth(const synth *sy, sl_gguf **g, sl_tokenizer **t, void **mem, sl_error *err) {
    *g = NULL;
    *t = NULL;
    *mem = NULL;
    sl_gguf_writer *w = NULL;
    sl_status st = sl_gguf_writer_create(&w, err);
    if (st != SL_OK) return st;
    sl_gguf_writer_set_str(w, "general.architecture", "llama");
    if (sy->model) sl_gguf_writer_set_str(w, "tokenizer.ggml.model", sy->model);
    if (sy->pre) sl_gguf_writer_set_str(w, "tokenizer.ggml.pre", sy->pre);
    if (sy->tokens) sl_gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", sy->tokens, NULL, (uint64_t)sy->n);
    if (sy->scores) sl_gguf_writer_set_arr(w, "tokenizer.ggml.scores", SL_GGUF_FLOAT32, sy->scores, (uint64_t)sy->n);
    if (sy->types) sl_gguf_writer_set_arr(w, "tokenizer.ggml.token_type", SL_GGUF_INT32, sy->types, (uint64_t)sy->n);
    if (sy->has_bos) sl_gguf_writer_set_u32(w, "tokenizer.ggml.bos_token_id", sy->bos);
    if (sy->merges)
        sl_gguf_writer_set_arr_str(w, "tokenizer.ggml.merges", sy->merges, NULL, (uint64_t)sy->n_merges);
    size_t size;
    st = sl_gguf_writer_write_memory(w, mem, &size, err);
    sl_gguf_writer_free(w);
    if (st != SL_OK) return st;
    st = sl_gguf_open_memory(g, *mem, size, "synth", err);
    if (st != SL_OK) return st;
    return sl_tokenizer_load(t, *g, err);
}

static void free_synth(sl_gguf *g, sl_tokenizer *t, void *mem) {
    sl_tokenizer_free(t);
    sl_gguf_close(g);
    free(mem);
}

#define U2581 "\xE2\x96\x81"

static void test_spm_merge_order_by_hand(void) {
    /* ids:             0        1      2      3      4    5    6    7     8     9          10        11     12   13 */
    const char *tok[] = {"<unk>", "<s>", "</s>", U2581, "a", "b", "c", "ab", "bc", U2581 "a", "<0x7A>", "abc", "d", "cd"};
    float sc[] = {0, 0, 0, -1, -1, -1, -1, -3, -2, -5, 0, -4, -1, -2};
    int32_t ty[] = {2, 3, 3, 1, 1, 1, 1, 1, 1, 1, 6, 1, 1, 1};
    synth sy = {.model = "llama", .pre = "default", .tokens = tok, .scores = sc, .types = ty, .n = 14};
    sl_gguf *g;
    sl_tokenizer *t;
    void *mem;
    sl_error err = {0};
    T_CHECK(build_synth(&sy, &g, &t, &mem, &err) == SL_OK, "build: %s", err.msg);
    if (t) {
        /* "▁abc": pairs ▁a(-5) ab(-3) bc(-2); bc merges first, then a+bc =
         * abc(-4) beats ▁a(-5) -> [▁][abc] */
        size_t n;
        int32_t *ids = encode(t, "abc", 3, false, false, &n);
        T_CHECK(n == 2 && ids[0] == 3 && ids[1] == 11, "abc -> [3 11], got %zu ids [%d %d]", n,
                n > 0 ? ids[0] : -1, n > 1 ? ids[1] : -1);
        free(ids);
        /* "ab": ▁a(-5) vs ab(-3): ab -> [▁][ab] */
        ids = encode(t, "ab", 2, false, false, &n);
        T_CHECK(n == 2 && ids[0] == 3 && ids[1] == 7, "ab -> [3 7]");
        free(ids);
        /* "a z": ▁a merges; ' ' -> ▁; z has a byte token; the unknown 'y'
         * (no byte token) becomes <unk> */
        ids = encode(t, "a zy", 4, false, false, &n);
        T_CHECK(n == 4 && ids[0] == 9 && ids[1] == 3 && ids[2] == 10 && ids[3] == 0,
                "a zy -> [9 3 10 0], got %zu ids", n);
        free(ids);
        /* "▁bcb": only bc merges -> [▁][bc][b] */
        ids = encode(t, "bcb", 3, false, false, &n);
        T_CHECK(n == 3 && ids[0] == 3 && ids[1] == 8 && ids[2] == 5, "bcb -> [3 8 5]");
        free(ids);
        /* "▁bcd": bc and cd tie at -2; the leftmost merges -> [▁][bc][d],
         * not [▁][b][cd] */
        ids = encode(t, "bcd", 3, false, false, &n);
        T_CHECK(n == 3 && ids[0] == 3 && ids[1] == 8 && ids[2] == 12, "bcd -> [3 8 12], got %zu ids [%d %d %d]",
                n, n > 0 ? ids[0] : -1, n > 1 ? ids[1] : -1, n > 2 ? ids[2] : -1);
        free(ids);
    }
    free_synth(g, t, mem);
}

static void test_special_longest_first_by_hand(void) {
    /* user-defined "ab" and "bcd" in "abcd": the longer one is cut first,
     * as llama.cpp does, leaving "a" as text. Control "<x>" only with
     * parse_special. */
    const char *tok[] = {"<unk>", "<s>", "</s>", U2581, "a", "b", "c", "d", "ab", "bcd", "<x>", "<", "x", ">"};
    float sc[14] = {0};
    int32_t ty[] = {2, 3, 3, 1, 1, 1, 1, 1, 4, 4, 3, 1, 1, 1};
    synth sy = {.model = "llama", .tokens = tok, .scores = sc, .types = ty, .n = 14};
    sl_gguf *g;
    sl_tokenizer *t;
    void *mem;
    sl_error err = {0};
    T_CHECK(build_synth(&sy, &g, &t, &mem, &err) == SL_OK, "build: %s", err.msg);
    if (t) {
        size_t n;
        int32_t *ids = encode(t, "abcd", 4, false, false, &n);
        T_CHECK(n == 3 && ids[0] == 3 && ids[1] == 4 && ids[2] == 9, "abcd -> [▁ a bcd], got %zu", n);
        free(ids);
        ids = encode(t, "ab<x>", 5, false, true, &n);
        T_CHECK(n == 2 && ids[0] == 8 && ids[1] == 10, "ab<x> special -> [ab <x>], got %zu", n);
        free(ids);
        ids = encode(t, "<x>", 3, false, false, &n);
        T_CHECK(n == 4 && ids[0] == 3 && ids[1] == 11 && ids[2] == 12 && ids[3] == 13,
                "<x> as text -> [▁ < x >], got %zu", n);
        free(ids);
    }
    free_synth(g, t, mem);
}

static void test_load_errors(void) {
    const char *tok[] = {"a", "b", "ab"};
    const char *merges[] = {"a b"};
    sl_gguf *g;
    sl_tokenizer *t;
    void *mem;
    sl_error err = {0};
    synth sy = {.model = "gpt2", .pre = "no-such-pre", .tokens = tok, .n = 3, .merges = merges, .n_merges = 1};
    T_CHECK(build_synth(&sy, &g, &t, &mem, &err) == SL_ERR_UNSUPPORTED && strstr(err.msg, "no-such-pre"),
            "unknown pre: %s", err.msg);
    free_synth(g, t, mem);
    synth sy2 = {.model = "t5", .tokens = tok, .n = 3};
    T_CHECK(build_synth(&sy2, &g, &t, &mem, &err) == SL_ERR_UNSUPPORTED && strstr(err.msg, "t5"),
            "unknown model: %s", err.msg);
    free_synth(g, t, mem);
    synth sy3 = {.model = "llama"};
    T_CHECK(build_synth(&sy3, &g, &t, &mem, &err) == SL_ERR_FORMAT && strstr(err.msg, "tokens"),
            "no tokens: %s", err.msg);
    free_synth(g, t, mem);
    synth sy4 = {.model = "gpt2", .pre = "gpt-2", .tokens = tok, .n = 3};
    T_CHECK(build_synth(&sy4, &g, &t, &mem, &err) == SL_ERR_FORMAT && strstr(err.msg, "merges"),
            "no merges: %s", err.msg);
    free_synth(g, t, mem);
    const char *dup[] = {"a", "b", "a"};
    synth sy5 = {.model = "llama", .tokens = dup, .n = 3};
    T_CHECK(build_synth(&sy5, &g, &t, &mem, &err) == SL_ERR_FORMAT && strstr(err.msg, "twice"),
            "duplicate token: %s", err.msg);
    free_synth(g, t, mem);
    /* a valid tiny gpt2: "ab" merges, digits are not split by gpt-2 */
    synth sy6 = {.model = "gpt2", .pre = "gpt-2", .tokens = tok, .n = 3, .merges = merges, .n_merges = 1};
    T_CHECK(build_synth(&sy6, &g, &t, &mem, &err) == SL_OK, "tiny gpt2: %s", err.msg);
    if (t) {
        size_t n;
        int32_t *ids = encode(t, "abba", 4, false, false, &n);
        T_CHECK(n == 3 && ids[0] == 2 && ids[1] == 1 && ids[2] == 0, "abba -> [ab b a]");
        free(ids);
    }
    free_synth(g, t, mem);
}

/* The pre-tokenizer decides which digits may merge. Vocabulary 1 2 3 4 5 12
 * 123 45 12345 with merges (by rank) "1 2", "12 3", "4 5", "123 45".
 * "12345" as one chunk merges all the way to 12345; split 3+2 it gives
 * 123 45; split per digit it stays 1 2 3 4 5. Which split each pre uses is
 * llama.cpp's table (llm_tokenizer_bpe): gpt-2 keeps digit runs whole,
 * llama3 takes \p{N}{1,3}, qwen2 single digits, smollm splits every digit
 * off before the gpt-2 regex, default cuts [0-9]{3} last. */
static void test_bpe_pre_digits_by_hand(void) {
    const char *tok[] = {"1", "2", "3", "4", "5", "12", "123", "45", "12345"};
    const char *merges[] = {"1 2", "12 3", "4 5", "123 45"};
    struct {
        const char *pre;
        int n;
        int32_t want[5];
    } cases[] = {
        {"gpt-2", 1, {8}},
        {"llama3", 2, {6, 7}},
        {"qwen2", 5, {0, 1, 2, 3, 4}},
        {"smollm", 5, {0, 1, 2, 3, 4}},
        {"default", 2, {6, 7}},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        /* llama3 adds BOS by default, so it needs one */
        synth sy = {.model = "gpt2", .pre = cases[c].pre, .tokens = tok, .n = 9,
                    .merges = merges, .n_merges = 4, .has_bos = true};
        sl_gguf *g;
        sl_tokenizer *t;
        void *mem;
        sl_error err = {0};
        sl_status st = build_synth(&sy, &g, &t, &mem, &err);
        T_CHECK(st == SL_OK, "%s: %s", cases[c].pre, err.msg);
        if (st == SL_OK) {
            size_t n;
            int32_t *ids = encode(t, "12345", 5, false, false, &n);
            bool same = ids && (int)n == cases[c].n && memcmp(ids, cases[c].want, n * sizeof *ids) == 0;
            T_CHECK(same, "pre %s: %zu ids, first %d; want %d ids, first %d", cases[c].pre, n,
                    n ? ids[0] : -1, cases[c].n, cases[c].want[0]);
            free(ids);
        }
        free_synth(g, t, mem);
    }
}

int main(void) {
    T_RUN(test_fixture_llama_spm);
    T_RUN(test_fixture_gpt2);
    T_RUN(test_spm_metadata);
    T_RUN(test_gpt2_metadata);
    T_RUN(test_parse_special);
    T_RUN(test_utf8_validate);
    T_RUN(test_invalid_utf8_rejected);
    T_RUN(test_utf8_stream);
    T_RUN(test_utf8_stream_tokens);
    T_RUN(test_roundtrip_sherlock);
    T_RUN(test_model_file_vocab);
    T_RUN(test_spm_merge_order_by_hand);
    T_RUN(test_special_longest_first_by_hand);
    T_RUN(test_load_errors);
    T_RUN(test_bpe_pre_digits_by_hand);
    return T_DONE();
}
