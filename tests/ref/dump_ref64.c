/* dump_ref64.c — writes small synthetic models and the float64 reference's
 * logits for them, for tests/ref/torch_check.py to recompute with PyTorch.
 *
 * usage: dump_ref64 OUT_DIR
 * Writes OUT_DIR/manifest.txt (one case per line: name start recent dense
 * zero_sink), OUT_DIR/tokens.txt, and per case NAME.gguf + NAME.logits
 * (raw little-endian f64, (n_tokens, n_vocab)). */
#include <stdio.h>
#include <string.h>

#include "model/synth.h"
#include "ref_llama64.h"

static const int TOKENS[] = {1, 299, 17, 42, 5, 260, 261, 99, 3, 17, 17, 200, 7, 8, 150, 151};
#define N_TOK ((int)(sizeof TOKENS / sizeof TOKENS[0]))

typedef struct {
    const char *name;
    const char *arch;
    int n_layer, n_head_kv, n_rot;
    bool tied, bias, freqs;
    float scale, base;
    ref64_policy pol;
} dump_case;

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: dump_ref64 OUT_DIR\n");
        return 2;
    }
    const char *dir = argv[1];
    ref64_policy dense = ref64_dense(), s25 = ref64_streaming(2, 5), s25z = s25;
    s25z.zero_sink = true;
    ref64_policy densez = dense;
    densez.zero_sink = true;
    const dump_case cases[] = {
        {"llama-gqa", "llama", 2, 2, 0, true, false, false, 0, 0, dense},
        {"llama-mha-untied", "llama", 2, 4, 0, false, false, false, 0, 0, dense},
        {"llama-mqa", "llama", 2, 1, 0, true, false, false, 0, 0, dense},
        {"qwen2-bias", "qwen2", 2, 2, 0, false, true, false, 0, 0, dense},
        {"llama-partial-rope", "llama", 2, 2, 8, true, false, false, 0, 0, dense},
        {"qwen2-partial-rope", "qwen2", 2, 2, 6, true, true, false, 0, 0, dense},
        {"llama-rope-freqs", "llama", 2, 2, 0, true, false, true, 0, 0, dense},
        {"llama-linear4", "llama", 2, 2, 0, true, false, false, 4, 0, dense},
        {"llama-theta5e5", "llama", 2, 2, 0, true, false, false, 0, 500000, dense},
        {"llama-zero-sink", "llama", 2, 2, 0, true, false, false, 0, 0, densez},
        {"llama-stream-2-5", "llama", 2, 2, 0, true, false, false, 0, 0, s25},
        {"qwen2-stream-2-5-zs", "qwen2", 3, 1, 8, false, true, true, 2, 0, s25z},
    };
    char path[1024];
    snprintf(path, sizeof path, "%s/tokens.txt", dir);
    FILE *tf = fopen(path, "w");
    snprintf(path, sizeof path, "%s/manifest.txt", dir);
    FILE *mf = fopen(path, "w");
    if (!tf || !mf) {
        perror(path);
        return 1;
    }
    for (int i = 0; i < N_TOK; i++) fprintf(tf, "%d\n", TOKENS[i]);
    fclose(tf);
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const dump_case *k = &cases[c];
        sl_synth_params p;
        sl_synth_params_default(&p);
        p.arch = k->arch;
        p.n_layer = k->n_layer;
        p.n_head_kv = k->n_head_kv;
        p.n_rot = k->n_rot;
        p.tied_output = k->tied;
        p.qkv_bias = k->bias;
        p.rope_freqs = k->freqs;
        p.rope_scale_linear = k->scale;
        p.rope_freq_base = k->base;
        p.seed = 100 + c;
        snprintf(path, sizeof path, "%s/%s.gguf", dir, k->name);
        sl_error err = {0};
        if (sl_synth_write(&p, path, &err) != SL_OK) {
            fprintf(stderr, "%s\n", err.msg);
            return 1;
        }
        ref64 *r = ref64_load(path, k->pol);
        if (!r) return 1;
        snprintf(path, sizeof path, "%s/%s.logits", dir, k->name);
        FILE *lf = fopen(path, "wb");
        double *logits = malloc((size_t)r->n_vocab * sizeof *logits);
        for (int i = 0; i < N_TOK && lf && logits; i++) {
            if (ref64_feed(r, TOKENS[i], logits) != 0) return 1;
            fwrite(logits, sizeof *logits, (size_t)r->n_vocab, lf);
        }
        if (lf) fclose(lf);
        free(logits);
        fprintf(mf, "%s %d %d %d %d\n", k->name, k->pol.start, k->pol.recent, k->pol.dense,
                k->pol.zero_sink);
        ref64_free(r);
    }
    fclose(mf);
    return 0;
}
