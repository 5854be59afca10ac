/* cli_progress.h — one progress line on stderr for long prefills and
 * replays. It appears only when stderr is a terminal and the work has
 * already taken about 2 s, so short runs and redirected output (logs, CI,
 * pipes) get no extra text at all. */
#ifndef SL_CLI_PROGRESS_H
#define SL_CLI_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>

typedef struct {
    const char *label;  /* "prefill", "replay" ... */
    const char *unit;   /* "tok", "turns" ... */
    uint64_t total;     /* 0: unknown */
    double t0, t_last;
    bool tty, shown;
} cli_progress;

void cli_progress_start(cli_progress *p, const char *label, const char *unit, uint64_t total);
/* Redraws at most 4 times a second. */
void cli_progress_update(cli_progress *p, uint64_t done);
/* Clears the line if it was shown. */
void cli_progress_end(cli_progress *p);

#endif
