/* plot.h — CSV series and gnuplot rendering for ppl (log-PPL against
 * tokens, like the StreamingLLM paper's Figure 3) and attn (attention
 * heatmaps, like its Figure 2). gnuplot is optional: the CSV is always
 * written, the PNG only when gnuplot is on PATH. */
#ifndef SL_PLOT_H
#define SL_PLOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A running sum of NLL sampled every `stride` tokens, at most cap points.
 * When full, every other point is dropped and the stride doubles, so any
 * stream length fits in constant memory. The schedule depends only on the
 * token counts: runs over the same number of tokens sample the same x. */
typedef struct {
    uint64_t *n;      /* (cap) tokens scored at each point */
    double *cum;      /* (cap) sum of NLL over those tokens, nats */
    int len, cap;
    uint64_t stride;
} nll_curve;

/* Returns false when out of memory. cap must be even and >= 2. */
bool nll_curve_init(nll_curve *c, int cap);
void nll_curve_free(nll_curve *c);
/* Call after each scored token: n tokens so far, cum their NLL sum. */
void nll_curve_add(nll_curve *c, uint64_t n, double cum);
/* Records the last point (n, cum) if the schedule did not land on it. */
void nll_curve_finish(nll_curve *c, uint64_t n, double cum);

/* Writes PREFIX.csv: tokens, then for each curve the running mean NLL
 * (log-PPL so far, <name>_log_ppl) and the mean NLL over about the last
 * 1/50 of the run (<name>_recent_nll). Every curve
 * must have the same x. With gnuplot on PATH also writes PREFIX.gp and
 * renders PREFIX.png. Returns 0, or -1 with a message in msg. *png says
 * whether a PNG was written (false with a reason in note when gnuplot is
 * missing or failed). */
int plot_ppl(const char *prefix, const nll_curve *curves, const char *const *names, int n_curves,
             const char *title, bool *png, char *note, size_t note_cap, char *msg, size_t msg_cap);

/* Renders PREFIX.png with one heatmap panel per matrix file csvs[i]
 * (N x N, comma-separated), titled titles[i]; writes PREFIX.gp. */
int plot_heatmaps(const char *prefix, const char *const *csvs, const char *const *titles, int n,
                  int n_tok, bool *png, char *note, size_t note_cap, char *msg, size_t msg_cap);

/* True when an executable named gnuplot is on PATH. */
bool plot_have_gnuplot(void);

#endif
