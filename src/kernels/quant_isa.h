/* quant_isa.h — the per-ISA weight kernels and the tables built from them.
 *
 * kernels/dispatch.c builds one sl_type_traits table per SIMD level, once:
 * the scalar table (kernels/ref), then each level copies the one below and
 * overrides the kernels it has (AVX-512 falls back to AVX2 for the types it
 * does not cover). sl_type_get() hands out the best level the CPU runs, or
 * the scalar table when SL_FORCE_REF=1 is set in the environment.
 *
 * Only files named *_avx2.c, *_avx512.c and *_neon.c contain intrinsics. */
#ifndef SL_KERNELS_QUANT_ISA_H
#define SL_KERNELS_QUANT_ISA_H

#include <stdint.h>

#include "tensor/quant.h"

typedef enum { SL_SIMD_SCALAR, SL_SIMD_AVX2, SL_SIMD_AVX512, SL_SIMD_NEON, SL_SIMD_COUNT } sl_simd;

/* The table of one level, or NULL when this CPU cannot run it or this build
 * lacks it (x86 levels on ARM, ...). For tests and benchmarks that compare
 * levels; everything else calls sl_type_get. */
const sl_type_traits *sl_type_get_simd(uint32_t type, sl_simd level);
/* The level sl_type_get uses (SL_SIMD_SCALAR under SL_FORCE_REF=1). */
sl_simd sl_simd_active(void);
const char *sl_simd_name(sl_simd level);

/* Instructions beyond a level's base set that some kernels need; a bit is
 * set only when the active level runs it (none under SL_FORCE_REF=1, no
 * AVX-512 bits under SL_ISA=avx2). */
typedef enum {
    SL_CPU_AVX512VNNI = 1, /* vpdpbusd on 512-bit vectors: the integer x16 kernels */
    SL_CPU_AVX512BF16 = 2, /* vdpbf16ps */
    SL_CPU_AVXVNNI = 4,    /* vpdpbusd on 256-bit vectors (VEX) */
} sl_cpu_feature;
unsigned sl_cpu_features(void);

#define SL_FROM_FLOAT(t, isa) void sl_from_float_##t##_##isa(void *y, const float *x, int64_t n);
#define SL_TO_FLOAT(t, isa) void sl_to_float_##t##_##isa(float *y, const void *x, int64_t n);

/* x86/float_avx2.c, x86/q_legacy_avx2.c, x86/q_k_avx2.c */
SL_TO_FLOAT(f16, avx2)
SL_FROM_FLOAT(f16, avx2)
SL_FROM_FLOAT(q8_0, avx2)
SL_FROM_FLOAT(q8_1, avx2)
SL_FROM_FLOAT(q8_k, avx2)

/* arm/quant_neon.c */
SL_FROM_FLOAT(q8_0, neon)

#undef SL_FROM_FLOAT
#undef SL_TO_FLOAT

#endif
