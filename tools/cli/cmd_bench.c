/* cmd_bench.c — `streamllm bench`: prefill and decode speed of a model,
 * decode cost deep into a stream, streaming against re-computation, and
 * (with --kernels, no model needed) the speed of every weight kernel.
 *
 * Method, as llama-bench does it: prefill (pp) feeds -p random tokens into
 * an empty cache in one call, logits for the last token only; decode (tg)
 * feeds -n tokens one at a time into an empty cache, logits every time. Each
 * is repeated --reps times after one warm-up run; medians, minima and maxima
 * are reported. The bandwidth bound is the weight bytes one decode token
 * reads (every matrix once, plus one embedding row) divided by the measured
 * read bandwidth of main memory with the same number of threads. */
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "cli.h"
#include "cli_progress.h"
#include "cli_flags.h"
#include "core/sys_stats.h"
#include "tensor/quant.h"

/* Library internals the CLI may use (same tree). */
#include "model/model.h"
#include "session/session.h"

#define MAX_LIST 16

typedef struct {
    const char *model;
    int p, n, reps;
    bool json, kernels, vs_recompute, jump;
    uint64_t positions[MAX_LIST];
    int n_positions;
    int windows[MAX_LIST];
    int n_windows;
    sl_session_params sp;
} bench_opts;

static void usage(void) {
    printf("usage: streamllm bench -m FILE [-p N] [-n N] [-t N] [--reps N] [--json]\n"
           "                       [--positions P1,P2,..] [--jump] [--vs-recompute --window W1,W2,..]\n"
           "       streamllm bench --kernels [-t N] [--reps N] [--json]\n\n"
           "Prefill: -p random tokens into an empty cache (logits of the last only).\n"
           "Decode: -n tokens one at a time into an empty cache (logits of each).\n"
           "Medians, min and max over --reps runs after a warm-up run.\n\n"
           "  -m, --model FILE    GGUF model\n"
           "  -p N                prompt tokens (default 512; 0 skips prefill)\n"
           "  -n N                decoded tokens (default 128; 0 skips decode)\n"
           "  -r, --reps N        repetitions (default 5; llama-bench also spells it --repetitions)\n"
           "  --json              one JSON object on stdout instead of the tables\n"
           "  --positions LIST    decode ms/token after streaming that many tokens through the\n"
           "                      cache (fed in --batch chunks without logits or sampling)\n"
           "  --jump              reach --positions by feeding the sinks and the last window\n"
           "                      only: the skipped tokens would have been evicted, so the\n"
           "                      cache holds as many rows at the same positions (timing only;\n"
           "                      the values differ from a real stream)\n"
           "  --vs-recompute      ms/token of streaming vs sliding-window re-computation at\n"
           "                      each --window (default 512,1024,2048)\n"
           "  --window LIST       windows for --vs-recompute; the first one also for --positions\n"
           "                      (prefill and decode use the model's default window)\n"
           "  --kernels           GB/s and GFLOP/s of sl_matmul per weight type (no model)\n\n%s",
           CLI_SESSION_HELP);
}

/* "1000,100000" -> values; dies naming the flag. */
static int parse_list(const char *flag, const char *list, long long lo, long long hi, long long *out) {
    int n = 0;
    char buf[32];
    const char *s = list;
    while (*s) {
        size_t len = strcspn(s, ",");
        if (len == 0 || len >= sizeof buf) cli_die("%s: '%s' is not a comma-separated list of numbers", flag, list);
        if (n == MAX_LIST) cli_die("%s: at most %d values", flag, MAX_LIST);
        memcpy(buf, s, len);
        buf[len] = 0;
        out[n++] = cli_parse_int(flag, buf, lo, hi);
        s += len;
        if (*s == ',') {
            s++;
            if (!*s) cli_die("%s: trailing comma", flag);
        }
    }
    if (n == 0) cli_die("%s needs at least one value", flag);
    return n;
}

/* ---- runs ------------------------------------------------------------------------- */

typedef struct {
    sl_model *m;
    sl_session *s;
    int32_t *toks;  /* (max(p, n_batch)) random token ids */
    size_t n_toks;
    float *logits;  /* (V) */
} bench_ctx;

static void feed(bench_ctx *b, const int32_t *t, size_t n, float *logits) {
    sl_error err = {0};
    cli_check(sl_session_feed(b->s, t, n, logits, NULL, &err), &err);
}

static int32_t argmax(const float *x, int n) {
    int32_t best = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[best]) best = i;
    return best;
}

/* Seconds to prefill p tokens into an empty cache. */
static double run_prefill(bench_ctx *b, int p) {
    sl_session_reset(b->s);
    double t0 = sl_now_s();
    feed(b, b->toks, (size_t)p, b->logits);
    return sl_now_s() - t0;
}

/* Seconds to decode n tokens one at a time (greedy) from where the stream is. */
static double run_decode(bench_ctx *b, int n) {
    int32_t tok = b->toks[0];
    double t0 = sl_now_s();
    for (int i = 0; i < n; i++) {
        feed(b, &tok, 1, b->logits);
        tok = argmax(b->logits, b->m->hp.n_vocab);
    }
    return sl_now_s() - t0;
}

/* Streams up to position pos (from an empty cache) without logits. */
static void stream_to(bench_ctx *b, uint64_t pos, bool jump) {
    sl_session_reset(b->s);
    const sl_kv_cache *kv = sl_session_kv(b->s);
    const uint64_t P = (uint64_t)kv->n_pinned, W = (uint64_t)kv->n_window;
    if (jump && pos > P + W) {
        /* The pinned tokens for real, then skip to pos - W: every token
         * skipped would have been evicted by pos, and the last W are fed
         * for real, so the ring holds W rows at their true positions. */
        if (P > 0) feed(b, b->toks, (size_t)P, NULL);
        b->s->kv.n_past = pos - W;
        b->s->n_fed = pos - W;
    }
    /* A deep position without --jump is a long prefill: show it on a terminal. */
    cli_progress bar;
    cli_progress_start(&bar, "bench: streaming to position", "tok", pos);
    while (sl_session_n_past(b->s) < pos) {
        uint64_t left = pos - sl_session_n_past(b->s);
        size_t n = left < b->n_toks ? (size_t)left : b->n_toks;
        feed(b, b->toks, n, NULL);
        cli_progress_update(&bar, sl_session_n_past(b->s));
    }
    cli_progress_end(&bar);
}

static void session_open(bench_ctx *b, const sl_session_params *sp) {
    sl_error err = {0};
    sl_session_free(b->s);
    b->s = NULL;
    cli_check(sl_session_create(&b->s, b->m, sp, &err), &err);
}

/* Anonymous resident memory (RssAnon: what the process allocated and
 * touched, without the pages of the mapped model file), 0 if unknown. The
 * model's pages count in VmRSS as tokens touch them (each new token id reads
 * its embedding row), so VmRSS can creep up by up to the embedding table's
 * size in a long stream while the allocated memory stays put. */
static uint64_t rss_anon_bytes(void) {
    FILE *fp = fopen("/proc/self/status", "r");
    if (!fp) return 0;
    char line[256];
    unsigned long long kb = 0;
    while (fgets(line, sizeof line, fp))
        if (sscanf(line, "RssAnon: %llu", &kb) == 1) break;
    fclose(fp);
    return (uint64_t)kb * 1024;
}

/* Bytes of weights one decode token reads: every layer matrix, the output
 * matrix and one embedding row. */
static double weight_bytes_per_token(const sl_model *m) {
    double sum = 0;
    const sl_matrix *all[7];
    for (int il = 0; il < m->hp.n_layer; il++) {
        const sl_layer *l = &m->layers[il];
        all[0] = &l->wq, all[1] = &l->wk, all[2] = &l->wv, all[3] = &l->wo;
        all[4] = &l->w_gate, all[5] = &l->w_up, all[6] = &l->w_down;
        for (int i = 0; i < 7; i++)
            sum += (double)all[i]->rows * (double)sl_row_size(all[i]->type, all[i]->cols);
    }
    sum += (double)m->output.rows * (double)sl_row_size(m->output.type, m->output.cols);
    sum += (double)sl_row_size(m->tok_embd.type, m->tok_embd.cols);
    return sum;
}

static void print_stat(const char *key, bench_stat s, const char *sep) {
    /* 7 significant digits: a tiny model runs at 0.02 ms per token */
    printf("\"%s\": %.7g, \"%s_min\": %.7g, \"%s_max\": %.7g%s", key, s.med, key, s.min, key, s.max, sep);
}

static int bench_model(const bench_opts *o) {
    bench_ctx b = {0};
    b.m = cli_load_model(o->model);
    const int V = b.m->hp.n_vocab;
    sl_session_params sp = o->sp;
    if (sp.n_threads <= 0) sp.n_threads = sl_n_cores();
    session_open(&b, &sp);

    b.n_toks = (size_t)(o->p > b.s->n_batch ? o->p : b.s->n_batch);
    b.toks = malloc(b.n_toks * sizeof *b.toks);
    b.logits = malloc((size_t)V * sizeof *b.logits);
    if (!b.toks || !b.logits) cli_die("out of memory");
    unsigned long long seed = 42;
    for (size_t i = 0; i < b.n_toks; i++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        b.toks[i] = (int32_t)((seed >> 33) % (unsigned long long)V);
    }

    /* Warm-up: maps the weights in and settles the pool. */
    if (o->p > 0) run_prefill(&b, o->p < 64 ? o->p : 64);
    sl_session_reset(b.s);
    run_decode(&b, o->n < 4 ? o->n : 4);

    double *pp = calloc((size_t)o->reps, sizeof *pp), *tg = calloc((size_t)o->reps, sizeof *tg);
    double *ms = calloc((size_t)o->reps, sizeof *ms);
    if (!pp || !tg || !ms) cli_die("out of memory");
    for (int r = 0; r < o->reps; r++) {
        if (o->p > 0) pp[r] = o->p / run_prefill(&b, o->p);
        if (o->n > 0) {
            sl_session_reset(b.s);
            double dt = run_decode(&b, o->n);
            tg[r] = o->n / dt;
            ms[r] = dt * 1000 / o->n;
        }
    }
    bench_stat spp = bench_summarize(pp, o->reps), stg = bench_summarize(tg, o->reps);
    bench_stat sms = bench_summarize(ms, o->reps);
    const uint64_t rss_main = sl_peak_rss_bytes();

    /* Decode deep into the stream: same session, so the same memory. */
    const int np = o->n_positions;
    double pos_ms[MAX_LIST] = {0};
    uint64_t pos_rss[MAX_LIST] = {0}, pos_peak[MAX_LIST] = {0}, pos_anon[MAX_LIST] = {0};
    size_t pos_cache[MAX_LIST] = {0};
    int pos_window = 0;
    const int n_dec = o->n > 0 ? o->n : 32;
    if (np > 0 && o->n_windows > 0) {
        sl_session_params q = sp;
        q.n_window = o->windows[0];
        session_open(&b, &q);
    }
    for (int i = 0; i < np; i++) {
        double v[64];
        int reps = o->reps < 64 ? o->reps : 64;
        for (int r = 0; r < reps; r++) {
            stream_to(&b, o->positions[i], o->jump);
            if (r == 0) pos_cache[i] = sl_session_cache_len(b.s);
            v[r] = run_decode(&b, n_dec) * 1000 / n_dec;
        }
        pos_ms[i] = bench_summarize(v, reps).med;
        pos_window = b.s->p.n_window;
        sl_mem_snapshot(&pos_rss[i], &pos_peak[i]);
        pos_anon[i] = rss_anon_bytes();
    }

    /* Streaming vs sliding-window re-computation at each window. */
    static const int DEFAULT_WINDOWS[] = {512, 1024, 2048};
    const int *wins = o->n_windows ? o->windows : DEFAULT_WINDOWS;
    const int nw = o->vs_recompute ? (o->n_windows ? o->n_windows : 3) : 0;
    double st_ms[MAX_LIST] = {0}, rc_ms[MAX_LIST] = {0};
    const int n_rec = o->n < 1 ? 1 : o->n < 3 ? o->n : 3; /* each costs W + 1 tokens of prefill */
    for (int i = 0; i < nw; i++) {
        sl_session_params q = sp;
        q.policy = SL_POLICY_STREAMING;
        q.n_window = wins[i];
        session_open(&b, &q);
        stream_to(&b, (uint64_t)q.n_sink + (uint64_t)wins[i], false);
        st_ms[i] = run_decode(&b, n_dec) * 1000 / n_dec;

        q.policy = SL_POLICY_RECOMPUTE;
        session_open(&b, &q);
        /* A full window of history without replaying it W times: the
         * re-computation rebuilds everything from these tokens anyway. */
        for (int k = 0; k < wins[i]; k++) b.s->hist[k] = b.toks[(size_t)k % b.n_toks];
        b.s->n_fed = (uint64_t)wins[i];
        rc_ms[i] = run_decode(&b, n_rec) * 1000 / n_rec;
    }

    /* Bandwidth last: its buffer must not count in the peak RSS above. */
    const double bw = bench_read_bandwidth(sp.n_threads, (size_t)512 << 20, 5);
    const double wbytes = weight_bytes_per_token(b.m);
    const double bound = bw > 0 ? bw * 1e9 / wbytes : 0;

    if (o->json) {
        printf("{\"model\": ");
        cli_json_string(stdout, o->model, strlen(o->model));
        printf(", \"name\": ");
        cli_json_string(stdout, b.m->name, strlen(b.m->name));
        printf(", \"simd\": \"%s\", \"threads\": %d, \"prompt_tokens\": %d, \"decode_tokens\": %d, "
               "\"reps\": %d, \"kv_type\": \"%s\", \"batch\": %d, ",
               sl_simd_level(), sp.n_threads, o->p, o->n, o->reps,
               sp.kv_type == SL_KV_F32 ? "f32" : sp.kv_type == SL_KV_F16 ? "f16" : "q8_0", b.s->n_batch);
        print_stat("prefill_tok_per_s", spp, ", ");
        print_stat("decode_tok_per_s", stg, ", ");
        print_stat("ms_per_token", sms, ", ");
        printf("\"peak_rss_bytes\": %llu, \"weight_bytes_per_token\": %.0f, \"read_gb_per_s\": %.2f, "
               "\"bound_tok_per_s\": %.2f, \"fraction_of_bound\": %.3f",
               (unsigned long long)rss_main, wbytes, bw, bound, bound > 0 ? stg.med / bound : 0);
        if (np) {
            printf(", \"positions\": [");
            for (int i = 0; i < np; i++)
                printf("%s{\"position\": %llu, \"ms_per_token\": %.4f, \"cache_tokens\": %zu, "
                       "\"rss_bytes\": %llu, \"rss_anon_bytes\": %llu, \"peak_rss_bytes\": %llu}",
                       i ? ", " : "", (unsigned long long)o->positions[i], pos_ms[i], pos_cache[i],
                       (unsigned long long)pos_rss[i], (unsigned long long)pos_anon[i],
                       (unsigned long long)pos_peak[i]);
            printf("], \"positions_window\": %d, \"positions_jump\": %s", pos_window, o->jump ? "true" : "false");
        }
        if (nw) {
            printf(", \"vs_recompute\": [");
            for (int i = 0; i < nw; i++)
                printf("%s{\"window\": %d, \"streaming_ms_per_token\": %.4f, "
                       "\"recompute_ms_per_token\": %.4f, \"speedup\": %.2f}",
                       i ? ", " : "", wins[i], st_ms[i], rc_ms[i], rc_ms[i] / st_ms[i]);
            printf("]");
        }
        printf("}\n");
    } else {
        printf("model %s (%s), %s, %d threads, kv %s, batch %d, %d reps\n", o->model, b.m->name,
               sl_simd_level(), sp.n_threads,
               sp.kv_type == SL_KV_F32 ? "f32" : sp.kv_type == SL_KV_F16 ? "f16" : "q8_0",
               b.s->n_batch, o->reps);
        if (o->p > 0)
            printf("prefill pp%-5d %10.2f tok/s  (min %.2f, max %.2f)\n", o->p, spp.med, spp.min, spp.max);
        if (o->n > 0) {
            printf("decode  tg%-5d %10.2f tok/s  (min %.2f, max %.2f)  %.3f ms/token\n", o->n, stg.med,
                   stg.min, stg.max, sms.med);
            printf("bound   %.1f MiB/token at %.2f GB/s read = %.2f tok/s; decode is %.1f%% of it\n",
                   wbytes / (1 << 20), bw, bound, bound > 0 ? 100 * stg.med / bound : 0);
        }
        printf("peak RSS %.1f MiB\n", (double)rss_main / (1 << 20));
        for (int i = 0; i < np; i++)
            printf("position %-10llu %8.3f ms/token  cache %zu tokens  RSS %.1f MiB (allocated %.1f, peak %.1f)%s\n",
                   (unsigned long long)o->positions[i], pos_ms[i], pos_cache[i],
                   (double)pos_rss[i] / (1 << 20), (double)pos_anon[i] / (1 << 20),
                   (double)pos_peak[i] / (1 << 20), o->jump ? "  [jump]" : "");
        for (int i = 0; i < nw; i++)
            printf("window %-5d streaming %8.3f ms/token  recompute %10.3f ms/token  speedup %.1fx\n",
                   wins[i], st_ms[i], rc_ms[i], rc_ms[i] / st_ms[i]);
    }
    free(pp), free(tg), free(ms), free(b.toks), free(b.logits);
    sl_session_free(b.s);
    sl_model_free(b.m);
    return 0;
}

int cmd_bench(int argc, char **argv) {
    bench_opts o = {.p = 512, .n = 128, .reps = 5};
    sl_session_params_default(&o.sp);
    o.sp.n_batch = 0; /* 0: chosen below unless --batch is given */
    int mm_tokens = 64;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        long long list[MAX_LIST];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage();
            return 0;
        } else if (!strcmp(a, "-m") || !strcmp(a, "--model")) o.model = cli_value(argc, argv, &i);
        else if (!strcmp(a, "-p")) o.p = (int)cli_parse_int(a, cli_value(argc, argv, &i), 0, 1 << 20);
        else if (!strcmp(a, "-n")) o.n = (int)cli_parse_int(a, cli_value(argc, argv, &i), 0, 1 << 20);
        else if (!strcmp(a, "--reps") || !strcmp(a, "-r") || !strcmp(a, "--repetitions")) o.reps = (int)cli_parse_int(a, cli_value(argc, argv, &i), 1, 1000);
        else if (!strcmp(a, "--json")) o.json = true;
        else if (!strcmp(a, "--kernels")) o.kernels = true;
        else if (!strcmp(a, "--jump")) o.jump = true;
        else if (!strcmp(a, "--vs-recompute")) o.vs_recompute = true;
        else if (!strcmp(a, "--mm-tokens"))
            mm_tokens = (int)cli_parse_int(a, cli_value(argc, argv, &i), 1, 4096);
        else if (!strcmp(a, "--positions")) {
            o.n_positions = parse_list(a, cli_value(argc, argv, &i), 1, (long long)1 << 40, list);
            for (int k = 0; k < o.n_positions; k++) o.positions[k] = (uint64_t)list[k];
        } else if (!strcmp(a, "--window")) {
            o.n_windows = parse_list(a, cli_value(argc, argv, &i), 1, 1 << 24, list);
            for (int k = 0; k < o.n_windows; k++) o.windows[k] = (int)list[k];
        } else if (cli_session_flag(argc, argv, &i, &o.sp)) continue;
        else cli_die("unknown flag '%s' (see streamllm bench --help)", a);
    }
    if (o.kernels) {
        int nth = o.sp.n_threads > 0 ? o.sp.n_threads : sl_n_cores();
        if (o.json) {
            printf("{\"simd\": \"%s\", \"threads\": %d, \"read_gb_per_s\": %.2f, \"pool_dispatch_us\": %.3f, ",
                   sl_simd_level(), nth, bench_read_bandwidth(nth, (size_t)512 << 20, o.reps), bench_pool_dispatch_us(nth));
            bench_kernels(stdout, nth, o.reps, mm_tokens, true);
            printf("}\n");
        } else {
            printf("read bandwidth: %.2f GB/s (%d threads)\n", bench_read_bandwidth(nth, (size_t)512 << 20, o.reps),
                   nth);
            printf("pool dispatch: %.3f us per run of an empty task (%d threads)\n", bench_pool_dispatch_us(nth), nth);
            bench_kernels(stdout, nth, o.reps, mm_tokens, false);
        }
        if (!o.model) return 0;
    }
    if (!o.model) cli_die("-m FILE is required (or --kernels for the model-free kernel bench)");
    if (o.p == 0 && o.n == 0 && !o.n_positions && !o.vs_recompute)
        cli_die("-p and -n are both 0: nothing to measure");
    if (o.sp.policy == SL_POLICY_RECOMPUTE)
        cli_die("--policy recompute: use --vs-recompute to measure re-computation");
    if (o.sp.n_batch == 0) o.sp.n_batch = o.p > 0 && o.p < 512 ? o.p : 512;
    return bench_model(&o);
}
