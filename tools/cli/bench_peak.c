/* bench_peak.c — the FMA peak `bench --kernels` measures the tile kernels
 * against, two ways:
 *  - computed: threads x clock x flops per cycle, the clock measured (a
 *    chain of dependent adds, one a cycle) and the flops per cycle those of
 *    the core's FMA pipes at the active level's width, from its cpuid
 *    family: 2 pipes x 8 lanes on AVX2 cores and on a Zen 4 at any width
 *    (its 512-bit FMA is two 256-bit halves), 2 x 16 at AVX-512 on a Zen 5
 *    and on Intel's AVX-512 cores (a part with one 512-bit pipe reads
 *    high: the probe tells);
 *  - probed: every thread running 12 independent FMA chains at once.
 * The two agreeing says the kernels' percentages mean what they say. */
#include <stdio.h>
#include <string.h>

#include "bench.h"
#include "cli.h"
#include "core/sys_stats.h"
#include "core/thread_pool.h"
#include "kernels/fma_probe.h"
#include "kernels/quant_isa.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

#define ADD_CHAIN 400000000L /* ~0.1 s at 4 GHz */
#define FMA_ROUNDS 20000000L /* 12 FMAs each: ~0.1 s at 2 a cycle */

/* The CPU's vendor and family (cpuid leaf 1, extended family added). */
static void cpu_family(char vendor[13], unsigned *family, unsigned *model) {
    strcpy(vendor, "unknown");
    *family = *model = 0;
#if defined(__x86_64__) || defined(__i386__)
    unsigned a, b, c, d;
    if (!__get_cpuid(0, &a, &b, &c, &d)) return;
    memcpy(vendor, &b, 4), memcpy(vendor + 4, &d, 4), memcpy(vendor + 8, &c, 4);
    vendor[12] = 0;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return;
    *family = (a >> 8 & 0xF) + ((a >> 8 & 0xF) == 0xF ? (a >> 20 & 0xFF) : 0);
    *model = (a >> 4 & 0xF) | ((a >> 8 & 0xF) >= 0x6 ? (a >> 12 & 0xF0) : 0);
#endif
}

typedef struct {
    double flops;
    float sink;
} probe_job;

static void probe_task(void *ctx, int ith, int nth) {
    (void)nth;
    probe_job *j = (probe_job *)ctx + ith;
    j->flops = sl_probe_fma(FMA_ROUNDS, &j->sink);
}

bench_peak bench_fma_peak(int n_threads) {
    bench_peak p = {0};
    cpu_family(p.vendor, &p.family, &p.model);
    const int lanes = sl_probe_fma_lanes();
    const bool amd = !strcmp(p.vendor, "AuthenticAMD");
    /* lanes per FMA pipe: a Zen 4 (family 0x19) splits 512-bit work in two */
    const int pipe_lanes = lanes == 16 && amd && p.family == 0x19 ? 8 : lanes;
    p.flops_per_cycle = 2 * 2 * pipe_lanes;
    double t0 = sl_now_s();
    volatile long sink = sl_probe_add_chain(ADD_CHAIN);
    (void)sink;
    p.ghz = (double)ADD_CHAIN / (sl_now_s() - t0) * 1e-9;
    p.threads = n_threads;
    p.computed_gflops = p.ghz * p.flops_per_cycle * n_threads;
    sl_pool *pool = NULL;
    sl_error err = {0};
    cli_check(sl_pool_create(&pool, n_threads, &err), &err);
    probe_job jobs[256] = {{0}};
    sl_pool_run(pool, probe_task, jobs); /* warm-up: clocks up, pages in */
    t0 = sl_now_s();
    sl_pool_run(pool, probe_task, jobs);
    const double dt = sl_now_s() - t0;
    double flops = 0;
    for (int i = 0; i < n_threads && i < 256; i++) flops += jobs[i].flops;
    p.probed_gflops = flops / dt * 1e-9;
    p.lanes = lanes;
    sl_pool_free(pool);
    return p;
}

void bench_print_peak(FILE *out, const bench_peak *p, bool json) {
    if (json)
        fprintf(out,
                "\"fma_peak\": {\"cpu\": \"%s family 0x%x model 0x%x\", \"ghz\": %.2f, \"lanes\": %d, "
                "\"flops_per_cycle\": %d, \"computed_gflop_per_s\": %.1f, \"probed_gflop_per_s\": %.1f}, ",
                p->vendor, p->family, p->model, p->ghz, p->lanes, p->flops_per_cycle, p->computed_gflops,
                p->probed_gflops);
    else
        fprintf(out,
                "FMA peak (f32): computed %.1f GFLOP/s = %d threads x %.2f GHz (measured) x %d flops/cycle "
                "(%s family 0x%x model 0x%x, %d-lane FMA), probed %.1f GFLOP/s\n",
                p->computed_gflops, p->threads, p->ghz, p->flops_per_cycle, p->vendor, p->family, p->model, p->lanes,
                p->probed_gflops);
}
