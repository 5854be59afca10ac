/* synth.c — random-weight GGUF models (see synth.h).
 *
 * Letters: V vocab, E n_embd, L layers, H heads, G kv heads, D head_dim,
 * F n_ff, R n_rot. Matrices are GGUF ne = {in, out} (ne[0] contiguous). */
#include "model/synth.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/error.h"
#include "gguf/gguf.h"
#include "model/gguf_names.h"
#include "model/spm_vocab_keys.h"
#include "tensor/quant.h"
#include "tokenizer/tokenizer.h"

/* ---- presets ------------------------------------------------------------------ */

typedef struct {
    const char *name;
    int n_vocab, n_embd, n_layer, n_head, n_head_kv, n_ff, n_ctx;
    bool tied;
} preset;

/* Shapes of real models (their config.json), so synthetic files exercise the
 * same sizes, GQA ratios and memory as the real thing. */
static const preset PRESETS[] = {
    {"tinyllama-1.1b", 32000, 2048, 22, 32, 4, 5632, 2048, false}, /* TinyLlama-1.1B */
    {"smol-135m", 49152, 576, 30, 9, 3, 1536, 2048, true},         /* SmolLM-135M */
    {"134m", 32000, 768, 12, 12, 12, 2048, 2048, false},
    {"stories260k", 512, 64, 5, 8, 4, 172, 512, true},             /* llama2.c stories260K */
    {"tiny", 300, 64, 2, 4, 2, 96, 128, true},                     /* unit tests */
};
#define N_PRESETS (sizeof PRESETS / sizeof PRESETS[0])

const char *const *sl_synth_preset_names(void) {
    static const char *names[N_PRESETS + 1];
    for (size_t i = 0; i < N_PRESETS; i++) names[i] = PRESETS[i].name;
    names[N_PRESETS] = NULL;
    return names;
}

static void apply_preset(sl_synth_params *p, const preset *s) {
    memset(p, 0, sizeof *p);
    p->arch = "llama";
    p->name = s->name;
    p->n_vocab = s->n_vocab;
    p->n_embd = s->n_embd;
    p->n_layer = s->n_layer;
    p->n_head = s->n_head;
    p->n_head_kv = s->n_head_kv;
    p->n_ff = s->n_ff;
    p->n_ctx = s->n_ctx;
    p->tied_output = s->tied;
    p->wtype = SL_TYPE_F32;
    p->output_type = -1;
    p->seed = 1;
}

void sl_synth_params_default(sl_synth_params *p) { apply_preset(p, &PRESETS[N_PRESETS - 1]); }

sl_status sl_synth_preset(sl_synth_params *p, const char *name, sl_error *err) {
    for (size_t i = 0; name && i < N_PRESETS; i++) {
        if (strcasecmp(name, PRESETS[i].name) == 0) {
            apply_preset(p, &PRESETS[i]);
            return SL_OK;
        }
    }
    char list[256] = "";
    for (size_t i = 0; i < N_PRESETS; i++) {
        strncat(list, PRESETS[i].name, sizeof list - strlen(list) - 1);
        if (i + 1 < N_PRESETS) strncat(list, ", ", sizeof list - strlen(list) - 1);
    }
    return sl_fail(err, SL_ERR_NOT_FOUND, "unknown synth preset '%s' (known: %s)",
                   name ? name : "(null)", list);
}

/* ---- random numbers --------------------------------------------------------------- */

/* splitmix64: one 64-bit state, good enough statistics, trivially seeded. */
static uint64_t rng_next(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Approximately N(0, 1): the Irwin-Hall sum of four 16-bit uniforms from one
 * draw, rescaled to unit variance. Tails stop at +-3.46, which is fine for
 * weights and ~10x cheaper than Box-Muller at 1.1B draws. */
static float rng_normal(uint64_t *s) {
    uint64_t r = rng_next(s);
    float sum = (float)(r & 0xFFFF) + (float)((r >> 16) & 0xFFFF) + (float)((r >> 32) & 0xFFFF) +
                (float)(r >> 48) + 2.0f; /* + 4 * 0.5: centre each 16-bit cell */
    return (sum * (1.0f / 65536.0f) - 2.0f) * 1.7320508f;
}

/* The stream for one tensor depends on the seed and the tensor name only. */
static uint64_t tensor_seed(uint64_t seed, const char *name) {
    uint64_t h = 0xCBF29CE484222325ull; /* FNV-1a */
    for (const char *c = name; *c; c++) h = (h ^ (unsigned char)*c) * 0x100000001B3ull;
    uint64_t s = seed ^ h;
    return rng_next(&s);
}

/* ---- vocabulary -------------------------------------------------------------------- */

typedef struct {
    int n, cap;
    char **text;   /* (n) NUL-terminated */
    float *score;  /* (n) */
    int32_t *type; /* (n) */
} vocab;

static void vocab_free(vocab *v) {
    for (int i = 0; i < v->n; i++) free(v->text[i]);
    free(v->text);
    free(v->score);
    free(v->type);
    memset(v, 0, sizeof *v);
}

static bool vocab_has(const vocab *v, const char *s) {
    for (int i = 0; i < v->n; i++)
        if (!strcmp(v->text[i], s)) return true;
    return false;
}

/* Appends s unless present or full. Returns false only on out-of-memory. */
static bool vocab_add(vocab *v, const char *s, float score, int32_t type) {
    /* Quadratic, but only over the few hundred real pieces: the padding
     * below is unique by construction and skips this. */
    if (v->n >= v->cap || (type != SL_TOKEN_UNUSED && vocab_has(v, s))) return true;
    char *t = strdup(s);
    if (!t) return false;
    v->text[v->n] = t;
    v->score[v->n] = score;
    v->type[v->n] = type;
    v->n++;
    return true;
}

#define SPACE "\xE2\x96\x81" /* U+2581, SentencePiece's word-start marker */

/* Frequent English words, most frequent first. */
static const char *const WORDS[] = {
    "the", "of", "and", "to", "a", "in", "is", "was", "he", "for", "it", "with", "as", "his",
    "on", "be", "at", "by", "I", "that", "had", "not", "are", "but", "from", "or", "have", "an",
    "they", "which", "one", "you", "were", "her", "all", "she", "there", "would", "their", "we",
    "him", "been", "has", "when", "who", "will", "more", "no", "if", "out", "so", "said", "what",
    "up", "its", "about", "into", "than", "them", "can", "only", "other", "new", "some", "could",
    "time", "these", "two", "may", "then", "do", "first", "any", "my", "now", "such", "like",
    "our", "over", "man", "me", "even", "most", "made", "after", "also", "did", "many", "before",
    "must", "through", "back", "years", "where", "much", "your", "way", "well", "down", "should",
    "because", "each", "just", "those", "people", "how", "too", "little", "state", "good",
    "very", "make", "world", "still", "own", "see", "men", "work", "long", "get", "here",
    "between", "both", "life", "being", "under", "never", "day", "same", "another", "know",
    "while", "last", "might", "us", "great", "old", "year", "off", "come", "since", "against",
    "go", "came", "right", "used", "take", "three", "The", "He", "It", "In", "She", "They",
    "But", "And", "Once", "upon", "girl", "boy", "named", "Lily", "play", "happy", "big",
};
/* Word endings, without the marker, so longer words split into known pieces. */
static const char *const SUFFIXES[] = {"s", "ed", "ing", "er", "ly", "es", "ion", "tion", "en",
                                       "al", "ent", "est", "ness", "ment", "able"};

static sl_status synth_vocab(vocab *v, int n_vocab, sl_error *err) {
    memset(v, 0, sizeof *v);
    v->cap = n_vocab;
    v->text = calloc((size_t)n_vocab, sizeof *v->text);
    v->score = calloc((size_t)n_vocab, sizeof *v->score);
    v->type = calloc((size_t)n_vocab, sizeof *v->type);
    bool ok = v->text && v->score && v->type;
    ok = ok && vocab_add(v, "<unk>", 0, SL_TOKEN_UNKNOWN);
    ok = ok && vocab_add(v, "<s>", 0, SL_TOKEN_CONTROL);
    ok = ok && vocab_add(v, "</s>", 0, SL_TOKEN_CONTROL);
    for (int b = 0; ok && b < 256; b++) {
        char s[8];
        snprintf(s, sizeof s, "<0x%02X>", b);
        ok = vocab_add(v, s, 0, SL_TOKEN_BYTE);
    }
    /* Scores fall with rank, as SentencePiece log-probabilities do. */
    float score = -1.0f;
    ok = ok && vocab_add(v, SPACE, score--, SL_TOKEN_NORMAL);
    static const char chars[] = "etaoinshrdlcumwfgypbvkjxqzETAOINSHRDLCUMWFGYPBVKJXQZ"
                                "0123456789.,!?'\"-:;()";
    for (const char *c = chars; ok && *c; c++) {
        char s[2] = {*c, 0};
        ok = vocab_add(v, s, score--, SL_TOKEN_NORMAL);
    }
    /* Each word with every prefix ("▁t", "▁th", "▁the"), so the greedy
     * pair merges of SPM can always grow a word left to right. */
    for (size_t w = 0; ok && w < sizeof WORDS / sizeof WORDS[0]; w++) {
        char s[64] = SPACE;
        size_t base = strlen(s), n = strlen(WORDS[w]);
        for (size_t k = 1; ok && k <= n && base + k < sizeof s; k++) {
            memcpy(s + base, WORDS[w], k);
            s[base + k] = '\0';
            ok = vocab_add(v, s, score--, SL_TOKEN_NORMAL);
        }
    }
    for (size_t w = 0; ok && w < sizeof SUFFIXES / sizeof SUFFIXES[0]; w++) {
        char s[16];
        size_t n = strlen(SUFFIXES[w]);
        for (size_t k = 1; ok && k <= n; k++) {
            memcpy(s, SUFFIXES[w], k);
            s[k] = '\0';
            ok = vocab_add(v, s, score--, SL_TOKEN_NORMAL);
        }
    }
    for (int i = 0; ok && v->n < n_vocab; i++) {
        char s[32];
        snprintf(s, sizeof s, "<unused%d>", i);
        ok = vocab_add(v, s, -1e6f, SL_TOKEN_UNUSED);
    }
    if (!ok) {
        vocab_free(v);
        return sl_fail(err, SL_ERR_NOMEM, "synth: out of memory for a %d-token vocab", n_vocab);
    }
    return SL_OK;
}

/* ---- parameters ---------------------------------------------------------------- */

/* llama.cpp's general.file_type for a file whose matrices are all of type t. */
static int file_type_of(uint32_t t) {
    switch (t) {
    case SL_TYPE_F32: return 0;
    case SL_TYPE_F16: return 1;
    case SL_TYPE_Q4_0: return 2;
    case SL_TYPE_Q4_1: return 3;
    case SL_TYPE_Q8_0: return 7;
    case SL_TYPE_Q5_0: return 8;
    case SL_TYPE_Q5_1: return 9;
    case SL_TYPE_Q2_K: return 10;
    case SL_TYPE_Q3_K: return 11; /* Q3_K_S */
    case SL_TYPE_Q4_K: return 14; /* Q4_K_S */
    case SL_TYPE_Q5_K: return 16; /* Q5_K_S */
    case SL_TYPE_Q6_K: return 18;
    case SL_TYPE_BF16: return 32;
    default: return -1;
    }
}

static sl_status check_params(const sl_synth_params *p, bool has_vocab_file, sl_error *err) {
    if (!p->arch || (strcmp(p->arch, "llama") && strcmp(p->arch, "qwen2")))
        return sl_fail(err, SL_ERR_INVALID_ARG, "synth: arch '%s' is not llama or qwen2",
                       p->arch ? p->arch : "(null)");
#define RANGE(f, lo, hi)                                                                    \
    if (p->f < (lo) || p->f > (hi))                                                         \
        return sl_fail(err, SL_ERR_INVALID_ARG, "synth: " #f " = %d is out of range [%d, %d]", \
                       p->f, (lo), (hi));
    if (!has_vocab_file) RANGE(n_vocab, 259, 1 << 22) /* specials + 256 byte tokens */
    RANGE(n_embd, 2, 1 << 16)
    RANGE(n_layer, 1, 1024)
    RANGE(n_head, 1, 4096)
    RANGE(n_head_kv, 1, p->n_head)
    RANGE(n_ff, 1, 1 << 18)
    RANGE(n_ctx, 1, 1 << 24)
#undef RANGE
    if (p->n_embd % p->n_head || (p->n_embd / p->n_head) % 2)
        return sl_fail(err, SL_ERR_INVALID_ARG,
                       "synth: n_embd %d is not n_head %d times an even head_dim", p->n_embd,
                       p->n_head);
    if (p->n_head % p->n_head_kv)
        return sl_fail(err, SL_ERR_INVALID_ARG, "synth: n_head %d is not a multiple of n_head_kv %d",
                       p->n_head, p->n_head_kv);
    int head_dim = p->n_embd / p->n_head;
    if (p->n_rot < 0 || p->n_rot % 2 || p->n_rot > head_dim)
        return sl_fail(err, SL_ERR_INVALID_ARG,
                       "synth: n_rot %d must be even and in [0, head_dim %d] (0 = head_dim)",
                       p->n_rot, head_dim);
    if (!(p->rope_freq_base >= 0) || !(p->rope_scale_linear >= 0) || !(p->rms_eps >= 0))
        return sl_fail(err, SL_ERR_INVALID_ARG,
                       "synth: rope_freq_base, rope_scale_linear and rms_eps must be >= 0");
    /* Every type a matrix may get: wtype, the output type, and q6_K in the _M mix. */
    const uint32_t types[3] = {p->wtype, p->output_type >= 0 ? (uint32_t)p->output_type : p->wtype,
                               p->mix_m ? (uint32_t)SL_TYPE_Q6_K : p->wtype};
    for (int i = 0; i < 3; i++) {
        const sl_type_traits *tt = sl_type_get(types[i]);
        if (!tt || file_type_of(types[i]) < 0 || (types[i] != SL_TYPE_F32 && !tt->from_float))
            return sl_fail(err, SL_ERR_INVALID_ARG, "synth: %s type %s (%u) has no quantizer",
                           i == 1 ? "output" : "weight", sl_type_name(types[i]), types[i]);
        int bs = tt->blck_size;
        /* n_ff is a row length only for ffn_down; the output has rows of n_embd */
        if (p->n_embd % bs || (i != 1 && p->n_ff % bs))
            return sl_fail(err, SL_ERR_INVALID_ARG,
                           "synth: %s type %s needs n_embd (%d) and n_ff (%d) to be multiples "
                           "of its block size %d", i == 1 ? "output" : "weight", tt->name,
                           p->n_embd, p->n_ff, bs);
    }
    return SL_OK;
}

/* llama.cpp's use_more_bits: the first and last eighth of the layers, and
 * every third layer between. */
static bool more_bits(int i, int n) { return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2; }

/* The type of one matrix: the output (or the tied embedding) may have its
 * own type; the _M mix gives attn_v and ffn_down q6_K in some layers. */
static uint32_t matrix_type(const sl_synth_params *p, const char *name) {
    bool is_out = !strcmp(name, TN_OUTPUT) || (p->tied_output && !strcmp(name, TN_TOKEN_EMBD));
    if (is_out && p->output_type >= 0) return (uint32_t)p->output_type;
    if (is_out && p->mix_m) return SL_TYPE_Q6_K;
    int il, len = 0;
    size_t n = strlen(name);
    if (p->mix_m && sscanf(name, "blk.%d.%n", &il, &len) == 1 && len > 0 &&
        ((n > 14 && !strcmp(name + n - 14, ".attn_v.weight")) ||
         (n > 16 && !strcmp(name + n - 16, ".ffn_down.weight"))) &&
        more_bits(il, p->n_layer))
        return SL_TYPE_Q6_K;
    return p->wtype;
}

/* ---- tensors -------------------------------------------------------------------- */

typedef enum { FILL_MATRIX, FILL_NORM, FILL_BIAS } fill_kind;

/* Generates one tensor of `rows` x `cols` values and hands it to the writer
 * (which copies it). Matrices are converted to wtype row by row, so only the
 * output buffer and one f32 row are held at a time. */
static sl_status add_random(sl_gguf_writer *w, const sl_synth_params *p, const char *name,
                            fill_kind kind, int64_t cols, int64_t rows, sl_error *err) {
    uint32_t type = kind == FILL_MATRIX ? matrix_type(p, name) : SL_TYPE_F32;
    size_t row_bytes = sl_row_size(type, cols);
    float *row = malloc((size_t)cols * sizeof *row);
    unsigned char *out = malloc(row_bytes * (size_t)rows);
    if (!row || !out) {
        free(row);
        free(out);
        return sl_fail(err, SL_ERR_NOMEM, "synth: out of memory for tensor %s (%lld x %lld)",
                       name, (long long)rows, (long long)cols);
    }
    const sl_type_traits *tt = sl_type_get(type);
    uint64_t s = tensor_seed(p->seed, name);
    /* std 1/sqrt(fan_in) keeps each product's output at unit scale. */
    float scale = kind == FILL_MATRIX ? 1.0f / sqrtf((float)cols) : 0.1f;
    float offset = kind == FILL_NORM ? 1.0f : 0.0f;
    for (int64_t r = 0; r < rows; r++) {
        for (int64_t c = 0; c < cols; c++) row[c] = offset + scale * rng_normal(&s);
        unsigned char *dst = out + (size_t)r * row_bytes;
        if (type == SL_TYPE_F32) memcpy(dst, row, row_bytes);
        else tt->from_float(dst, row, cols);
    }
    uint64_t ne[2] = {(uint64_t)cols, (uint64_t)rows};
    sl_status st = sl_gguf_writer_add_tensor(w, name, type, rows > 1 ? 2 : 1, ne, out,
                                             row_bytes * (uint64_t)rows, err);
    free(row);
    free(out);
    return st;
}

/* Llama-3's per-frequency divisors (its conversion script's formula with
 * factor 8, low/high frequency factors 1 and 4, n_ctx as the original
 * context): high frequencies stay, low ones are slowed 8x, smooth between. */
static sl_status add_rope_freqs(sl_gguf_writer *w, const sl_synth_params *p, int n_rot,
                                float base, sl_error *err) {
    int n = n_rot / 2;
    float *f = malloc((size_t)n * sizeof *f);
    if (!f) return sl_fail(err, SL_ERR_NOMEM, "out of memory");
    const double factor = 8.0, low = 1.0, high = 4.0, old_ctx = p->n_ctx;
    for (int i = 0; i < n; i++) {
        double freq = pow(base, -2.0 * i / n_rot);
        double wavelen = 2.0 * M_PI / freq;
        if (wavelen < old_ctx / high) f[i] = 1.0f;
        else if (wavelen > old_ctx / low) f[i] = (float)factor;
        else {
            double smooth = (old_ctx / wavelen - low) / (high - low);
            f[i] = (float)(1.0 / ((1.0 - smooth) / factor + smooth));
        }
    }
    uint64_t ne[1] = {(uint64_t)n};
    sl_status st = sl_gguf_writer_add_tensor(w, TN_ROPE_FREQS, SL_TYPE_F32, 1, ne, f,
                                             4 * (uint64_t)n, err);
    free(f);
    return st;
}

static sl_status add_all_tensors(sl_gguf_writer *w, const sl_synth_params *p, int n_vocab,
                                 int n_rot, float base, sl_error *err) {
    int64_t E = p->n_embd, F = p->n_ff, D = p->n_embd / p->n_head, KV = D * p->n_head_kv;
    char name[96];
    sl_status st = add_random(w, p, TN_TOKEN_EMBD, FILL_MATRIX, E, n_vocab, err);
    if (st == SL_OK && !p->tied_output)
        st = add_random(w, p, TN_OUTPUT, FILL_MATRIX, E, n_vocab, err);
    if (st == SL_OK) st = add_random(w, p, TN_OUTPUT_NORM, FILL_NORM, E, 1, err);
    if (st == SL_OK && p->rope_freqs) st = add_rope_freqs(w, p, n_rot, base, err);
    for (int l = 0; l < p->n_layer && st == SL_OK; l++) {
#define T(fmt, kind, cols, rows)                                  \
    do {                                                          \
        if (st != SL_OK) break;                                   \
        snprintf(name, sizeof name, fmt, l);                      \
        st = add_random(w, p, name, kind, cols, rows, err);       \
    } while (0)
        T(TN_ATTN_NORM, FILL_NORM, E, 1);
        T(TN_ATTN_Q, FILL_MATRIX, E, E);
        T(TN_ATTN_K, FILL_MATRIX, E, KV);
        T(TN_ATTN_V, FILL_MATRIX, E, KV);
        if (p->qkv_bias || !strcmp(p->arch, "qwen2")) {
            T(TN_ATTN_Q_BIAS, FILL_BIAS, E, 1);
            T(TN_ATTN_K_BIAS, FILL_BIAS, KV, 1);
            T(TN_ATTN_V_BIAS, FILL_BIAS, KV, 1);
        }
        T(TN_ATTN_OUT, FILL_MATRIX, E, E);
        T(TN_FFN_NORM, FILL_NORM, E, 1);
        T(TN_FFN_GATE, FILL_MATRIX, E, F);
        T(TN_FFN_DOWN, FILL_MATRIX, F, E);
        T(TN_FFN_UP, FILL_MATRIX, E, F);
#undef T
    }
    return st;
}

/* ---- metadata ----------------------------------------------------------------- */

static sl_status set_hparams(sl_gguf_writer *w, const sl_synth_params *p, int n_vocab, int n_rot,
                             float base) {
    char key[128];
    sl_status st = SL_OK;
    const char *a = p->arch;
#define SET(call) do { if (st == SL_OK) st = (call); } while (0)
#define K(fmt) (snprintf(key, sizeof key, fmt, a), key)
    SET(sl_gguf_writer_set_str(w, KEY_ARCH, a));
    SET(sl_gguf_writer_set_str(w, KEY_NAME, p->name ? p->name : "synth"));
    /* llama.cpp names the _M mixes by their own file types (Q4_K_M 15, Q5_K_M 17). */
    int ftype = file_type_of(p->wtype);
    if (p->mix_m && p->wtype == SL_TYPE_Q4_K) ftype = 15;
    if (p->mix_m && p->wtype == SL_TYPE_Q5_K) ftype = 17;
    SET(sl_gguf_writer_set_u32(w, KEY_FILE_TYPE, (uint32_t)ftype));
    if (p->wtype != SL_TYPE_F32 && p->wtype != SL_TYPE_F16 && p->wtype != SL_TYPE_BF16)
        SET(sl_gguf_writer_set_u32(w, KEY_QUANT_VERSION, 2));
    SET(sl_gguf_writer_set_u32(w, K(KEY_CTX_LEN), (uint32_t)p->n_ctx));
    SET(sl_gguf_writer_set_u32(w, K(KEY_EMBD), (uint32_t)p->n_embd));
    SET(sl_gguf_writer_set_u32(w, K(KEY_BLOCKS), (uint32_t)p->n_layer));
    SET(sl_gguf_writer_set_u32(w, K(KEY_FF), (uint32_t)p->n_ff));
    SET(sl_gguf_writer_set_u32(w, K(KEY_HEADS), (uint32_t)p->n_head));
    SET(sl_gguf_writer_set_u32(w, K(KEY_HEADS_KV), (uint32_t)p->n_head_kv));
    SET(sl_gguf_writer_set_u32(w, K(KEY_ROPE_DIM), (uint32_t)n_rot));
    SET(sl_gguf_writer_set_f32(w, K(KEY_ROPE_BASE), base));
    SET(sl_gguf_writer_set_f32(w, K(KEY_RMS_EPS), p->rms_eps > 0 ? p->rms_eps : 1e-5f));
    SET(sl_gguf_writer_set_u32(w, K(KEY_VOCAB_SIZE), (uint32_t)n_vocab));
    if (p->rope_scale_linear > 1.0f) {
        SET(sl_gguf_writer_set_str(w, K(KEY_ROPE_SCALING_TYPE), "linear"));
        SET(sl_gguf_writer_set_f32(w, K(KEY_ROPE_SCALING_FACTOR), p->rope_scale_linear));
    }
#undef K
#undef SET
    return st;
}

static sl_status set_synth_vocab(sl_gguf_writer *w, const vocab *v) {
    sl_status st = SL_OK;
#define SET(call) do { if (st == SL_OK) st = (call); } while (0)
    SET(sl_write_spm_vocab_keys(w, (const char *const *)v->text, NULL, v->score, v->type,
                                (uint64_t)v->n));
#undef SET
    return st;
}

/* Copies the tokenizer.* keys of a vocab GGUF; *n_vocab gets its token count. */
static sl_status copy_vocab(sl_gguf_writer *w, const sl_gguf *g, int *n_vocab, sl_error *err) {
    const sl_gguf_kv *toks;
    sl_status st = sl_gguf_get_arr(g, KEY_TOK_TOKENS, SL_GGUF_STRING, &toks, err);
    if (st != SL_OK)
        return sl_fail(err, st == SL_ERR_NOT_FOUND ? SL_ERR_FORMAT : st,
                       "%s: no %s string array: not a vocab GGUF", g->path, KEY_TOK_TOKENS);
    if (toks->arr_n < 1 || toks->arr_n > (1u << 22))
        return sl_fail(err, SL_ERR_FORMAT, "%s: %s has %llu tokens, expected 1..%u", g->path,
                       KEY_TOK_TOKENS, (unsigned long long)toks->arr_n, 1u << 22);
    *n_vocab = (int)toks->arr_n;
    /* The writer copies everything except a skip list: list every key that
     * is not tokenizer.*. */
    char **skip = calloc(g->n_kv + 1, sizeof *skip);
    if (!skip) return sl_fail(err, SL_ERR_NOMEM, "out of memory");
    size_t n = 0;
    for (uint64_t i = 0; i < g->n_kv && st == SL_OK; i++) {
        sl_gguf_str k = g->kv[i].key;
        if (k.len >= 10 && memcmp(k.ptr, "tokenizer.", 10) == 0) continue;
        skip[n] = strndup(k.ptr, k.len);
        if (!skip[n]) st = sl_fail(err, SL_ERR_NOMEM, "out of memory");
        else n++;
    }
    if (st == SL_OK) st = sl_gguf_writer_copy_kvs(w, g, (const char *const *)skip, err);
    for (size_t i = 0; i < n; i++) free(skip[i]);
    free(skip);
    return st;
}

sl_status sl_synth_write(const sl_synth_params *p, const char *path, sl_error *err) {
    if (!p || !path) return sl_fail(err, SL_ERR_INVALID_ARG, "synth: params and path are required");
    sl_gguf *vg = NULL;
    sl_gguf_writer *w = NULL;
    vocab v = {0};
    int n_vocab = p->n_vocab;
    sl_status st = check_params(p, p->vocab_path != NULL, err);
    if (st == SL_OK && p->vocab_path) st = sl_gguf_open(&vg, p->vocab_path, err);
    if (st == SL_OK) st = sl_gguf_writer_create(&w, err);
    if (st == SL_OK && vg) st = copy_vocab(w, vg, &n_vocab, err);
    if (st == SL_OK && !vg) st = synth_vocab(&v, n_vocab, err);
    if (st == SL_OK && !vg) {
        st = set_synth_vocab(w, &v);
        if (st != SL_OK) sl_fail(err, st, "%s: cannot store the synthetic vocab", path);
    }
    int n_rot = p->n_rot > 0 ? p->n_rot : p->n_embd / p->n_head;
    float base = p->rope_freq_base > 0 ? p->rope_freq_base : 10000.0f;
    if (st == SL_OK) {
        st = set_hparams(w, p, n_vocab, n_rot, base);
        if (st != SL_OK) sl_fail(err, st, "%s: cannot store hyper-parameters", path);
    }
    if (st == SL_OK) st = add_all_tensors(w, p, n_vocab, n_rot, base, err);
    if (st == SL_OK) st = sl_gguf_writer_write(w, path, err);
    sl_gguf_writer_free(w);
    sl_gguf_close(vg);
    vocab_free(&v);
    return st;
}
