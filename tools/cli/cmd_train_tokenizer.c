/* cmd_train_tokenizer.c — `streamllm train-tokenizer`: a byte-level BPE
 * vocabulary trained on the corpus, written as a vocab-only GGUF that
 * `streamllm train --tokenizer` and the engine's tokenizer read. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "cli_check.h"
#include "core/sys_stats.h"
#include "train/bpe.h"
#include "train/corpus.h"

static void usage(void) {
    printf("usage: streamllm train-tokenizer --corpus FILE [--corpus FILE ...] --vocab N -o OUT.gguf\n\n"
           "Trains a byte-level BPE vocabulary (GPT-2 style: tokenizer.ggml.model=gpt2,\n"
           "pre=gpt-2) on the training part of the corpus: N tokens = 256 bytes + merges +\n"
           "<|endoftext|> + <|sink|> (the learnable sink token of `train --sink-token`).\n\n"
           "  --corpus FILE   a UTF-8 text file (repeatable; bare file arguments work too)\n"
           "  --vocab N       vocabulary size (default 2048, >= %d)\n"
           "  -o FILE         output GGUF (vocab only)\n"
           "  --holdout F     leave the last fraction F of each file out, as `train` does\n"
           "                  (default 0.05), so held-out text never shapes the vocabulary\n"
           "  --no-strip      keep Project Gutenberg headers and licence footers\n",
           SL_BPE_MIN_VOCAB);
}

static void progress(void *user, int done, int total) {
    (void)user;
    if (isatty(2)) fprintf(stderr, "\rtrain-tokenizer: %d / %d tokens", done, total);
}

int cmd_train_tokenizer(int argc, char **argv) {
    const char **files = calloc((size_t)argc + 1, sizeof *files);
    int n_files = 0;
    long long vocab = 2048;
    const char *out = NULL;
    double holdout = 0.05;
    bool strip = true;
    if (!files) cli_die("out of memory");
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage();
            free(files);
            return 0;
        } else if (!strcmp(a, "--corpus")) files[n_files++] = cli_value(argc, argv, &i);
        else if (!strcmp(a, "--vocab")) vocab = cli_parse_int(a, cli_value(argc, argv, &i), SL_BPE_MIN_VOCAB, 1 << 20);
        else if (!strcmp(a, "-o") || !strcmp(a, "--output")) out = cli_value(argc, argv, &i);
        else if (!strcmp(a, "--holdout")) holdout = cli_parse_float(a, cli_value(argc, argv, &i), 0, 0.5);
        else if (!strcmp(a, "--no-strip")) strip = false;
        else if (a[0] == '-' && a[1]) cli_die("unknown flag '%s' (see streamllm train-tokenizer --help)", a);
        else files[n_files++] = a;
    }
    if (!n_files) cli_die("no corpus: pass --corpus FILE");
    if (!out) cli_die("no output: pass -o FILE.gguf");
    cli_check_writable("-o", out, NULL); /* before the work, not after it */
    sl_error err;
    sl_corpus c;
    cli_check(sl_corpus_load(&c, files, n_files, holdout, strip, &err), &err);
    double t0 = sl_now_s();
    sl_bpe b;
    const char **texts = calloc((size_t)c.n, sizeof *texts);
    if (!texts) cli_die("out of memory");
    for (int i = 0; i < c.n; i++) texts[i] = c.train[i];
    sl_status st = sl_bpe_train(&b, texts, c.n_train, c.n, (int)vocab, progress, NULL, &err);
    if (isatty(2)) fputc('\n', stderr);
    free(texts);
    if (st != SL_OK) {
        sl_corpus_free(&c);
        cli_check(st, &err);
    }
    size_t bytes = 0;
    for (int i = 0; i < c.n; i++) bytes += c.n_train[i];
    st = sl_bpe_write(&b, out, &err);
    if (st == SL_OK) {
        /* how well it compresses the training text */
        size_t n_tok = 0;
        for (int i = 0; i < c.n && st == SL_OK; i++) {
            int32_t *ids;
            size_t n;
            st = sl_bpe_encode(&b, c.train[i], c.n_train[i], &ids, &n, &err);
            if (st == SL_OK) n_tok += n, free(ids);
        }
        if (st == SL_OK)
            fprintf(stderr, "train-tokenizer: %d tokens (%d merges) from %zu bytes in %d file%s, %.1fs; "
                    "%.2f bytes/token on the training text; wrote %s\n", b.n_vocab, b.n_merges, bytes,
                    c.n, c.n == 1 ? "" : "s", sl_now_s() - t0, (double)bytes / (double)(n_tok ? n_tok : 1), out);
    }
    sl_bpe_free(&b);
    sl_corpus_free(&c);
    free(files);
    cli_check(st, &err);
    return 0;
}
