/* half.c — IEEE binary16 and bfloat16 <-> binary32, exact and portable.
 *
 * Widening is exact for every input; NaNs come out quiet with their payload,
 * as F16C's vcvtph2ps does. Narrowing rounds to nearest, ties to even,
 * overflows to infinity and keeps NaN a quiet NaN: what vcvtps2ph does in
 * round-to-nearest mode and what ggml does, so scalar and SIMD kernels agree
 * bit for bit. */
#include <string.h>

#include "tensor/quant.h"

static inline uint32_t f2u(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}
static inline float u2f(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

float sl_fp16_to_fp32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1F;
    uint32_t mant = h & 0x3FF;
    if (exp == 0) {
        /* zero or subnormal: mant * 2^-24, exact in binary32 */
        float f = (float)mant * 0x1p-24f;
        return u2f(f2u(f) | sign);
    }
    if (exp == 31) /* inf, or NaN made quiet (payload kept), as F16C does */
        return u2f(sign | 0x7F800000u | (mant << 13) | (mant ? 0x400000u : 0));
    return u2f(sign | ((exp + 112) << 23) | (mant << 13));
}

uint16_t sl_fp32_to_fp16(float f) {
    uint32_t u = f2u(f);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000);
    uint32_t a = u & 0x7FFFFFFFu;
    if (a > 0x7F800000u) return sign | 0x7E00 | (uint16_t)((a >> 13) & 0x3FF); /* quiet NaN */
    if (a >= 0x477FF000u) return sign | 0x7C00; /* >= 65520 rounds past 65504: inf */
    uint32_t e = a >> 23;
    if (e < 113) {
        /* below 2^-14: a subnormal half, q = round(value * 2^24) */
        uint32_t mant = (a & 0x7FFFFFu) | 0x800000u; /* value = mant * 2^(e-150) */
        uint32_t shift = 126 - e;                    /* >= 14 */
        if (e == 0 || shift > 31) return sign;       /* far below 2^-25 */
        uint32_t q = mant >> shift;
        uint32_t rem = mant & ((1u << shift) - 1);
        uint32_t half = 1u << (shift - 1);
        if (rem > half || (rem == half && (q & 1))) q++;
        return sign | (uint16_t)q; /* q == 0x400 is the smallest normal: right too */
    }
    uint32_t h = ((e - 112) << 10) | ((a >> 13) & 0x3FF);
    uint32_t rem = a & 0x1FFF;
    if (rem > 0x1000 || (rem == 0x1000 && (h & 1))) h++; /* carries into the exponent */
    return sign | (uint16_t)h;
}

float sl_bf16_to_fp32(uint16_t h) { return u2f((uint32_t)h << 16); }

uint16_t sl_fp32_to_bf16(float f) {
    uint32_t u = f2u(f);
    if ((u & 0x7FFFFFFFu) > 0x7F800000u) return (uint16_t)((u >> 16) | 0x40); /* quiet NaN */
    return (uint16_t)((u + 0x7FFFu + ((u >> 16) & 1)) >> 16);
}
