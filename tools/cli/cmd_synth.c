/* cmd_synth.c — `streamllm synth`: writes a random-weight GGUF model in a
 * real shape (src/model/synth.h), for speed work and tests when no real
 * model of that size can be downloaded. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "cli.h"
#include "cli_check.h"
#include "model/synth.h"
#include "tensor/quant.h"

static void usage(FILE *fp) {
    fprintf(fp,
            "usage: streamllm synth --shape NAME [--arch llama] [--type T] [--output-type T]\n"
            "                       [--vocab VOCAB.gguf] [--seed N] -o FILE.gguf\n"
            "\n"
            "Writes a model with random weights (std 1/sqrt(fan_in), so activations stay\n"
            "O(1)) in the shape of a real model. Its text is gibberish; its speed and\n"
            "memory are those of the real model.\n"
            "\n"
            "  --shape NAME        tinyllama-1.1b | smol-135m | 134m | stories260k | tiny\n"
            "  --arch A            llama (default) | qwen2\n"
            "  --type T            matrices: f32 (default) f16 bf16 q8_0 q4_0 q4_1 q5_0 q5_1\n"
            "                      q4_k q5_k q6_k, or llama.cpp's mixes q4_k_m q5_k_m (q6_k\n"
            "                      for the output and for attn_v/ffn_down in some layers)\n"
            "  --output-type T     type of output.weight (the embedding when tied)\n"
            "  --vocab FILE        copy the tokenizer of a vocab GGUF (its size sets n_vocab)\n"
            "  --seed N            weights depend only on the seed and tensor names (default 1)\n"
            "  -o, --output FILE   where to write\n"
            "  --layers N, --embd N, --ff N, --heads N, --heads-kv N, --vocab-size N, --ctx N\n"
            "                      override one dimension of the shape\n");
}

/* "q4_k_m" -> q4_k with the mix; other names through the type table. */
static int parse_type(const char *flag, const char *v, bool *mix_m) {
    char base[16];
    size_t n = strlen(v);
    if (mix_m && n == 6 && !strncasecmp(v + 4, "_m", 2)) {
        memcpy(base, v, 4);
        base[4] = 0;
        int t = sl_type_from_name(base);
        if (t == SL_TYPE_Q4_K || t == SL_TYPE_Q5_K) {
            *mix_m = true;
            return t;
        }
    }
    int t = sl_type_from_name(v);
    const sl_type_traits *tr = t >= 0 ? sl_type_get((uint32_t)t) : NULL;
    if (!tr || !tr->supported || (t != SL_TYPE_F32 && !tr->from_float))
        cli_die("%s: '%s' is not one of f32, f16, bf16, q8_0, q4_0, q4_1, q5_0, q5_1, q4_k, q5_k, "
                "q6_k%s",
                flag, v, mix_m ? ", q4_k_m, q5_k_m" : "");
    return t;
}

int cmd_synth(int argc, char **argv) {
    const char *shape = NULL, *arch = "llama", *out = NULL, *vocab = NULL;
    const char *type = NULL, *out_type = NULL;
    long long seed = 1;
    /* overrides of the preset's dimensions; 0 = keep */
    int layers = 0, embd = 0, ff = 0, heads = 0, heads_kv = 0, vocab_size = 0, ctx = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--shape")) shape = cli_value(argc, argv, &i);
        else if (!strcmp(a, "--arch")) arch = cli_value(argc, argv, &i);
        else if (!strcmp(a, "--type")) type = cli_value(argc, argv, &i);
        else if (!strcmp(a, "--output-type")) out_type = cli_value(argc, argv, &i);
        else if (!strcmp(a, "--vocab")) vocab = cli_value(argc, argv, &i);
        else if (!strcmp(a, "--seed")) seed = cli_parse_int(a, cli_value(argc, argv, &i), 0, INT64_MAX);
        else if (!strcmp(a, "-o") || !strcmp(a, "--output")) out = cli_value(argc, argv, &i);
        else if (!strcmp(a, "--layers")) layers = (int)cli_parse_int(a, cli_value(argc, argv, &i), 1, 1024);
        else if (!strcmp(a, "--embd")) embd = (int)cli_parse_int(a, cli_value(argc, argv, &i), 2, 1 << 16);
        else if (!strcmp(a, "--ff")) ff = (int)cli_parse_int(a, cli_value(argc, argv, &i), 1, 1 << 18);
        else if (!strcmp(a, "--heads")) heads = (int)cli_parse_int(a, cli_value(argc, argv, &i), 1, 4096);
        else if (!strcmp(a, "--heads-kv")) heads_kv = (int)cli_parse_int(a, cli_value(argc, argv, &i), 1, 4096);
        else if (!strcmp(a, "--vocab-size")) vocab_size = (int)cli_parse_int(a, cli_value(argc, argv, &i), 259, 1 << 22);
        else if (!strcmp(a, "--ctx")) ctx = (int)cli_parse_int(a, cli_value(argc, argv, &i), 1, 1 << 24);
        else cli_die("unknown flag '%s' (see streamllm synth --help)", a);
    }
    if (!shape) cli_die("--shape is required (tinyllama-1.1b, smol-135m, 134m, stories260k, tiny)");
    if (!out) cli_die("-o FILE is required");
    cli_check_writable("-o", out, NULL); /* before the work, not after it */
    if (strcmp(arch, "llama") && strcmp(arch, "qwen2"))
        cli_die("--arch: '%s' is not one of llama, qwen2", arch);

    sl_synth_params p;
    sl_error err = {0};
    cli_check(sl_synth_preset(&p, shape, &err), &err);
    p.arch = arch;
    if (layers) p.n_layer = layers;
    if (embd) p.n_embd = embd;
    if (ff) p.n_ff = ff;
    if (heads) p.n_head = heads;
    if (heads_kv) p.n_head_kv = heads_kv;
    if (vocab_size) p.n_vocab = vocab_size;
    if (ctx) p.n_ctx = ctx;
    if (heads && !heads_kv && p.n_head_kv > p.n_head) p.n_head_kv = p.n_head;
    if (!strcmp(arch, "qwen2")) p.qkv_bias = true;
    p.seed = (uint64_t)seed;
    p.vocab_path = vocab;
    if (type) p.wtype = (uint32_t)parse_type("--type", type, &p.mix_m);
    if (out_type) p.output_type = parse_type("--output-type", out_type, NULL);
    cli_check(sl_synth_write(&p, out, &err), &err);
    return 0;
}
