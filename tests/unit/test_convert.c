/* test_convert.c — llama2.c checkpoint + tok.bin -> GGUF.
 *
 * The expectations come from outside this code: the stories260K header and
 * byte layout as llama2.c's run.c reads them (recomputed here from its
 * memory_map_weights order), the raw tok512.bin entries, and llama.cpp's own
 * Llama SPM vocab GGUF (tokens, scores, token types), which must equal what we
 * make of llama2.c's export of the same vocabulary. */
#include <stdint.h>
#include <unistd.h>

#include "gguf/gguf.h"
#include "model/llama2c.h"
#include "test_util.h"

/* ---- helpers ---------------------------------------------------------------------- */

static unsigned char *slurp(const char *path, size_t *n) {
    FILE *fp = fopen(path, "rb");
    if (!fp) return NULL;
    fseek(fp, 0, SEEK_END);
    long sz = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    unsigned char *b = malloc(sz > 0 ? (size_t)sz : 1);
    if (b && fread(b, 1, (size_t)sz, fp) != (size_t)sz) {
        free(b);
        b = NULL;
    }
    fclose(fp);
    *n = (size_t)sz;
    return b;
}

static int spill(const char *path, const void *data, size_t n) {
    FILE *fp = fopen(path, "wb");
    if (!fp) return -1;
    size_t w = fwrite(data, 1, n, fp);
    return fclose(fp) == 0 && w == n ? 0 : -1;
}

/* A path in the scratch dir; a ring of 8 buffers, so copy one that must
 * outlive 8 more calls. */
static const char *tmp_path(const char *name) {
    static char buf[8][512];
    static int k;
    char *b = buf[k++ % 8];
    snprintf(b, 512, "%s/%s", t_tmpdir(), name);
    return b;
}

static bool file_exists(const char *p) { return access(p, F_OK) == 0; }

static int64_t get_int(const sl_gguf *g, const char *key) {
    int64_t v = -1;
    T_CHECK(sl_gguf_get_i64(g, key, &v, NULL) == SL_OK, "key %s missing or not an integer", key);
    return v;
}

static double get_f(const sl_gguf *g, const char *key) {
    float v = -1;
    T_CHECK(sl_gguf_get_f32(g, key, &v, NULL) == SL_OK, "key %s missing or not a float", key);
    return v;
}

static bool get_b(const sl_gguf *g, const char *key) {
    bool v = false;
    T_CHECK(sl_gguf_get_bool(g, key, &v, NULL) == SL_OK, "key %s missing or not a bool", key);
    return v;
}

static bool str_is(const sl_gguf *g, const char *key, const char *want) {
    sl_gguf_str s = {0};
    return sl_gguf_get_str(g, key, &s, NULL) == SL_OK && sl_gguf_str_eq(s, want);
}

/* Checks tensor `name` is f32 with ne = {cols, rows} (rows 0: 1-D) and its
 * bytes equal src. */
static void check_tensor(const sl_gguf *g, const char *name, uint64_t cols, uint64_t rows,
                         const unsigned char *src) {
    const sl_gguf_tensor *t = sl_gguf_find_tensor(g, name);
    T_CHECK(t != NULL, "tensor %s missing", name);
    if (!t) return;
    T_CHECK(t->type == 0, "%s: type %u, want f32", name, t->type);
    T_CHECK(t->n_dims == (rows ? 2u : 1u), "%s: %u dims", name, t->n_dims);
    T_CHECK(t->ne[0] == cols && t->ne[1] == (rows ? rows : 1), "%s: ne %llu x %llu, want %llu x %llu",
            name, (unsigned long long)t->ne[0], (unsigned long long)t->ne[1],
            (unsigned long long)cols, (unsigned long long)(rows ? rows : 1));
    uint64_t nb = 4 * cols * (rows ? rows : 1);
    T_CHECK(t->nbytes == nb, "%s: %llu bytes", name, (unsigned long long)t->nbytes);
    if (src && t->nbytes == nb) T_CHECK(memcmp(t->data, src, nb) == 0, "%s: data differs", name);
}

/* A llama2.c tokenizer entry list, parsed here straight from the file. */
typedef struct {
    int n;
    float score[40000];
    char text[40000][64];
    int len[40000];
} raw_vocab;
static raw_vocab RV;

static bool read_raw_vocab(const char *path, raw_vocab *v) {
    size_t n;
    unsigned char *b = slurp(path, &n);
    if (!b) return false;
    size_t p = 4;
    v->n = 0;
    while (p + 8 <= n && v->n < 40000) {
        int32_t len;
        memcpy(&v->score[v->n], b + p, 4);
        memcpy(&len, b + p + 4, 4);
        p += 8;
        if (len < 0 || len > 63 || p + (size_t)len > n) break;
        memcpy(v->text[v->n], b + p, (size_t)len);
        v->text[v->n][len] = 0;
        v->len[v->n] = len;
        p += (size_t)len;
        v->n++;
    }
    free(b);
    return p == n;
}

/* ---- stories260K ------------------------------------------------------------------ */

static void test_stories260k_keys_and_tensors(void) {
    const char *bin = t_shared_file("models/stories260K.bin");
    if (!bin) T_SKIP("shared data absent: models/stories260K.bin");
    char binp[4096]; /* t_shared_file reuses one buffer */
    snprintf(binp, sizeof binp, "%s", bin);
    const char *tokp = t_shared_file("models/tok512.bin");
    if (!tokp) T_SKIP("shared data absent: models/tok512.bin");
    const char *out = tmp_path("stories.gguf");
    sl_error err = {0};
    sl_status st = sl_llama2c_convert(binp, tokp, out, &err);
    T_CHECK(st == SL_OK, "convert: %s", err.msg);
    if (st != SL_OK) return;
    T_CHECK(!file_exists(tmp_path("stories.gguf.partial")), "temporary file left behind");
    sl_gguf *g = NULL;
    st = sl_gguf_open(&g, out, &err);
    T_CHECK(st == SL_OK, "open: %s", err.msg);
    if (st != SL_OK) return;

    /* The header of stories260K per the data README: dim=64 hidden_dim=172
     * n_layers=5 n_heads=8 n_kv_heads=4 vocab_size=512 (shared) seq_len=512. */
    T_CHECK(g->version == 3, "GGUF version %u", g->version);
    T_CHECK(str_is(g, "general.architecture", "llama"), "architecture");
    T_CHECK(get_int(g, "llama.context_length") == 512, "context_length");
    T_CHECK(get_int(g, "llama.embedding_length") == 64, "embedding_length");
    T_CHECK(get_int(g, "llama.block_count") == 5, "block_count");
    T_CHECK(get_int(g, "llama.feed_forward_length") == 172, "feed_forward_length");
    T_CHECK(get_int(g, "llama.attention.head_count") == 8, "head_count");
    T_CHECK(get_int(g, "llama.attention.head_count_kv") == 4, "head_count_kv");
    T_CHECK(get_int(g, "llama.rope.dimension_count") == 8, "rope.dimension_count = head size");
    T_CHECK(get_f(g, "llama.rope.freq_base") == 10000.0, "freq_base");
    T_CHECK(fabs(get_f(g, "llama.attention.layer_norm_rms_epsilon") - 1e-5) < 1e-12, "rms eps");
    T_CHECK(str_is(g, "tokenizer.ggml.model", "llama"), "tokenizer model");
    T_CHECK(get_int(g, "tokenizer.ggml.bos_token_id") == 1, "bos");
    T_CHECK(get_int(g, "tokenizer.ggml.eos_token_id") == 2, "eos");
    T_CHECK(get_int(g, "tokenizer.ggml.unknown_token_id") == 0, "unk");
    T_CHECK(get_b(g, "tokenizer.ggml.add_bos_token"), "add_bos_token");
    T_CHECK(get_b(g, "tokenizer.ggml.add_space_prefix"), "add_space_prefix");

    /* Vocab: tok512.bin's entries with ' ' -> U+2581 and BOS/EOS restored. */
    T_CHECK(read_raw_vocab(tokp, &RV) && RV.n == 512, "tok512.bin parse: %d entries", RV.n);
    const sl_gguf_kv *toks = NULL, *scores = NULL, *types = NULL;
    T_CHECK(sl_gguf_get_arr(g, "tokenizer.ggml.tokens", SL_GGUF_STRING, &toks, NULL) == SL_OK,
            "tokens array");
    T_CHECK(sl_gguf_get_arr(g, "tokenizer.ggml.scores", SL_GGUF_FLOAT32, &scores, NULL) == SL_OK,
            "scores array");
    T_CHECK(sl_gguf_get_arr(g, "tokenizer.ggml.token_type", SL_GGUF_INT32, &types, NULL) == SL_OK,
            "token_type array");
    if (toks && scores && types && RV.n == 512) {
        T_CHECK(toks->arr_n == 512 && scores->arr_n == 512 && types->arr_n == 512, "512 tokens");
        T_CHECK(sl_gguf_str_eq(toks->arr_strs[0], "<unk>"), "id 0 <unk>");
        T_CHECK(sl_gguf_str_eq(toks->arr_strs[1], "<s>"), "id 1 <s>");
        T_CHECK(sl_gguf_str_eq(toks->arr_strs[2], "</s>"), "id 2 </s>");
        T_CHECK(sl_gguf_str_eq(toks->arr_strs[3], "<0x00>"), "id 3 <0x00>");
        T_CHECK(sl_gguf_str_eq(toks->arr_strs[258], "<0xFF>"), "id 258 <0xFF>");
        /* id 259 is " t" in tok512.bin: "▁t" in SPM form */
        T_CHECK(sl_gguf_str_eq(toks->arr_strs[259], "\xE2\x96\x81t"), "id 259 is U+2581 t");
        int bad = 0;
        for (int i = 3; i < 512 && toks->arr_n == 512; i++) {
            char want[256];
            int k = 0;
            for (int j = 0; j < RV.len[i]; j++) {
                if (RV.text[i][j] == ' ') { memcpy(want + k, "\xE2\x96\x81", 3); k += 3; }
                else want[k++] = RV.text[i][j];
            }
            want[k] = 0;
            float sc;
            int32_t ty;
            memcpy(&sc, (const char *)scores->arr_data + 4 * i, 4);
            memcpy(&ty, (const char *)types->arr_data + 4 * i, 4);
            int want_ty = i < 259 ? 6 : 1;
            if (!sl_gguf_str_eq(toks->arr_strs[i], want) || sc != RV.score[i] || ty != want_ty) {
                if (bad++ < 5)
                    fprintf(stderr, "  token %d: got '%.*s' score %g type %d, want '%s' %g %d\n",
                            i, (int)toks->arr_strs[i].len, toks->arr_strs[i].ptr, sc, ty, want,
                            RV.score[i], want_ty);
            }
        }
        T_CHECK(bad == 0, "%d tokens differ from tok512.bin", bad);
        int32_t t0, t1, t2;
        memcpy(&t0, types->arr_data, 4);
        memcpy(&t1, (const char *)types->arr_data + 4, 4);
        memcpy(&t2, (const char *)types->arr_data + 8, 4);
        T_CHECK(t0 == 2 && t1 == 3 && t2 == 3, "special types %d %d %d, want 2 3 3", t0, t1, t2);
    }

    /* Tensors: 1 + 9 per layer + output_norm; shared classifier so no output.
     * Offsets recomputed from run.c's memory_map_weights order. */
    T_CHECK(g->n_tensors == 2 + 9 * 5, "%llu tensors, want 47", (unsigned long long)g->n_tensors);
    T_CHECK(sl_gguf_find_tensor(g, "output.weight") == NULL, "tied model must not have output");
    size_t n;
    unsigned char *raw = slurp(binp, &n);
    T_CHECK(raw && n == 1056540, "stories260K.bin size %zu", n);
    if (raw && n == 1056540) {
        const uint64_t E = 64, F = 172, L = 5, V = 512, KV = 32;
        const unsigned char *p = raw + 28;
        const unsigned char *emb = p;             p += 4 * V * E;
        const unsigned char *rms_att = p;         p += 4 * L * E;
        const unsigned char *wq = p;              p += 4 * L * E * E;
        const unsigned char *wk = p;              p += 4 * L * KV * E;
        const unsigned char *wv = p;              p += 4 * L * KV * E;
        const unsigned char *wo = p;              p += 4 * L * E * E;
        const unsigned char *rms_ffn = p;         p += 4 * L * E;
        const unsigned char *w1 = p;              p += 4 * L * F * E;
        const unsigned char *w2 = p;              p += 4 * L * E * F;
        const unsigned char *w3 = p;              p += 4 * L * F * E;
        const unsigned char *rms_final = p;
        check_tensor(g, "token_embd.weight", E, V, emb);
        check_tensor(g, "output_norm.weight", E, 0, rms_final);
        for (uint64_t l = 0; l < L; l++) {
            char nm[64];
#define CT(fmt, base, cols, rows)                                                         \
            snprintf(nm, sizeof nm, fmt, (int)l);                                       \
            check_tensor(g, nm, cols, rows, (base) + 4 * l * (cols) * ((rows) ? (rows) : 1));
            CT("blk.%d.attn_norm.weight", rms_att, E, 0)
            CT("blk.%d.attn_q.weight", wq, E, E)
            CT("blk.%d.attn_k.weight", wk, E, KV)
            CT("blk.%d.attn_v.weight", wv, E, KV)
            CT("blk.%d.attn_output.weight", wo, E, E)
            CT("blk.%d.ffn_norm.weight", rms_ffn, E, 0)
            CT("blk.%d.ffn_gate.weight", w1, E, F)
            CT("blk.%d.ffn_down.weight", w2, F, E)
            CT("blk.%d.ffn_up.weight", w3, E, F)
#undef CT
        }
    }
    free(raw);
    sl_gguf_close(g);
}

/* A second, independently trained checkpoint with its own vocab (no GQA,
 * seq_len 128; header values from the data README). */
static void test_aidreams260k(void) {
    const char *b = t_shared_file("models/aidreams260K.bin");
    if (!b) T_SKIP("shared data absent: models/aidreams260K.bin");
    char bin[4096];
    snprintf(bin, sizeof bin, "%s", b);
    const char *tok = t_shared_file("models/aidreams-tok512.bin");
    if (!tok) T_SKIP("shared data absent: models/aidreams-tok512.bin");
    const char *out = tmp_path("aidreams.gguf");
    sl_error err = {0};
    sl_status st = sl_llama2c_convert(bin, tok, out, &err);
    T_CHECK(st == SL_OK, "convert: %s", err.msg);
    sl_gguf *g = NULL;
    if (st != SL_OK || sl_gguf_open(&g, out, &err) != SL_OK) return;
    T_CHECK(get_int(g, "llama.embedding_length") == 64 && get_int(g, "llama.feed_forward_length") == 172 &&
                get_int(g, "llama.block_count") == 4 && get_int(g, "llama.attention.head_count") == 4 &&
                get_int(g, "llama.attention.head_count_kv") == 4 &&
                get_int(g, "llama.context_length") == 128 &&
                get_int(g, "llama.rope.dimension_count") == 16, "aidreams hyper-parameters");
    const sl_gguf_kv *toks = NULL;
    sl_gguf_get_arr(g, "tokenizer.ggml.tokens", SL_GGUF_STRING, &toks, NULL);
    T_CHECK(toks && toks->arr_n == 512 && sl_gguf_str_eq(toks->arr_strs[1], "<s>") &&
                sl_gguf_str_eq(toks->arr_strs[259], "in"), "aidreams vocab (id 259 'in')");
    T_CHECK(g->n_tensors == 2 + 9 * 4, "%llu tensors", (unsigned long long)g->n_tensors);
    sl_gguf_close(g);
}

/* ---- malformed inputs ------------------------------------------------------------- */

static void expect_fail(const char *what, const char *model, const char *tok, sl_status want,
                        const char *needle1, const char *needle2) {
    char out[512];
    snprintf(out, sizeof out, "%s/bad.gguf", t_tmpdir());
    remove(out);
    sl_error err = {0};
    sl_status st = sl_llama2c_convert(model, tok, out, &err);
    T_CHECK(st == want, "%s: status %d (%s), want %d", what, st, err.msg, want);
    T_CHECK(!needle1 || strstr(err.msg, needle1), "%s: message '%s' lacks '%s'", what, err.msg,
            needle1);
    T_CHECK(!needle2 || strstr(err.msg, needle2), "%s: message '%s' lacks '%s'", what, err.msg,
            needle2);
    T_CHECK(!file_exists(out), "%s: output written despite the error", what);
    char partial[600];
    snprintf(partial, sizeof partial, "%s.partial", out);
    T_CHECK(!file_exists(partial), "%s: partial output left", what);
}

static void test_truncated_and_corrupt_checkpoints(void) {
    const char *bin = t_shared_file("models/stories260K.bin");
    if (!bin) T_SKIP("shared data absent: models/stories260K.bin");
    size_t n;
    unsigned char *raw = slurp(bin, &n);
    const char *tokf = t_shared_file("models/tok512.bin");
    if (!raw || !tokf) T_SKIP("cannot read stories260K.bin / tok512.bin");
    char tok[4096];
    snprintf(tok, sizeof tok, "%s", tokf);

    const char *p = tmp_path("trunc.bin");
    T_CHECK(spill(p, raw, n - 4) == 0, "write");
    expect_fail("truncated by 4 bytes", p, tok, SL_ERR_FORMAT, "trunc.bin", "truncated");
    T_CHECK(spill(p, raw, n / 2) == 0, "write");
    expect_fail("truncated by half", p, tok, SL_ERR_FORMAT, "trunc.bin", "truncated");
    T_CHECK(spill(p, raw, 20) == 0, "write");
    expect_fail("header cut", p, tok, SL_ERR_FORMAT, "trunc.bin", NULL);
    T_CHECK(spill(p, raw, 0) == 0, "write");
    expect_fail("empty file", p, tok, SL_ERR_FORMAT, "trunc.bin", NULL);

    unsigned char *big = malloc(n + 8);
    memcpy(big, raw, n);
    memset(big + n, 0, 8);
    T_CHECK(spill(p, big, n + 8) == 0, "write");
    expect_fail("trailing bytes", p, tok, SL_ERR_FORMAT, "trunc.bin", "trailing");
    free(big);

    /* Header corruption: n_heads = 0, n_kv_heads = 3 (8 % 3 != 0), dim = -64,
     * and a negative vocab (separate classifier) whose bytes are missing. */
    int32_t bad[4][2] = {{3, 0}, {4, 3}, {0, -64}, {5, -512}};
    const char *needles[4] = {"n_heads", "n_kv_heads", "dim", "truncated"};
    for (int i = 0; i < 4; i++) {
        unsigned char *c = malloc(n);
        memcpy(c, raw, n);
        memcpy(c + 4 * bad[i][0], &bad[i][1], 4);
        T_CHECK(spill(p, c, n) == 0, "write");
        expect_fail(needles[i], p, tok, SL_ERR_FORMAT, "trunc.bin", needles[i]);
        free(c);
    }
    /* v2 (int8) is refused as unsupported, not misread. */
    unsigned char hdr[256] = {0x32, 0x34, 0x6b, 0x61, 2, 0, 0, 0};
    T_CHECK(spill(p, hdr, sizeof hdr) == 0, "write");
    expect_fail("v2 checkpoint", p, tok, SL_ERR_UNSUPPORTED, "trunc.bin", "version 2");

    expect_fail("missing model", tmp_path("nope.bin"), tok, SL_ERR_IO, "nope.bin", NULL);
    free(raw);
}

static void test_vocab_mismatch_and_bad_tokenizer(void) {
    const char *binf = t_shared_file("models/stories260K.bin");
    if (!binf) T_SKIP("shared data absent: models/stories260K.bin");
    char bin[4096];
    snprintf(bin, sizeof bin, "%s", binf);
    const char *big = t_shared_file("tokenizers/llama2-tokenizer.bin");
    if (!big) T_SKIP("shared data absent: tokenizers/llama2-tokenizer.bin");
    expect_fail("32000-token vocab for a 512 model", big, bin, SL_ERR_FORMAT, NULL, NULL);
    expect_fail("vocab mismatch", bin, big, SL_ERR_FORMAT, "llama2-tokenizer.bin", "512");

    const char *tokf = t_shared_file("models/tok512.bin");
    size_t n;
    unsigned char *raw = tokf ? slurp(tokf, &n) : NULL;
    if (!raw) T_SKIP("cannot read tok512.bin");
    const char *p = tmp_path("cut-tok.bin");
    T_CHECK(spill(p, raw, n - 3) == 0, "write");
    expect_fail("truncated tokenizer", bin, p, SL_ERR_FORMAT, "cut-tok.bin", NULL);
    /* Drop the last whole entry: 511 tokens for a 512-token model. */
    size_t off = 4, last = 4;
    while (off + 8 <= n) {
        int32_t len;
        memcpy(&len, raw + off + 4, 4);
        last = off;
        off += 8 + (size_t)len;
    }
    T_CHECK(spill(p, raw, last) == 0, "write");
    expect_fail("511 tokens", bin, p, SL_ERR_FORMAT, "511", "512");
    expect_fail("missing tokenizer", bin, tmp_path("nope-tok.bin"), SL_ERR_IO, "nope-tok.bin",
                NULL);
    free(raw);
}

/* ---- synthetic checkpoints: v0 unshared and v1 ------------------------------------ */

typedef struct {
    int E, F, L, H, G, V, S;
} shape;

/* Weights of a made-up model, as (name, cols, rows, data) in llama2.c's
 * terms: every matrix (out, in). Values are i * 1e-3 + tensor tag, so any
 * mix-up of tensors or layers shows. */
typedef struct {
    float *emb, *rms_att, *wq, *wk, *wv, *wo, *rms_ffn, *w1, *w2, *w3, *rms_final, *wcls;
} fake_weights;

static float *fill(size_t n, int tag) {
    float *p = malloc(n * sizeof *p);
    for (size_t i = 0; i < n; i++) p[i] = (float)tag + (float)(i % 997) * 1e-3f;
    return p;
}

static fake_weights make_weights(shape s) {
    size_t E = (size_t)s.E, F = (size_t)s.F, L = (size_t)s.L, V = (size_t)s.V;
    size_t KV = E / (size_t)s.H * (size_t)s.G;
    fake_weights w = {fill(V * E, 1), fill(L * E, 2), fill(L * E * E, 3), fill(L * KV * E, 4),
                      fill(L * KV * E, 5), fill(L * E * E, 6), fill(L * E, 7), fill(L * F * E, 8),
                      fill(L * E * F, 9), fill(L * F * E, 10), fill(E, 11), fill(V * E, 12)};
    return w;
}

static void free_weights(fake_weights *w) {
    float **ps[] = {&w->emb, &w->rms_att, &w->wq, &w->wk, &w->wv, &w->wo, &w->rms_ffn,
                    &w->w1, &w->w2, &w->w3, &w->rms_final, &w->wcls};
    for (size_t i = 0; i < sizeof ps / sizeof ps[0]; i++) free(*ps[i]);
}

static void put(FILE *fp, const void *p, size_t n) { T_CHECK(fwrite(p, 1, n, fp) == n, "write"); }

/* export.py legacy_export (v0). */
static void write_v0(const char *path, shape s, const fake_weights *w, bool shared) {
    size_t E = (size_t)s.E, F = (size_t)s.F, L = (size_t)s.L, V = (size_t)s.V, S = (size_t)s.S;
    size_t D = E / (size_t)s.H, KV = D * (size_t)s.G;
    FILE *fp = fopen(path, "wb");
    int32_t h[7] = {s.E, s.F, s.L, s.H, s.G, shared ? s.V : -s.V, s.S};
    put(fp, h, sizeof h);
    put(fp, w->emb, 4 * V * E);
    put(fp, w->rms_att, 4 * L * E);
    put(fp, w->wq, 4 * L * E * E);
    put(fp, w->wk, 4 * L * KV * E);
    put(fp, w->wv, 4 * L * KV * E);
    put(fp, w->wo, 4 * L * E * E);
    put(fp, w->rms_ffn, 4 * L * E);
    put(fp, w->w1, 4 * L * F * E);
    put(fp, w->w2, 4 * L * E * F);
    put(fp, w->w3, 4 * L * F * E);
    put(fp, w->rms_final, 4 * E);
    float *freq = fill(S * D, 99); /* freq_cis real + imag: (S, D/2) each */
    put(fp, freq, 4 * S * D);
    free(freq);
    if (!shared) put(fp, w->wcls, 4 * V * E);
    fclose(fp);
}

/* export.py version1_export (v1). */
static void write_v1(const char *path, shape s, const fake_weights *w, bool shared) {
    size_t E = (size_t)s.E, F = (size_t)s.F, L = (size_t)s.L, V = (size_t)s.V;
    size_t KV = E / (size_t)s.H * (size_t)s.G;
    FILE *fp = fopen(path, "wb");
    unsigned char hdr[256] = {0};
    uint32_t magic = 0x616b3432;
    int32_t version = 1, h[7] = {s.E, s.F, s.L, s.H, s.G, s.V, s.S};
    memcpy(hdr, &magic, 4);
    memcpy(hdr + 4, &version, 4);
    memcpy(hdr + 8, h, sizeof h);
    hdr[36] = shared;
    put(fp, hdr, sizeof hdr);
    put(fp, w->rms_att, 4 * L * E);
    put(fp, w->rms_ffn, 4 * L * E);
    put(fp, w->rms_final, 4 * E);
    put(fp, w->emb, 4 * V * E);
    put(fp, w->wq, 4 * L * E * E);
    put(fp, w->wk, 4 * L * KV * E);
    put(fp, w->wv, 4 * L * KV * E);
    put(fp, w->wo, 4 * L * E * E);
    put(fp, w->w1, 4 * L * F * E);
    put(fp, w->w2, 4 * L * E * F);
    put(fp, w->w3, 4 * L * F * E);
    if (!shared) put(fp, w->wcls, 4 * V * E);
    fclose(fp);
}

static void check_fake(const char *gguf, shape s, const fake_weights *w, bool shared) {
    sl_gguf *g = NULL;
    sl_error err = {0};
    T_CHECK(sl_gguf_open(&g, gguf, &err) == SL_OK, "open %s: %s", gguf, err.msg);
    if (!g) return;
    uint64_t E = (uint64_t)s.E, F = (uint64_t)s.F, V = (uint64_t)s.V;
    uint64_t KV = E / (uint64_t)s.H * (uint64_t)s.G;
    T_CHECK(get_int(g, "llama.attention.head_count_kv") == s.G, "kv heads");
    T_CHECK(get_int(g, "llama.context_length") == s.S, "ctx");
    check_tensor(g, "token_embd.weight", E, V, (const unsigned char *)w->emb);
    check_tensor(g, "output_norm.weight", E, 0, (const unsigned char *)w->rms_final);
    if (shared) T_CHECK(!sl_gguf_find_tensor(g, "output.weight"), "shared: no output.weight");
    else check_tensor(g, "output.weight", E, V, (const unsigned char *)w->wcls);
    T_CHECK(g->n_tensors == 2 + 9 * (uint64_t)s.L + !shared, "%llu tensors",
            (unsigned long long)g->n_tensors);
    int l = s.L - 1; /* the last layer: offsets have to be right all the way */
    char nm[64];
    snprintf(nm, sizeof nm, "blk.%d.attn_k.weight", l);
    check_tensor(g, nm, E, KV, (const unsigned char *)(w->wk + (size_t)l * KV * E));
    snprintf(nm, sizeof nm, "blk.%d.ffn_down.weight", l);
    check_tensor(g, nm, F, E, (const unsigned char *)(w->w2 + (size_t)l * E * F));
    snprintf(nm, sizeof nm, "blk.%d.ffn_norm.weight", l);
    check_tensor(g, nm, E, 0, (const unsigned char *)(w->rms_ffn + (size_t)l * E));
    snprintf(nm, sizeof nm, "blk.%d.ffn_up.weight", l);
    check_tensor(g, nm, E, F, (const unsigned char *)(w->w3 + (size_t)l * F * E));
    sl_gguf_close(g);
}

static void test_v0_unshared_and_v1(void) {
    const char *tokf = t_shared_file("models/tok512.bin");
    if (!tokf) T_SKIP("shared data absent: models/tok512.bin");
    char tok[4096];
    snprintf(tok, sizeof tok, "%s", tokf);
    shape s = {32, 48, 3, 4, 2, 512, 16};
    fake_weights w = make_weights(s);
    const char *bin = tmp_path("fake.bin"), *out = tmp_path("fake.gguf");
    sl_error err = {0};
    for (int version = 0; version <= 1; version++) {
        for (int shared = 0; shared <= 1; shared++) {
            if (version == 0) write_v0(bin, s, &w, shared);
            else write_v1(bin, s, &w, shared);
            sl_llama2c_config c;
            T_CHECK(sl_llama2c_read_config(bin, &c, &err) == SL_OK, "v%d: %s", version, err.msg);
            T_CHECK(c.version == version && c.shared_classifier == shared && c.vocab_size == 512,
                    "v%d shared %d: read version %d shared %d vocab %d", version, shared,
                    c.version, c.shared_classifier, c.vocab_size);
            sl_status st = sl_llama2c_convert(bin, tok, out, &err);
            T_CHECK(st == SL_OK, "v%d shared %d: %s", version, shared, err.msg);
            if (st == SL_OK) check_fake(out, s, &w, shared);
        }
    }
    /* A v1 file one float short. */
    write_v1(bin, s, &w, false);
    size_t n;
    unsigned char *raw = slurp(bin, &n);
    T_CHECK(raw && spill(bin, raw, n - 4) == 0, "rewrite");
    expect_fail("v1 truncated", bin, tok, SL_ERR_FORMAT, "fake.bin", "truncated");
    free(raw);
    free_weights(&w);
}

/* ---- the Llama 2 vocab against llama.cpp's own conversion ---------------------- */

static void test_llama2_vocab_matches_llama_cpp(void) {
    const char *tokf = t_shared_file("tokenizers/llama2-tokenizer.bin");
    if (!tokf) T_SKIP("shared data absent: tokenizers/llama2-tokenizer.bin");
    char tok[4096];
    snprintf(tok, sizeof tok, "%s", tokf);
    const char *reff = t_shared_file("tokenizers/ggml-vocab-llama-spm.gguf");
    if (!reff) T_SKIP("shared data absent: tokenizers/ggml-vocab-llama-spm.gguf");
    char refp[4096];
    snprintf(refp, sizeof refp, "%s", reff);
    /* A throw-away model around the 32000-token vocab. */
    shape s = {8, 16, 1, 2, 2, 32000, 4};
    fake_weights w = make_weights(s);
    const char *bin = tmp_path("v32k.bin"), *out = tmp_path("v32k.gguf");
    write_v0(bin, s, &w, true);
    free_weights(&w);
    sl_error err = {0};
    sl_status st = sl_llama2c_convert(bin, tok, out, &err);
    T_CHECK(st == SL_OK, "convert: %s", err.msg);
    if (st != SL_OK) return;
    sl_gguf *g = NULL, *r = NULL;
    T_CHECK(sl_gguf_open(&g, out, &err) == SL_OK, "%s", err.msg);
    T_CHECK(sl_gguf_open(&r, refp, &err) == SL_OK, "%s", err.msg);
    if (g && r) {
        const char *arrays[3] = {"tokenizer.ggml.tokens", "tokenizer.ggml.scores",
                                 "tokenizer.ggml.token_type"};
        for (int a = 0; a < 3; a++) {
            const sl_gguf_kv *x = NULL, *y = NULL;
            sl_gguf_get_arr(g, arrays[a], SL_GGUF_TYPE_COUNT, &x, NULL);
            sl_gguf_get_arr(r, arrays[a], SL_GGUF_TYPE_COUNT, &y, NULL);
            T_CHECK(x && y, "%s missing", arrays[a]);
            if (!x || !y) continue;
            T_CHECK(x->arr_type == y->arr_type && x->arr_n == y->arr_n && x->arr_n == 32000,
                    "%s: type %d/%d, n %llu/%llu", arrays[a], x->arr_type, y->arr_type,
                    (unsigned long long)x->arr_n, (unsigned long long)y->arr_n);
            if (x->arr_n != y->arr_n || x->arr_type != y->arr_type) continue;
            int bad = 0;
            for (uint64_t i = 0; i < x->arr_n; i++) {
                bool same;
                if (a == 0)
                    same = x->arr_strs[i].len == y->arr_strs[i].len &&
                           memcmp(x->arr_strs[i].ptr, y->arr_strs[i].ptr, x->arr_strs[i].len) == 0;
                else
                    same = memcmp((const char *)x->arr_data + 4 * i,
                                  (const char *)y->arr_data + 4 * i, 4) == 0;
                if (!same && bad++ < 5) {
                    if (a == 0)
                        fprintf(stderr, "  token %llu: ours '%.*s' llama.cpp '%.*s'\n",
                                (unsigned long long)i, (int)x->arr_strs[i].len,
                                x->arr_strs[i].ptr, (int)y->arr_strs[i].len, y->arr_strs[i].ptr);
                    else
                        fprintf(stderr, "  %s[%llu] differs\n", arrays[a], (unsigned long long)i);
                }
            }
            T_CHECK(bad == 0, "%s: %d of 32000 entries differ from llama.cpp's", arrays[a], bad);
        }
        const char *ids[3] = {"tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id",
                              "tokenizer.ggml.unknown_token_id"};
        for (int i = 0; i < 3; i++)
            T_CHECK(get_int(g, ids[i]) == get_int(r, ids[i]), "%s differs", ids[i]);
    }
    sl_gguf_close(g);
    sl_gguf_close(r);
}

int main(void) {
    T_RUN(test_stories260k_keys_and_tensors);
    T_RUN(test_aidreams260k);
    T_RUN(test_truncated_and_corrupt_checkpoints);
    T_RUN(test_vocab_mismatch_and_bad_tokenizer);
    T_RUN(test_v0_unshared_and_v1);
    T_RUN(test_llama2_vocab_matches_llama_cpp);
    return T_DONE();
}
