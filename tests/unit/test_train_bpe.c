/* test_train_bpe.c — the BPE trainer and encoder of `train-tokenizer`:
 * GPT-2's byte-to-unicode table against the real GPT-2 vocabulary, the
 * encoder against llama.cpp's GPT-2 tokenizer fixtures, and a trained
 * vocabulary read back by the engine's tokenizer (same ids, lossless
 * decoding), plus the errors for an empty corpus and an unreachable size. */
#include "test_util.h"

#include "gguf/gguf.h"
#include "tokenizer/tokenizer.h"
#include "train/bpe.h"

/* Our own test text: prose, digits, punctuation, runs of spaces and newlines. */
static const char *TEXT =
    "The quick brown fox jumps over the lazy dog. The dog sleeps; the fox runs away!\n\n"
    "In 1851, the whale was 85 feet long -- or so the sailors said.  \"Call me Ishmael,\" he said.\n"
    "It is a truth universally acknowledged, that a single man in possession of a good fortune, "
    "must be in want of a wife.\n\n\n   Indented line with    several spaces.\n"
    "The the the then there their them these those. Fox, foxes, foxy; dog, dogs, doggy.\n";

static void test_byte_table_is_gpt2s(void) {
    /* Known points of GPT-2's table: printable ASCII stands for itself, space
     * is U+0120, newline U+010A, byte 0 U+0100, 0x7F U+0121, 0xAD U+0143. */
    char s[3] = {0};
    T_CHECK(sl_bpe_byte_char('A', s) == 1 && s[0] == 'A', "A");
    struct { unsigned char b; unsigned cp; } pts[] = {{' ', 0x120}, {'\n', 0x10A}, {0, 0x100},
                                                      {0x7F, 0x121}, {0xAD, 0x143}, {0xFF, 0xFF}};
    for (size_t i = 0; i < sizeof pts / sizeof pts[0]; i++) {
        memset(s, 0, 3);
        int n = sl_bpe_byte_char(pts[i].b, s);
        unsigned cp = n == 1 ? (unsigned char)s[0]
                             : (((unsigned char)s[0] & 0x1F) << 6) | ((unsigned char)s[1] & 0x3F);
        T_CHECK(cp == pts[i].cp, "byte 0x%02X -> U+%04X, want U+%04X", pts[i].b, cp, pts[i].cp);
    }
    /* The whole table against the real GPT-2 vocabulary: its first 256 tokens
     * are exactly the 256 byte characters. */
    const char *path = t_shared_file("tokenizers/ggml-vocab-gpt-2.gguf");
    if (!path) T_SKIP("../shared/data/tokenizers/ggml-vocab-gpt-2.gguf is absent");
    sl_gguf *g;
    sl_error err;
    T_CHECK(sl_gguf_open(&g, path, &err) == SL_OK, "%s", err.msg);
    if (t_case_failed) return;
    const sl_gguf_kv *toks;
    T_CHECK(sl_gguf_get_arr(g, "tokenizer.ggml.tokens", SL_GGUF_STRING, &toks, &err) == SL_OK, "%s", err.msg);
    int found = 0;
    for (int b = 0; b < 256 && !t_case_failed; b++) {
        char c[3] = {0};
        int n = sl_bpe_byte_char((unsigned char)b, c);
        for (int i = 0; i < 256; i++)
            if (toks->arr_strs[i].len == (uint64_t)n && !memcmp(toks->arr_strs[i].ptr, c, (size_t)n)) {
                found++;
                break;
            }
    }
    T_CHECK(found == 256, "%d of 256 byte characters are among GPT-2's first 256 tokens", found);
    sl_gguf_close(g);
}

/* Our encoder with GPT-2's own vocabulary and merges must give the ids of
 * llama.cpp's fixtures (made with HF tokenizers). */
static void test_encoder_matches_gpt2_fixtures(void) {
    const char *vp = t_shared_file("tokenizers/ggml-vocab-gpt-2.gguf");
    if (!vp) T_SKIP("../shared/data/tokenizers is absent");
    char vpath[4096], ip[4200], op[4200];
    snprintf(vpath, sizeof vpath, "%s", vp);
    snprintf(ip, sizeof ip, "%s.inp", vpath);
    snprintf(op, sizeof op, "%s.out", vpath);
    FILE *fi = fopen(ip, "rb"), *fo = fopen(op, "rb");
    T_CHECK(fi && fo, "fixtures %s / %s", ip, op);
    if (!fi || !fo) {
        if (fi) fclose(fi);
        if (fo) fclose(fo);
        return;
    }
    static char inp[65536], out[65536];
    size_t ni = fread(inp, 1, sizeof inp - 1, fi), no = fread(out, 1, sizeof out - 1, fo);
    inp[ni] = out[no] = 0;
    fclose(fi);
    fclose(fo);
    sl_gguf *g;
    sl_error err;
    sl_bpe b;
    T_CHECK(sl_gguf_open(&g, vpath, &err) == SL_OK, "%s", err.msg);
    if (t_case_failed) return;
    T_CHECK(sl_bpe_from_gguf(&b, g, &err) == SL_OK, "%s", err.msg);
    if (t_case_failed) {
        sl_gguf_close(g);
        return;
    }
    const char *sep = "\n__ggml_vocab_test__\n";
    char *p = inp, *line = out;
    int n_cases = 0, n_ok = 0;
    for (;;) {
        char *e = strstr(p, sep);
        if (!e) break;
        char *nl = strchr(line, '\n');
        if (!nl) break;
        *nl = 0;
        int32_t *ids;
        size_t n;
        sl_status st = sl_bpe_encode(&b, p, (size_t)(e - p), &ids, &n, &err);
        char got[4096] = "";
        size_t o = 0;
        for (size_t i = 0; st == SL_OK && i < n && o + 16 < sizeof got; i++)
            o += (size_t)snprintf(got + o, sizeof got - o, " %d", ids[i]);
        n_cases++;
        if (st == SL_OK && !strcmp(got, line)) n_ok++;
        else T_CHECK(0, "case %d %.*s: got '%s' want '%s'", n_cases, (int)(e - p), p, got, line);
        if (st == SL_OK) free(ids);
        p = e + strlen(sep);
        line = nl + 1;
    }
    printf("  gpt-2 fixtures: %d of %d strings encode to the expected ids\n", n_ok, n_cases);
    T_CHECK(n_cases >= 40, "only %d fixture strings parsed", n_cases);
    sl_bpe_free(&b);
    sl_gguf_close(g);
}

static void test_trained_vocab_round_trips_through_engine(void) {
    const char *texts[1] = {TEXT};
    size_t lens[1] = {strlen(TEXT)};
    sl_bpe b;
    sl_error err;
    T_CHECK(sl_bpe_train(&b, texts, lens, 1, 300, NULL, NULL, &err) == SL_OK, "%s", err.msg);
    if (t_case_failed) return;
    T_CHECK(b.n_vocab == 300, "n_vocab %d", b.n_vocab);
    T_CHECK(b.eot == 298 && b.sink == 299, "control ids %d %d", b.eot, b.sink);
    T_CHECK(b.n_merges >= 300 - 258, "%d merges", b.n_merges);
    /* "the" is the most frequent word: " the" or "the" must be a token */
    bool has_the = false;
    for (int i = 256; i < b.n_vocab; i++)
        if (!strcmp(b.text[i], "\xC4\xA0the") || !strcmp(b.text[i], "the")) has_the = true;
    T_CHECK(has_the, "no token for 'the'");
    char path[512];
    snprintf(path, sizeof path, "%s/bpe300.gguf", t_tmpdir());
    T_CHECK(sl_bpe_write(&b, path, &err) == SL_OK, "%s", err.msg);

    sl_gguf *g = NULL;
    sl_tokenizer *tk = NULL;
    T_CHECK(sl_gguf_open(&g, path, &err) == SL_OK, "%s", err.msg);
    if (g) T_CHECK(sl_tokenizer_load(&tk, g, &err) == SL_OK, "engine tokenizer: %s", err.msg);
    sl_bpe back;
    if (g) T_CHECK(sl_bpe_from_gguf(&back, g, &err) == SL_OK, "%s", err.msg);
    if (t_case_failed) {
        sl_tokenizer_free(tk);
        sl_gguf_close(g);
        sl_bpe_free(&b);
        return;
    }
    T_CHECK(sl_tokenizer_n_vocab(tk) == 300, "engine vocab %d", sl_tokenizer_n_vocab(tk));
    T_CHECK(sl_tokenizer_eos(tk) == b.eot, "eos %d", sl_tokenizer_eos(tk));
    /* unseen text: other words, unicode, digits, whitespace runs */
    const char *probe[] = {TEXT, "Foxes don't sleep; they've 3 dens at 42.5m -- caf\xC3\xA9 na\xC3\xAFve \xE2\x80\x9Cquoted\xE2\x80\x9D",
                           "  leading and trailing   ", "\n\n\nnew\tlines\r\n", "x", "\xF0\x9F\xA6\x8A fox emoji"};
    for (size_t k = 0; k < sizeof probe / sizeof probe[0]; k++) {
        size_t len = strlen(probe[k]), n1, n2, n3;
        int32_t *a, *c, *d;
        T_CHECK(sl_bpe_encode(&b, probe[k], len, &a, &n1, &err) == SL_OK, "%s", err.msg);
        T_CHECK(sl_bpe_encode(&back, probe[k], len, &d, &n3, &err) == SL_OK, "%s", err.msg);
        T_CHECK(sl_tokenizer_encode(tk, probe[k], len, false, false, &c, &n2, &err) == SL_OK, "%s", err.msg);
        if (t_case_failed) return;
        T_CHECK(n1 == n2 && !memcmp(a, c, n1 * 4), "probe %zu: trainer and engine disagree (%zu vs %zu ids)",
                k, n1, n2);
        T_CHECK(n1 == n3 && !memcmp(a, d, n1 * 4), "probe %zu: reloaded vocabulary encodes differently", k);
        /* decoding the engine's pieces gives the text back, byte for byte */
        char buf[1024];
        size_t o = 0;
        for (size_t i = 0; i < n2; i++) {
            size_t pl;
            const char *pc = sl_tokenizer_piece(tk, c[i], &pl);
            if (o + pl < sizeof buf) memcpy(buf + o, pc, pl);
            o += pl;
        }
        T_CHECK(o == len && !memcmp(buf, probe[k], len), "probe %zu does not round-trip", k);
        if (k == 0) T_CHECK(n1 < len * 3 / 4, "training text: %zu ids for %zu bytes (merges unused?)", n1, len);
        free(a);
        free(c);
        free(d);
    }
    sl_bpe_free(&back);
    sl_tokenizer_free(tk);
    sl_gguf_close(g);
    sl_bpe_free(&b);
}

static void test_bad_corpus_errors(void) {
    sl_bpe b;
    sl_error err;
    const char *empty[1] = {""};
    size_t zero[1] = {0};
    T_CHECK(sl_bpe_train(&b, empty, zero, 1, 300, NULL, NULL, &err) == SL_ERR_INVALID_ARG &&
                strstr(err.msg, "empty"), "empty corpus: %s", err.msg);
    const char *small[1] = {"abc abc abd"};
    size_t sl[1] = {11};
    T_CHECK(sl_bpe_train(&b, small, sl, 1, 5000, NULL, NULL, &err) == SL_ERR_INVALID_ARG &&
                strstr(err.msg, "larger than this corpus supports"), "vocab too large: %s", err.msg);
    T_CHECK(sl_bpe_train(&b, small, sl, 1, 100, NULL, NULL, &err) == SL_ERR_INVALID_ARG, "vocab below 259");
    const char *bad[1] = {"ok \xC3 broken"};
    size_t bl[1] = {strlen(bad[0])};
    T_CHECK(sl_bpe_train(&b, bad, bl, 1, 300, NULL, NULL, &err) == SL_ERR_INVALID_ARG &&
                strstr(err.msg, "UTF-8"), "invalid UTF-8: %s", err.msg);
}

int main(void) {
    T_RUN(test_byte_table_is_gpt2s);
    T_RUN(test_encoder_matches_gpt2_fixtures);
    T_RUN(test_trained_vocab_round_trips_through_engine);
    T_RUN(test_bad_corpus_errors);
    return T_DONE();
}
