/* cmd_tokenize.c — `streamllm tokenize -m FILE (-p TEXT | -f FILE) [--ids]
 * [--no-bos] [--special]`: the token ids and pieces of a text.
 *
 * Only the tokenizer is built (from the GGUF's tokenizer.ggml.* keys), so
 * vocab-only files such as llama.cpp's ggml-vocab-*.gguf work and no
 * weights are read. An empty text is allowed: it prints only the BOS token
 * (or nothing with --no-bos, or when the file adds none). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "gguf/gguf.h"
#include "tokenizer/tokenizer.h"

static void usage(FILE *fp) {
    fprintf(fp,
            "usage: streamllm tokenize -m FILE.gguf (-p TEXT | -f FILE) [--ids] [--no-bos] [--special]\n"
            "\n"
            "Prints one line per token: the id, a tab, then the piece it decodes to in\n"
            "double quotes (\\n \\t \\r \\\" \\\\ escaped, other control bytes and bytes of an\n"
            "incomplete UTF-8 character as \\xNN). Control tokens such as <s> print their\n"
            "vocabulary text without quotes, since they decode to nothing.\n"
            "\n"
            "  -m, --model PATH   GGUF file with a tokenizer (a vocab-only file is enough)\n"
            "  -p, --prompt TEXT  the text to tokenize (may be empty: then only BOS)\n"
            "  -f, --file PATH    read the text from a file ('-' for stdin)\n"
            "  --ids              print only the ids, as [1, 15043, 3186]\n"
            "  --no-bos           do not prepend BOS (default: as the file's add_bos_token says)\n"
            "  --special          match control-token text such as <|im_end|> in the input\n");
}

/* Valid UTF-8 sequence length at s (n bytes left), 0 when invalid. A piece
 * may hold half a character (byte tokens): those bytes print as \xNN. */
static size_t utf8_len(const unsigned char *s, size_t n) {
    char tmp[4];
    size_t len = s[0] < 0x80 ? 1 : s[0] >= 0xF0 ? 4 : s[0] >= 0xE0 ? 3 : 2;
    if (len > n) return 0;
    memcpy(tmp, s, len);
    return sl_utf8_validate(tmp, len) == (size_t)-1 ? len : 0;
}

/* Token bytes are untrusted: escaped, optionally inside double quotes. */
static void print_escaped(FILE *fp, const char *p, size_t n, bool quotes) {
    const unsigned char *s = (const unsigned char *)p;
    if (quotes) fputc('"', fp);
    for (size_t i = 0; i < n;) {
        unsigned char c = s[i];
        if (c == '"' || c == '\\') {
            fputc('\\', fp);
            fputc(c, fp);
        } else if (c == '\n') {
            fputs("\\n", fp);
        } else if (c == '\t') {
            fputs("\\t", fp);
        } else if (c == '\r') {
            fputs("\\r", fp);
        } else if (c < 0x20 || c == 0x7F) {
            fprintf(fp, "\\x%02x", c);
        } else if (c < 0x80) {
            fputc(c, fp);
        } else {
            size_t len = utf8_len(s + i, n - i);
            if (len == 0) {
                fprintf(fp, "\\x%02x", c);
            } else {
                fwrite(s + i, 1, len, fp);
                i += len;
                continue;
            }
        }
        i++;
    }
    if (quotes) fputc('"', fp);
}

int cmd_tokenize(int argc, char **argv) {
    const char *model = NULL, *prompt = NULL, *file = NULL;
    bool ids_only = false, no_bos = false, special = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "-m") || !strcmp(a, "--model")) {
            model = cli_value(argc, argv, &i);
        } else if (!strcmp(a, "-p") || !strcmp(a, "--prompt")) {
            prompt = cli_value(argc, argv, &i);
        } else if (!strcmp(a, "-f") || !strcmp(a, "--file")) {
            file = cli_value(argc, argv, &i);
        } else if (!strcmp(a, "--ids")) {
            ids_only = true;
        } else if (!strcmp(a, "--no-bos")) {
            no_bos = true;
        } else if (!strcmp(a, "--special")) {
            special = true;
        } else {
            cli_die("unknown flag '%s' (streamllm tokenize --help lists them)", a);
        }
    }
    if (!model) cli_die("-m FILE.gguf is required");
    if (!prompt && !file) cli_die("give the text with -p TEXT or -f FILE");
    if (prompt && file) cli_die("-p and -f cannot be used together");

    size_t len;
    char *text = NULL;
    if (file) {
        text = cli_read_file(file, &len);
    } else {
        len = strlen(prompt);
    }
    size_t bad = sl_utf8_validate(text ? text : prompt, len);
    if (bad != (size_t)-1)
        cli_die("%s: invalid UTF-8 at byte offset %zu (byte 0x%02X)", file ? file : "-p", bad,
                (unsigned char)(text ? text : prompt)[bad]);
    sl_error err = {0};
    sl_gguf *g = NULL;
    cli_check(sl_gguf_open(&g, model, &err), &err);
    sl_tokenizer *t = NULL;
    cli_check(sl_tokenizer_load(&t, g, &err), &err);
    int32_t *ids = NULL;
    size_t n = 0;
    bool add_bos = !no_bos && sl_tokenizer_add_bos(t);
    cli_check(sl_tokenizer_encode(t, text ? text : prompt, len, add_bos, special, &ids, &n, &err), &err);

    if (ids_only) {
        fputc('[', stdout);
        for (size_t i = 0; i < n; i++) printf(i ? ", %d" : "%d", ids[i]);
        fputs("]\n", stdout);
    } else {
        for (size_t i = 0; i < n; i++) {
            int ty = sl_tokenizer_token_type(t, ids[i]);
            printf("%d\t", ids[i]);
            if (ty == SL_TOKEN_CONTROL || ty == SL_TOKEN_UNKNOWN || ty == SL_TOKEN_UNUSED) {
                const char *tx = sl_tokenizer_token_text(t, ids[i]);
                print_escaped(stdout, tx, strlen(tx), false);
            } else {
                size_t pl;
                const char *p = sl_tokenizer_piece(t, ids[i], &pl);
                print_escaped(stdout, p, pl, true);
            }
            fputc('\n', stdout);
        }
    }
    free(ids);
    free(text);
    sl_tokenizer_free(t);
    sl_gguf_close(g);
    if (fflush(stdout) != 0) cli_die("cannot write the output");
    return 0;
}
