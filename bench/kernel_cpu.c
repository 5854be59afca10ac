/* kernel_cpu.c — compute speed of the matmul kernels in CPU time (not wall
 * time), single-threaded, on weights that stay in L2: the kernels' own
 * efficiency, readable even on a loaded machine. Prints GMAC per CPU-second
 * for T = 1 (decode) and T = 64 (prefill), sl_matmul on the caller vs the
 * old path (vec_dot per output).
 *   kernel_cpu [K] [N] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kernels/gemm.h"
#include "kernels/matmul.h"
#include "tensor/quant.h"

static double cpu_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
    const int K = argc > 1 ? atoi(argv[1]) : 2048, N = argc > 2 ? atoi(argv[2]) : 256;
    const sl_type types[] = {SL_TYPE_Q4_0, SL_TYPE_Q8_0, SL_TYPE_F16, SL_TYPE_F32, SL_TYPE_Q4_K, SL_TYPE_Q6_K};
    const int Ts[] = {1, 64};
    float *x = malloc((size_t)64 * K * sizeof *x), *y = malloc((size_t)64 * N * sizeof *y);
    float *f = malloc((size_t)K * sizeof *f);
    unsigned s = 1;
    for (int i = 0; i < 64 * K; i++) x[i] = (float)((s = s * 1103515245 + 12345) >> 16 & 0x7fff) / 16384.0f - 1;
    sl_matmul_scratch scr = {0};
    printf("K=%d N=%d, GMAC per CPU-second (1 thread)\n%-6s %10s %10s %10s\n", K, N, "type", "T=1", "T=64", "old T=1");
    for (size_t ti = 0; ti < sizeof types / sizeof types[0]; ti++) {
        const sl_type t = types[ti];
        const sl_type_traits *tr = sl_type_get(t);
        const size_t row = sl_row_size(t, K);
        char *W = malloc((size_t)N * row);
        for (int r = 0; r < N; r++) {
            for (int k = 0; k < K; k++) f[k] = (float)((s = s * 1103515245 + 12345) >> 16 & 0x7fff) / 16384.0f - 1;
            if (t == SL_TYPE_F32) memcpy(W + (size_t)r * row, f, row);
            else tr->from_float(W + (size_t)r * row, f, K);
        }
        printf("%-6s", tr->name);
        for (int k = 0; k < 2; k++) {
            const int T = Ts[k];
            sl_matmul(NULL, &scr, y, W, t, x, T, N, K);
            int reps = 0;
            double t0 = cpu_s(), dt;
            do {
                sl_matmul(NULL, &scr, y, W, t, x, T, N, K);
                reps++;
            } while ((dt = cpu_s() - t0) < 0.3);
            printf(" %10.2f", (double)reps * T * N * K / dt * 1e-9);
        }
        /* the old decode path: quantize to vec_dot_type, one vec_dot per row */
        const sl_type_traits *at = sl_type_get(tr->vec_dot_type);
        char *xq = malloc(sl_row_size(tr->vec_dot_type, K) + 64);
        int reps = 0;
        double t0 = cpu_s(), dt;
        do {
            const void *xx = x;
            if (tr->vec_dot_type != SL_TYPE_F32) {
                at->from_float(xq, x, K);
                xx = xq;
            }
            for (int r = 0; r < N; r++) tr->vec_dot(&y[r], W + (size_t)r * row, xx, K);
            reps++;
        } while ((dt = cpu_s() - t0) < 0.3);
        printf(" %10.2f\n", (double)reps * N * K / dt * 1e-9);
        free(xq);
        free(W);
    }
    sl_matmul_scratch_free(&scr);
    free(x), free(y), free(f);
    return 0;
}
