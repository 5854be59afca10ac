/* main.c — `streamllm <command> [flags]`: dispatch to one subcommand. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "commands.h"

typedef struct {
    const char *name;
    int (*fn)(int, char **);
    const char *summary;
} command;

static const command COMMANDS[] = {
    {"generate", cmd_generate, "generate text from a prompt (streaming cache by default)"},
    {"info", cmd_info, "print a GGUF file's metadata and tensors"},
    {"tokenize", cmd_tokenize, "print the token ids and pieces of a text"},
    {"convert", cmd_convert, "convert a llama2.c checkpoint to GGUF"},
    {"quantize", cmd_quantize, "re-encode a GGUF model's weights (f16, q8_0, q4_0, ...)"},
    {"ppl", cmd_ppl, "long-text perplexity under each cache policy"},
    {"attn", cmd_attn, "attention-sink analysis: where each layer's attention goes"},
    {"bench", cmd_bench, "prefill/decode speed, kernels, streaming at depth"},
    {"synth", cmd_synth, "write a random-weight GGUF in a real model shape"},
    {"train", cmd_train, "train a small llama model, optionally with a sink token"},
    {"train-tokenizer", cmd_train_tokenizer, "train a byte-level BPE vocabulary on a corpus"},
    {"chat", cmd_chat, "endless chat in constant memory"},
};

static void usage(FILE *fp) {
    fprintf(fp, "streamllm %s — StreamingLLM inference: attention sinks + rolling window\n\n"
                "usage: streamllm <command> [flags]   (streamllm <command> --help)\n\ncommands:\n",
            SL_VERSION);
    for (size_t i = 0; i < sizeof COMMANDS / sizeof COMMANDS[0]; i++)
        if (COMMANDS[i].fn) fprintf(fp, "  %-16s %s\n", COMMANDS[i].name, COMMANDS[i].summary);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return 1;
    }
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("streamllm %s\n", SL_VERSION);
        return 0;
    }
    for (size_t i = 0; i < sizeof COMMANDS / sizeof COMMANDS[0]; i++) {
        if (strcmp(argv[1], COMMANDS[i].name) != 0) continue;
        if (!COMMANDS[i].fn) {
            fprintf(stderr, "streamllm: error: command '%s' is not part of this build\n", argv[1]);
            return 1;
        }
        cli_cmd = COMMANDS[i].name;
        return COMMANDS[i].fn(argc - 1, argv + 1);
    }
    fprintf(stderr, "streamllm: error: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 1;
}
