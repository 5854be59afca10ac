/* bench_kernels.c — the model-free half of `streamllm bench`: main-memory
 * read bandwidth, and the speed of sl_matmul for every weight type.
 *
 * Matrix-vector (T = 1, decode) runs over a matrix several times the size of
 * the last-level cache, so it measures what decode sees: weights streamed
 * from memory once per token. Its GB/s is weight bytes / time, to compare
 * with the read bandwidth. Matrix-matrix (T tokens, prefill) runs over a
 * 4096 x 4096 matrix, where arithmetic rather than memory decides; its
 * GFLOP/s counts 2 T N K, and "% peak" sets it against the probed f32 FMA
 * peak (bench_peak.c; integer and vdpbf16ps kernels do more than one
 * multiply-add per FMA slot, so theirs can pass 100). Types with
 * row-interleaved kernels run on repacked matrices, as a loaded model does
 * (column "lay": x16, x8 or rows). */
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "cli.h"
#include "core/sys_stats.h"
#include "core/thread_pool.h"
#include "kernels/gemm.h"
#include "kernels/matmul.h"
#include "tensor/quant.h"

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

bench_stat bench_summarize(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    bench_stat s = {v[n / 2], v[0], v[n - 1]};
    if (n % 2 == 0) s.med = 0.5 * (v[n / 2 - 1] + v[n / 2]);
    return s;
}

/* ---- read bandwidth ------------------------------------------------------------ */

typedef struct {
    const uint64_t *buf;
    size_t n;        /* words */
    uint64_t sum[256];
} read_job;

/* The fastest way to read memory measured here, so that the bound is the
 * machine's and not a naive loop's: each thread reads its slice as groups
 * of 8 runs of RUN_BYTES side by side, with every run prefetched
 * RUN_AHEAD bytes ahead (going on into the next group near a run's end),
 * the pattern of the float decode kernel. A plain sequential loop left to
 * the hardware prefetchers read 15-30% slower on this Zen 3 (16-17 against
 * 19-22 GB/s, 2 threads, same minute); with a prefetch 1 KB ahead it was in
 * between. Eight independent sums so loads, not the add chain, set the
 * pace. */
#define RUN_BYTES 8192
#define RUN_AHEAD 256
#define GROUP_WORDS (8 * RUN_BYTES / sizeof(uint64_t))
static void read_slice(void *ctx, int ith, int nth) {
    read_job *j = ctx;
    long lo, hi;
    sl_split_range((long)(j->n / GROUP_WORDS), ith, nth, &lo, &hi);
    uint64_t a[8] = {0};
    for (long g = lo; g < hi; g++) {
        const char *b = (const char *)(const void *)(j->buf + (size_t)g * GROUP_WORDS);
        for (size_t o = 0; o < RUN_BYTES; o += 64) {
            const size_t ahead = o + RUN_AHEAD;
            for (int r = 0; r < 8; r++) {
                const char *run = b + (size_t)r * RUN_BYTES;
                /* past the last group: reads past the slice never fault as prefetches */
                __builtin_prefetch(ahead < RUN_BYTES ? run + ahead : run + 8 * RUN_BYTES + (ahead - RUN_BYTES), 0, 3);
                const uint64_t *q = (const uint64_t *)(const void *)(run + o);
                a[r] += ((q[0] + q[1]) + (q[2] + q[3])) + ((q[4] + q[5]) + (q[6] + q[7]));
            }
        }
    }
    j->sum[ith] = a[0] + a[1] + a[2] + a[3] + a[4] + a[5] + a[6] + a[7];
}

double bench_read_bandwidth(int n_threads, size_t bytes, int reps) {
    sl_pool *pool = NULL;
    sl_error err = {0};
    if (n_threads > 256 || sl_pool_create(&pool, n_threads, &err) != SL_OK) return 0;
    read_job *j = calloc(1, sizeof *j);
    uint64_t *buf = malloc(bytes);
    if (!j || !buf || reps < 1) {
        free(j), free(buf);
        sl_pool_free(pool);
        return 0;
    }
    /* Distinct words, so no page is shared or compressed away. */
    for (size_t i = 0; i < bytes / 8; i++) buf[i] = i * 0x9E3779B97F4A7C15ull;
    j->buf = buf;
    j->n = bytes / 8;
    double *gbs = malloc((size_t)reps * sizeof *gbs);
    uint64_t check = 0;
    sl_pool_run(pool, read_slice, j); /* warm the pool and the page tables */
    for (int r = 0; gbs && r < reps; r++) {
        double t0 = sl_now_s();
        sl_pool_run(pool, read_slice, j);
        double dt = sl_now_s() - t0;
        for (int t = 0; t < n_threads; t++) check += j->sum[t];
        gbs[r] = (double)(j->n / GROUP_WORDS * GROUP_WORDS * sizeof(uint64_t)) / dt * 1e-9;
    }
    double med = gbs ? bench_summarize(gbs, reps).med : 0;
    if (check == 1) med += 0; /* keeps the sums alive */
    free(gbs);
    free(buf);
    free(j);
    sl_pool_free(pool);
    return med;
}

/* ---- thread pool ------------------------------------------------------------------------ */

static void empty_task(void *ctx, int ith, int nth) {
    (void)ctx, (void)ith, (void)nth;
}

double bench_pool_dispatch_us(int n_threads) {
    sl_pool *pool = NULL;
    sl_error err = {0};
    if (sl_pool_create(&pool, n_threads, &err) != SL_OK) return 0;
    const int n = 20000;
    for (int i = 0; i < 1000; i++) sl_pool_run(pool, empty_task, NULL);
    double v[5];
    for (int r = 0; r < 5; r++) {
        const double t0 = sl_now_s();
        for (int i = 0; i < n; i++) sl_pool_run(pool, empty_task, NULL);
        v[r] = (sl_now_s() - t0) / n * 1e6;
    }
    sl_pool_free(pool);
    return bench_summarize(v, 5).med;
}

/* ---- sl_matmul per weight type ---------------------------------------------------- */

static const sl_type TYPES[] = {SL_TYPE_F32,  SL_TYPE_F16,  SL_TYPE_BF16, SL_TYPE_Q8_0,
                                SL_TYPE_Q4_0, SL_TYPE_Q4_1, SL_TYPE_Q5_0, SL_TYPE_Q5_1,
                                SL_TYPE_Q4_K, SL_TYPE_Q5_K, SL_TYPE_Q6_K};

#define KB_K 4096                   /* inner dimension: a multiple of every block size */
#define KB_MV_BYTES (256u << 20)    /* matvec matrix: 8x a 32 MiB last-level cache */
#define KB_MM_N 4096
#define KB_TEMPLATE_ROWS 256        /* quantized once, then copied to fill the matrix */

/* A (rows, KB_K) matrix of type t: random rows ~U(-1, 1) quantized once and
 * repeated; distinct enough that caches see bytes*1, not the template. */
static char *make_matrix(sl_type t, int rows, unsigned long long *seed) {
    const sl_type_traits *tr = sl_type_get(t);
    const size_t row = sl_row_size(t, KB_K);
    char *W = malloc((size_t)rows * row);
    float *f = malloc(KB_K * sizeof *f);
    if (!W || !f) {
        free(W), free(f);
        return NULL;
    }
    for (int r = 0; r < rows && r < KB_TEMPLATE_ROWS; r++) {
        for (int k = 0; k < KB_K; k++) {
            *seed = *seed * 6364136223846793005ull + 1442695040888963407ull;
            f[k] = (float)((double)(*seed >> 11) / (double)(1ull << 53) * 2 - 1);
        }
        if (t == SL_TYPE_F32) memcpy(W + (size_t)r * row, f, row);
        else tr->from_float(W + (size_t)r * row, f, KB_K);
    }
    for (int r = KB_TEMPLATE_ROWS; r < rows; r++)
        memcpy(W + (size_t)r * row, W + (size_t)(r % KB_TEMPLATE_ROWS) * row, row);
    free(f);
    return W;
}

/* Median seconds of reps calls of y = x W^T (after one warm-up call); group:
 * W's layout (kernels/gemm.h), the one a loaded model's matrices get. */
static double time_matmul(sl_pool *pool, sl_matmul_scratch *scr, float *y, const char *W, sl_type t, int group,
                          const float *x, int T, int N, int reps) {
    const sl_mm_part part = {.W = W, .type = t, .N = N, .y = y, .ldy = (size_t)N, .group = group};
    double *dt = malloc((size_t)reps * sizeof *dt);
    if (!dt || sl_matmul_parts(pool, scr, x, T, KB_K, &part, 1, SL_MM_PLAIN) != 0) cli_die("kernels: matmul failed");
    for (int r = 0; r < reps; r++) {
        double t0 = sl_now_s();
        sl_matmul_parts(pool, scr, x, T, KB_K, &part, 1, SL_MM_PLAIN);
        dt[r] = sl_now_s() - t0;
    }
    double med = bench_summarize(dt, reps).med;
    free(dt);
    return med;
}

void bench_kernels(FILE *out, int n_threads, int reps, int T, bool json) {
    sl_pool *pool = NULL;
    sl_error err = {0};
    cli_check(sl_pool_create(&pool, n_threads, &err), &err);
    sl_matmul_scratch scr = {0};
    float *x = malloc((size_t)T * KB_K * sizeof *x);
    float *y = malloc((size_t)T * KB_MM_N * sizeof *y);
    float *yv = NULL;
    if (!x || !y) cli_die("kernels: out of memory");
    unsigned long long seed = 7;
    for (size_t i = 0; i < (size_t)T * KB_K; i++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        x[i] = (float)((double)(seed >> 11) / (double)(1ull << 53) * 2 - 1);
    }
    const bench_peak peak = bench_fma_peak(n_threads);
    bench_print_peak(out, &peak, json);
    if (json) fprintf(out, "\"kernels\": [");
    else
        fprintf(out, "%-6s %-4s %10s %10s %10s | %10s %10s %7s   (%d threads, %s, K=%d, matmul T=%d N=%d)\n",
                "type", "lay", "mv MiB", "mv GB/s", "mv GFLOP/s", "mm GB/s", "mm GFLOP/s", "% peak", n_threads,
                sl_simd_level(), KB_K, T, KB_MM_N);
    for (size_t i = 0; i < sizeof TYPES / sizeof TYPES[0]; i++) {
        const sl_type t = TYPES[i];
        const size_t row = sl_row_size(t, KB_K);
        const int N_mv = (int)(KB_MV_BYTES / row) / 16 * 16; /* whole 16-row groups */
        char *W = make_matrix(t, N_mv, &seed);
        free(yv);
        yv = malloc((size_t)N_mv * sizeof *yv);
        if (!W || !yv) cli_die("kernels: out of memory for a %zu MiB matrix", row * N_mv >> 20);
        /* the layout a loaded model uses (x16 or x8 where the type has such a kernel) */
        const int group = sl_gemm_best_group(t, N_mv, KB_K);
        if (group) {
            char *P = malloc((size_t)N_mv * row);
            if (!P || !sl_repack_grouped(t, group, P, W, N_mv, KB_K))
                cli_die("kernels: out of memory repacking %s", sl_type_name(t));
            free(W);
            W = P;
        }
        const double mv = time_matmul(pool, &scr, yv, W, t, group, x, 1, N_mv, reps);
        const double mm = time_matmul(pool, &scr, y, W, t, group, x, T, KB_MM_N, reps);
        free(W);
        const double mv_bytes = (double)row * N_mv, mm_bytes = (double)row * KB_MM_N;
        const double mv_gbs = mv_bytes / mv * 1e-9, mv_gf = 2.0 * N_mv * KB_K / mv * 1e-9;
        const double mm_gbs = mm_bytes / mm * 1e-9, mm_gf = 2.0 * T * KB_MM_N * KB_K / mm * 1e-9;
        if (json)
            fprintf(out,
                    "%s{\"type\": \"%s\", \"layout\": \"%s\", \"matvec_bytes\": %.0f, \"matvec_gb_per_s\": %.2f, "
                    "\"matvec_gflop_per_s\": %.2f, \"matmul_tokens\": %d, \"matmul_gb_per_s\": %.2f, "
                    "\"matmul_gflop_per_s\": %.2f, \"matmul_pct_of_fma_peak\": %.1f}",
                    i ? ", " : "", sl_type_name(t), group == 16 ? "x16" : group == 8 ? "x8" : "rows", mv_bytes, mv_gbs, mv_gf, T, mm_gbs, mm_gf, 100 * mm_gf / peak.probed_gflops);
        else
            fprintf(out, "%-6s %-4s %10.0f %10.2f %10.2f | %10.2f %10.2f %7.1f\n", sl_type_name(t), group == 16 ? "x16" : group == 8 ? "x8" : "rows",
                    mv_bytes / (1 << 20), mv_gbs, mv_gf, mm_gbs, mm_gf, 100 * mm_gf / peak.probed_gflops);
        fflush(out);
    }
    if (json) fprintf(out, "]");
    free(x), free(y), free(yv);
    sl_matmul_scratch_free(&scr);
    sl_pool_free(pool);
}
