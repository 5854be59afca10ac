/* cmd_ppl.c — `streamllm ppl`: perplexity of a long text under each cache
 * policy, the measurement behind the StreamingLLM paper's Table 1 and
 * Figure 3 (its eval_long_ppl.py).
 *
 * Every token of the stream is fed once; the logits after token i give the
 * NLL of token i+1, -log softmax(logits)[next], in double with log-sum-exp.
 * BOS (when the model adds one) is context only: N predictions need N+1
 * stream tokens and the last token is never fed. Tokens go to the session in
 * chunks of --batch with every row's logits returned: the cache semantics
 * (kv/kv_cache.h) make each token attend exactly the keys it would see if
 * fed alone, so --batch changes speed only (--batch 1 is the literal
 * token-by-token loop). The policies live in src/kv; this file only picks
 * their sizes so that all four see the same number of keys.
 *
 * stdout: the result line or table (or JSON). stderr: notes, the progress
 * bar (only on a terminal) and interim lines at 10K, 100K, 1M ... tokens. */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "cli_check.h"
#include "cli_signal.h"
#include "cli_flags.h"
#include "core/sys_stats.h"
#include "plot.h"
#include "text_stream.h"
#include "tokenizer/tokenizer.h"

/* Library internals the CLI may use (same tree). */
#include "model/model.h"
#include "session/session.h"

#define MAX_FILES 64
#define CURVE_POINTS 2048

static void usage(void) {
    printf("usage: streamllm ppl [-m FILE.gguf] -f TEXT [-f TEXT2 ...] [flags]\n\n"
           "Perplexity of a long text fed token by token through the cache, like the\n"
           "StreamingLLM paper's eval_long_ppl.py. The text is read and tokenized in\n"
           "bounded chunks (cut at line breaks, so the tokens are those of the whole\n"
           "text): millions of tokens run in constant memory under the streaming policy.\n\n"
           "  -m, --model FILE    GGUF model\n"
           "  -f, --file FILE     text (UTF-8); several -f are concatenated\n"
           "  --repeat K          loop over the files K times (default 1)\n"
           "  --policy P          streaming (default) | window | dense | recompute | all\n"
           "  --sinks N           sink tokens of the streaming cache (default 4)\n"
           "  --window N          recent tokens (default: trained context - sinks). Every\n"
           "                      policy sees sinks+window keys: window and recompute keep\n"
           "                      the last sinks+window tokens; dense keeps all of them\n"
           "                      (run past the trained context to show the degradation)\n"
           "  --tokens N          score N predictions (default: the whole text)\n"
           "  --nll-out FILE.csv  one row per prediction: policy,index,token,nll (index is\n"
           "                      the stream position of the predicted token, BOS = 0)\n"
           "  --plot-out PREFIX   PREFIX.csv (+ PREFIX.png with gnuplot) of log-PPL against\n"
           "                      tokens; always written with --policy all (default 'ppl')\n"
           "  --report-every N    interim stats every N tokens (default: 10K, 100K, 1M, ...)\n"
           "  --json              one JSON object per run (an array with --policy all)\n"
           "  --chunk-bytes N     text read/tokenize chunk (default 65536; for tests)\n"
           "  --kv-type T         f16 (default) | f32 | q8_0\n"
           "  --allow-overflow    accept sinks + window larger than the trained context\n"
           "  --batch N           tokens per forward call (default 64; results do not depend\n"
           "                      on it: 1 is the literal token-by-token loop)\n"
           "  -t, --threads N     threads (default: number of cores)\n\n"
           "stdout: the result (or JSON); stderr: the progress bar (on a terminal only) and\n"
           "interim lines at 10K, 100K, 1M ... tokens with tok/s and RSS.\n"
           "Ctrl-C stops the run and prints the PPL of the tokens scored so far, marked\n"
           "partial (CSV and JSON written as well); a second Ctrl-C exits at once.\n");
}

/* Compensated (Neumaier) sum: a million NLLs add up without drift. */
typedef struct {
    double s, c;
} ksum;
static void ksum_add(ksum *k, double x) {
    double t = k->s + x;
    if (fabs(k->s) >= fabs(x)) k->c += (k->s - t) + x;
    else k->c += (x - t) + k->s;
    k->s = t;
}
static double ksum_get(const ksum *k) { return k->s + k->c; }

/* -log softmax(logits)[target], in double. */
static double token_nll(const float *logits, int n_vocab, int32_t target) {
    double mx = -INFINITY;
    for (int j = 0; j < n_vocab; j++)
        if (logits[j] > mx) mx = logits[j];
    double sum = 0;
    for (int j = 0; j < n_vocab; j++) sum += exp((double)logits[j] - mx);
    return mx + log(sum) - (double)logits[target];
}

typedef struct {
    sl_policy policy;
    int sinks, window;  /* sinks + window = keys a query sees besides itself; dense: all */
    uint64_t tokens;    /* predictions scored */
    double mean_nll, ppl, tok_per_s, seconds;
    uint64_t peak_rss;
    bool partial;       /* stopped by Ctrl-C: the numbers cover the tokens scored so far */
} ppl_result;

typedef struct {
    sl_model *m;
    sl_model_info info;
    const char *files[MAX_FILES];
    int n_files;
    int64_t repeat;
    size_t chunk;
    uint64_t limit;          /* predictions wanted; UINT64_MAX = whole text */
    sl_session_params sp;    /* the user's flags */
    int sinks, window;       /* the streaming split; cache = sinks + window */
    FILE *nll_out;
    bool progress;
    uint64_t report_every;   /* 0: powers of ten from 10K */
} ppl_ctx;

static double mib(uint64_t b) { return (double)b / (1 << 20); }

/* The kernel keeps the peak RSS per process; "5" resets it to the current
 * RSS so that each policy's run reports its own peak. Best effort. */
static void reset_peak_rss(void) {
    FILE *fp = fopen("/proc/self/clear_refs", "w");
    if (!fp) return;
    fputs("5", fp);
    fclose(fp);
}

/* Refuses a cache bigger than the machine's memory before allocating it:
 * malloc may succeed lazily and the process would die later, mid-run. */
static void check_cache_memory(const ppl_ctx *c, sl_policy pol, uint64_t slots, uint64_t n_pred) {
    const sl_model_info *in = &c->info;
    double elem = c->sp.kv_type == SL_KV_F32 ? 4.0 : c->sp.kv_type == SL_KV_Q8_0 ? 34.0 / 32 : 2.0;
    double bytes = 2.0 * in->n_layer * (double)slots * in->n_head_kv * in->head_dim * elem;
    long pages = sysconf(_SC_PHYS_PAGES), psz = sysconf(_SC_PAGE_SIZE);
    if (pages <= 0 || psz <= 0) return;
    double phys = (double)pages * (double)psz;
    if (bytes <= phys) return;
    if (pol == SL_POLICY_DENSE)
        cli_die("dense: keeping all %llu tokens needs %.1f GiB of KV cache, more than the %.1f GiB "
                "of memory here (lower --tokens)",
                (unsigned long long)n_pred, bytes / (1 << 30), phys / (1 << 30));
    cli_die("--sinks + --window: a cache of %llu tokens needs %.1f GiB of KV cache, more than the "
            "%.1f GiB of memory here (lower --window)",
            (unsigned long long)slots, bytes / (1 << 30), phys / (1 << 30));
}

/* Tokens in the stream, up to limit + 1 (a tokenizer pass, no model work). */
static uint64_t count_tokens(const ppl_ctx *c) {
    text_stream ts;
    text_stream_init(&ts, c->m->tok, c->files, c->n_files, c->repeat, sl_tokenizer_add_bos(c->m->tok),
                     c->chunk);
    uint64_t n = 0;
    int32_t t;
    while ((c->limit == UINT64_MAX || n < c->limit + 1) && text_stream_next(&ts, &t)) n++;
    text_stream_free(&ts);
    return n;
}

static _Noreturn void die_too_short(void) {
    cli_die("the text is shorter than 2 tokens (BOS included): nothing to predict");
}

static void progress_line(const char *name, uint64_t done, uint64_t total, double nll_sum,
                          double tps) {
    if (total != UINT64_MAX)
        fprintf(stderr, "\r\033[K[ppl] %-9s %llu/%llu tok (%.0f%%)  PPL %.4f  %.0f tok/s", name,
                (unsigned long long)done, (unsigned long long)total, 100.0 * done / total,
                exp(nll_sum / done), tps);
    else
        fprintf(stderr, "\r\033[K[ppl] %-9s %llu tok  PPL %.4f  %.0f tok/s", name,
                (unsigned long long)done, exp(nll_sum / done), tps);
    fflush(stderr);
}

/* One pass over the text under one policy. n_pred: predictions the text
 * gives (known when counted, else UINT64_MAX). */
static void run_policy(const ppl_ctx *c, sl_policy pol, uint64_t n_pred, nll_curve *curve,
                       ppl_result *res) {
    sl_session_params p = c->sp;
    p.policy = pol;
    p.n_keep = 0;
    uint64_t slots;
    switch (pol) {
    case SL_POLICY_STREAMING:
        p.n_sink = c->sinks;
        p.n_window = c->window;
        slots = (uint64_t)c->sinks + (uint64_t)c->window;
        break;
    case SL_POLICY_DENSE:
        /* Every token stays; past the trained context on purpose. */
        p.n_sink = 0;
        p.allow_overflow = true;
        if (n_pred + 1 > (uint64_t)(1 << 30)) cli_die("dense: %llu tokens is too many to keep", (unsigned long long)n_pred);
        p.n_window = (int)(n_pred + 1);
        slots = n_pred + 1 > (uint64_t)c->info.n_ctx_train ? n_pred + 1 : (uint64_t)c->info.n_ctx_train;
        break;
    default: /* window, recompute: the same number of keys, all recent */
        p.n_sink = 0;
        p.n_window = c->sinks + c->window;
        slots = (uint64_t)p.n_window + 1;
        break;
    }
    check_cache_memory(c, pol, slots, n_pred);

    const char *name = cli_policy_name(pol);
    const int V = c->info.n_vocab;
    reset_peak_rss();
    sl_error err = {0};
    sl_session *s = NULL;
    cli_check(sl_session_create(&s, c->m, &p, &err), &err);
    const size_t B = (size_t)s->n_batch;
    int32_t *toks = malloc((B + 1) * sizeof *toks);
    float *logits = malloc(B * (size_t)V * sizeof *logits);
    if (!toks || !logits) cli_die("out of memory");

    text_stream ts;
    text_stream_init(&ts, c->m->tok, c->files, c->n_files, c->repeat, sl_tokenizer_add_bos(c->m->tok),
                     c->chunk);
    size_t have = 0;
    if (text_stream_next(&ts, &toks[0])) have = 1;
    uint64_t limit = c->limit < n_pred ? c->limit : n_pred;
    uint64_t total = limit;
    uint64_t done = 0, next_report = c->report_every ? c->report_every : 10000;
    ksum nll = {0, 0};
    double t0 = sl_now_s(), t_rep = t0, t_bar = t0;
    uint64_t done_rep = 0;
    bool stopped = false;
    while (have > 0 && done < limit) {
        if (cli_interrupted()) {
            stopped = true;
            break;
        }
        size_t want = B;
        if (limit - done < want) want = (size_t)(limit - done);
        if (next_report - done < want) want = (size_t)(next_report - done); /* report exactly there */
        while (have < want + 1 && text_stream_next(&ts, &toks[have])) have++;
        size_t T = have - 1;
        if (T == 0) break;
        cli_check(sl_session_feed(s, toks, T, NULL, logits, &err), &err);
        for (size_t i = 0; i < T; i++) {
            double x = token_nll(logits + i * (size_t)V, V, toks[i + 1]);
            ksum_add(&nll, x);
            done++;
            if (curve) nll_curve_add(curve, done, ksum_get(&nll));
            if (c->nll_out)
                fprintf(c->nll_out, "%s,%llu,%d,%.9g\n", name, (unsigned long long)done, toks[i + 1], x);
        }
        toks[0] = toks[T];
        have = 1;
        double now = sl_now_s();
        if (done == next_report) {
            double tps = now > t_rep ? (double)(done - done_rep) / (now - t_rep) : 0;
            uint64_t rss, peak;
            sl_mem_snapshot(&rss, &peak);
            if (c->progress) fputs("\r\033[K", stderr);
            fprintf(stderr,
                    "[ppl] %s: %llu tokens, PPL so far %.4f, %.1f tok/s over the last %llu, "
                    "RSS %.2f MiB (peak %.2f MiB), cache %zu tokens\n",
                    name, (unsigned long long)done, exp(ksum_get(&nll) / done), tps,
                    (unsigned long long)(done - done_rep), mib(rss), mib(peak),
                    sl_session_cache_len(s));
            t_rep = now;
            done_rep = done;
            next_report = c->report_every ? next_report + c->report_every : next_report * 10;
        }
        if (c->progress && now - t_bar > 0.25) {
            progress_line(name, done, total, ksum_get(&nll), done / (now - t0));
            t_bar = now;
        }
    }
    double t1 = sl_now_s();
    if (c->progress) fputs("\r\033[K", stderr);
    if (done == 0 && stopped) cli_die("interrupted (Ctrl-C) before the first token was scored");
    if (done == 0) die_too_short();
    if (curve) nll_curve_finish(curve, done, ksum_get(&nll));
    if (ts.n_loose)
        fprintf(stderr,
                "[ppl] note: %llu chunk boundaries of the text fell outside a safe line break; "
                "tokens there may differ from tokenizing the whole text\n",
                (unsigned long long)ts.n_loose);

    res->policy = pol;
    res->sinks = s->p.n_sink;
    res->window = s->p.n_window;
    res->tokens = done;
    res->mean_nll = ksum_get(&nll) / (double)done;
    res->ppl = exp(res->mean_nll);
    res->seconds = t1 - t0;
    res->tok_per_s = t1 > t0 ? (double)done / (t1 - t0) : 0;
    res->peak_rss = sl_peak_rss_bytes();
    res->partial = stopped;
    text_stream_free(&ts);
    free(toks);
    free(logits);
    sl_session_free(s);
}

/* JSON has no NaN/Infinity: a diverged run prints null. */
static void json_num(FILE *fp, const char *key, double v, const char *f) {
    fprintf(fp, "\"%s\": ", key);
    if (isfinite(v)) fprintf(fp, f, v);
    else fputs("null", fp);
}

static void print_json(const ppl_result *r) {
    printf("{\"policy\": \"%s\", \"sinks\": %d, \"window\": %d, \"tokens\": %llu, ",
           cli_policy_name(r->policy), r->sinks, r->window, (unsigned long long)r->tokens);
    json_num(stdout, "mean_nll", r->mean_nll, "%.12g");
    fputs(", ", stdout);
    json_num(stdout, "ppl", r->ppl, "%.12g");
    fputs(", ", stdout);
    json_num(stdout, "tok_per_s", r->tok_per_s, "%.2f");
    printf(", \"peak_rss_bytes\": %llu, \"partial\": %s}", (unsigned long long)r->peak_rss,
           r->partial ? "true" : "false");
}

static void sinks_window(const ppl_result *r, char *buf, size_t cap) {
    if (r->policy == SL_POLICY_DENSE) snprintf(buf, cap, "0+all");
    else snprintf(buf, cap, "%d+%d", r->sinks, r->window);
}

int cmd_ppl(int argc, char **argv) {
    ppl_ctx c;
    memset(&c, 0, sizeof c);
    const char *model_path = NULL, *nll_path = NULL, *plot_prefix = NULL;
    bool json = false, all = false;
    c.repeat = 1;
    c.limit = UINT64_MAX;
    sl_session_params_default(&c.sp);

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage();
            return 0;
        } else if (!strcmp(a, "-m") || !strcmp(a, "--model")) model_path = cli_value(argc, argv, &i);
        else if (!strcmp(a, "-f") || !strcmp(a, "--file")) {
            if (c.n_files == MAX_FILES) cli_die("-f: at most %d files", MAX_FILES);
            c.files[c.n_files++] = cli_value(argc, argv, &i);
        } else if (!strcmp(a, "--repeat"))
            c.repeat = cli_parse_int(a, cli_value(argc, argv, &i), 1, 1000000000);
        else if (!strcmp(a, "--tokens"))
            c.limit = (uint64_t)cli_parse_int(a, cli_value(argc, argv, &i), 1, (long long)1 << 50);
        else if (!strcmp(a, "--policy") && i + 1 < argc && !strcmp(argv[i + 1], "all")) {
            all = true;
            i++;
        } else if (!strcmp(a, "--nll-out")) nll_path = cli_value(argc, argv, &i);
        else if (!strcmp(a, "--plot-out")) plot_prefix = cli_value(argc, argv, &i);
        else if (!strcmp(a, "--report-every"))
            c.report_every = (uint64_t)cli_parse_int(a, cli_value(argc, argv, &i), 1, (long long)1 << 50);
        else if (!strcmp(a, "--chunk-bytes"))
            c.chunk = (size_t)cli_parse_int(a, cli_value(argc, argv, &i), 16, 1 << 30);
        else if (!strcmp(a, "--json")) json = true;
        else if (cli_session_flag(argc, argv, &i, &c.sp)) {
            if (!strcmp(a, "--policy")) all = false; /* the last --policy wins */
        } else cli_die("unknown flag '%s' (see streamllm ppl --help)", a);
    }
    if (c.n_files == 0) cli_die("no text: pass -f FILE (several -f are concatenated)");
    if (c.sp.n_keep != 0) cli_die("--keep: not used by ppl (the stream has no system prompt to pin)");

    /* Files first: a missing or empty file should not wait for the model. */
    text_stream_check_files(c.files, c.n_files);
    if (nll_path) cli_check_writable("--nll-out", nll_path, NULL);
    if (plot_prefix || all) cli_check_writable("--plot-out", plot_prefix ? plot_prefix : "ppl", ".csv");
    c.m = cli_load_model(model_path);
    sl_model_get_info(c.m, &c.info);

    /* Every policy keeps sinks + window keys: the streaming split is the
     * geometry the shared rule checks, whatever --policy says. */
    sl_session_params g = c.sp;
    g.policy = SL_POLICY_STREAMING;
    cli_check_geometry(&g, c.info.n_ctx_train);
    c.sinks = g.n_sink;
    c.window = g.n_window;
    if ((int64_t)c.sinks + c.window > INT32_MAX - 2) cli_die("--sinks + --window: too large");

    sl_policy pols[4];
    int n_pol = 0;
    if (all) {
        pols[n_pol++] = SL_POLICY_STREAMING;
        pols[n_pol++] = SL_POLICY_WINDOW;
        pols[n_pol++] = SL_POLICY_DENSE;
        pols[n_pol++] = SL_POLICY_RECOMPUTE;
        if (!plot_prefix) plot_prefix = "ppl";
    } else {
        pols[n_pol++] = c.sp.policy;
    }
    c.progress = isatty(STDERR_FILENO);

    /* Dense must know how many tokens it will keep; --policy all counts
     * anyway so every pass shows a total. Only the tokenizer runs here. */
    uint64_t n_pred = UINT64_MAX;
    bool need_count = all;
    for (int k = 0; k < n_pol; k++) need_count |= pols[k] == SL_POLICY_DENSE;
    if (need_count) {
        uint64_t n = count_tokens(&c);
        if (n < 2) die_too_short();
        n_pred = n - 1;
        if (c.limit < n_pred) n_pred = c.limit;
    }

    if (nll_path) {
        c.nll_out = fopen(nll_path, "w");
        if (!c.nll_out) cli_die("%s: cannot write: %s", nll_path, strerror(errno));
        fputs("policy,index,token,nll\n", c.nll_out);
    }
    nll_curve curves[4];
    memset(curves, 0, sizeof curves);
    ppl_result res[4];
    memset(res, 0, sizeof res);
    /* Ctrl-C: the policy in progress reports the tokens scored so far,
     * marked partial, and the later ones do not run; outputs still go out. */
    cli_sigint_install();
    int n_plot = n_pol;
    for (int k = 0; k < n_pol; k++) {
        if (plot_prefix && !nll_curve_init(&curves[k], CURVE_POINTS)) cli_die("out of memory");
        run_policy(&c, pols[k], n_pred, plot_prefix ? &curves[k] : NULL, &res[k]);
        if (res[k].partial) {
            /* The plot's curves share one x: a shorter one is left out unless alone. */
            n_plot = k > 0 ? k : 1;
            n_pol = k + 1;
            fprintf(stderr, "[ppl] interrupted (Ctrl-C): %s stopped after %llu tokens; the results "
                            "below are partial%s\n",
                    cli_policy_name(pols[k]), (unsigned long long)res[k].tokens,
                    k + 1 < (all ? 4 : 1) ? " and the later policies did not run" : "");
            break;
        }
    }
    if (c.nll_out && fclose(c.nll_out) != 0) cli_die("%s: write error", nll_path);

    const int cache = c.sinks + c.window;
    if (json) {
        if (all) fputs("[\n", stdout);
        for (int k = 0; k < n_pol; k++) {
            if (all) fputs("  ", stdout);
            print_json(&res[k]);
            fputs(all && k + 1 < n_pol ? ",\n" : "\n", stdout);
        }
        if (all) fputs("]\n", stdout);
    } else if (!all) {
        const ppl_result *r = &res[0];
        const char *kv = c.sp.kv_type == SL_KV_F32 ? "f32" : c.sp.kv_type == SL_KV_Q8_0 ? "q8_0" : "f16";
        if (r->policy == SL_POLICY_STREAMING)
            printf("policy streaming: %d sinks + %d window = %d cached tokens, %s KV\n", r->sinks,
                   r->window, cache, kv);
        else if (r->policy == SL_POLICY_DENSE)
            printf("policy dense: every token kept (%llu, trained context %d), %s KV\n",
                   (unsigned long long)r->tokens, c.info.n_ctx_train, kv);
        else
            printf("policy %s: the last %d tokens (sinks + window)%s, %s KV\n", cli_policy_name(r->policy),
                   r->window, r->policy == SL_POLICY_RECOMPUTE ? ", re-computed for every token" : "", kv);
        printf("tokens %llu  mean NLL %.6f  PPL %.4f  %.1f tok/s  peak RSS %.1f MiB%s\n",
               (unsigned long long)r->tokens, r->mean_nll, r->ppl, r->tok_per_s, mib(r->peak_rss),
               r->partial ? "  (partial: interrupted)" : "");
    } else {
        printf("%-10s %13s %8s %10s %10s %10s %10s %12s\n", "policy", "sinks+window", "cache",
               "tokens", "mean NLL", "PPL", "tok/s", "peak RSS");
        for (int k = 0; k < n_pol; k++) {
            const ppl_result *r = &res[k];
            char sw[32], cs[32];
            sinks_window(r, sw, sizeof sw);
            if (r->policy == SL_POLICY_DENSE) snprintf(cs, sizeof cs, "%llu", (unsigned long long)r->tokens);
            else snprintf(cs, sizeof cs, "%d", cache);
            printf("%-10s %13s %8s %10llu %10.6f %10.4f %10.1f %8.1f MiB%s\n", cli_policy_name(r->policy),
                   sw, cs, (unsigned long long)r->tokens, r->mean_nll, r->ppl, r->tok_per_s,
                   mib(r->peak_rss), r->partial ? "  (partial: interrupted)" : "");
        }
        printf("Same cache size for all: streaming keeps %d sinks + the last %d tokens; window and\n"
               "recompute keep the last %d (recompute re-encodes them for every token); dense keeps\n"
               "every token (trained context %d).\n",
               c.sinks, c.window, cache, c.info.n_ctx_train);
    }
    fflush(stdout);

    if (plot_prefix) {
        const char *names[4];
        for (int k = 0; k < n_pol; k++) names[k] = cli_policy_name(pols[k]);
        char title[256], note[512] = "", msg[512] = "";
        snprintf(title, sizeof title, "%s: log PPL vs tokens, cache %d (%d sinks + %d window)",
                 c.info.name && *c.info.name ? c.info.name : "model", cache, c.sinks, c.window);
        bool png = false;
        if (plot_ppl(plot_prefix, curves, names, n_plot, title, &png, note, sizeof note, msg, sizeof msg) != 0)
            cli_die("%s", msg);
        if (png) fprintf(stderr, "[ppl] wrote %s.csv and %s.png\n", plot_prefix, plot_prefix);
        else fprintf(stderr, "[ppl] wrote %s.csv; %s\n", plot_prefix, note);
    }
    for (int k = 0; k < 4; k++) nll_curve_free(&curves[k]);
    sl_model_free(c.m);
    return res[n_pol - 1].partial ? 130 : 0; /* 128 + SIGINT: the numbers are partial */
}
