/* test_ref64.c — the float64 reference forward (ref_llama64.h), the llama2.c
 * converter and the random-model synthesizer, checked against things we did
 * not write:
 * - stories260K + tok512 converted to GGUF and run greedily from BOS must
 *   print exactly what llama2.c's test_all.py expects from `./run`;
 * - the StreamingLLM cache semantics: start+recent equals dense until the
 *   cache first overflows; for a 1-layer model (whose cached K/V depend on the
 *   token alone) a streamed cache equals a dense run over the kept tokens,
 *   renumbered 0..n-1;
 * - properties of the math: position 0 is unrotated, so every RoPE variant
 *   agrees on the first token and disagrees later; quantized weights stay
 *   close to their f32 originals. */
#include <stdint.h>

#include "model/llama2c.h"
#include "model/synth.h"
#include "ref_llama64.h"
#include "test_util.h"

static const char *tmp_path(const char *name) {
    static char buf[8][512];
    static int k;
    char *b = buf[k++ % 8];
    snprintf(b, 512, "%s/%s", t_tmpdir(), name);
    return b;
}

/* ---- llama2.c's own golden output ------------------------------------------------- */

/* Appends the bytes token `id` prints as in llama2.c's run.c: U+2581 -> ' ',
 * "<0xXX>" -> that byte, the leading space dropped right after BOS, and
 * single non-printable bytes skipped (safe_printf). */
static size_t append_piece(char *out, size_t n, size_t cap, const sl_gguf_str *tok, int prev,
                           int id) {
    char piece[256];
    size_t k = 0;
    const char *s = tok[id].ptr;
    size_t len = tok[id].len;
    unsigned hex;
    if (len == 6 && sscanf(s, "<0x%02X>", &hex) == 1) {
        piece[k++] = (char)hex;
    } else {
        for (size_t i = 0; i < len && k + 1 < sizeof piece; i++) {
            if (i + 2 < len && (unsigned char)s[i] == 0xE2 && (unsigned char)s[i + 1] == 0x96 &&
                (unsigned char)s[i + 2] == 0x81) {
                piece[k++] = ' ';
                i += 2;
            } else {
                piece[k++] = s[i];
            }
        }
    }
    size_t from = prev == 1 && k > 0 && piece[0] == ' ' ? 1 : 0;
    if (k - from == 1) {
        unsigned char c = (unsigned char)piece[from];
        if (!((c >= 0x20 && c < 0x7f) || (c >= 0x09 && c <= 0x0d))) return n;
    }
    for (size_t i = from; i < k && n + 1 < cap; i++) out[n++] = piece[i];
    out[n] = 0;
    return n;
}

static const char *convert_stories(void) {
    static char out[600];
    static bool done;
    if (done) return out[0] ? out : NULL;
    done = true;
    const char *b = t_shared_file("models/stories260K.bin");
    if (!b) return NULL;
    char bin[4096];
    snprintf(bin, sizeof bin, "%s", b);
    const char *tok = t_shared_file("models/tok512.bin");
    if (!tok) return NULL;
    snprintf(out, sizeof out, "%s/stories260K.gguf", t_tmpdir());
    sl_error err = {0};
    if (sl_llama2c_convert(bin, tok, out, &err) != SL_OK) {
        fprintf(stderr, "  convert: %s\n", err.msg);
        out[0] = 0;
        return NULL;
    }
    return out;
}

static void test_stories260k_greedy_matches_llama2c(void) {
    if (!t_shared_file("models/stories260K.bin") || !t_shared_file("models/tok512.bin"))
        T_SKIP("shared data absent: models/stories260K.bin, models/tok512.bin");
    const char *expf = t_shared_file("reference/stories260K-greedy-200steps-expected.txt");
    if (!expf) T_SKIP("shared data absent: reference/stories260K-greedy-200steps-expected.txt");
    char expected[2048];
    FILE *fp = fopen(expf, "rb");
    size_t n_exp = fp ? fread(expected, 1, sizeof expected - 1, fp) : 0;
    if (fp) fclose(fp);
    expected[n_exp] = 0;
    T_CHECK(n_exp == 464, "expected file has %zu bytes, the README says 464", n_exp);

    const char *gg = convert_stories();
    T_CHECK(gg != NULL, "conversion failed");
    if (!gg) return;
    ref64 *r = ref64_load(gg, ref64_dense());
    T_CHECK(r != NULL, "ref64_load failed");
    if (!r) return;
    sl_gguf *g = NULL;
    const sl_gguf_kv *toks = NULL;
    T_CHECK(sl_gguf_open(&g, gg, NULL) == SL_OK, "open");
    if (g) sl_gguf_get_arr(g, "tokenizer.ggml.tokens", SL_GGUF_STRING, &toks, NULL);
    T_CHECK(toks && toks->arr_n == 512, "tokens");
    if (toks && toks->arr_n == 512) {
        /* run.c generate(): BOS at pos 0, `steps` = 200 forwards, stop early on BOS. */
        double *logits = malloc(512 * sizeof *logits);
        char text[4096];
        size_t n = 0;
        int token = 1, steps = 200, n_new = 0;
        text[0] = 0;
        for (int pos = 0; pos < steps; pos++) {
            T_CHECK(ref64_feed(r, token, logits) == 0, "feed");
            int next = ref64_argmax(logits, 512);
            if (next == 1) break;
            n = append_piece(text, n, sizeof text, toks->arr_strs, token, next);
            n_new++;
            token = next;
        }
        T_CHECK(n == n_exp && memcmp(text, expected, n) == 0,
                "greedy text differs from llama2.c's (%zu vs %zu bytes):\n--- got\n%s\n--- want\n%s",
                n, n_exp, text, expected);
        if (n != n_exp || memcmp(text, expected, n) != 0) {
            size_t i = 0;
            while (i < n && i < n_exp && text[i] == expected[i]) i++;
            fprintf(stderr, "  first difference at byte %zu (%d new tokens)\n", i, n_new);
        }
        free(logits);
    }
    sl_gguf_close(g);
    ref64_free(r);
}

/* ---- synthetic variants ----------------------------------------------------------- */

static const char *synth(const char *file, const sl_synth_params *p) {
    const char *path = tmp_path(file);
    sl_error err = {0};
    sl_status st = sl_synth_write(p, path, &err);
    T_CHECK(st == SL_OK, "synth %s: %s", file, err.msg);
    return st == SL_OK ? path : NULL;
}

#define N_STEPS 12
static const int PROMPT[N_STEPS] = {1, 300 - 1, 17, 42, 5, 260, 261, 99, 3, 17, 17, 200};

/* Runs PROMPT through a model; all[(N_STEPS, V)] gets every step's logits. */
static int run_prompt(const char *path, ref64_policy pol, double *all, int *n_vocab) {
    ref64 *r = ref64_load(path, pol);
    if (!r) return -1;
    *n_vocab = r->n_vocab;
    for (int i = 0; i < N_STEPS; i++) {
        if (ref64_feed(r, PROMPT[i] % r->n_vocab, all + (size_t)i * r->n_vocab) != 0) {
            ref64_free(r);
            return -1;
        }
    }
    ref64_free(r);
    return 0;
}

static double max_abs_diff(const double *a, const double *b, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++) m = fmax(m, fabs(a[i] - b[i]));
    return m;
}

/* The logits of one step are usable: finite, spread out, not constant. */
static void check_sane(const char *what, const double *l, int n) {
    double mean = 0, var = 0;
    int finite = 1;
    for (int i = 0; i < n; i++) {
        finite &= isfinite(l[i]) != 0;
        mean += l[i];
    }
    mean /= n;
    for (int i = 0; i < n; i++) var += (l[i] - mean) * (l[i] - mean);
    double sd = sqrt(var / n);
    T_CHECK(finite, "%s: non-finite logits", what);
    T_CHECK(sd > 0.2 && sd < 20, "%s: logit std %g is degenerate", what, sd);
}

typedef struct {
    const char *name;
    void (*tweak)(sl_synth_params *p);
    int parent;     /* index of the variant it is compared with, -1 for none */
    bool rope_only; /* differs from its parent only in RoPE: step 0 must agree */
} variant;

static void v_base(sl_synth_params *p) { (void)p; }
static void v_mha(sl_synth_params *p) { p->n_head_kv = p->n_head; }
static void v_mqa(sl_synth_params *p) { p->n_head_kv = 1; }
static void v_untied(sl_synth_params *p) { p->tied_output = false; }
static void v_bias(sl_synth_params *p) { p->qkv_bias = true; }
static void v_qwen2(sl_synth_params *p) { p->arch = "qwen2"; }
static void v_partial(sl_synth_params *p) { p->n_rot = 8; }
static void v_qwen2_partial(sl_synth_params *p) { p->arch = "qwen2"; p->n_rot = 8; }
static void v_freqs(sl_synth_params *p) { p->rope_freqs = true; }
static void v_linear(sl_synth_params *p) { p->rope_scale_linear = 4.0f; }
static void v_base_theta(sl_synth_params *p) { p->rope_freq_base = 500000.0f; }

/* Same seed everywhere, and tensor values depend only on (seed, name), so a
 * variant shares every weight of its parent that has the same shape. */
static const variant VARIANTS[] = {
    {"base-gqa", v_base, -1, false},
    {"mha", v_mha, 0, false},
    {"mqa", v_mqa, 0, false},
    {"untied", v_untied, 0, false},
    {"llama-bias", v_bias, 0, false},
    {"qwen2", v_qwen2, 4, true}, /* = llama-bias with NEOX RoPE */
    {"partial-rope", v_partial, 0, true},
    {"qwen2-partial-rope", v_qwen2_partial, 5, true},
    {"rope-freqs", v_freqs, 0, true},
    {"rope-linear", v_linear, 0, true},
    {"rope-theta", v_base_theta, 0, true},
};
#define N_VARIANTS (sizeof VARIANTS / sizeof VARIANTS[0])

static void test_synth_variants_run_and_are_deterministic(void) {
    double *logits[N_VARIANTS] = {0};
    for (size_t k = 0; k < N_VARIANTS; k++) {
        const variant *vr = &VARIANTS[k];
        sl_synth_params p;
        sl_synth_params_default(&p);
        vr->tweak(&p);
        char file[64];
        snprintf(file, sizeof file, "v-%s.gguf", vr->name);
        const char *path = synth(file, &p);
        if (!path) continue;
        double *a = malloc(N_STEPS * 300 * sizeof *a), *b = malloc(N_STEPS * 300 * sizeof *b);
        int V = 0;
        int rc1 = run_prompt(path, ref64_dense(), a, &V);
        int rc2 = run_prompt(path, ref64_dense(), b, &V);
        T_CHECK(rc1 == 0 && rc2 == 0 && V == 300, "%s: reference failed (V %d)", vr->name, V);
        if (rc1 || rc2 || V != 300) {
            free(a);
            free(b);
            continue;
        }
        T_CHECK(memcmp(a, b, N_STEPS * 300 * sizeof *a) == 0, "%s: not deterministic", vr->name);
        free(b);
        for (int i = 0; i < N_STEPS; i++) {
            char what[96];
            snprintf(what, sizeof what, "%s step %d", vr->name, i);
            check_sane(what, a + i * 300, 300);
        }
        logits[k] = a;
        const double *base = vr->parent >= 0 ? logits[vr->parent] : NULL;
        if (!base) continue;
        /* A RoPE-only change cannot matter at position 0 (no rotation) but
         * must from position 1 on; other changes show at once. */
        double d0 = max_abs_diff(a, base, 300);
        double dl = max_abs_diff(a + (N_STEPS - 1) * 300, base + (N_STEPS - 1) * 300, 300);
        const char *pn = VARIANTS[vr->parent].name;
        if (vr->rope_only)
            T_CHECK(d0 < 1e-12, "%s: step 0 differs from %s by %g", vr->name, pn, d0);
        else
            T_CHECK(d0 > 1e-6, "%s: step 0 equals %s (diff %g)", vr->name, pn, d0);
        T_CHECK(dl > 1e-6, "%s: last step equals %s (diff %g)", vr->name, pn, dl);
    }
    for (size_t k = 0; k < N_VARIANTS; k++) free(logits[k]);
}

static void test_synth_same_seed_same_file(void) {
    sl_synth_params p;
    sl_synth_params_default(&p);
    const char *a = synth("seed-a.gguf", &p), *b = synth("seed-b.gguf", &p);
    p.seed = 2;
    const char *c = synth("seed-c.gguf", &p);
    if (!a || !b || !c) return;
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb"), *fc = fopen(c, "rb");
    int same_ab = 1, same_ac = 1, x, y, z;
    long n = 0;
    do {
        x = fgetc(fa), y = fgetc(fb), z = fgetc(fc);
        same_ab &= x == y;
        same_ac &= x == z;
        n++;
    } while (x != EOF || y != EOF || z != EOF);
    fclose(fa), fclose(fb), fclose(fc);
    T_CHECK(same_ab, "two writes with one seed differ");
    T_CHECK(!same_ac, "seeds 1 and 2 wrote the same file");
    T_CHECK(n > 300 * 64 * 4, "file too small (%ld bytes)", n);
}

/* RMS of (a - b) relative to the RMS spread of b, over n values. */
static double rel_rms_diff(const double *a, const double *b, size_t n) {
    double mean = 0, dd = 0, vv = 0;
    for (size_t i = 0; i < n; i++) mean += b[i];
    mean /= (double)n;
    for (size_t i = 0; i < n; i++) {
        dd += (a[i] - b[i]) * (a[i] - b[i]);
        vv += (b[i] - mean) * (b[i] - mean);
    }
    return sqrt(dd / vv);
}

/* A q8_0 / q4_0 / f16 file with the seed of an f32 file holds the same model
 * up to rounding: logits stay close, relative to their spread. Expected
 * sizes: per-matrix relative weight error is ~1.4e-4 (f16), ~4.6e-3 (q8_0:
 * block max / 127 / sqrt(12)) and ~7e-2 (q4_0), and ~16 matrices add up
 * independently (x4), giving ~6e-4, ~1.8e-2 and ~0.28. */
static void test_synth_quantized_close_to_f32(void) {
    sl_synth_params p;
    sl_synth_params_default(&p);
    const char *f = synth("q-f32.gguf", &p);
    uint32_t types[3] = {SL_TYPE_F16, SL_TYPE_Q8_0, SL_TYPE_Q4_0};
    double lo[3] = {1e-5, 3e-3, 5e-2}, hi[3] = {3e-3, 4e-2, 0.6}, err_of[3] = {0};
    double *a = malloc(N_STEPS * 300 * sizeof *a), *b = malloc(N_STEPS * 300 * sizeof *b);
    int V;
    T_CHECK(f && run_prompt(f, ref64_dense(), a, &V) == 0, "f32 run");
    for (int t = 0; t < 3 && f; t++) {
        p.wtype = types[t];
        char file[32];
        snprintf(file, sizeof file, "q-%s.gguf", sl_type_name(types[t]));
        const char *q = synth(file, &p);
        if (!q) continue;
        sl_gguf *g = NULL;
        T_CHECK(sl_gguf_open(&g, q, NULL) == SL_OK, "open");
        if (g) {
            const sl_gguf_tensor *te = sl_gguf_find_tensor(g, "blk.1.ffn_down.weight");
            const sl_gguf_tensor *tn = sl_gguf_find_tensor(g, "blk.1.ffn_norm.weight");
            T_CHECK(te && te->type == types[t], "%s: matrix type %u", file, te ? te->type : 99);
            T_CHECK(tn && tn->type == SL_TYPE_F32, "%s: norms must stay f32", file);
            sl_gguf_close(g);
        }
        if (run_prompt(q, ref64_dense(), b, &V) != 0) {
            T_CHECK(0, "%s: reference failed", file);
            continue;
        }
        double d = rel_rms_diff(b, a, N_STEPS * 300);
        err_of[t] = d;
        T_CHECK(d > lo[t] && d < hi[t], "%s: relative rms logit error vs f32 = %g, want (%g, %g)",
                file, d, lo[t], hi[t]);
        printf("  %s: relative rms logit error vs f32 = %.3g\n", file, d);
    }
    T_CHECK(err_of[0] < err_of[1] && err_of[1] < err_of[2], "errors not ordered f16 < q8_0 < q4_0");
    free(a);
    free(b);
}

static void test_synth_rejects_bad_params(void) {
    sl_synth_params p;
    sl_error err = {0};
    const char *path = tmp_path("bad.gguf");
    sl_synth_params_default(&p);
    p.wtype = SL_TYPE_Q4_K; /* 256-blocks, n_embd 64 */
    T_CHECK(sl_synth_write(&p, path, &err) == SL_ERR_INVALID_ARG && strstr(err.msg, "block"),
            "q4_k with n_embd 64: %s", err.msg);
    sl_synth_params_default(&p);
    p.n_head_kv = 3;
    T_CHECK(sl_synth_write(&p, path, &err) == SL_ERR_INVALID_ARG && strstr(err.msg, "n_head"),
            "n_head_kv 3: %s", err.msg);
    sl_synth_params_default(&p);
    p.n_rot = 7;
    T_CHECK(sl_synth_write(&p, path, &err) == SL_ERR_INVALID_ARG && strstr(err.msg, "n_rot"),
            "n_rot 7: %s", err.msg);
    sl_synth_params_default(&p);
    p.arch = "gpt2";
    T_CHECK(sl_synth_write(&p, path, &err) == SL_ERR_INVALID_ARG, "arch gpt2");
    T_CHECK(sl_synth_preset(&p, "llama-70b", &err) == SL_ERR_NOT_FOUND &&
                strstr(err.msg, "tinyllama-1.1b"), "unknown preset: %s", err.msg);
    const char *want[] = {"tinyllama-1.1b", "smol-135m", "134m", "stories260k", "tiny"};
    for (int i = 0; i < 5; i++)
        T_CHECK(sl_synth_preset(&p, want[i], &err) == SL_OK, "preset %s: %s", want[i], err.msg);
    T_CHECK(sl_synth_preset(&p, "TinyLlama-1.1B", &err) == SL_OK && p.n_embd == 2048 &&
                p.n_layer == 22 && p.n_head == 32 && p.n_head_kv == 4 && p.n_ff == 5632 &&
                p.n_vocab == 32000 && p.n_ctx == 2048,
            "tinyllama shape");
    T_CHECK(sl_synth_preset(&p, "smol-135m", &err) == SL_OK && p.n_embd == 576 &&
                p.n_layer == 30 && p.n_head == 9 && p.n_head_kv == 3 && p.n_ff == 1536 &&
                p.n_vocab == 49152, "smol shape");
}

static int64_t key_int(const sl_gguf *g, const char *key) {
    int64_t v = -1;
    sl_gguf_get_i64(g, key, &v, NULL);
    return v;
}

static bool has_shape(const sl_gguf *g, const char *name, uint64_t ne0, uint64_t ne1) {
    const sl_gguf_tensor *t = sl_gguf_find_tensor(g, name);
    return t && t->ne[0] == ne0 && t->ne[1] == ne1 && t->n_dims == (ne1 > 1 ? 2u : 1u);
}

/* The file says what the parameters asked for, in llama.cpp's names. */
static void test_synth_keys_and_shapes(void) {
    sl_synth_params p;
    sl_synth_params_default(&p);
    p.arch = "qwen2";
    p.n_rot = 8;
    p.rope_freqs = true;
    p.rope_scale_linear = 2.0f;
    p.tied_output = false;
    p.n_head_kv = 1;
    const char *path = synth("keys.gguf", &p);
    sl_gguf *g = NULL;
    if (!path || sl_gguf_open(&g, path, NULL) != SL_OK) return;
    T_CHECK(key_int(g, "qwen2.embedding_length") == 64, "embedding_length");
    T_CHECK(key_int(g, "qwen2.block_count") == 2, "block_count");
    T_CHECK(key_int(g, "qwen2.attention.head_count") == 4, "head_count");
    T_CHECK(key_int(g, "qwen2.attention.head_count_kv") == 1, "head_count_kv");
    T_CHECK(key_int(g, "qwen2.feed_forward_length") == 96, "feed_forward_length");
    T_CHECK(key_int(g, "qwen2.context_length") == 128, "context_length");
    T_CHECK(key_int(g, "qwen2.rope.dimension_count") == 8, "rope.dimension_count");
    sl_gguf_str s;
    T_CHECK(sl_gguf_get_str(g, "qwen2.rope.scaling.type", &s, NULL) == SL_OK &&
                sl_gguf_str_eq(s, "linear"), "rope.scaling.type");
    float f = 0;
    T_CHECK(sl_gguf_get_f32(g, "qwen2.rope.scaling.factor", &f, NULL) == SL_OK && f == 2.0f,
            "rope.scaling.factor %g", f);
    T_CHECK(has_shape(g, "token_embd.weight", 64, 300) && has_shape(g, "output.weight", 64, 300),
            "embedding/output shapes");
    T_CHECK(has_shape(g, "rope_freqs.weight", 4, 1), "rope_freqs (n_rot/2)");
    T_CHECK(has_shape(g, "blk.1.attn_q.weight", 64, 64) && has_shape(g, "blk.1.attn_k.weight", 64, 16) &&
                has_shape(g, "blk.1.attn_v.weight", 64, 16), "q/k/v shapes");
    T_CHECK(has_shape(g, "blk.1.attn_q.bias", 64, 1) && has_shape(g, "blk.1.attn_k.bias", 16, 1) &&
                has_shape(g, "blk.1.attn_v.bias", 16, 1), "qwen2 biases");
    T_CHECK(has_shape(g, "blk.0.ffn_gate.weight", 64, 96) && has_shape(g, "blk.0.ffn_up.weight", 64, 96) &&
                has_shape(g, "blk.0.ffn_down.weight", 96, 64), "ffn shapes");
    T_CHECK(g->n_tensors == 3 + 1 + 2 * 12, "%llu tensors", (unsigned long long)g->n_tensors);
    /* Llama-3 divisors: 1 for the fastest frequency, 8 for the slowest. */
    const sl_gguf_tensor *rf = sl_gguf_find_tensor(g, "rope_freqs.weight");
    if (rf) {
        float r0, r3;
        memcpy(&r0, rf->data, 4);
        memcpy(&r3, (const char *)rf->data + 12, 4);
        T_CHECK(r0 == 1.0f && r3 == 8.0f, "rope_freqs %g .. %g", r0, r3);
    }
    sl_gguf_close(g);

    sl_synth_params_default(&p); /* tied llama: no output, no biases, no rope keys */
    path = synth("keys2.gguf", &p);
    if (!path || sl_gguf_open(&g, path, NULL) != SL_OK) return;
    T_CHECK(!sl_gguf_find_tensor(g, "output.weight") && !sl_gguf_find_tensor(g, "blk.0.attn_q.bias") &&
                !sl_gguf_find_tensor(g, "rope_freqs.weight") &&
                !sl_gguf_find(g, "llama.rope.scaling.type"), "tied llama has extras");
    T_CHECK(g->n_tensors == 2 + 2 * 9, "%llu tensors", (unsigned long long)g->n_tensors);
    sl_gguf_close(g);
}

/* The synthetic vocab is a valid SPM vocab; a vocab file's keys are copied. */
static void test_synth_vocab(void) {
    sl_synth_params p;
    sl_synth_params_default(&p);
    p.n_vocab = 1000;
    const char *path = synth("vocab.gguf", &p);
    sl_gguf *g = NULL;
    if (path && sl_gguf_open(&g, path, NULL) == SL_OK) {
        const sl_gguf_kv *t = NULL, *ty = NULL;
        sl_gguf_get_arr(g, "tokenizer.ggml.tokens", SL_GGUF_STRING, &t, NULL);
        sl_gguf_get_arr(g, "tokenizer.ggml.token_type", SL_GGUF_INT32, &ty, NULL);
        T_CHECK(t && t->arr_n == 1000 && ty && ty->arr_n == 1000, "1000 tokens");
        if (t && t->arr_n == 1000 && ty && ty->arr_n == 1000) {
            T_CHECK(sl_gguf_str_eq(t->arr_strs[0], "<unk>") && sl_gguf_str_eq(t->arr_strs[1], "<s>") &&
                        sl_gguf_str_eq(t->arr_strs[2], "</s>"), "specials");
            int n_byte = 0, n_normal = 0, has_the = 0;
            for (int i = 0; i < 1000; i++) {
                int32_t k;
                memcpy(&k, (const char *)ty->arr_data + 4 * i, 4);
                char b[8];
                snprintf(b, sizeof b, "<0x%02X>", i - 3);
                if (i >= 3 && i < 259) T_CHECK(k == 6 && sl_gguf_str_eq(t->arr_strs[i], b), "byte %d", i);
                n_byte += k == 6;
                n_normal += k == 1;
                has_the |= sl_gguf_str_eq(t->arr_strs[i], "\xE2\x96\x81the");
                for (int j = 0; j < i && j < 1000 && k == 1; j += 37) /* spot-check uniqueness */
                    T_CHECK(!(t->arr_strs[i].len == t->arr_strs[j].len &&
                              !memcmp(t->arr_strs[i].ptr, t->arr_strs[j].ptr, t->arr_strs[j].len)),
                            "token %d duplicates %d", i, j);
            }
            T_CHECK(n_byte == 256, "%d byte tokens", n_byte);
            T_CHECK(n_normal >= 300, "only %d normal pieces", n_normal);
            T_CHECK(has_the, "no \"\xE2\x96\x81the\" piece");
        }
        sl_gguf_close(g);
    }
    const char *vf = t_shared_file("tokenizers/ggml-vocab-llama-spm.gguf");
    if (!vf) T_SKIP("shared data absent: tokenizers/ggml-vocab-llama-spm.gguf");
    sl_synth_params_default(&p);
    p.vocab_path = vf;
    p.n_vocab = 5; /* ignored: the vocab file decides */
    path = synth("vocab-copy.gguf", &p);
    g = NULL;
    if (path && sl_gguf_open(&g, path, NULL) == SL_OK) {
        const sl_gguf_tensor *te = sl_gguf_find_tensor(g, "token_embd.weight");
        T_CHECK(te && te->ne[1] == 32000, "embedding rows follow the vocab file");
        const sl_gguf_kv *t = NULL;
        sl_gguf_get_arr(g, "tokenizer.ggml.tokens", SL_GGUF_STRING, &t, NULL);
        T_CHECK(t && t->arr_n == 32000, "copied tokens");
        sl_gguf_str s;
        T_CHECK(sl_gguf_get_str(g, "general.architecture", &s, NULL) == SL_OK &&
                    sl_gguf_str_eq(s, "llama"), "architecture not overwritten by the vocab file");
        T_CHECK(sl_gguf_find(g, "tokenizer.ggml.add_bos_token") != NULL, "add_bos copied");
        sl_gguf_close(g);
    }
}

/* ---- cache semantics ------------------------------------------------------------ */

/* start=4, recent=1000 keeps everything until the cache first holds 1005
 * tokens: logits equal dense exactly up to token 1004 (0-based), then differ. */
static void test_streaming_equals_dense_until_full(void) {
    sl_synth_params p;
    sl_synth_params_default(&p);
    p.n_layer = 1;
    const char *path = synth("stream.gguf", &p);
    if (!path) return;
    ref64 *d = ref64_load(path, ref64_dense()), *s = ref64_load(path, ref64_streaming(4, 1000));
    T_CHECK(d && s, "load");
    if (d && s) {
        double *ld = malloc(300 * sizeof *ld), *ls = malloc(300 * sizeof *ls);
        unsigned long long seed = 7;
        int first_diff = -1;
        for (int t = 0; t < 1008; t++) {
            int tok = (int)(t_rand_u64(&seed) % 300);
            ref64_feed(d, tok, ld);
            ref64_feed(s, tok, ls);
            if (first_diff < 0 && memcmp(ld, ls, 300 * sizeof *ld) != 0) first_diff = t;
            if (t < 1004) T_CHECK(s->n_cache == t + 1, "cache len %d at t %d", s->n_cache, t);
            else T_CHECK(s->n_cache == 1004, "cache len %d at t %d, want 1004", s->n_cache, t);
        }
        T_CHECK(first_diff == 1005, "streaming first differs from dense at token %d, want 1005",
                first_diff);
        free(ld);
        free(ls);
    }
    ref64_free(d);
    ref64_free(s);
}

/* In a 1-layer model the cached pre-RoPE K/V of a token depend only on the
 * token, so a streamed cache [first start | last recent] must give the same
 * logits as a dense run over exactly those tokens: this pins down which
 * tokens are kept and that positions are renumbered 0..n-1 in the cache. */
static void test_streaming_equals_dense_over_kept_tokens(void) {
    sl_synth_params p;
    sl_synth_params_default(&p);
    p.n_layer = 1;
    p.arch = "qwen2";
    p.qkv_bias = true;
    p.rope_freqs = true;
    const char *path = synth("kept.gguf", &p);
    if (!path) return;
    int policies[3][2] = {{2, 5}, {0, 6}, {4, 1}};
    for (int k = 0; k < 3; k++) {
        int start = policies[k][0], recent = policies[k][1];
        for (int zero_sink = 0; zero_sink <= 1; zero_sink++) {
            ref64_policy sp = ref64_streaming(start, recent), dp = ref64_dense();
            sp.zero_sink = dp.zero_sink = zero_sink;
            ref64 *s = ref64_load(path, sp), *d = ref64_load(path, dp);
            T_CHECK(s && d, "load");
            if (!s || !d) {
                ref64_free(s);
                ref64_free(d);
                continue;
            }
            int toks[40];
            unsigned long long seed = 11 + (unsigned long long)k;
            double ls[300], ld[300], max_d = 0;
            for (int t = 0; t < 40; t++) {
                toks[t] = (int)(t_rand_u64(&seed) % 300);
                ref64_feed(s, toks[t], ls);
                /* The tokens a cache of start+recent holds while predicting
                 * after t: the first `start` and the last tokens up to t. */
                int kept[64], n = 0, total = t + 1;
                int cap = start + recent + 1; /* the new token attends before trimming */
                for (int i = 0; i < total; i++)
                    if (total <= cap || i < start || i >= total - (cap - start)) kept[n++] = toks[i];
                ref64_reset(d);
                for (int i = 0; i < n; i++) ref64_feed(d, kept[i], i == n - 1 ? ld : NULL);
                max_d = fmax(max_d, max_abs_diff(ls, ld, 300));
            }
            T_CHECK(max_d < 1e-12, "start %d recent %d zero_sink %d: max diff %g", start, recent,
                    zero_sink, max_d);
            ref64_free(s);
            ref64_free(d);
        }
    }
}

/* Softmax-off-by-one changes attention, so logits, from the first token on;
 * the file key turns it on too. */
static void test_zero_sink_changes_attention(void) {
    sl_synth_params p;
    sl_synth_params_default(&p);
    const char *path = synth("zs.gguf", &p);
    if (!path) return;
    ref64_policy zp = ref64_dense();
    zp.zero_sink = true;
    double a[N_STEPS * 300], b[N_STEPS * 300];
    int V;
    T_CHECK(run_prompt(path, ref64_dense(), a, &V) == 0 && run_prompt(path, zp, b, &V) == 0, "run");
    T_CHECK(max_abs_diff(a, b, 300) > 1e-6, "zero_sink made no difference at token 0");
    check_sane("zero_sink", b + 300 * (N_STEPS - 1), 300);
}

int main(void) {
    T_RUN(test_stories260k_greedy_matches_llama2c);
    T_RUN(test_synth_variants_run_and_are_deterministic);
    T_RUN(test_synth_same_seed_same_file);
    T_RUN(test_synth_quantized_close_to_f32);
    T_RUN(test_synth_rejects_bad_params);
    T_RUN(test_synth_keys_and_shapes);
    T_RUN(test_synth_vocab);
    T_RUN(test_streaming_equals_dense_until_full);
    T_RUN(test_streaming_equals_dense_over_kept_tokens);
    T_RUN(test_zero_sink_changes_attention);
    return T_DONE();
}
