/* cmd_train.c — `streamllm train`: a llama model trained from scratch on a
 * text corpus with a BPE vocabulary from `train-tokenizer`, in one of the
 * paper's three variants (vanilla, --sink-token, --zero-sink), exported as
 * GGUF. A live line shows step, loss, tokens/s and ETA; the loss curve goes
 * to CSV (and PNG when gnuplot is installed). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "cli_check.h"
#include "cli_signal.h"
#include "core/sys_stats.h"
#include "gguf/gguf.h"
#include "train/bpe.h"
#include "train/corpus.h"
#include "train/gemm.h"
#include "train/trainer.h"

static void usage(void) {
    printf("usage: streamllm train --tokenizer TOK.gguf --corpus FILE [--corpus FILE ...] -o OUT.gguf [flags]\n\n"
           "Trains a llama-architecture model on the CPU and writes a GGUF that generate,\n"
           "ppl, attn and chat load. The last --holdout of each file is held out; the final\n"
           "line reports the loss on it.\n\n"
           "variant (the paper's Table 3):\n"
           "  (default)          vanilla\n"
           "  --sink-token       prepend the learnable <|sink|> token to every sample; the\n"
           "                     GGUF records it and the engine prepends it to every stream\n"
           "  --zero-sink        softmax with +1 in the denominator (SoftMax-off-by-One)\n"
           "model:\n"
           "  --dim N (128)  --layers N (4)  --heads N (4)  --ff N (0 = 8/3 dim, to 32)\n"
           "  --ctx N (256)      tokens per training sample = the exported context length\n"
           "optimizer:\n"
           "  --steps N (1000)  --batch N (8)  --accum N (1)  --lr F (1e-3)  --min-lr F (lr/10)\n"
           "  --warmup N (steps/20)  --clip F (1, 0 = off)  --wd F (0.1)  --seed N (1)\n"
           "run:\n"
           "  -t, --threads N    worker threads (default: all cores)\n"
           "  --holdout F        held-out fraction of each file (0.05)   --no-strip (keep Gutenberg frame)\n"
           "  --eval-every N     held-out loss every N steps (steps/10; 0 = only at the end)\n"
           "  --eval-chunks N    windows per evaluation (32; 0 = all)\n"
           "  --checkpoint FILE  save the full state every --ckpt-every N steps (200) and at the end\n"
           "  --resume FILE      continue a checkpoint (its shape and settings win)\n"
           "  --stop-after N     stop (and checkpoint) after N steps of this run\n"
           "  --dtype f32|f16    exported weight type (f32)\n"
           "  --loss-csv FILE    loss curve (default OUT.gguf -> OUT.loss.csv; PNG beside it via gnuplot)\n"
           "  --heldout-out FILE write the held-out text, as evaluated, for `streamllm ppl`\n\n"
           "Ctrl-C stops after the step in progress and writes a checkpoint (--checkpoint,\n"
           "else OUT.ckpt) with the command that resumes it; a second Ctrl-C exits at once.\n");
}

typedef struct {
    const char *tok, *out, *ckpt, *resume, *csv, *heldout_out;
    const char **files;
    int n_files, threads, eval_every, eval_chunks, ckpt_every, stop_after;
    double holdout;
    bool strip, f16;
} args;

/* Encodes every part (train or held) of the corpus, with <|endoftext|>
 * between files. */
static int32_t *encode_parts(sl_bpe *b, const sl_corpus *c, bool held, size_t *n_out) {
    int32_t *all = NULL;
    size_t n = 0;
    sl_error err;
    for (int i = 0; i < c->n; i++) {
        const char *s = held ? c->held[i] : c->train[i];
        size_t len = held ? c->n_held[i] : c->n_train[i];
        if (!len) continue;
        int32_t *ids;
        size_t k;
        cli_check(sl_bpe_encode(b, s, len, &ids, &k, &err), &err);
        int32_t *p = realloc(all, (n + k + 1) * sizeof *all);
        if (!p) cli_die("out of memory for the token stream");
        all = p;
        if (n && b->eot >= 0) all[n++] = b->eot;
        memcpy(all + n, ids, k * sizeof *ids);
        n += k;
        free(ids);
    }
    *n_out = n;
    return all;
}

static void fmt_time(char *buf, size_t n, double s) {
    if (s < 0 || !isfinite(s)) s = 0;
    int h = (int)(s / 3600), m = (int)(fmod(s, 3600) / 60), sec = (int)fmod(s, 60);
    if (h) snprintf(buf, n, "%dh%02dm", h, m);
    else snprintf(buf, n, "%dm%02ds", m, sec);
}

/* FLOPs of one trained token: forward products (2 per multiply-add) for the
 * linear layers, the logits and causal attention, times 3 for the backward. */
static double flops_per_token(const sl_train_config *c) {
    double E = c->n_embd, F = c->n_ff, V = c->n_vocab, T = c->n_ctx;
    double fwd = c->n_layer * (2 * (4 * E * E + 3 * E * F) + 2 * E * (T + 1)) + 2 * V * E;
    return 3 * fwd;
}

static void plot(const char *csv) {
    if (system("command -v gnuplot >/dev/null 2>&1") != 0) {
        fprintf(stderr, "train: gnuplot not found: wrote the curve as CSV only (%s)\n", csv);
        return;
    }
    char png[4096];
    snprintf(png, sizeof png, "%.*s.png", (int)(strlen(csv) > 4 ? strlen(csv) - 4 : strlen(csv)), csv);
    FILE *g = popen("gnuplot", "w");
    if (!g) return;
    fprintf(g, "set terminal png size 900,500\nset output '%s'\nset datafile separator ','\n"
               "set key autotitle columnhead\nset xlabel 'step'\nset ylabel 'loss (nats)'\n"
               "plot '%s' using 1:3 with lines title 'train', '' using 1:7 with points pt 7 title 'held-out'\n",
            png, csv);
    if (pclose(g) == 0) fprintf(stderr, "train: wrote %s\n", png);
}

int cmd_train(int argc, char **argv) {
    sl_train_config cfg = {.n_vocab = 0, .n_embd = 128, .n_layer = 4, .n_head = 4, .n_ff = 0,
                           .n_ctx = 256, .rms_eps = 1e-5f, .rope_base = 10000.0, .sink_token = -1};
    sl_train_opts o;
    sl_train_opts_default(&o);
    bool sink = false, min_lr_set = false, warmup_set = false;
    args a = {.threads = 0, .eval_every = -1, .eval_chunks = 32, .ckpt_every = 200, .holdout = 0.05,
              .strip = true};
    a.files = calloc((size_t)argc + 1, sizeof *a.files);
    if (!a.files) cli_die("out of memory");
    for (int i = 1; i < argc; i++) {
        const char *f = argv[i];
#define INT(lo, hi) (int)cli_parse_int(f, cli_value(argc, argv, &i), lo, hi)
#define FLT(lo, hi) cli_parse_float(f, cli_value(argc, argv, &i), lo, hi)
        if (!strcmp(f, "-h") || !strcmp(f, "--help")) {
            usage();
            free(a.files);
            return 0;
        } else if (!strcmp(f, "--tokenizer")) a.tok = cli_value(argc, argv, &i);
        else if (!strcmp(f, "--corpus")) a.files[a.n_files++] = cli_value(argc, argv, &i);
        else if (!strcmp(f, "-o") || !strcmp(f, "--output")) a.out = cli_value(argc, argv, &i);
        else if (!strcmp(f, "--sink-token")) sink = true;
        else if (!strcmp(f, "--zero-sink")) cfg.zero_sink = true;
        else if (!strcmp(f, "--dim")) cfg.n_embd = INT(2, 1 << 14);
        else if (!strcmp(f, "--layers")) cfg.n_layer = INT(1, 256);
        else if (!strcmp(f, "--heads")) cfg.n_head = INT(1, 1024);
        else if (!strcmp(f, "--ff")) cfg.n_ff = INT(0, 1 << 16);
        else if (!strcmp(f, "--ctx")) cfg.n_ctx = INT(2, 1 << 14);
        else if (!strcmp(f, "--steps")) o.steps = INT(1, 100000000);
        else if (!strcmp(f, "--batch")) o.batch = INT(1, 4096);
        else if (!strcmp(f, "--accum")) o.accum = INT(1, 4096);
        else if (!strcmp(f, "--lr")) o.lr = (float)FLT(1e-8, 10);
        else if (!strcmp(f, "--min-lr")) o.min_lr = (float)FLT(0, 10), min_lr_set = true;
        else if (!strcmp(f, "--warmup")) o.warmup = INT(0, 100000000), warmup_set = true;
        else if (!strcmp(f, "--clip")) o.clip = (float)FLT(0, 1e6);
        else if (!strcmp(f, "--wd")) o.wd = (float)FLT(0, 10);
        else if (!strcmp(f, "--seed")) o.seed = (uint64_t)cli_parse_int(f, cli_value(argc, argv, &i), 0, (long long)1 << 62);
        else if (!strcmp(f, "--init-std")) o.init_std = (float)FLT(1e-6, 10);
        else if (!strcmp(f, "--threads") || !strcmp(f, "-t")) a.threads = INT(1, 256);
        else if (!strcmp(f, "--holdout")) a.holdout = FLT(0, 0.5);
        else if (!strcmp(f, "--no-strip")) a.strip = false;
        else if (!strcmp(f, "--eval-every")) a.eval_every = INT(0, 100000000);
        else if (!strcmp(f, "--eval-chunks")) a.eval_chunks = INT(0, 1 << 20);
        else if (!strcmp(f, "--checkpoint")) a.ckpt = cli_value(argc, argv, &i);
        else if (!strcmp(f, "--ckpt-every")) a.ckpt_every = INT(1, 100000000);
        else if (!strcmp(f, "--resume")) a.resume = cli_value(argc, argv, &i);
        else if (!strcmp(f, "--stop-after")) a.stop_after = INT(1, 100000000);
        else if (!strcmp(f, "--loss-csv")) a.csv = cli_value(argc, argv, &i);
        else if (!strcmp(f, "--heldout-out")) a.heldout_out = cli_value(argc, argv, &i);
        else if (!strcmp(f, "--dtype")) {
            const char *v = cli_value(argc, argv, &i);
            if (!strcmp(v, "f16")) a.f16 = true;
            else if (strcmp(v, "f32")) cli_die("--dtype: '%s' is not f32 or f16", v);
        } else cli_die("unknown flag '%s' (see streamllm train --help)", f);
#undef INT
#undef FLT
    }
    if (!a.tok) cli_die("no vocabulary: pass --tokenizer TOK.gguf (make one with train-tokenizer)");
    if (!a.n_files) cli_die("no corpus: pass --corpus FILE");
    if (!a.out) cli_die("no output: pass -o FILE.gguf");
    if (!min_lr_set) o.min_lr = o.lr / 10;
    if (!warmup_set) o.warmup = o.steps / 20;
    if (cfg.n_ff == 0) cfg.n_ff = ((cfg.n_embd * 8 / 3) + 31) / 32 * 32;
    if (a.eval_every < 0) a.eval_every = o.steps / 10 > 0 ? o.steps / 10 : 1;

    /* Every output is checked before the corpus is read and a step is run. */
    char csv_buf[4096], ckpt_buf[4096];
    {
        size_t l = strlen(a.out);
        if (l > 5 && !strcmp(a.out + l - 5, ".gguf")) l -= 5;
        snprintf(csv_buf, sizeof csv_buf, "%.*s.loss.csv", (int)l, a.out);
        snprintf(ckpt_buf, sizeof ckpt_buf, "%.*s.ckpt", (int)l, a.out);
        if (!a.csv) a.csv = csv_buf;
    }
    cli_check_writable("-o", a.out, NULL);
    cli_check_writable("--loss-csv", a.csv, NULL);
    if (a.ckpt) cli_check_writable("--checkpoint", a.ckpt, NULL);
    if (a.heldout_out) cli_check_writable("--heldout-out", a.heldout_out, NULL);

    sl_error err;
    sl_gguf *vg;
    cli_check(sl_gguf_open(&vg, a.tok, &err), &err);
    sl_bpe bpe;
    cli_check(sl_bpe_from_gguf(&bpe, vg, &err), &err);
    cfg.n_vocab = bpe.n_vocab;
    if (sink) {
        if (bpe.sink < 0) cli_die("%s has no %s token: --sink-token needs a vocabulary from "
                                  "train-tokenizer", a.tok, SL_BPE_SINK);
        cfg.sink_token = bpe.sink;
    }
    sl_corpus corpus;
    cli_check(sl_corpus_load(&corpus, a.files, a.n_files, a.holdout, a.strip, &err), &err);
    size_t n_train, n_held;
    double t_tok = sl_now_s();
    int32_t *train = encode_parts(&bpe, &corpus, false, &n_train);
    int32_t *held = encode_parts(&bpe, &corpus, true, &n_held);
    if (!n_train) cli_die("the corpus is empty after tokenization");
    fprintf(stderr, "train: %zu training tokens, %zu held-out tokens from %d file%s (%.1fs to tokenize)\n",
            n_train, n_held, corpus.n, corpus.n == 1 ? "" : "s", sl_now_s() - t_tok);
    if (a.heldout_out) {
        size_t hl;
        char *h = sl_corpus_join(&corpus, true, &hl);
        FILE *fp = h ? fopen(a.heldout_out, "wb") : NULL;
        if (!fp || fwrite(h, 1, hl, fp) != hl || fclose(fp) != 0)
            cli_die("%s: cannot write the held-out text", a.heldout_out);
        free(h);
    }

    /* A shape that cannot fit is refused before anything big is allocated. */
    uint64_t need = sl_train_model_bytes(&cfg, o.batch) + 2 * 4 * (uint64_t)sl_train_n_params(&cfg);
    long pages = sysconf(_SC_PHYS_PAGES), psz = sysconf(_SC_PAGE_SIZE);
    uint64_t have = pages > 0 && psz > 0 ? (uint64_t)pages * (uint64_t)psz : 0;
    if (!a.resume && have && need > have)
        cli_die("this shape needs %.2f GiB for weights, optimizer state and activations but the "
                "machine has %.2f GiB: lower --batch, --ctx, --dim or --layers",
                (double)need / (1 << 30), (double)have / (1 << 30));

    sl_pool *pool;
    cli_check(sl_pool_create(&pool, a.threads, &err), &err);
    sl_trainer t;
    if (a.resume) {
        cli_check(sl_trainer_load(&t, a.resume, pool, train, n_train, &err), &err);
        if (t.cfg.n_vocab != bpe.n_vocab) cli_die("%s: the checkpoint's vocabulary differs from %s", a.resume, a.tok);
        cfg = t.cfg;
        o = t.o;
        fprintf(stderr, "train: resumed %s at step %llu of %d (its shape and settings are used)\n",
                a.resume, (unsigned long long)t.step, o.steps);
    } else {
        cli_check(sl_trainer_init(&t, &cfg, &o, pool, train, n_train, &err), &err);
    }
    const char *variant = cfg.sink_token >= 0 ? "sink-token" : cfg.zero_sink ? "zero-sink" : "vanilla";
    fprintf(stderr, "train: %s llama, vocab %d, dim %d, %d layers, %d heads, ff %d, ctx %d: %.2fM "
            "parameters; batch %d x accum %d, %d steps, lr %g -> %g, warmup %d, %d threads, %s GEMM\n",
            variant, cfg.n_vocab, cfg.n_embd, cfg.n_layer, cfg.n_head, cfg.n_ff, cfg.n_ctx,
            (double)t.m.n_params / 1e6, o.batch, o.accum, o.steps, o.lr, o.min_lr, o.warmup,
            sl_pool_n_threads(pool), sl_gemm_uses_avx2() ? "avx2" : "portable");

    FILE *csv = fopen(a.csv, a.resume ? "a" : "w");
    if (!csv) cli_die("%s: cannot write the loss curve", a.csv);
    if (!a.resume) fprintf(csv, "step,lr,loss,grad_norm,tokens,seconds,eval_loss\n");

    const double fpt = flops_per_token(&cfg);
    const size_t tok_per_step = (size_t)o.batch * o.accum * cfg.n_ctx;
    const bool tty = isatty(2);
    double t0 = sl_now_s(), last_eval = NAN;
    uint64_t start_step = t.step;
    cli_sigint_install();
    bool interrupted = false;
    while (t.step < (uint64_t)o.steps) {
        if (cli_interrupted()) {
            interrupted = true;
            break;
        }
        sl_trainer_step(&t);
        double el = sl_now_s() - t0;
        uint64_t done = t.step - start_step;
        double tps = (double)(done * tok_per_step) / el;
        char eta[32];
        fmt_time(eta, sizeof eta, (double)(o.steps - t.step) * el / (double)done);
        bool ev = n_held > 0 && a.eval_every > 0 && (t.step % (uint64_t)a.eval_every == 0 || t.step == (uint64_t)o.steps);
        double eval_loss = NAN;
        if (ev) {
            sl_status est = sl_trainer_eval(&t, held, n_held, a.eval_chunks, &eval_loss, NULL, &err);
            if (est != SL_OK) {
                fprintf(stderr, "\ntrain: evaluation skipped: %s\n", err.msg);
                a.eval_every = 0;
            } else {
                last_eval = eval_loss;
            }
        }
        fprintf(csv, "%llu,%.6g,%.6f,%.6f,%llu,%.2f,", (unsigned long long)t.step, t.lr_now, t.loss,
                t.grad_norm, (unsigned long long)(t.step * tok_per_step), el);
        if (isfinite(eval_loss)) fprintf(csv, "%.6f", eval_loss);
        fputc('\n', csv);
        if (ev) fflush(csv);
        bool show = tty || ev || t.step % 10 == 0 || t.step == (uint64_t)o.steps;
        if (show) {
            fprintf(stderr, "%sstep %llu/%d  loss %.4f  lr %.2e  |g| %.2f  %.0f tok/s  %.1f GFLOP/s  ETA %s",
                    tty ? "\r" : "", (unsigned long long)t.step, o.steps, t.loss, t.lr_now,
                    t.grad_norm, tps, tps * fpt / 1e9, eta);
            if (isfinite(eval_loss)) fprintf(stderr, "  held-out %.4f (ppl %.2f)", eval_loss, exp(eval_loss));
            fprintf(stderr, tty && !ev ? "   " : "\n");
        }
        bool stop = a.stop_after > 0 && done >= (uint64_t)a.stop_after;
        if (a.ckpt && (t.step % (uint64_t)a.ckpt_every == 0 || t.step == (uint64_t)o.steps || stop))
            cli_check(sl_trainer_save(&t, a.ckpt, &err), &err);
        if (stop) break;
    }
    if (tty) fputc('\n', stderr);
    fclose(csv);
    if (interrupted) {
        /* Ctrl-C: the state goes to disk with the command that continues it. */
        const char *ck = a.ckpt ? a.ckpt : ckpt_buf;
        if (ck == ckpt_buf) cli_check_writable("checkpoint", ck, NULL);
        cli_check(sl_trainer_save(&t, ck, &err), &err);
        fprintf(stderr, "train: interrupted (Ctrl-C) at step %llu of %d; wrote the checkpoint %s\n"
                        "train: resume with: streamllm train --tokenizer %s", (unsigned long long)t.step,
                o.steps, ck, a.tok);
        for (int i = 0; i < a.n_files; i++) fprintf(stderr, " --corpus %s", a.files[i]);
        fprintf(stderr, " -o %s --resume %s%s%s\n", a.out, ck, a.ckpt ? " --checkpoint " : "",
                a.ckpt ? a.ckpt : "");
        sl_trainer_free(&t);
        sl_pool_free(pool);
        free(train);
        free(held);
        sl_corpus_free(&corpus);
        sl_bpe_free(&bpe);
        sl_gguf_close(vg);
        free(a.files);
        return 130;
    }
    double el = sl_now_s() - t0;
    uint64_t done = t.step - start_step;
    if (done)
        fprintf(stderr, "train: %llu steps in %.1fs: %.0f tok/s, %.2f GFLOP/s (%.1f GFLOP per step)\n",
                (unsigned long long)done, el, (double)(done * tok_per_step) / el,
                (double)(done * tok_per_step) * fpt / el / 1e9, fpt * (double)tok_per_step / 1e9);
    if (n_held && !isfinite(last_eval)) {
        if (sl_trainer_eval(&t, held, n_held, a.eval_chunks, &last_eval, NULL, &err) != SL_OK)
            fprintf(stderr, "train: no held-out evaluation: %s\n", err.msg);
    }
    if (isfinite(last_eval))
        fprintf(stderr, "train: held-out loss %.4f nats/token, ppl %.3f\n", last_eval, exp(last_eval));
    char name[64];
    snprintf(name, sizeof name, "streamllm-%s", variant);
    cli_check(sl_train_export(&t.m, vg, name, a.f16 ? SL_TYPE_F16 : SL_TYPE_F32, a.out, &err), &err);
    fprintf(stderr, "train: wrote %s (%s weights) and %s\n", a.out, a.f16 ? "f16" : "f32", a.csv);
    plot(a.csv);

    sl_trainer_free(&t);
    sl_pool_free(pool);
    free(train);
    free(held);
    sl_corpus_free(&corpus);
    sl_bpe_free(&bpe);
    sl_gguf_close(vg);
    free(a.files);
    return 0;
}
