/* sys_stats.h — cheap observability: wall clock, peak memory, core count. */
#ifndef SL_CORE_SYS_STATS_H
#define SL_CORE_SYS_STATS_H

#include <stdint.h>

/* Monotonic seconds. */
double sl_now_s(void);
/* Peak resident set size of this process in bytes (VmHWM), 0 if unknown. */
uint64_t sl_peak_rss_bytes(void);
/* Current and peak RSS in bytes from one reading, so that peak >= rss
 * always holds when both are printed together (either may be NULL). */
void sl_mem_snapshot(uint64_t *rss, uint64_t *peak);
/* Current resident set size in bytes (VmRSS), 0 if unknown. */
uint64_t sl_rss_bytes(void);
/* Online CPU cores, at least 1. */
int sl_n_cores(void);

#endif
