/* gemm.h — the tile kernels behind sl_matmul: many weight rows against many
 * tokens per call, so each weight row is unpacked once for several tokens
 * and each activation block is loaded once for several rows.
 *
 * Letters: T tokens, N weight rows, K inner dimension.
 *
 * A kernel computes, for r < nr and t < nt,
 *     y[t * ldy + r]  =  (or +=, when acc)  dot(W row r, x row t)
 * from weight rows at W + r * w_row and activation rows at xq + t * x_row
 * (f32t, f32x4: tiles of 3 and 4 tokens, x_row apart, below), prepared by
 * the kernel's activation quantizer. Every output is computed by
 * the same sequence of operations whatever nr, nt and the tile it falls in,
 * so a token gives the same bits alone (decode) as inside a batch (prefill),
 * and the row and token split across threads never changes a result.
 *
 * Three families:
 *  - Q8S kernels (q4_0, q4_1, q5_0, q5_1, q8_0 weights): activations in the
 *    q8s row format below. Per 32-element block, the integer dot of weights
 *    and activation quants is exact; each row keeps one float accumulator
 *    over blocks:
 *        acc = fma((float)isum_b, d_w[b] * d_x[b], acc)
 *    and the types with a min m (q4_1, q5_1) then
 *        acc = fma(m_w[b], d_x[b] * (float)s_x[b], acc)
 *    SIMD versions put 8 weight rows in the 8 lanes of a vector, so there is
 *    no horizontal sum per row and one scale vector serves 8 rows; the
 *    scalar references do the same arithmetic and give the same bits.
 *  - f32 kernels (f32 weights, f32 activations in f32t tiles): 8 lanes
 *    along K, one fused multiply-add chain per lane, the lanes summed as
 *    ((l0+l4)+(l2+l6)) + ((l1+l5)+(l3+l7)), then the K % 8 tail in order.
 *    The references emulate the lanes exactly. The SIMD versions keep each
 *    output's lanes in a register over the whole of K.
 *  - Half kernels (f16, bf16 weights, f32 activations in f32x4 tiles): one
 *    fused multiply-add chain per output, the columns in order from 0:
 *        acc = fma((float)w_k, x_k, acc)
 *    (the conversion of a half is exact). SIMD versions put 8 rows in the
 *    lanes, as they sit side by side in an x8 group (below), and broadcast
 *    each token's x_k: an outer product, so a register tile of 24 rows x 4
 *    tokens loads 3 weight vectors and 4 scalars per 12 multiply-adds where
 *    lanes along K load 7 vectors, and there is no horizontal sum.
 *  - K-quants (q4_K, q5_K, q6_K weights, q8_K activations): per 256-element
 *    super-block the integer sum over its sub-blocks, each weighted by its
 *    integer scale, is exact; each output keeps one float accumulator:
 *        acc = fma(-(float)msum_i, dmin_w[i] * d_x[i], acc)  (q4_K, q5_K)
 *        acc = fma((float)isum_i,  d_w[i] * d_x[i],    acc)
 *    msum_i = sum_j m_j * (bsums of sub-block j), the min term; q6_K's
 *    quants count as q - 32 and it has no min term. SIMD versions hold 8
 *    rows (x16: 16) in the lanes as the Q8S kernels do, unpacking each row group once
 *    per super-block for every token of a tile; kernels/ref/gemm_k_ref.c
 *    spells the arithmetic out and gives the same bits.
 *  - bf16 with vdpbf16ps (the x16 kernel where the CPU has AVX512-BF16;
 *    bf16p activations): per output one chain over the column pairs in
 *    order, each pair as the instruction does it (Intel's definition, and
 *    what an AMD Zen 4 gives bit for bit, tests/unit/test_gemm.c):
 *        acc = ftz(acc + w_2p+1 x_2p+1)   then   acc = ftz(acc + w_2p x_2p)
 *    each step rounded once to nearest even (a bf16 product is exact in
 *    f32), with subnormal inputs read as 0 and subnormal results flushed to
 *    0; the activations are bf16 too, so this kernel's numbers differ from
 *    the f32-activation bf16 kernels' (about 3 significant digits per
 *    activation, as llama.cpp's bf16 path has them).
 *    sl_gemm_bf16_dp_ref spells it out.
 * Other types have no tile kernel here: sl_matmul runs their vec_dot per
 * output (see matmul.c). */
#ifndef SL_KERNELS_GEMM_H
#define SL_KERNELS_GEMM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tensor/quant.h"

/* How a kernel wants its activations. */
typedef enum {
    SL_ACT_F32 = 0, /* x as is */
    SL_ACT_Q8S,     /* q8s rows, below */
    SL_ACT_Q8K,     /* q8_K blocks (the K-quants' vec_dot type) */
    SL_ACT_F32T,    /* f32 in tiles of 3 tokens, below (the f32 kernels) */
    SL_ACT_F32X4,   /* f32 in tiles of 4 tokens by column, below (the half kernels) */
    SL_ACT_BF16P,   /* bf16 rows, below (the vdpbf16ps kernel) */
    SL_ACT_COUNT
} sl_act_format;

/* q8s: one row of K floats (K % 32 == 0) as nb = K / 32 blocks:
 *   int8  q[K]     q = roundf(x * (1 / d)), d = amax_block / 127 (q = 0 when d = 0)
 *   float d[nb]    the scale rounded to f16, as q8_0 stores it: the same
 *                  numbers as the GGUF ecosystem's q8_0 activations
 *   int32 s[nb]    sum of the block's q (for the q4_0 offset of 8)
 * stored back to back; rows are sl_q8s_row_bytes(K) apart (64-aligned). */
static inline size_t sl_q8s_row_bytes(int K) {
    size_t b = (size_t)K + (size_t)(K / 32) * 8;
    return (b + 63) & ~(size_t)63;
}

/* f32t: the activations of T tokens as tiles of w = sl_f32t_width(T)
 * tokens; tile u (tokens w u .. w u + w - 1) holds, with K8 = K & ~7,
 *   float v[K8 / 8][w][8]    columns 8s..8s+7 of each token in turn
 *   float tail[w][K - K8]    the last K % 8 columns of each token
 * and tiles are sl_f32t_tile_bytes(K) apart. Tokens past T in the last
 * tile repeat token T - 1. The values are x's own (a copy, no rounding); the
 * layout lets the float kernels read the 3 tokens of a register tile as one
 * sequential run, and a whole batch's activations are laid out once per
 * product instead of once per block of weight rows.
 * A product of one token (decode) has w = 1: the token's K values as they
 * are. Three copies side by side made decode read every third 32-byte group
 * of a run three times as long, 44 KB at K = 5632 instead of 22, which does
 * not stay in a 32 KB L1 while the weights stream through it (the 2-thread
 * f16 matvec streams 3-10% faster with w = 1, K = 2048..5632).
 * The float kernels are called with nt = T: every token of the product. */
#define SL_F32T_TOKENS 3
static inline int sl_f32t_width(int T) { return T == 1 ? 1 : SL_F32T_TOKENS; }
static inline size_t sl_f32t_tile_bytes(int K) {
    /* one spare line, so that tiles a power of two apart do not all fall on
     * the same cache sets */
    return ((size_t)SL_F32T_TOKENS * (size_t)K * sizeof(float) + 63) / 64 * 64 + 64;
}
/* Token t of T: its 8-column groups (group s at + 8 w s) and its tail. */
static inline const float *sl_f32t_main(const void *xq, size_t tile_bytes, int t, int T) {
    const int w = sl_f32t_width(T);
    return (const float *)(const void *)((const char *)xq + (size_t)(t / w) * tile_bytes) + (t % w) * 8;
}
static inline const float *sl_f32t_tail(const void *xq, size_t tile_bytes, int t, int T, int K) {
    const int w = sl_f32t_width(T), K8 = K & ~7;
    return (const float *)(const void *)((const char *)xq + (size_t)(t / w) * tile_bytes) + (size_t)w * K8 +
           (size_t)(t % w) * (K - K8);
}
/* Writes token t of T (x: its K values) into the f32t tiles at xq; the last
 * token also fills the rest of its tile. Tokens can be written in any order
 * and by different threads. */
void sl_pack_f32t(void *xq, const float *x, int t, int T, int K);

/* f32x4: the activations of T tokens as tiles of w = sl_f32x4_width(T)
 * tokens by column; tile u (tokens w u .. w u + w - 1) holds
 *   float v[K][w]    column k of token w u + j at v[k][j]
 * and tiles are sl_f32x4_tile_bytes(K) apart. Tokens past T in the last tile
 * repeat token T - 1. A half kernel's register tile broadcasts the 4 tokens'
 * column k from one 16-byte piece, the tokens' columns in one sequential
 * run. w = 1 (decode): the token's K values as they are. */
#define SL_F32X4_TOKENS 4
static inline int sl_f32x4_width(int T) { return T == 1 ? 1 : SL_F32X4_TOKENS; }
static inline size_t sl_f32x4_tile_bytes(int K) {
    /* one spare line, as f32t's */
    return ((size_t)SL_F32X4_TOKENS * (size_t)K * sizeof(float) + 63) / 64 * 64 + 64;
}
/* Column 0 of token t of T: column k is sl_f32x4_width(T) * k floats on. */
static inline const float *sl_f32x4_at(const void *xq, size_t tile_bytes, int t, int T) {
    const int w = sl_f32x4_width(T);
    return (const float *)(const void *)((const char *)xq + (size_t)(t / w) * tile_bytes) + t % w;
}
/* Writes token t of T into the f32x4 tiles at xq, as sl_pack_f32t does. */
void sl_pack_f32x4(void *xq, const float *x, int t, int T, int K);

/* bf16p: one row of K floats as K2 = K rounded up to even bf16 values,
 * each rounded to nearest, ties to even (NaN stays NaN), the odd K's last
 * value followed by +0; rows sl_bf16p_row_bytes(K) apart (64-aligned). The
 * token's column pair (2p, 2p + 1) is one 32-bit word, broadcast by the
 * vdpbf16ps kernel. */
static inline size_t sl_bf16p_row_bytes(int K) { return ((size_t)(K + 1) / 2 * 4 + 63) & ~(size_t)63; }
void sl_quant_bf16p_ref(void *xq, const float *x, int K);
void sl_quant_bf16p_avx512(void *xq, const float *x, int K); /* x86/gemm_bf16_avx512.c: the same bits */

typedef void (*sl_act_quant_fn)(void *xq, const float *x, int K);
typedef void (*sl_gemm_fn)(float *y, size_t ldy, const void *W, size_t w_row, const void *xq,
                           size_t x_row, int nr, int nt, int K, bool acc);

typedef struct {
    sl_gemm_fn gemm;
    sl_act_format act;
    int row_align; /* rows per SIMD group: splits across threads are multiples of it */
} sl_gemm_kernel;

/* The active kernel of a weight type, or NULL (no tile kernel: use vec_dot).
 * Honours SL_FORCE_REF like the weight table. */
const sl_gemm_kernel *sl_gemm_get(sl_type t);
/* The scalar reference kernel, for tests; NULL as above. */
const sl_gemm_kernel *sl_gemm_get_ref(sl_type t);
/* Activation quantizer of a format (NULL for SL_ACT_F32), active or reference. */
sl_act_quant_fn sl_act_quant_get(sl_act_format f);
sl_act_quant_fn sl_act_quant_get_ref(sl_act_format f);
/* Bytes per activation row of K elements in format f (f32t, f32x4: per tile). */
size_t sl_act_row_bytes(sl_act_format f, int K);

/* ---- the SwiGLU epilogue of the gate/up product ----
 * g[i] = silu(g[i]) * u[i] for i < n, silu(g) = g / (1 + e^-g), with the
 * attention's exponential (kernels/attn_exp.h: 3e-7 of exp, no libm call),
 * so that the AVX2 version (8 lanes, then the reference on the tail) and
 * the reference give the same bits. */
typedef void (*sl_swiglu_fn)(float *g, const float *u, int n);
sl_swiglu_fn sl_swiglu_get(void); /* honours SL_FORCE_REF */
void sl_swiglu_ref(float *g, const float *u, int n);
void sl_swiglu_avx2(float *g, const float *u, int n);

/* ---- row-interleaved ("x8") weights ----
 * The SIMD q4_0..q5_1, q8_0 and K-quant kernels take 8 rows at a time; stored as GGUF has
 * them, each block of a group is 8 short loads from 8 rows and 8 scales
 * picked one by one, work that costs more than the products on one core.
 * Repacked at load time, a group of 8 rows (rows 8g..8g+7) becomes one
 * run of blocks, block b of the group holding
 *     uint16 d[8]          the rows' f16 scales in the kernels' lane order
 *                          (rows 0 1 4 5 2 3 6 7)
 *     uint8  qs[2][C][4][8] for quad h (rows 4h..4h+3), chunk c, row i of the
 *                          quad: bytes 8c..8c+7 of that row's qs
 * with C = 2 for q4_0 (16 bytes of nibbles per row) and 4 for q8_0. The
 * group takes exactly the bytes of its 8 rows (144 = 8 * 18, 272 = 8 * 34),
 * so row r0 of a group still starts at r0 * w_row; a product must cover
 * whole groups (N % 8 == 0, nr % 8 == 0). The arithmetic is the plain
 * kernel's: the same bits as the reference on the original rows.
 * q4_1, q5_0 and q5_1 groups (160, 176, 192 = 8 * 20, 22, 24 bytes per
 * block) are q4_0's with the rest of each block between the scales and the
 * quants; each field of the 8 rows starts at 8 times its offset in a block:
 *     uint16 d[8]          in lane order
 *     uint16 m[8]          q4_1, q5_1: the mins, in lane order
 *     uint8  qh[8][4]      q5_0, q5_1: each row's fifth bits, rows 0..7 in
 *                          order (a quad's 4 rows are one 16-byte load)
 *     uint8  qs[2][2][4][8] as q4_0's, the last 128 bytes of the block
 * q4_K groups hold, per super-block (1152 = 8 * 144 bytes):
 *     uint16 d[8], dmin[8]  in lane order
 *     uint8  scales[8][12]  rows 0..7 in order, as stored
 *     uint8  qs[2][4][4][4][8]  quad h, 32-byte chunk c, 8-byte piece k,
 *                          row i of the quad: qs bytes 32c + 8k .. + 7
 * q5_K groups (1408 = 8 * 176 bytes) are q4_K's with the fifth bits
 * between the scales and the quants:
 *     uint8  qh[2][4][4][8]  quad h, 8-byte piece k, row i: qh bytes 8k .. + 7
 *     uint8  qs             as q4_K's, from byte SL_X8K5_QS
 * and q6_K groups, per super-block (1680 = 8 * 210 bytes):
 *     uint16 d[8]          in lane order
 *     int8   scales[8][16] rows 0..7 in order, as stored
 *     uint8  q[2][2][2][6][32]  quad h, half e, 16-byte part m, vector j:
 *                          j = 0, 1: ql bytes 64e + 16m + 8j .. + 7,
 *                          j = 2, 3: the same + 32, j = 4, 5: qh bytes
 *                          32e + 16m + 8(j - 4) .. + 7, each of rows
 *                          4h .. 4h + 3 in turn (8 bytes each)
 * f16 and bf16 groups hold, per column (16 bytes; any K):
 *     uint16 h[8]          rows 0..7's values of the column, in order
 * so the 8 lanes of a half kernel's weight vector are one 16-byte load and
 * a group is one sequential run. Every f16 and bf16 matrix of 8n rows is
 * repacked: the rows as stored need a transpose per 8 x 8 values
 * (x86/gemm_half_avx2.c). */
#define SL_X8_BLOCK_Q4_0 144
#define SL_X8_HALF_COL 16 /* bytes of a group's column */
#define SL_X8_BLOCK_Q8_0 272
#define SL_X8K_D 0
#define SL_X8K_DMIN 16
#define SL_X8K_SCALES 32
#define SL_X8K_QS 128
#define SL_X8K5_QH 128
#define SL_X8K5_QS 384
#define SL_X8Q6_D 0
#define SL_X8Q6_SCALES 16
#define SL_X8Q6_QS 144
/* ---- x16: the AVX-512 kernels' row groups ----
 * Sixteen rows (16g .. 16g + 15) per group, one 512-bit vector's lanes, in
 * row order; a group takes exactly the bytes of its 16 rows, so row r0 of a
 * group starts at r0 * w_row, and a product covers whole groups (N % 16 ==
 * 0, nr % 16 == 0).
 * f16 and bf16, per column (32 bytes; any K):
 *     uint16 h[16]         rows 0..15's values of the column
 * q8_0, per block (544 = 16 * 34 bytes):
 *     uint16 d[16]         the rows' scales
 *     int8   qs[8][16][4]  chunk j (the block's values 4j .. 4j + 3), row i
 * q4_1, q5_0, q5_1 (320, 352, 384 bytes per block) are q4_0's with the
 * rest of each block between the scales and the quants, each field of the
 * 16 rows at 16 times its offset in a block:
 *     uint16 d[16], then q4_1's and q5_1's m[16]
 *     uint32 qh[16]        q5_0, q5_1: each row's fifth bits
 *     uint8  qs[4][16][4]  as q4_0's, the last 256 bytes of the block
 * bf16 for the vdpbf16ps kernel, per column pair (64 bytes; even K):
 *     uint32 p[16]         row i's columns 2p (low half) and 2p + 1 (high)
 * q4_0, per block (288 = 16 * 18 bytes):
 *     uint16 d[16]
 *     uint8  qs[4][16][4]  chunk m (qs bytes 4m .. 4m + 3: values 4m .. 4m + 3
 *                          in the low nibbles, 16 + 4m .. 19 + 4m in the high)
 * so one 64-byte load holds 4 values of each of the 16 rows, and vpdpbusd
 * against the token's matching 4 bytes broadcast from memory sums them per
 * row with no shuffle.
 * q4_K, per super-block (2304 = 16 * 144 bytes):
 *     uint16 d[16], dmin[16]
 *     uint8  scales[3][16][4]  dword w (scale bytes 4w .. 4w + 3) of row i
 *     uint8  qs[32][16][4]     piece n (qs bytes 4n .. 4n + 3: quants 4k ..
 *                          4k + 3, k = n % 8, of sub-blocks 2c (low
 *                          nibbles) and 2c + 1 (high), c = n / 8), row i
 * q5_K (2816 = 16 * 176 bytes) is q4_K with the fifth bits between the
 * scales and the quants:
 *     uint8  qh[8][16][4]      piece k (qh bytes 4k .. 4k + 3), row i
 *     uint8  qs                as q4_K's, from byte SL_X16K5_QS
 * q6_K, per super-block (3360 = 16 * 210 bytes), the quants first, in the
 * order decode reads them (one sequential run):
 *     uint8  q[2][8][3][16][4] half h, piece k (elements l = 4k .. 4k + 3
 *                          of the half's 4 parts), then w = 0: ql bytes
 *                          64h + 4k .. + 3 (parts 0, 2), 1: ql bytes
 *                          64h + 32 + 4k .. (parts 1, 3), 2: qh bytes
 *                          32h + 4k .. (all 4), row i
 *     int8   scales[4][16][4]  dword w (scales 4w .. 4w + 3) of row i
 *     uint16 d[16] */
#define SL_X16_HALF_COL 32
#define SL_X16K_D 0
#define SL_X16K_DMIN 32
#define SL_X16K_SCALES 64
#define SL_X16K_QS 256
#define SL_X16K5_QH 256
#define SL_X16K5_QS 768
#define SL_X16Q6_QS 0
#define SL_X16Q6_SCALES 3072
#define SL_X16Q6_D 3328

/* Row layouts a matrix can be in: rows as stored, or groups of 8 or 16. */
enum { SL_ROWS_STORED = 0, SL_ROWS_X8 = 8, SL_ROWS_X16 = 16 };

/* The kernel for type t in layout `group` at the active level, or NULL when
 * there is none (SL_ROWS_STORED: sl_gemm_get). */
const sl_gemm_kernel *sl_gemm_get_grouped(sl_type t, int group);
/* The x8 and x16 kernels (sl_gemm_get_grouped with 8 and 16). x8 kernels
 * are AVX2 and run at the AVX2 and AVX-512 levels; x16 kernels run at the
 * AVX-512 level only, the integer ones where the CPU has AVX512-VNNI. */
const sl_gemm_kernel *sl_gemm_get_x8(sl_type t);
const sl_gemm_kernel *sl_gemm_get_x16(sl_type t);
/* The reference an x16 kernel matches on the rows as stored: the type's
 * reference, or sl_gemm_bf16_dp_ref for bf16's vdpbf16ps kernel. */
const sl_gemm_kernel *sl_gemm_get_x16_ref(sl_type t);
/* The layout a matrix of N rows of K columns of type t is repacked into at
 * load time: x16 where an x16 kernel runs and the shape fits it, else x8
 * where an x8 kernel runs and N % 8 == 0, else SL_ROWS_STORED
 * (model/model_repack.c). */
int sl_gemm_best_group(sl_type t, int N, int K);
/* Repacks N rows of K columns of type t from src into dst (as many bytes,
 * not overlapping) into x8 or x16 groups. Returns false, writing nothing,
 * when t has no such layout, N is not a multiple of the group or K not a
 * multiple of the block size. */
bool sl_repack_x8(sl_type t, void *dst, const void *src, int N, int K);
bool sl_repack_x16(sl_type t, void *dst, const void *src, int N, int K);
bool sl_repack_grouped(sl_type t, int group, void *dst, const void *src, int N, int K);

/* Row r of an f16 or bf16 matrix of K columns repacked into groups of
 * `group` rows (8 or 16), as K floats: a tied token embedding is looked up
 * in place. */
void sl_grouped_half_row(float *y, const void *W, sl_type t, int group, int K, int r);

/* ---- references (kernels/ref/gemm_ref.c) and SIMD versions ---- */
void sl_quant_q8s_ref(void *xq, const float *x, int K);
void sl_gemm_q4_0_ref(float *y, size_t ldy, const void *W, size_t w_row, const void *xq,
                      size_t x_row, int nr, int nt, int K, bool acc);
void sl_gemm_q4_1_ref(float *y, size_t ldy, const void *W, size_t w_row, const void *xq,
                      size_t x_row, int nr, int nt, int K, bool acc);
void sl_gemm_q5_0_ref(float *y, size_t ldy, const void *W, size_t w_row, const void *xq,
                      size_t x_row, int nr, int nt, int K, bool acc);
void sl_gemm_q5_1_ref(float *y, size_t ldy, const void *W, size_t w_row, const void *xq,
                      size_t x_row, int nr, int nt, int K, bool acc);
void sl_gemm_q8_0_ref(float *y, size_t ldy, const void *W, size_t w_row, const void *xq,
                      size_t x_row, int nr, int nt, int K, bool acc);
void sl_gemm_f32_ref(float *y, size_t ldy, const void *W, size_t w_row, const void *xq,
                     size_t x_row, int nr, int nt, int K, bool acc);
void sl_gemm_f16_ref(float *y, size_t ldy, const void *W, size_t w_row, const void *xq,
                     size_t x_row, int nr, int nt, int K, bool acc);
void sl_gemm_bf16_ref(float *y, size_t ldy, const void *W, size_t w_row, const void *xq,
                      size_t x_row, int nr, int nt, int K, bool acc);
void sl_gemm_bf16_dp_ref(float *y, size_t ldy, const void *W, size_t w_row, const void *xq,
                         size_t x_row, int nr, int nt, int K, bool acc);
void sl_gemm_q4_k_ref(float *y, size_t ldy, const void *W, size_t w_row, const void *xq,
                      size_t x_row, int nr, int nt, int K, bool acc);
void sl_gemm_q5_k_ref(float *y, size_t ldy, const void *W, size_t w_row, const void *xq,
                      size_t x_row, int nr, int nt, int K, bool acc);
void sl_gemm_q6_k_ref(float *y, size_t ldy, const void *W, size_t w_row, const void *xq,
                      size_t x_row, int nr, int nt, int K, bool acc);

void sl_quant_q8s_avx2(void *xq, const float *x, int K);
void sl_gemm_q4_0_avx2(float *y, size_t ldy, const void *W, size_t w_row, const void *xq,
                       size_t x_row, int nr, int nt, int K, bool acc);
void sl_gemm_q4_1_avx2(float *y, size_t ldy, const void *W, size_t w_row, const void *xq,
                       size_t x_row, int nr, int nt, int K, bool acc);
void sl_gemm_q5_0_avx2(float *y, size_t ldy, const void *W, size_t w_row, const void *xq,
                       size_t x_row, int nr, int nt, int K, bool acc);
void sl_gemm_q5_1_avx2(float *y, size_t ldy, const void *W, size_t w_row, const void *xq,
                       size_t x_row, int nr, int nt, int K, bool acc);
void sl_gemm_q8_0_avx2(float *y, size_t ldy, const void *W, size_t w_row, const void *xq,
                       size_t x_row, int nr, int nt, int K, bool acc);
void sl_gemm_f32_avx2(float *y, size_t ldy, const void *W, size_t w_row, const void *xq,
                      size_t x_row, int nr, int nt, int K, bool acc);
void sl_gemm_f16_avx2(float *y, size_t ldy, const void *W, size_t w_row, const void *xq,
                      size_t x_row, int nr, int nt, int K, bool acc);
void sl_gemm_bf16_avx2(float *y, size_t ldy, const void *W, size_t w_row, const void *xq,
                       size_t x_row, int nr, int nt, int K, bool acc);
void sl_gemm_f16x8_avx2(float *y, size_t ldy, const void *W, size_t w_row, const void *xq,
                        size_t x_row, int nr, int nt, int K, bool acc);
void sl_gemm_bf16x8_avx2(float *y, size_t ldy, const void *W, size_t w_row, const void *xq,
                         size_t x_row, int nr, int nt, int K, bool acc);
void sl_gemm_q4_0x8_avx2(float *y, size_t ldy, const void *W, size_t w_row, const void *xq,
                         size_t x_row, int nr, int nt, int K, bool acc);
void sl_gemm_q4_1x8_avx2(float *y, size_t ldy, const void *W, size_t w_row, const void *xq,
                         size_t x_row, int nr, int nt, int K, bool acc);
void sl_gemm_q5_0x8_avx2(float *y, size_t ldy, const void *W, size_t w_row, const void *xq,
                         size_t x_row, int nr, int nt, int K, bool acc);
void sl_gemm_q5_1x8_avx2(float *y, size_t ldy, const void *W, size_t w_row, const void *xq,
                         size_t x_row, int nr, int nt, int K, bool acc);
void sl_gemm_q8_0x8_avx2(float *y, size_t ldy, const void *W, size_t w_row, const void *xq,
                         size_t x_row, int nr, int nt, int K, bool acc);
void sl_gemm_q4_kx8_avx2(float *y, size_t ldy, const void *W, size_t w_row, const void *xq,
                         size_t x_row, int nr, int nt, int K, bool acc);
void sl_gemm_q5_kx8_avx2(float *y, size_t ldy, const void *W, size_t w_row, const void *xq,
                         size_t x_row, int nr, int nt, int K, bool acc);
void sl_gemm_q6_kx8_avx2(float *y, size_t ldy, const void *W, size_t w_row, const void *xq,
                         size_t x_row, int nr, int nt, int K, bool acc);
void sl_gemm_q4_k_avx2(float *y, size_t ldy, const void *W, size_t w_row, const void *xq,
                       size_t x_row, int nr, int nt, int K, bool acc);
void sl_gemm_q5_k_avx2(float *y, size_t ldy, const void *W, size_t w_row, const void *xq,
                       size_t x_row, int nr, int nt, int K, bool acc);
void sl_gemm_q6_k_avx2(float *y, size_t ldy, const void *W, size_t w_row, const void *xq,
                       size_t x_row, int nr, int nt, int K, bool acc);

/* x86/gemm_f32_avx512.c: rows as stored (f32t); x86/gemm_half_avx512.c,
 * x86/gemm_bf16_avx512.c, x86/gemm_q8s_avx512.c: x16 groups */
void sl_gemm_f32_avx512(float *y, size_t ldy, const void *W, size_t w_row, const void *xq,
                        size_t x_row, int nr, int nt, int K, bool acc);
void sl_gemm_f16x16_avx512(float *y, size_t ldy, const void *W, size_t w_row, const void *xq,
                           size_t x_row, int nr, int nt, int K, bool acc);
void sl_gemm_bf16x16_avx512(float *y, size_t ldy, const void *W, size_t w_row, const void *xq,
                            size_t x_row, int nr, int nt, int K, bool acc);
void sl_gemm_q8_0x16_avx512(float *y, size_t ldy, const void *W, size_t w_row, const void *xq,
                            size_t x_row, int nr, int nt, int K, bool acc);
void sl_gemm_q4_0x16_avx512(float *y, size_t ldy, const void *W, size_t w_row, const void *xq,
                            size_t x_row, int nr, int nt, int K, bool acc);
void sl_gemm_q4_1x16_avx512(float *y, size_t ldy, const void *W, size_t w_row, const void *xq,
                            size_t x_row, int nr, int nt, int K, bool acc);
void sl_gemm_q5_0x16_avx512(float *y, size_t ldy, const void *W, size_t w_row, const void *xq,
                            size_t x_row, int nr, int nt, int K, bool acc);
void sl_gemm_q5_1x16_avx512(float *y, size_t ldy, const void *W, size_t w_row, const void *xq,
                            size_t x_row, int nr, int nt, int K, bool acc);
/* x86/gemm_k_avx512.c: K-quant x16 groups */
void sl_gemm_q4_kx16_avx512(float *y, size_t ldy, const void *W, size_t w_row, const void *xq,
                            size_t x_row, int nr, int nt, int K, bool acc);
void sl_gemm_q5_kx16_avx512(float *y, size_t ldy, const void *W, size_t w_row, const void *xq,
                            size_t x_row, int nr, int nt, int K, bool acc);
void sl_gemm_q6_kx16_avx512(float *y, size_t ldy, const void *W, size_t w_row, const void *xq,
                            size_t x_row, int nr, int nt, int K, bool acc);

#endif
