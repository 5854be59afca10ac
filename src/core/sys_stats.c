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

uint64_t sl_peak_rss_bytes(void) { return status_field_kb("VmHWM:") * 1024; }
uint64_t sl_rss_bytes(void) { return status_field_kb("VmRSS:") * 1024; }

int sl_n_cores(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : (int)n;
}
