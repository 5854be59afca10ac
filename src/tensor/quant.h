/* quant.h — the one table of weight types (ggml type ids, GGUF block layouts).
 *
 * Every type stores rows of n elements as n / blck_size blocks of type_size
 * bytes. Block structs live in tensor/quant_blocks.h, each with a
 * static_assert on its size so the layout stays bit-exact with GGUF.
 *
 * Dot products follow the GGUF ecosystem: a weight row of type T is dotted
 * with an activation row already quantized to traits(T)->vec_dot_type:
 * Q8_0 for q4_0/q5_0/q8_0, Q8_1 for q4_1/q5_1 (its s = d * sum(q) pays for
 * the min term), Q8_K for the K-quants, and F32 for f32/f16/bf16 (float
 * weights see the activations unrounded; one conversion per weight).
 * Every kernel has a scalar reference in kernels/ref; SIMD versions are chosen
 * once at start-up (cpuid, kernels/dispatch.c) and SL_FORCE_REF=1 in the
 * environment forces the references. Kernels expect finite inputs. */
#ifndef SL_TENSOR_QUANT_H
#define SL_TENSOR_QUANT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ggml type ids as stored in GGUF. */
typedef enum {
    SL_TYPE_F32 = 0,
    SL_TYPE_F16 = 1,
    SL_TYPE_Q4_0 = 2,
    SL_TYPE_Q4_1 = 3,
    SL_TYPE_Q5_0 = 6,
    SL_TYPE_Q5_1 = 7,
    SL_TYPE_Q8_0 = 8,
    SL_TYPE_Q8_1 = 9,
    SL_TYPE_Q2_K = 10,
    SL_TYPE_Q3_K = 11,
    SL_TYPE_Q4_K = 12,
    SL_TYPE_Q5_K = 13,
    SL_TYPE_Q6_K = 14,
    SL_TYPE_Q8_K = 15,
    SL_TYPE_BF16 = 30,
    SL_TYPE_COUNT = 40
} sl_type;

/* to_float: y[0..n) = dequantize(x); n is a multiple of blck_size.
 * from_float: quantize n floats into blocks (NULL when no quantizer).
 * vec_dot: *s = dot(x row of this type, y row of vec_dot_type), n elements. */
typedef void (*sl_to_float_fn)(float *y, const void *x, int64_t n);
typedef void (*sl_from_float_fn)(void *y, const float *x, int64_t n);
typedef void (*sl_vec_dot_fn)(float *s, const void *x, const void *y, int64_t n);

typedef struct {
    const char *name;      /* "q4_0" ... as llama.cpp names it */
    int blck_size;         /* elements per block */
    size_t type_size;      /* bytes per block */
    bool supported;        /* false: a known id we refuse to run (message names it) */
    sl_type vec_dot_type;  /* what activations are quantized to for vec_dot */
    sl_to_float_fn to_float;
    sl_from_float_fn from_float;
    sl_vec_dot_fn vec_dot;
} sl_type_traits;

/* The active table (SIMD where the CPU has it). NULL for an unknown id. */
const sl_type_traits *sl_type_get(uint32_t type);
/* The scalar reference table, always compiled, for tests. */
const sl_type_traits *sl_type_get_ref(uint32_t type);
/* Name of a type id, "unknown" when not in the table. */
const char *sl_type_name(uint32_t type);
/* Parses "q4_0", "f16", ... (case-insensitive); returns -1 when unknown. */
int sl_type_from_name(const char *name);
/* Geometry of any known id (also ones we cannot run); 0 when unknown. */
int sl_type_block_size(uint32_t type);
size_t sl_type_block_bytes(uint32_t type);
/* Bytes of a row of n elements; 0 when n is not a multiple of the block size
 * or the type is unknown. */
size_t sl_row_size(uint32_t type, int64_t n);
/* Which SIMD level was chosen: "avx512", "avx2", "neon" or "scalar". */
const char *sl_simd_level(void);

/* IEEE half <-> float (exact, scalar). */
float sl_fp16_to_fp32(uint16_t h);
uint16_t sl_fp32_to_fp16(float f);
float sl_bf16_to_fp32(uint16_t h);
uint16_t sl_fp32_to_bf16(float f);

#endif
