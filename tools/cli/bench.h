/* bench.h — pieces of `streamllm bench` shared between its files. */
#ifndef SL_CLI_BENCH_H
#define SL_CLI_BENCH_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* Median, minimum and maximum of n samples (n >= 1; v is sorted in place). */
typedef struct {
    double med, min, max;
} bench_stat;
bench_stat bench_summarize(double *v, int n);

/* Read bandwidth of main memory in GB/s (1e9 bytes/s) with n_threads
 * threads: the median of reps passes of a sum over a buffer much larger than
 * the caches (bytes). The buffer is freed before returning. Returns 0 when it
 * cannot allocate. */
double bench_read_bandwidth(int n_threads, size_t bytes, int reps);

/* Median microseconds of one sl_pool_run of an empty task (wake the
 * workers, run, wait for all): what a dispatch costs a decode step. */
double bench_pool_dispatch_us(int n_threads);

/* The f32 FMA peak of n_threads threads (tools/cli/bench_peak.c). */
typedef struct {
    char vendor[13];
    unsigned family, model;
    double ghz;              /* measured clock of one core */
    int lanes;               /* f32 lanes of the active level's widest FMA */
    int flops_per_cycle;     /* per core: 2 x pipes x lanes per pipe */
    int threads;
    double computed_gflops;  /* threads x ghz x flops_per_cycle */
    double probed_gflops;    /* measured, all threads at once */
} bench_peak;
bench_peak bench_fma_peak(int n_threads);
void bench_print_peak(FILE *out, const bench_peak *p, bool json);

/* `streamllm bench --kernels`: GB/s and GFLOP/s of the matrix-vector and
 * matrix-matrix products for every weight type, printed as a table or,
 * with json, as the value of a "kernels" key (an array). */
void bench_kernels(FILE *out, int n_threads, int reps, int T, bool json);

#endif
