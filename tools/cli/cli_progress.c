/* cli_progress.c — see cli_progress.h. */
#include "cli_progress.h"

#include <stdio.h>
#include <unistd.h>

#include "core/sys_stats.h"

#define SHOW_AFTER_S 2.0

void cli_progress_start(cli_progress *p, const char *label, const char *unit, uint64_t total) {
    p->label = label;
    p->unit = unit;
    p->total = total;
    p->t0 = p->t_last = sl_now_s();
    p->tty = isatty(STDERR_FILENO) == 1;
    p->shown = false;
}

void cli_progress_update(cli_progress *p, uint64_t done) {
    if (!p->tty) return;
    double now = sl_now_s();
    if (now - p->t0 < SHOW_AFTER_S || (p->shown && now - p->t_last < 0.25)) return;
    double rate = (double)done / (now - p->t0);
    if (p->total)
        fprintf(stderr, "\r\033[K[%s] %llu/%llu %s (%.0f%%), %.1f %s/s, ETA %.0f s", p->label,
                (unsigned long long)done, (unsigned long long)p->total, p->unit,
                100.0 * (double)done / (double)p->total, rate, p->unit,
                rate > 0 ? (double)(p->total - done) / rate : 0.0);
    else
        fprintf(stderr, "\r\033[K[%s] %llu %s, %.1f %s/s", p->label, (unsigned long long)done, p->unit,
                rate, p->unit);
    fflush(stderr);
    p->shown = true;
    p->t_last = now;
}

void cli_progress_end(cli_progress *p) {
    if (p->shown) {
        fputs("\r\033[K", stderr);
        fflush(stderr);
    }
    p->shown = false;
}
