/* fma_probe.c — the clock and FMA probes (kernels/fma_probe.h); the vector
 * loops live in x86/probe_avx2.c and x86/probe_avx512.c. */
#include <math.h>

#include "kernels/fma_probe.h"
#include "kernels/quant_isa.h"

#if !defined(SL_NO_SIMD) && (defined(__x86_64__) || defined(__i386__))
#define SL_X86 1
double sl_probe_fma_avx2(long n, float *sink);
double sl_probe_fma_avx512(long n, float *sink);
#endif

long sl_probe_add_chain(long n) {
    long x = 1;
    const long y = 3;
    /* the empty asm makes each add wait for the last and stay an add */
    for (long i = 0; i < n; i += 8) {
        x += y; __asm__ volatile("" : "+r"(x));
        x += y; __asm__ volatile("" : "+r"(x));
        x += y; __asm__ volatile("" : "+r"(x));
        x += y; __asm__ volatile("" : "+r"(x));
        x += y; __asm__ volatile("" : "+r"(x));
        x += y; __asm__ volatile("" : "+r"(x));
        x += y; __asm__ volatile("" : "+r"(x));
        x += y; __asm__ volatile("" : "+r"(x));
    }
    return x;
}

int sl_probe_fma_lanes(void) {
#ifdef SL_X86
    if (sl_simd_active() == SL_SIMD_AVX512) return 16;
    if (sl_simd_active() == SL_SIMD_AVX2) return 8;
#endif
    return 1;
}

double sl_probe_fma(long n, float *sink) {
#ifdef SL_X86
    if (sl_simd_active() == SL_SIMD_AVX512) return sl_probe_fma_avx512(n, sink);
    if (sl_simd_active() == SL_SIMD_AVX2) return sl_probe_fma_avx2(n, sink);
#endif
    float a[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    for (long i = 0; i < n; i++)
        for (int k = 0; k < 8; k++) a[k] = fmaf(a[k], 0.999999f, 1e-7f);
    *sink = a[0] + a[7];
    return 16.0 * (double)n;
}
