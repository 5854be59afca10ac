/* quant_blocks.h — the byte layout of every block type, bit-exact with GGUF
 * (ggml's ggml-common.h). A row of n elements is n / QK blocks stored back to
 * back; halves are IEEE binary16 bit patterns, little-endian like the file.
 *
 * Dequantization, per element i of a block (j = i mod 16, h = bit i of qh):
 *   q4_0  (nibble - 8) * d   nibble = low half of qs[j] for i < 16, high for i >= 16
 *   q4_1  nibble * d + m
 *   q5_0  ((nibble | h << 4) - 16) * d
 *   q5_1  (nibble | h << 4) * d + m
 *   q8_0  qs[i] * d
 *   q8_1  qs[i] * d            (s = d * sum(qs), for the _1 dot products)
 *   K-quants: see kernels/ref/q_k_ref.c, which spells out the sub-blocks. */
#ifndef SL_TENSOR_QUANT_BLOCKS_H
#define SL_TENSOR_QUANT_BLOCKS_H

#include <stdint.h>

#define SL_QK4_0 32
#define SL_QK4_1 32
#define SL_QK5_0 32
#define SL_QK5_1 32
#define SL_QK8_0 32
#define SL_QK8_1 32
#define SL_QK_K 256         /* super-block of the K-quants */
#define SL_K_SCALE_SIZE 12  /* 8 six-bit scales + 8 six-bit mins, packed */

typedef struct {
    uint16_t d;              /* scale, f16 */
    uint8_t qs[SL_QK4_0 / 2]; /* nibbles: low = element j, high = element j + 16 */
} sl_block_q4_0;

typedef struct {
    uint16_t d, m;           /* scale and min, f16 */
    uint8_t qs[SL_QK4_1 / 2];
} sl_block_q4_1;

typedef struct {
    uint16_t d;
    uint8_t qh[4];           /* fifth bit of element i is bit i of this LE uint32 */
    uint8_t qs[SL_QK5_0 / 2];
} sl_block_q5_0;

typedef struct {
    uint16_t d, m;
    uint8_t qh[4];
    uint8_t qs[SL_QK5_1 / 2];
} sl_block_q5_1;

typedef struct {
    uint16_t d;
    int8_t qs[SL_QK8_0];
} sl_block_q8_0;

typedef struct {
    uint16_t d;              /* scale, f16 */
    uint16_t s;              /* d * sum(qs), f16 */
    int8_t qs[SL_QK8_1];
} sl_block_q8_1;

/* x = d * sc[j] * q - dmin * m[j] for sub-block j of 32 elements, q in 0..15. */
typedef struct {
    uint16_t d, dmin;                 /* f16 super-scales of the scales and the mins */
    uint8_t scales[SL_K_SCALE_SIZE];  /* 6-bit sc[8] and m[8], see sl_k4_scale_min */
    uint8_t qs[SL_QK_K / 2];          /* 4 chunks of 64: low nibbles 0..31, high 32..63 */
} sl_block_q4_k;

/* As q4_K with a fifth bit: qh[l] bit 2c is element l of chunk c's first 32,
 * bit 2c+1 element l of its second 32. */
typedef struct {
    uint16_t d, dmin;
    uint8_t scales[SL_K_SCALE_SIZE];
    uint8_t qh[SL_QK_K / 8];
    uint8_t qs[SL_QK_K / 2];
} sl_block_q5_k;

/* x = d * scales[j] * (q - 32) for sub-block j of 16 elements, q in 0..63. */
typedef struct {
    uint8_t ql[SL_QK_K / 2];     /* low 4 bits */
    uint8_t qh[SL_QK_K / 4];     /* high 2 bits */
    int8_t scales[SL_QK_K / 16]; /* 8-bit signed sub-block scales */
    uint16_t d;                  /* f16 */
} sl_block_q6_k;

/* Activations for the K-quant dot products; never stored in files. */
typedef struct {
    float d;
    int8_t qs[SL_QK_K];
    int16_t bsums[SL_QK_K / 16]; /* sums of qs in groups of 16 */
} sl_block_q8_k;

_Static_assert(sizeof(sl_block_q4_0) == 18, "q4_0 block must be 18 bytes as in GGUF");
_Static_assert(sizeof(sl_block_q4_1) == 20, "q4_1 block must be 20 bytes as in GGUF");
_Static_assert(sizeof(sl_block_q5_0) == 22, "q5_0 block must be 22 bytes as in GGUF");
_Static_assert(sizeof(sl_block_q5_1) == 24, "q5_1 block must be 24 bytes as in GGUF");
_Static_assert(sizeof(sl_block_q8_0) == 34, "q8_0 block must be 34 bytes as in GGUF");
_Static_assert(sizeof(sl_block_q8_1) == 36, "q8_1 block must be 36 bytes as in GGUF");
_Static_assert(sizeof(sl_block_q4_k) == 144, "q4_K block must be 144 bytes as in GGUF");
_Static_assert(sizeof(sl_block_q5_k) == 176, "q5_K block must be 176 bytes as in GGUF");
_Static_assert(sizeof(sl_block_q6_k) == 210, "q6_K block must be 210 bytes as in GGUF");
_Static_assert(sizeof(sl_block_q8_k) == 292, "q8_K block must be 292 bytes as in ggml");

/* Scale and min of sub-block j (0..7) of a q4_K/q5_K block. The 12 bytes hold
 * sc[0..3] and m[0..3] in the low 6 bits of bytes 0..3 and 4..7; sc[4..7] and
 * m[4..7] keep their low 4 bits in the nibbles of bytes 8..11 and their top 2
 * bits in the spare top bits of bytes 0..3 (sc) and 4..7 (m). */
static inline void sl_k4_scale_min(int j, const uint8_t *q, uint8_t *sc, uint8_t *m) {
    if (j < 4) {
        *sc = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *sc = (uint8_t)((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
        *m = (uint8_t)((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
    }
}

#endif
