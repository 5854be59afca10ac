/* test_sys_stats.c — the memory figures every command prints: a snapshot's
 * peak RSS is never below its current RSS, even while another thread keeps
 * faulting fresh pages in (two separate readings would straddle those). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/mman.h>

#include "core/sys_stats.h"
#include "test_util.h"

static atomic_int stop_toucher;

static void *toucher(void *arg) {
    (void)arg;
    const size_t n = (size_t)16 << 20;
    while (!atomic_load(&stop_toucher)) {
        unsigned char *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) break;
        for (size_t i = 0; i < n; i += 4096) p[i] = 1;
        munmap(p, n);
    }
    return NULL;
}

static void test_snapshot_peak_not_below_current(void) {
    uint64_t rss0, peak0;
    sl_mem_snapshot(&rss0, &peak0);
    if (rss0 == 0) T_SKIP("/proc/self/status is not readable here");
    pthread_t th;
    T_CHECK(pthread_create(&th, NULL, toucher, NULL) == 0, "pthread_create failed");
    int bad = 0;
    uint64_t bad_rss = 0, bad_peak = 0;
    for (int k = 0; k < 2000; k++) {
        uint64_t rss, peak;
        sl_mem_snapshot(&rss, &peak);
        if (peak < rss && !bad) bad = 1, bad_rss = rss, bad_peak = peak;
        T_CHECK(sl_peak_rss_bytes() >= rss0, "peak %llu fell below an earlier RSS %llu",
                (unsigned long long)sl_peak_rss_bytes(), (unsigned long long)rss0);
    }
    atomic_store(&stop_toucher, 1);
    pthread_join(th, NULL);
    T_CHECK(!bad, "snapshot peak %llu bytes is below its RSS %llu", (unsigned long long)bad_peak,
            (unsigned long long)bad_rss);
}

static void test_rss_follows_touched_pages(void) {
    uint64_t before = sl_rss_bytes();
    if (before == 0) T_SKIP("/proc/self/status is not readable here");
    const size_t n = (size_t)64 << 20;
    unsigned char *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    T_CHECK(p != MAP_FAILED, "mmap of 64 MiB failed");
    if (p == MAP_FAILED) return;
    for (size_t i = 0; i < n; i += 4096) p[i] = (unsigned char)i;
    uint64_t rss, peak;
    sl_mem_snapshot(&rss, &peak);
    T_CHECK(rss >= before + n / 2, "64 MiB touched but RSS went from %llu to %llu",
            (unsigned long long)before, (unsigned long long)rss);
    T_CHECK(peak >= rss, "peak %llu below RSS %llu", (unsigned long long)peak, (unsigned long long)rss);
    munmap(p, n);
}

int main(void) {
    T_RUN(test_snapshot_peak_not_below_current);
    T_RUN(test_rss_follows_touched_pages);
    return T_DONE();
}
