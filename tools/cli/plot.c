/* plot.c — bounded NLL curves, their CSV, and gnuplot scripts. The script
 * is kept next to the PNG (PREFIX.gp) so a figure can be restyled and
 * re-rendered without re-running the model. */
#include "plot.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

bool nll_curve_init(nll_curve *c, int cap) {
    memset(c, 0, sizeof *c);
    if (cap < 2) cap = 2;
    cap &= ~1;
    c->n = malloc((size_t)cap * sizeof *c->n);
    c->cum = malloc((size_t)cap * sizeof *c->cum);
    if (!c->n || !c->cum) {
        nll_curve_free(c);
        return false;
    }
    c->cap = cap;
    c->stride = 1;
    return true;
}

void nll_curve_free(nll_curve *c) {
    if (!c) return;
    free(c->n);
    free(c->cum);
    c->n = NULL;
    c->cum = NULL;
    c->len = c->cap = 0;
}

void nll_curve_add(nll_curve *c, uint64_t n, double cum) {
    if (!c->cap || n % c->stride != 0) return;
    if (c->len == c->cap) {
        /* Keep the points on the doubled stride: every second one. */
        int j = 0;
        for (int i = 0; i < c->len; i++) {
            if (c->n[i] % (2 * c->stride) != 0) continue;
            c->n[j] = c->n[i];
            c->cum[j] = c->cum[i];
            j++;
        }
        c->len = j;
        c->stride *= 2;
        if (n % c->stride != 0) return;
    }
    c->n[c->len] = n;
    c->cum[c->len] = cum;
    c->len++;
}

void nll_curve_finish(nll_curve *c, uint64_t n, double cum) {
    if (!c->cap || n == 0) return;
    if (c->len > 0 && c->n[c->len - 1] == n) return;
    if (c->len == c->cap) c->len--; /* the last point moves to the end of the stream */
    c->n[c->len] = n;
    c->cum[c->len] = cum;
    c->len++;
}

static void fmt(char *buf, size_t cap, const char *f, ...) __attribute__((format(printf, 3, 4)));
static void fmt(char *buf, size_t cap, const char *f, ...) {
    if (!buf || !cap) return;
    va_list ap;
    va_start(ap, f);
    vsnprintf(buf, cap, f, ap);
    va_end(ap);
}

bool plot_have_gnuplot(void) {
    const char *path = getenv("PATH");
    if (!path || !*path) return false;
    char dir[4096];
    while (*path) {
        size_t n = strcspn(path, ":");
        if (n > 0 && n < sizeof dir - 16) {
            memcpy(dir, path, n);
            strcpy(dir + n, "/gnuplot");
            if (access(dir, X_OK) == 0) return true;
        }
        path += n;
        if (*path == ':') path++;
    }
    return false;
}

/* Writes s as a gnuplot single-quoted string ('' stands for '). */
static void gp_string(FILE *fp, const char *s) {
    fputc('\'', fp);
    for (; *s; s++) {
        if (*s == '\'') fputc('\'', fp);
        fputc(*s, fp);
    }
    fputc('\'', fp);
}

/* Picks pngcairo when this gnuplot has it (smoother), else the plain png terminal. */
static void gp_terminal(FILE *fp, int w, int h) {
    fprintf(fp,
            "if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) {\n"
            "    set terminal pngcairo size %d,%d font ',10'\n"
            "} else {\n"
            "    set terminal png size %d,%d\n"
            "}\n",
            w, h, w, h);
}

/* Runs `gnuplot script` with stdout to /dev/null (ppl --json owns stdout). */
static int run_gnuplot(const char *script, char *note, size_t note_cap) {
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        fmt(note, note_cap, "cannot start gnuplot: %s", strerror(errno));
        return -1;
    }
    if (pid == 0) {
        int fd = open("/dev/null", O_WRONLY);
        if (fd >= 0) dup2(fd, STDOUT_FILENO);
        execlp("gnuplot", "gnuplot", script, (char *)NULL);
        _exit(127);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) {
            fmt(note, note_cap, "waiting for gnuplot: %s", strerror(errno));
            return -1;
        }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fmt(note, note_cap, "gnuplot failed on %s (exit status %d)", script,
            WIFEXITED(status) ? WEXITSTATUS(status) : -1);
        return -1;
    }
    return 0;
}

/* Writes the script to PREFIX.gp and renders it when gnuplot exists. */
static int render(const char *prefix, const char *script_text, bool *png, char *note,
                  size_t note_cap, char *msg, size_t msg_cap) {
    *png = false;
    char gp[4200];
    snprintf(gp, sizeof gp, "%s.gp", prefix);
    FILE *fp = fopen(gp, "w");
    if (!fp) {
        fmt(msg, msg_cap, "%s: cannot write: %s", gp, strerror(errno));
        return -1;
    }
    fputs(script_text, fp);
    if (fclose(fp) != 0) {
        fmt(msg, msg_cap, "%s: write error", gp);
        return -1;
    }
    if (!plot_have_gnuplot()) {
        fmt(note, note_cap, "gnuplot is not on PATH: wrote the CSV and %s but no PNG", gp);
        return 0;
    }
    if (run_gnuplot(gp, note, note_cap) == 0) *png = true;
    return 0;
}

/* A growable in-memory script (open_memstream keeps this simple). */
static FILE *script_open(char **buf, size_t *len) {
    *buf = NULL;
    *len = 0;
    return open_memstream(buf, len);
}

int plot_ppl(const char *prefix, const nll_curve *curves, const char *const *names, int n_curves,
             const char *title, bool *png, char *note, size_t note_cap, char *msg, size_t msg_cap) {
    *png = false;
    if (n_curves < 1 || curves[0].len < 1) {
        fmt(msg, msg_cap, "plot: no points to plot");
        return -1;
    }
    for (int k = 1; k < n_curves; k++) {
        bool same = curves[k].len == curves[0].len;
        for (int i = 0; same && i < curves[0].len; i++) same = curves[k].n[i] == curves[0].n[i];
        if (!same) {
            fmt(msg, msg_cap, "plot: the %s and %s runs scored different token counts", names[0],
                names[k]);
            return -1;
        }
    }
    char csv[4200];
    snprintf(csv, sizeof csv, "%s.csv", prefix);
    FILE *fp = fopen(csv, "w");
    if (!fp) {
        fmt(msg, msg_cap, "%s: cannot write: %s", csv, strerror(errno));
        return -1;
    }
    /* The second column averages over about 1/50 of the run: single points
     * are too noisy to read, the running mean hides where a policy breaks. */
    const int span = curves[0].len / 50 > 1 ? curves[0].len / 50 : 1;
    const uint64_t span_tok = curves[0].len > span ? curves[0].n[curves[0].len - 1] -
                                                        curves[0].n[curves[0].len - 1 - span]
                                                  : curves[0].n[curves[0].len - 1];
    fputs("tokens", fp);
    for (int k = 0; k < n_curves; k++) fprintf(fp, ",%s_log_ppl,%s_recent_nll", names[k], names[k]);
    fputc('\n', fp);
    for (int i = 0; i < curves[0].len; i++) {
        fprintf(fp, "%llu", (unsigned long long)curves[0].n[i]);
        for (int k = 0; k < n_curves; k++) {
            const nll_curve *c = &curves[k];
            uint64_t n0 = i >= span ? c->n[i - span] : 0;
            double s0 = i >= span ? c->cum[i - span] : 0.0;
            fprintf(fp, ",%.6f,%.6f", c->cum[i] / (double)c->n[i],
                    (c->cum[i] - s0) / (double)(c->n[i] - n0));
        }
        fputc('\n', fp);
    }
    if (fclose(fp) != 0) {
        fmt(msg, msg_cap, "%s: write error", csv);
        return -1;
    }

    char *text;
    size_t text_len;
    FILE *s = script_open(&text, &text_len);
    if (!s) {
        fmt(msg, msg_cap, "plot: out of memory");
        return -1;
    }
    fprintf(s, "# Rendered by streamllm ppl; re-run with: gnuplot %s.gp\n", prefix);
    gp_terminal(s, 1000, 800);
    fputs("set output ", s);
    char png_path[4200];
    snprintf(png_path, sizeof png_path, "%s.png", prefix);
    gp_string(s, png_path);
    fputs("\nset datafile separator ','\nset key top left\nset grid\n"
          "set multiplot layout 2,1 title ", s);
    gp_string(s, title);
    fputs("\nset xlabel 'input length (tokens)'\nset ylabel 'log PPL (running mean NLL)'\n", s);
    fputs("plot ", s);
    for (int k = 0; k < n_curves; k++) {
        if (k) fputs(", \\\n     ", s);
        gp_string(s, csv);
        fprintf(s, " using 1:%d with lines lw 2 title ", 2 + 2 * k);
        gp_string(s, names[k]);
    }
    fprintf(s, "\nset ylabel 'mean NLL of the last %llu tokens'\nplot ", (unsigned long long)span_tok);
    for (int k = 0; k < n_curves; k++) {
        if (k) fputs(", \\\n     ", s);
        gp_string(s, csv);
        fprintf(s, " using 1:%d with lines lw 1 title ", 3 + 2 * k);
        gp_string(s, names[k]);
    }
    fputs("\nunset multiplot\n", s);
    if (fclose(s) != 0 || !text) {
        free(text);
        fmt(msg, msg_cap, "plot: out of memory");
        return -1;
    }
    int rc = render(prefix, text, png, note, note_cap, msg, msg_cap);
    free(text);
    return rc;
}

int plot_heatmaps(const char *prefix, const char *const *csvs, const char *const *titles, int n,
                  int n_tok, bool *png, char *note, size_t note_cap, char *msg, size_t msg_cap) {
    *png = false;
    int cols = n < 3 ? n : 3, rows = (n + cols - 1) / cols;
    char *text;
    size_t text_len;
    FILE *s = script_open(&text, &text_len);
    if (!s) {
        fmt(msg, msg_cap, "plot: out of memory");
        return -1;
    }
    fprintf(s, "# Rendered by streamllm attn; re-run with: gnuplot %s.gp\n", prefix);
    gp_terminal(s, 420 * cols, 400 * rows + 40);
    char png_path[4200];
    snprintf(png_path, sizeof png_path, "%s.png", prefix);
    fputs("set output ", s);
    gp_string(s, png_path);
    /* Log colours: the sink column is orders of magnitude above the rest,
     * and the zero upper triangle drops out as background. */
    fprintf(s,
            "\nset datafile separator ','\nset logscale cb\nset cbrange [1e-4:1]\n"
            "set palette defined (0 'white', 1 '#fde0c5', 2 '#f59e72', 3 '#c8102e', 4 '#3b0a0a')\n"
            "set xrange [-0.5:%d.5]\nset yrange [%d.5:-0.5]\nset size ratio -1\n"
            "set xlabel 'key position'\nset ylabel 'query position'\nunset key\n"
            "set multiplot layout %d,%d title 'average attention over heads (log colour scale)'\n",
            n_tok - 1, n_tok - 1, rows, cols);
    for (int i = 0; i < n; i++) {
        fputs("set title ", s);
        gp_string(s, titles[i]);
        fputs("\nplot ", s);
        gp_string(s, csvs[i]);
        fputs(" matrix with image\n", s);
    }
    fputs("unset multiplot\n", s);
    if (fclose(s) != 0 || !text) {
        free(text);
        fmt(msg, msg_cap, "plot: out of memory");
        return -1;
    }
    int rc = render(prefix, text, png, note, note_cap, msg, msg_cap);
    free(text);
    return rc;
}
