/* fma_probe.h — how fast this core multiplies, measured: the clock (a chain
 * of dependent integer adds, one cycle each) and the widest fused
 * multiply-add the active level runs (independent chains, enough to cover
 * the latency). For `bench --kernels`, which prints the peak the tile
 * kernels are measured against. The caller times the calls. */
#ifndef SL_KERNELS_FMA_PROBE_H
#define SL_KERNELS_FMA_PROBE_H

/* Runs n dependent adds (n cycles on any x86-64 or Arm core of the last
 * decade); returns a value to keep the work from being optimized away. */
long sl_probe_add_chain(long n);

/* Runs n rounds of independent f32 multiply-adds at the active level's
 * widest vector (AVX-512 zmm, AVX2 ymm, or scalar fmaf); returns the flops
 * done (2 per lane per FMA) and writes a value to *sink. */
double sl_probe_fma(long n, float *sink);

/* Lanes of that widest vector: 16, 8 or 1. */
int sl_probe_fma_lanes(void);

#endif
