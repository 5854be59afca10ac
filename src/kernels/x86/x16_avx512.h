/* x16_avx512.h — pieces shared by the AVX-512 x16 kernels (kernels/gemm.h).
 * Include only from files built with AVX-512 F. */
#ifndef SL_KERNELS_X86_X16_AVX512_H
#define SL_KERNELS_X86_X16_AVX512_H

#include <immintrin.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#ifndef INLINE
#define INLINE static inline __attribute__((always_inline))
#endif

/* 4 activation bytes at q (a 32-bit word), broadcast to every lane. */
INLINE __m512i x16_bcast4(const int8_t *q) {
    int32_t v;
    memcpy(&v, q, 4);
    return _mm512_set1_epi32(v);
}

/* Decode order of a call's ng groups read as D runs of h = ng / D groups
 * side by side (the 16-row streams are too short for the hardware
 * prefetchers: x86/gemm_q8s_avx512.c): tile i < h takes group i of each
 * run (*G = D groups, h groups apart), then the ng - D h groups left over
 * come one per tile. Sets *G and the tile's first group *g0; false past
 * the last tile. */
INLINE bool x16_decode_tile(int i, int ng, int D, int *G, int *g0) {
    const int h = ng / D;
    *G = i < h ? D : 1;
    *g0 = i < h ? i : i + (D - 1) * h;
    return *g0 < ng;
}

#endif
