/* cmd_convert.c — `streamllm convert --from-llama2c MODEL.bin --tokenizer TOK.bin -o OUT.gguf`:
 * a llama2.c checkpoint (v0 legacy or v1 fp32) plus its tok.bin become one
 * llama-architecture GGUF that every other subcommand can load. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "cli_check.h"
#include "model/llama2c.h"

static void usage(FILE *fp) {
    fprintf(fp,
            "usage: streamllm convert --from-llama2c MODEL.bin --tokenizer TOK.bin -o OUT.gguf\n"
            "\n"
            "Converts a karpathy/llama2.c checkpoint (legacy v0 or v1 fp32) and its tokenizer\n"
            "(tok.bin) into a GGUF file (architecture llama, f32 weights, SentencePiece vocab).\n"
            "\n"
            "  --from-llama2c PATH  the checkpoint, e.g. stories260K.bin\n"
            "  --tokenizer PATH     the llama2.c tokenizer, e.g. tok512.bin\n"
            "  -o, --output PATH    the GGUF file to write\n");
}

int cmd_convert(int argc, char **argv) {
    const char *model = NULL, *tok = NULL, *out = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--from-llama2c")) {
            model = cli_value(argc, argv, &i);
        } else if (!strcmp(a, "--tokenizer") || !strcmp(a, "-z")) {
            tok = cli_value(argc, argv, &i);
        } else if (!strcmp(a, "-o") || !strcmp(a, "--output")) {
            out = cli_value(argc, argv, &i);
        } else {
            cli_die("unknown flag '%s' (see streamllm convert --help)", a);
        }
    }
    if (!model) cli_die("--from-llama2c MODEL.bin is required (the only source format so far)");
    if (!tok) cli_die("--tokenizer TOK.bin is required (llama2.c checkpoints carry no vocab)");
    if (!out) cli_die("-o OUT.gguf is required");
    cli_check_writable("-o", out, NULL); /* before the work, not after it */

    sl_llama2c_config c;
    sl_error err = {0};
    cli_check(sl_llama2c_read_config(model, &c, &err), &err);
    cli_check(sl_llama2c_convert(model, tok, out, &err), &err);
    fprintf(stderr,
            "wrote %s: llama2.c v%d, dim %d, hidden %d, %d layers, %d heads (%d kv), vocab %d, "
            "ctx %d, %s output\n",
            out, c.version, c.dim, c.hidden_dim, c.n_layers, c.n_heads, c.n_kv_heads,
            c.vocab_size, c.seq_len, c.shared_classifier ? "tied" : "separate");
    return 0;
}
