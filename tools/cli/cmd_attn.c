/* cmd_attn.c — `streamllm attn`: where does each layer's attention go?
 * The measurement behind the StreamingLLM paper's Figure 2: feed the first
 * N tokens of a text (dense cache, inside the trained context) with the
 * attention observer on, average the attention weights over heads, and
 * report per layer how much of it lands on the first token (the attention
 * sink) against the first 4 tokens, the previous token and the token itself.
 *
 * Letters: N tokens fed, L layers selected, H query heads. */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_check.h"
#include "cli_flags.h"
#include "plot.h"
#include "text_stream.h"
#include "tokenizer/tokenizer.h"

/* Library internals the CLI may use (same tree). */
#include "model/model.h"
#include "session/session.h"

#define MAX_FILES 64
#define N_LOCKS 64

static void usage(void) {
    printf("usage: streamllm attn [-m FILE.gguf] -f TEXT [--tokens N] [--layers all|0,3] [--out PREFIX]\n"
           "                      [--json] [-t N]\n\n"
           "Feeds the first N tokens of TEXT (BOS first when the model adds one) through a\n"
           "dense cache and averages each layer's attention over its heads. Writes\n"
           "PREFIX_layerL.csv (N rows x N columns: row = query position, column = key\n"
           "position, lower-triangular, each row sums to 1) and PREFIX.png (heatmaps, with\n"
           "gnuplot), and prints per layer the average share of attention on the first\n"
           "token, on the first 4 tokens, on the previous token and on the token itself.\n"
           "Averages run over queries 1..N-1: query 0 can only attend to itself.\n\n"
           "  -m, --model FILE    GGUF model\n"
           "  -f, --file FILE     text (several -f are concatenated)\n"
           "  --tokens N          tokens to feed, 2..trained context (default 64)\n"
           "  --layers L          all (default) or a comma list such as 0,3\n"
           "  --out PREFIX        output prefix (default 'attn')\n"
           "  --json              print the table as JSON\n"
           "  -t, --threads N     threads (default: number of cores)\n"
           "  --kv-type T         f16 (default) | f32 | q8_0\n");
}

typedef struct {
    int n_tok, n_head;
    int *slot;               /* (n_layer) index into acc, or -1 when not selected */
    double *acc;             /* (L, N, N) summed weights / H */
    pthread_mutex_t locks[N_LOCKS];
    bool overflow;           /* a position outside [0, N): should not happen */
} attn_acc;

/* Runs on worker threads: heads of one query row may arrive concurrently,
 * so each (layer, query) row is added under a striped lock. */
static void observe(void *user, int layer, int head, uint64_t query_pos, const float *weights,
                    const uint64_t *key_pos, int n) {
    attn_acc *a = user;
    (void)head;
    int s = a->slot[layer];
    if (s < 0) return;
    const uint64_t N = (uint64_t)a->n_tok;
    if (query_pos >= N) {
        a->overflow = true;
        return;
    }
    double *row = a->acc + ((size_t)s * N + query_pos) * N;
    const double inv_h = 1.0 / a->n_head;
    pthread_mutex_t *lk = &a->locks[((size_t)s * N + query_pos) % N_LOCKS];
    pthread_mutex_lock(lk);
    for (int i = 0; i < n; i++) {
        if (key_pos[i] > query_pos) {
            a->overflow = true;
            continue;
        }
        row[key_pos[i]] += weights[i] * inv_h;
    }
    pthread_mutex_unlock(lk);
}

typedef struct {
    int layer;
    double first, first4, prev, self, row_sum_err;
} layer_stats;

/* Parses "all" or "0,3,4" into sel[n_layer]; dies naming the flag. */
static void parse_layers(const char *s, int n_layer, bool *sel) {
    if (!strcmp(s, "all")) {
        for (int l = 0; l < n_layer; l++) sel[l] = true;
        return;
    }
    for (int l = 0; l < n_layer; l++) sel[l] = false;
    const char *p = s;
    while (*p) {
        char *end;
        errno = 0;
        long v = strtol(p, &end, 10);
        if (end == p || errno || (*end && *end != ','))
            cli_die("--layers: '%s' is not 'all' or a comma list of layer numbers", s);
        if (v < 0 || v >= n_layer) cli_die("--layers: layer %ld is out of range [0, %d]", v, n_layer - 1);
        sel[v] = true;
        p = *end ? end + 1 : end;
    }
    /* "" or "," select nothing: refused here, not divided by later. */
    int n = 0;
    for (int l = 0; l < n_layer; l++) n += sel[l];
    if (n == 0) cli_die("--layers: '%s' selects no layer: pass 'all' or a comma list such as 0,3", s);
}

int cmd_attn(int argc, char **argv) {
    const char *model_path = NULL, *out = "attn", *layers_arg = "all";
    const char *files[MAX_FILES];
    int n_files = 0;
    long long n_tok = 64;
    bool json = false;
    sl_session_params sp;
    sl_session_params_default(&sp);

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage();
            return 0;
        } else if (!strcmp(a, "-m") || !strcmp(a, "--model")) model_path = cli_value(argc, argv, &i);
        else if (!strcmp(a, "-f") || !strcmp(a, "--file")) {
            if (n_files == MAX_FILES) cli_die("-f: at most %d files", MAX_FILES);
            files[n_files++] = cli_value(argc, argv, &i);
        } else if (!strcmp(a, "--tokens")) n_tok = cli_parse_int(a, cli_value(argc, argv, &i), 2, 1 << 20);
        else if (!strcmp(a, "--layers")) layers_arg = cli_value(argc, argv, &i);
        else if (!strcmp(a, "--out")) out = cli_value(argc, argv, &i);
        else if (!strcmp(a, "--json")) json = true;
        else if (!strcmp(a, "-t") || !strcmp(a, "--threads") || !strcmp(a, "--kv-type") ||
                 !strcmp(a, "--batch"))
            cli_session_flag(argc, argv, &i, &sp);
        else cli_die("unknown flag '%s' (see streamllm attn --help)", a);
    }
    if (n_files == 0) cli_die("no text: pass -f FILE");
    text_stream_check_files(files, n_files);
    cli_check_writable("--out", out, "_layer0.csv");

    sl_model *m = cli_load_model(model_path);
    sl_model_info info;
    sl_model_get_info(m, &info);
    if (n_tok > info.n_ctx_train)
        cli_die("--tokens: %lld is more than the trained context (%d); attn runs a dense cache inside it",
                n_tok, info.n_ctx_train);
    const int N = (int)n_tok, L = info.n_layer;
    bool *sel = calloc((size_t)L, sizeof *sel);
    if (!sel) cli_die("out of memory");
    parse_layers(layers_arg, L, sel);

    /* The first N tokens of the text. */
    int32_t *toks = malloc((size_t)N * sizeof *toks);
    if (!toks) cli_die("out of memory");
    text_stream ts;
    const bool bos = sl_tokenizer_add_bos(m->tok);
    text_stream_init(&ts, m->tok, files, n_files, 1, bos, 0);
    int have = 0;
    /* A model trained with a sink token gets it first in every stream (the
     * session would prepend it); put it in the map as position 0. */
    if (m->hp.sink_token >= 0) toks[have++] = m->hp.sink_token;
    while (have < N && text_stream_next(&ts, &toks[have])) have++;
    text_stream_free(&ts);
    if (have < N) cli_die("the text has only %d tokens%s; --tokens asks for %d", have, bos ? " (BOS included)" : "", N);

    attn_acc acc = {.n_tok = N, .n_head = info.n_head};
    acc.slot = malloc((size_t)L * sizeof *acc.slot);
    int n_sel = 0;
    if (!acc.slot) cli_die("out of memory");
    for (int l = 0; l < L; l++) acc.slot[l] = sel[l] ? n_sel++ : -1;
    double bytes = (double)n_sel * N * N * sizeof(double);
    if (bytes > (double)(1ull << 34)) cli_die("--tokens/--layers: %.1f GiB of attention maps is too much", bytes / (1 << 30));
    acc.acc = calloc((size_t)n_sel * N * N, sizeof(double));
    if (!acc.acc) cli_die("out of memory for %d attention maps of %d x %d", n_sel, N, N);
    for (int i = 0; i < N_LOCKS; i++) pthread_mutex_init(&acc.locks[i], NULL);

    sp.policy = SL_POLICY_DENSE;
    sp.n_window = N;
    sl_error err = {0};
    sl_session *s = NULL;
    cli_check(sl_session_create(&s, m, &sp, &err), &err);
    sl_session_set_observer(s, observe, &acc);
    cli_check(sl_session_feed(s, toks, (size_t)N, NULL, NULL, &err), &err);
    sl_session_set_observer(s, NULL, NULL);
    if (acc.overflow) cli_die("internal: the observer reported a position outside the %d tokens fed", N);

    /* CSVs and statistics. Averages run over queries 1..N-1. */
    layer_stats *st = calloc((size_t)n_sel, sizeof *st);
    char **csv = calloc((size_t)n_sel, sizeof *csv);
    char **titles = calloc((size_t)n_sel, sizeof *titles);
    if (!st || !csv || !titles) cli_die("out of memory");
    double uniform_first = 0;
    for (int q = 1; q < N; q++) uniform_first += 1.0 / (q + 1);
    uniform_first /= N - 1;
    for (int l = 0, k = 0; l < L; l++) {
        if (acc.slot[l] < 0) continue;
        const double *M = acc.acc + (size_t)k * N * N;
        layer_stats *r = &st[k];
        r->layer = l;
        size_t plen = strlen(out) + 32;
        csv[k] = malloc(plen);
        titles[k] = malloc(32);
        if (!csv[k] || !titles[k]) cli_die("out of memory");
        snprintf(csv[k], plen, "%s_layer%d.csv", out, l);
        snprintf(titles[k], 32, "layer %d", l);
        FILE *fp = fopen(csv[k], "w");
        if (!fp) cli_die("%s: cannot write: %s", csv[k], strerror(errno));
        for (int q = 0; q < N; q++) {
            const double *row = M + (size_t)q * N;
            double sum = 0;
            for (int j = 0; j < N; j++) {
                fprintf(fp, j ? ",%.6g" : "%.6g", row[j]);
                sum += row[j];
            }
            fputc('\n', fp);
            if (fabs(sum - 1.0) > r->row_sum_err) r->row_sum_err = fabs(sum - 1.0);
            if (q == 0) continue;
            r->first += row[0];
            for (int j = 0; j < 4 && j <= q; j++) r->first4 += row[j];
            r->prev += row[q - 1];
            r->self += row[q];
        }
        if (fclose(fp) != 0) cli_die("%s: write error", csv[k]);
        r->first /= N - 1;
        r->first4 /= N - 1;
        r->prev /= N - 1;
        r->self /= N - 1;
        k++;
    }

    if (json) {
        printf("{\"tokens\": %d, \"bos\": %s, \"queries\": \"1..%d\", \"uniform_first\": %.6f, \"layers\": [",
               N, bos ? "true" : "false", N - 1, uniform_first);
        for (int k = 0; k < n_sel; k++) {
            printf("%s\n  {\"layer\": %d, \"first\": %.6f, \"first4\": %.6f, \"prev\": %.6f, "
                   "\"self\": %.6f, \"max_row_sum_error\": %.3g, \"csv\": ",
                   k ? "," : "", st[k].layer, st[k].first, st[k].first4, st[k].prev, st[k].self,
                   st[k].row_sum_err);
            cli_json_string(stdout, csv[k], strlen(csv[k]));
            fputc('}', stdout);
        }
        printf("\n]}\n");
    } else {
        printf("%d tokens%s; average share of attention (mean over heads, over queries 1..%d;\n"
               "query 0 can only attend to itself). A uniform spread would put %.4f on the first token.\n",
               N, bos ? " (BOS first)" : "", N - 1, uniform_first);
        printf("%-6s %12s %10s %10s %10s\n", "layer", "first token", "first 4", "previous", "self");
        for (int k = 0; k < n_sel; k++)
            printf("%-6d %12.4f %10.4f %10.4f %10.4f\n", st[k].layer, st[k].first, st[k].first4,
                   st[k].prev, st[k].self);
    }
    fflush(stdout);

    bool png = false;
    char note[512] = "", msg[512] = "";
    if (plot_heatmaps(out, (const char *const *)csv, (const char *const *)titles, n_sel, N, &png, note,
                      sizeof note, msg, sizeof msg) != 0)
        cli_die("%s", msg);
    fprintf(stderr, "[attn] wrote %s_layer*.csv (%d x %d)%s%s%s\n", out, N, N, png ? " and " : "; ",
            png ? out : note, png ? ".png" : "");

    for (int k = 0; k < n_sel; k++) {
        free(csv[k]);
        free(titles[k]);
    }
    free(csv);
    free(titles);
    free(st);
    for (int i = 0; i < N_LOCKS; i++) pthread_mutex_destroy(&acc.locks[i]);
    free(acc.acc);
    free(acc.slot);
    free(sel);
    free(toks);
    sl_session_free(s);
    sl_model_free(m);
    return 0;
}
