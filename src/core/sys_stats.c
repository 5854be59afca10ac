#include "core/sys_stats.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

double sl_now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t status_field_kb(const char *field) {
    FILE *fp = fopen("/proc/self/status", "r");
    if (!fp) return 0;
    char line[256];
    uint64_t kb = 0;
    size_t flen = strlen(field);
    while (fgets(line, sizeof line, fp)) {
        if (strncmp(line, field, flen) == 0) {
            unsigned long long v = 0;
            if (sscanf(line + flen, " %llu", &v) == 1) kb = v;
            break;
        }
    }
    fclose(fp);
    return kb;
}

/* Both figures from one read of /proc/self/status: two separate reads can
 * straddle new allocations (the pool's threads fault pages in meanwhile),
 * and the later RSS then exceeds the earlier peak. */
void sl_mem_snapshot(uint64_t *rss, uint64_t *peak) {
    uint64_t r = 0, h = 0;
    FILE *fp = fopen("/proc/self/status", "r");
    if (fp) {
        char line[256];
        while (fgets(line, sizeof line, fp)) {
            unsigned long long v = 0;
            if (!strncmp(line, "VmHWM:", 6) && sscanf(line + 6, " %llu", &v) == 1) h = v;
            else if (!strncmp(line, "VmRSS:", 6) && sscanf(line + 6, " %llu", &v) == 1) r = v;
        }
        fclose(fp);
    }
    if (h < r) h = r; /* the peak is at least what is resident now */
    if (rss) *rss = r * 1024;
    if (peak) *peak = h * 1024;
}

uint64_t sl_peak_rss_bytes(void) {
    uint64_t peak;
    sl_mem_snapshot(NULL, &peak);
    return peak;
}
uint64_t sl_rss_bytes(void) { return status_field_kb("VmRSS:") * 1024; }

int sl_n_cores(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : (int)n;
}
