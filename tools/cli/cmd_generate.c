/* cmd_generate.c — `streamllm generate`: prompt in, text out, streamed.
 * stdout carries the prompt followed by the generated text and nothing else
 * (with --json, one stats object follows the text). Stats go to stderr. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_check.h"
#include "cli_progress.h"
#include "cli_signal.h"
#include "cli_flags.h"
#include "core/sys_stats.h"
#include "tokenizer/tokenizer.h"

/* Library internals the CLI may use (same tree). */
#include "model/model.h"
#include "session/session.h"

static void usage(void) {
    printf("usage: streamllm generate [-m FILE.gguf] (-p TEXT | -f FILE | -p -) [-n N] [flags]\n\n"
           "Prints the prompt followed by the generated text. Without -m, the embedded\n"
           "default model (models/default.gguf) is used. The streaming cache keeps the\n"
           "first --sinks tokens plus a rolling --window, so -n can be as large as you\n"
           "like at constant memory; text that leaves the window is forgotten.\n\n"
           "  -m, --model FILE    GGUF model (a llama2.c .bin: convert it first, see convert)\n"
           "  -p, --prompt TEXT   prompt text; -p - reads it from stdin\n"
           "  -f, --file FILE     read the prompt from a file\n"
           "  -n, --n-predict N   tokens to generate (default 128, -1 = until end of text)\n"
           "  -e, --escape        process escapes in the prompt (\\n \\t \\\\ \\\" \\' \\xNN)\n"
           "  --no-display-prompt print only the generated text, not the prompt\n"
           "  --ignore-eos        keep generating past end-of-text tokens\n"
           "  --special           parse control-token text such as <|im_start|> in the prompt\n"
           "  --json              print one JSON object with the stats after the text\n\n"
           "Ctrl-C stops generating and prints the stats line; a second Ctrl-C exits at once.\n\n%s\n%s",
           CLI_SAMPLER_HELP, CLI_SESSION_HELP);
}

int cmd_generate(int argc, char **argv) {
    const char *model_path = NULL, *prompt = NULL, *prompt_file = NULL;
    long long n_predict = 128;
    bool json = false, ignore_eos = false, special = false, escape = false, show_prompt = true;
    sl_session_params sp;
    sl_session_params_default(&sp);
    sl_sampler_params smp;
    sl_sampler_params_default(&smp);

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage();
            return 0;
        } else if (!strcmp(a, "-m") || !strcmp(a, "--model")) model_path = cli_value(argc, argv, &i);
        else if (!strcmp(a, "-p") || !strcmp(a, "--prompt")) prompt = cli_value(argc, argv, &i);
        else if (!strcmp(a, "-f") || !strcmp(a, "--file")) prompt_file = cli_value(argc, argv, &i);
        else if (!strcmp(a, "-n") || !strcmp(a, "--n-predict"))
            n_predict = cli_parse_int(a, cli_value(argc, argv, &i), -1, (long long)1 << 50);
        else if (!strcmp(a, "--json")) json = true;
        else if (!strcmp(a, "-e") || !strcmp(a, "--escape")) escape = true;
        else if (!strcmp(a, "--no-display-prompt")) show_prompt = false;
        else if (!strcmp(a, "--ignore-eos")) ignore_eos = true;
        else if (!strcmp(a, "--special")) special = true;
        else if (cli_session_flag(argc, argv, &i, &sp)) continue;
        else if (cli_sampler_flag(argc, argv, &i, &smp)) continue;
        else cli_die("unknown flag '%s' (see streamllm generate --help)", a);
    }
    if (prompt && prompt_file) cli_die("-p and -f are exclusive");
    if (!prompt && !prompt_file) cli_die("no prompt: pass -p TEXT, -p - (stdin) or -f FILE");
    char *text;
    size_t text_len;
    if (prompt_file || !strcmp(prompt, "-")) {
        text = cli_read_file(prompt_file ? prompt_file : "-", &text_len);
    } else {
        text_len = strlen(prompt);
        text = malloc(text_len + 1);
        if (!text) cli_die("out of memory");
        memcpy(text, prompt, text_len + 1);
    }
    if (escape) text_len = cli_unescape(text, text_len);
    if (text_len == 0) cli_die("empty prompt: give at least one character of text");
    size_t bad = sl_utf8_validate(text, text_len);
    if (bad != (size_t)-1)
        cli_die("%s: invalid UTF-8 at byte %zu", prompt_file ? prompt_file : "prompt", bad);

    sl_model *m = cli_load_model(model_path);
    /* The cache is checked against the trained context before any work. */
    cli_check_geometry(&sp, m->hp.n_ctx_train);
    sl_error err = {0};
    int32_t *toks = NULL;
    size_t n_toks = 0;
    cli_check(sl_tokenizer_encode(m->tok, text, text_len, sl_tokenizer_add_bos(m->tok), special,
                                  &toks, &n_toks, &err),
              &err);
    if (n_toks == 0) cli_die("the prompt produced no tokens");

    sl_session *s = NULL;
    cli_check(sl_session_create(&s, m, &sp, &err), &err);
    sl_sampler *smpl = NULL;
    cli_check(sl_sampler_create(&smpl, &smp, m->hp.n_vocab, &err), &err);
    for (size_t i = 0; i < n_toks; i++) sl_sampler_accept(smpl, toks[i]);

    float *logits = malloc((size_t)m->hp.n_vocab * sizeof(float));
    if (!logits) cli_die("out of memory");

    if (show_prompt) fwrite(text, 1, text_len, stdout);
    fflush(stdout);

    /* The prompt goes in slices so that Ctrl-C and the progress line see it. */
    cli_sigint_install();
    cli_progress bar;
    cli_progress_start(&bar, "prefill", "tok", n_toks);
    double t0 = sl_now_s();
    const char *stop = "length";
    size_t n_fed = 0;
    while (n_fed < n_toks) {
        if (cli_interrupted()) {
            stop = "interrupted";
            break;
        }
        size_t step = n_toks - n_fed < 512 ? n_toks - n_fed : 512;
        cli_check(sl_session_feed(s, toks + n_fed, step, n_fed + step == n_toks ? logits : NULL, NULL, &err),
                  &err);
        n_fed += step;
        cli_progress_update(&bar, n_fed);
    }
    cli_progress_end(&bar);
    double t1 = sl_now_s();

    sl_utf8_stream us = {0};
    char out[256];
    long long n_gen = 0;
    while (n_fed == n_toks && (n_predict < 0 || n_gen < n_predict)) {
        if (cli_interrupted()) {
            stop = "interrupted";
            break;
        }
        int32_t tok = sl_sampler_sample(smpl, logits);
        if (!ignore_eos && sl_tokenizer_is_eog(m->tok, tok)) {
            stop = "eos";
            break;
        }
        size_t plen;
        const char *piece = sl_tokenizer_piece(m->tok, tok, &plen);
        while (plen > 0) {
            size_t take = plen < sizeof out - 8 ? plen : sizeof out - 8;
            size_t w = sl_utf8_stream_push(&us, piece, take, out);
            fwrite(out, 1, w, stdout);
            piece += take;
            plen -= take;
        }
        fflush(stdout);
        n_gen++;
        if (n_predict >= 0 && n_gen >= n_predict) break;
        cli_check(sl_session_feed(s, &tok, 1, logits, NULL, &err), &err);
    }
    size_t w = sl_utf8_stream_flush(&us, out);
    fwrite(out, 1, w, stdout);
    double t2 = sl_now_s();

    double pre_tps = (t1 - t0) > 0 ? n_fed / (t1 - t0) : 0;
    double dec_tps = (t2 - t1) > 0 && n_gen > 0 ? n_gen / (t2 - t1) : 0;
    uint64_t rss = sl_peak_rss_bytes();
    if (json) {
        printf("\n{\"prompt_tokens\": %zu, \"generated_tokens\": %lld, \"prefill_tok_per_s\": %.2f, "
               "\"decode_tok_per_s\": %.2f, \"ms_per_token\": %.3f, \"policy\": \"%s\", \"sinks\": %d, "
               "\"window\": %d, \"cache_tokens\": %zu, \"stream_position\": %llu, \"stop\": \"%s\", "
               "\"peak_rss_bytes\": %llu}\n",
               n_fed, n_gen, pre_tps, dec_tps, dec_tps > 0 ? 1000.0 / dec_tps : 0.0,
               cli_policy_name(s->p.policy), s->p.n_sink, s->p.n_window, sl_session_cache_len(s),
               (unsigned long long)sl_session_n_past(s), stop, (unsigned long long)rss);
    } else {
        fprintf(stderr,
                "\n[streamllm] %sprompt %zu tok (%.1f tok/s), generated %lld tok (%.1f tok/s), "
                "%s cache %zu/%d+%d tok, peak RSS %.1f MiB\n",
                strcmp(stop, "interrupted") ? "" : "interrupted (Ctrl-C): ", n_fed, pre_tps, n_gen, dec_tps, cli_policy_name(s->p.policy),
                sl_session_cache_len(s), s->p.n_sink + s->p.n_keep, s->p.n_window,
                (double)rss / (1 << 20));
    }
    fflush(stdout);
    free(logits);
    free(toks);
    free(text);
    sl_sampler_free(smpl);
    sl_session_free(s);
    sl_model_free(m);
    return strcmp(stop, "interrupted") ? 0 : 130; /* 128 + SIGINT, as shells report it */
}
