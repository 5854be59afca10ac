/* test_quant.c — weight types: block layouts, f16/bf16 conversion,
 * dequantization of hand-built blocks (expected values computed here from
 * the GGUF/ggml layout, not by the kernels), reference dot products against
 * dequantized rows, every SIMD kernel against its reference, quantizer
 * round-trip error bounds, and SL_FORCE_REF. */
#include <stdint.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kernels/quant_isa.h"
#include "tensor/quant.h"
#include "tensor/quant_blocks.h"
#include "test_util.h"

static const sl_type RUN_TYPES[] = {SL_TYPE_F32,  SL_TYPE_F16,  SL_TYPE_BF16, SL_TYPE_Q4_0,
                                    SL_TYPE_Q4_1, SL_TYPE_Q5_0, SL_TYPE_Q5_1, SL_TYPE_Q8_0,
                                    SL_TYPE_Q4_K, SL_TYPE_Q5_K, SL_TYPE_Q6_K};
#define N_RUN_TYPES (int)(sizeof RUN_TYPES / sizeof RUN_TYPES[0])

static unsigned long long g_seed = 0x9E3779B97F4A7C15ull;

static float f32_of(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}
static uint32_t u32_of(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

/* Random floats shaped like weights: mostly small, a few outliers. */
static void fill_weights(float *x, int64_t n, float scale) {
    for (int64_t i = 0; i < n; i++) {
        float v = (t_rand_f(&g_seed) + t_rand_f(&g_seed) + t_rand_f(&g_seed)) * scale;
        if (t_rand_u64(&g_seed) % 61 == 0) v *= 6;
        x[i] = v;
    }
}

static void *quantize(const sl_type_traits *tr, uint32_t type, const float *x, int64_t n) {
    size_t bytes = sl_row_size(type, n);
    void *q = calloc(1, bytes ? bytes : 1);
    tr->from_float(q, x, n);
    return q;
}

/* ---- layout --------------------------------------------------------------- */

static void test_block_sizes(void) {
    static const struct {
        sl_type t;
        size_t size;
        int blck;
    } want[] = {
        {SL_TYPE_Q4_0, sizeof(sl_block_q4_0), SL_QK4_0}, {SL_TYPE_Q4_1, sizeof(sl_block_q4_1), SL_QK4_1},
        {SL_TYPE_Q5_0, sizeof(sl_block_q5_0), SL_QK5_0}, {SL_TYPE_Q5_1, sizeof(sl_block_q5_1), SL_QK5_1},
        {SL_TYPE_Q8_0, sizeof(sl_block_q8_0), SL_QK8_0}, {SL_TYPE_Q8_1, sizeof(sl_block_q8_1), SL_QK8_1},
        {SL_TYPE_Q4_K, sizeof(sl_block_q4_k), SL_QK_K},  {SL_TYPE_Q5_K, sizeof(sl_block_q5_k), SL_QK_K},
        {SL_TYPE_Q6_K, sizeof(sl_block_q6_k), SL_QK_K},  {SL_TYPE_Q8_K, sizeof(sl_block_q8_k), SL_QK_K},
        {SL_TYPE_F32, 4, 1}, {SL_TYPE_F16, 2, 1}, {SL_TYPE_BF16, 2, 1},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const sl_type_traits *tr = sl_type_get(want[i].t);
        T_CHECK(tr != NULL, "type %d missing", want[i].t);
        if (!tr) continue;
        T_CHECK(tr->type_size == want[i].size, "%s: table says %zu bytes, struct is %zu", tr->name,
                tr->type_size, want[i].size);
        T_CHECK(tr->blck_size == want[i].blck, "%s: block %d want %d", tr->name, tr->blck_size, want[i].blck);
    }
    /* GGUF's sizes written out (ggml-common.h), independent of our structs */
    T_CHECK(sl_type_block_bytes(SL_TYPE_Q4_K) == 2 + 2 + 12 + 128, "q4_K bytes");
    T_CHECK(sl_type_block_bytes(SL_TYPE_Q5_K) == 2 + 2 + 12 + 32 + 128, "q5_K bytes");
    T_CHECK(sl_type_block_bytes(SL_TYPE_Q6_K) == 128 + 64 + 16 + 2, "q6_K bytes");
    T_CHECK(sl_type_block_bytes(SL_TYPE_Q8_K) == 4 + 256 + 32, "q8_K bytes");
}

static void test_traits(void) {
    static const struct {
        sl_type t, vdt;
    } pairs[] = {
        {SL_TYPE_F32, SL_TYPE_F32},   {SL_TYPE_F16, SL_TYPE_F32},   {SL_TYPE_BF16, SL_TYPE_F32},
        {SL_TYPE_Q4_0, SL_TYPE_Q8_0}, {SL_TYPE_Q4_1, SL_TYPE_Q8_1}, {SL_TYPE_Q5_0, SL_TYPE_Q8_0},
        {SL_TYPE_Q5_1, SL_TYPE_Q8_1}, {SL_TYPE_Q8_0, SL_TYPE_Q8_0}, {SL_TYPE_Q4_K, SL_TYPE_Q8_K},
        {SL_TYPE_Q5_K, SL_TYPE_Q8_K}, {SL_TYPE_Q6_K, SL_TYPE_Q8_K},
    };
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        for (int lvl = 0; lvl < SL_SIMD_COUNT; lvl++) {
            const sl_type_traits *tr = sl_type_get_simd(pairs[i].t, (sl_simd)lvl);
            if (!tr) continue;
            T_CHECK(tr->supported && tr->to_float && tr->from_float && tr->vec_dot, "%s/%s incomplete",
                    tr->name, sl_simd_name((sl_simd)lvl));
            T_CHECK(tr->vec_dot_type == pairs[i].vdt, "%s dots with %s", tr->name, sl_type_name(tr->vec_dot_type));
            const sl_type_traits *at = sl_type_get_simd(tr->vec_dot_type, (sl_simd)lvl);
            T_CHECK(at && at->from_float && at->to_float, "%s: activation type lacks kernels", tr->name);
        }
    }
    const sl_type_traits *q2 = sl_type_get(SL_TYPE_Q2_K);
    T_CHECK(q2 && !q2->supported && !strcmp(q2->name, "q2_k"), "q2_K is known but not supported");
    T_CHECK(sl_type_get(4) == NULL && sl_type_get(39) == NULL && sl_type_get(1000) == NULL, "unknown ids");
    T_CHECK(sl_type_from_name("Q4_K") == SL_TYPE_Q4_K && sl_type_from_name("bf16") == SL_TYPE_BF16 &&
                sl_type_from_name("q4") == -1,
            "names");
    T_CHECK(sl_row_size(SL_TYPE_Q4_0, 64) == 36 && sl_row_size(SL_TYPE_Q4_0, 48) == 0, "row sizes");
    const char *lvl = sl_simd_level();
    T_CHECK(!strcmp(lvl, "avx512") || !strcmp(lvl, "avx2") || !strcmp(lvl, "neon") || !strcmp(lvl, "scalar"),
            "level %s", lvl);
    printf("  simd level: %s\n", lvl);
}

/* ---- f16 / bf16 ----------------------------------------------------------- */

/* binary16 by its definition: (-1)^s * 2^(e-15) * 1.m, or 2^-14 * 0.m. */
static double half_value(uint16_t h) {
    int s = h >> 15, e = (h >> 10) & 31, m = h & 1023;
    double v = e == 0 ? ldexp(m, -24) : ldexp(1024 + m, e - 25);
    return s ? -v : v;
}

static void test_fp16_exhaustive(void) {
    int bad = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        const float f = sl_fp16_to_fp32((uint16_t)h);
        const int e = (h >> 10) & 31;
        if (e == 31) { /* inf keeps its sign; NaN stays NaN both ways */
            const int ok = (h & 1023) ? isnan(f) && isnan(sl_fp16_to_fp32(sl_fp32_to_fp16(f)))
                                      : isinf(f) && (signbit(f) != 0) == (int)(h >> 15) && sl_fp32_to_fp16(f) == h;
            if (!ok) { T_CHECK(0, "special %04x -> %g", h, f); if (++bad > 5) break; }
            continue;
        }
        if ((double)f != half_value((uint16_t)h) || (signbit(f) != 0) != (int)(h >> 15)) {
            T_CHECK(0, "%04x -> %.9g want %.9g", h, f, half_value((uint16_t)h));
            if (++bad > 5) break;
        }
        if (sl_fp32_to_fp16(f) != h) {
            T_CHECK(0, "round trip %04x -> %04x", h, sl_fp32_to_fp16(f));
            if (++bad > 5) break;
        }
        /* the float halfway to the next half rounds to the even one; a hair
         * either side rounds to the nearer (the largest finite half's
         * midpoint is 65520, which must overflow to inf) */
        if ((h & 0x7FFF) < 0x7BFF + 1 && (h & 0x7FFF) != 0x7BFF) {
            const uint16_t h2 = (uint16_t)(h + 1);
            const double mid = (half_value((uint16_t)h) + half_value(h2)) / 2;
            const float fm = (float)mid; /* exact: 12 significant bits */
            const uint16_t even = (h & 1) ? h2 : (uint16_t)h;
            T_CHECK(sl_fp32_to_fp16(fm) == even, "midpoint of %04x rounds to %04x", h, sl_fp32_to_fp16(fm));
            T_CHECK(sl_fp32_to_fp16(nextafterf(fm, 0)) == h, "below midpoint %04x", h);
            T_CHECK(sl_fp32_to_fp16(nextafterf(fm, fm > 0 ? INFINITY : -INFINITY)) == h2, "above midpoint %04x", h);
        }
    }
    T_CHECK(sl_fp32_to_fp16(65519.996f) == 0x7BFF && sl_fp32_to_fp16(65520.f) == 0x7C00, "overflow edge");
    T_CHECK(sl_fp32_to_fp16(-1e10f) == 0xFC00 && sl_fp32_to_fp16(1e-10f) == 0, "far range");
    T_CHECK(sl_fp32_to_fp16(0x1p-25f) == 0 && sl_fp32_to_fp16(0x1.000002p-25f) == 1, "tiny: ties to 0");
    T_CHECK((sl_fp32_to_fp16(NAN) & 0x7E00) == 0x7E00, "quiet NaN");
}

static void test_bf16_exhaustive(void) {
    int bad = 0;
    for (uint32_t h = 0; h < 65536 && bad < 5; h++) {
        const float f = sl_bf16_to_fp32((uint16_t)h);
        if (u32_of(f) != h << 16) { T_CHECK(0, "%04x widens to %08x", h, u32_of(f)); bad++; }
        if (isnan(f)) {
            T_CHECK(isnan(sl_bf16_to_fp32(sl_fp32_to_bf16(f))), "nan %04x", h);
            continue;
        }
        if (sl_fp32_to_bf16(f) != h) { T_CHECK(0, "round trip %04x", h); bad++; }
        if ((h & 0x7FFF) < 0x7F7F) { /* finite, not the largest: midpoint to the next */
            const uint32_t mid = h << 16 | 0x8000;
            const uint16_t even = (h & 1) ? (uint16_t)(h + 1) : (uint16_t)h;
            T_CHECK(sl_fp32_to_bf16(f32_of(mid)) == even, "bf16 tie %04x", h);
            T_CHECK(sl_fp32_to_bf16(f32_of(mid - 1)) == h && sl_fp32_to_bf16(f32_of(mid + 1)) == h + 1,
                    "bf16 near tie %04x", h);
        }
    }
    T_CHECK(sl_fp32_to_bf16(f32_of(0x7F7FFFFF)) == 0x7F80, "max float rounds to inf");
}

/* The SIMD f16 row conversions against the scalar ones, on every half. */
static void test_f16_rows_simd(void) {
    static uint16_t h[65536], h2[65536];
    static float f[65536], g[65536];
    for (uint32_t i = 0; i < 65536; i++) h[i] = (uint16_t)i;
    const sl_type_traits *ref = sl_type_get_ref(SL_TYPE_F16);
    int tested = 0;
    for (int lvl = 1; lvl < SL_SIMD_COUNT; lvl++) {
        const sl_type_traits *tr = sl_type_get_simd(SL_TYPE_F16, (sl_simd)lvl);
        if (!tr) continue;
        tested++;
        ref->to_float(f, h, 65536);
        tr->to_float(g, h, 65536);
        T_CHECK(!memcmp(f, g, sizeof f), "%s f16 widening differs", sl_simd_name((sl_simd)lvl));
        for (int i = 0; i < 65536; i++) f[i] = t_rand_f(&g_seed) * ldexpf(1, (int)(t_rand_u64(&g_seed) % 44) - 24);
        for (int n = 1; n <= 65536; n = n < 64 ? n + 7 : n * 4) {
            ref->from_float(h, f, n);
            tr->from_float(h2, f, n);
            T_CHECK(!memcmp(h, h2, (size_t)n * 2), "%s f16 narrowing differs at n=%d", sl_simd_name((sl_simd)lvl), n);
        }
    }
    if (!tested) T_SKIP("no SIMD level on this CPU");
}

/* ---- dequantization of hand-built blocks -------------------------------- */

/* f16 bit patterns of the scales used below (exact powers of two and sums). */
#define H_0_0625 0x2C00
#define H_0_125 0x3000
#define H_0_25 0x3400
#define H_0_5 0x3800
#define H_2 0x4000
#define H_3 0x4200
#define H_M1_5 0xBE00

static void expect_dequant(sl_type t, const void *blk, const float *want, int n) {
    float got[256];
    sl_type_get_ref(t)->to_float(got, blk, n);
    int bad = 0;
    for (int i = 0; i < n && bad < 4; i++)
        if (got[i] != want[i]) {
            T_CHECK(0, "%s element %d: got %g want %g", sl_type_name(t), i, got[i], want[i]);
            bad++;
        }
}

static void test_dequant_legacy(void) {
    float want[32];
    { /* q4_0: d = 0.5, element j = low nibble of qs[j], j + 16 = high nibble */
        sl_block_q4_0 b = {.d = H_0_5};
        for (int j = 0; j < 16; j++) b.qs[j] = (uint8_t)(j | (15 - j) << 4);
        for (int j = 0; j < 16; j++) want[j] = (j - 8) * 0.5f, want[j + 16] = (15 - j - 8) * 0.5f;
        expect_dequant(SL_TYPE_Q4_0, &b, want, 32);
    }
    { /* q4_1: d = 0.25, m = -1.5 */
        sl_block_q4_1 b = {.d = H_0_25, .m = H_M1_5};
        for (int j = 0; j < 16; j++) b.qs[j] = (uint8_t)((15 - j) | j << 4);
        for (int j = 0; j < 16; j++) want[j] = (15 - j) * 0.25f - 1.5f, want[j + 16] = j * 0.25f - 1.5f;
        expect_dequant(SL_TYPE_Q4_1, &b, want, 32);
    }
    /* q5: the fifth bit of element i is bit i of qh read as a little-endian uint32 */
    const uint8_t qh[4] = {0x0F, 0xF0, 0x55, 0xAA};
    const uint32_t qword = 0xAA55F00Fu;
    { /* q5_0: d = 2 */
        sl_block_q5_0 b = {.d = H_2};
        memcpy(b.qh, qh, 4);
        for (int j = 0; j < 16; j++) b.qs[j] = (uint8_t)(((3 * j) & 15) | ((5 * j + 1) & 15) << 4);
        for (int j = 0; j < 16; j++) {
            want[j] = ((int)(((3 * j) & 15) + 16 * ((qword >> j) & 1)) - 16) * 2.0f;
            want[j + 16] = ((int)(((5 * j + 1) & 15) + 16 * ((qword >> (j + 16)) & 1)) - 16) * 2.0f;
        }
        expect_dequant(SL_TYPE_Q5_0, &b, want, 32);
    }
    { /* q5_1: d = 0.5, m = 3 */
        sl_block_q5_1 b = {.d = H_0_5, .m = H_3};
        memcpy(b.qh, qh, 4);
        for (int j = 0; j < 16; j++) b.qs[j] = (uint8_t)(((3 * j) & 15) | ((5 * j + 1) & 15) << 4);
        for (int j = 0; j < 16; j++) {
            want[j] = (((3 * j) & 15) + 16 * ((qword >> j) & 1)) * 0.5f + 3;
            want[j + 16] = (((5 * j + 1) & 15) + 16 * ((qword >> (j + 16)) & 1)) * 0.5f + 3;
        }
        expect_dequant(SL_TYPE_Q5_1, &b, want, 32);
    }
    { /* q8_0: d = 0.125, the full int8 range including -128 */
        sl_block_q8_0 b = {.d = H_0_125};
        for (int j = 0; j < 32; j++) b.qs[j] = (int8_t)((j * 37) % 256 - 128), want[j] = b.qs[j] * 0.125f;
        b.qs[5] = -128, want[5] = -16;
        expect_dequant(SL_TYPE_Q8_0, &b, want, 32);
    }
}

/* ggml's packing of eight 6-bit scales and mins into 12 bytes, written out
 * from the layout: bytes 0-3 = sc[0..3] with sc[4..7]'s top two bits in bits
 * 6-7; bytes 4-7 the same for the mins; bytes 8-11 = sc[4..7] low nibble |
 * m[4..7] low nibble << 4. */
static void pack_k_scales(uint8_t out[12], const int sc[8], const int m[8]) {
    for (int j = 0; j < 4; j++) {
        out[j] = (uint8_t)(sc[j] | (sc[j + 4] >> 4) << 6);
        out[j + 4] = (uint8_t)(m[j] | (m[j + 4] >> 4) << 6);
        out[j + 8] = (uint8_t)((sc[j + 4] & 15) | (m[j + 4] & 15) << 4);
    }
}

static const int K_SC[8] = {1, 63, 17, 32, 5, 48, 60, 33};
static const int K_M[8] = {0, 1, 63, 16, 62, 31, 7, 40};

static void test_dequant_q4_k(void) {
    sl_block_q4_k b = {.d = H_0_25, .dmin = H_0_125};
    pack_k_scales(b.scales, K_SC, K_M);
    int L[256];
    float want[256];
    for (int i = 0; i < 256; i++) L[i] = (i * 7 + i / 32) % 16;
    /* 64-element chunk c: low nibbles hold elements 64c..64c+31, high 64c+32.. */
    for (int c = 0; c < 4; c++)
        for (int l = 0; l < 32; l++) b.qs[32 * c + l] = (uint8_t)(L[64 * c + l] | L[64 * c + 32 + l] << 4);
    for (int i = 0; i < 256; i++) want[i] = 0.25f * K_SC[i / 32] * L[i] - 0.125f * K_M[i / 32];
    expect_dequant(SL_TYPE_Q4_K, &b, want, 256);
}

static void test_dequant_q5_k(void) {
    sl_block_q5_k b = {.d = H_0_125, .dmin = H_0_25};
    pack_k_scales(b.scales, K_SC, K_M);
    int L[256];
    float want[256];
    for (int i = 0; i < 256; i++) L[i] = (i * 11 + 3 + i / 64) % 32;
    for (int c = 0; c < 4; c++) {
        for (int l = 0; l < 32; l++) {
            const int a = L[64 * c + l], z = L[64 * c + 32 + l];
            b.qs[32 * c + l] = (uint8_t)((a & 15) | (z & 15) << 4);
            b.qh[l] |= (uint8_t)((a >> 4) << (2 * c) | (z >> 4) << (2 * c + 1));
        }
    }
    for (int i = 0; i < 256; i++) want[i] = 0.125f * K_SC[i / 32] * L[i] - 0.25f * K_M[i / 32];
    expect_dequant(SL_TYPE_Q5_K, &b, want, 256);
}

static void test_dequant_q6_k(void) {
    static const int8_t sc[16] = {-128, 127, -1, 1, 50, -50, 3, 7, 0, 100, -7, 64, -64, 2, 9, -99};
    sl_block_q6_k b = {.d = H_0_0625};
    memcpy(b.scales, sc, 16);
    int L[256];
    float want[256];
    for (int i = 0; i < 256; i++) L[i] = (i * 13 + 5 + i / 128) % 64;
    /* half h of 128: ql[l] = q(l) | q(l+64) << 4, ql[l+32] = q(l+32) | q(l+96) << 4,
     * qh[l] = the top two bits of q(l), q(l+32), q(l+64), q(l+96) */
    for (int h = 0; h < 2; h++) {
        const int *Q = L + 128 * h;
        for (int l = 0; l < 32; l++) {
            b.ql[64 * h + l] = (uint8_t)((Q[l] & 15) | (Q[l + 64] & 15) << 4);
            b.ql[64 * h + l + 32] = (uint8_t)((Q[l + 32] & 15) | (Q[l + 96] & 15) << 4);
            b.qh[32 * h + l] = (uint8_t)(Q[l] >> 4 | (Q[l + 32] >> 4) << 2 | (Q[l + 64] >> 4) << 4 | (Q[l + 96] >> 4) << 6);
        }
    }
    for (int i = 0; i < 256; i++) want[i] = 0.0625f * sc[i / 16] * (L[i] - 32);
    expect_dequant(SL_TYPE_Q6_K, &b, want, 256);
}

/* ---- dot products --------------------------------------------------------- */

/* Random weight blocks: random bytes everywhere (every nibble, bit and scale
 * pattern), with the f16 scale fields replaced by sane values. */
static void *random_blocks(sl_type t, int64_t n) {
    const size_t bytes = sl_row_size(t, n);
    uint8_t *p = malloc(bytes);
    for (size_t i = 0; i < bytes; i++) p[i] = (uint8_t)t_rand_u64(&g_seed);
    const int64_t nb = n / sl_type_block_size(t);
    const size_t bs = sl_type_block_bytes(t);
    for (int64_t b = 0; b < nb; b++) {
        uint8_t *blk = p + b * bs;
        uint16_t h1 = sl_fp32_to_fp16(0.01f + 0.02f * fabsf(t_rand_f(&g_seed)));
        uint16_t h2 = sl_fp32_to_fp16(0.01f * t_rand_f(&g_seed));
        switch (t) {
        case SL_TYPE_Q6_K: memcpy(blk + 208, &h1, 2); break;
        case SL_TYPE_Q4_1: case SL_TYPE_Q5_1: case SL_TYPE_Q4_K: case SL_TYPE_Q5_K:
            memcpy(blk, &h1, 2);
            memcpy(blk + 2, &h2, 2);
            break;
        case SL_TYPE_Q4_0: case SL_TYPE_Q5_0: case SL_TYPE_Q8_0: memcpy(blk, &h1, 2); break;
        default: break; /* float types: random values set by the caller */
        }
    }
    return p;
}

/* Weights of type t with n elements: half from the quantizer, half raw. */
static void *make_weights(sl_type t, int64_t n, int raw) {
    if (raw && sl_type_block_size(t) > 1) return random_blocks(t, n);
    float *x = malloc((size_t)n * sizeof *x);
    fill_weights(x, n, 0.3f);
    void *q = quantize(sl_type_get_ref(t), t, x, n);
    free(x);
    return q;
}

/* sum_i |x_i * y_i| of the dequantized rows: the scale of rounding errors
 * (tolerances are 1e-5 of it); *exact gets the dot of the two in double. */
static double abs_dot(sl_type t, const void *x, const void *y, int64_t n, double *exact) {
    const sl_type_traits *tr = sl_type_get_ref(t), *at = sl_type_get_ref(tr->vec_dot_type);
    float *a = malloc((size_t)n * sizeof *a), *b = malloc((size_t)n * sizeof *b);
    tr->to_float(a, x, n);
    at->to_float(b, y, n);
    double s = 0, e = 0;
    for (int64_t i = 0; i < n; i++) s += fabs((double)a[i] * b[i]), e += (double)a[i] * b[i];
    free(a);
    free(b);
    *exact = e;
    if (tr->vec_dot_type == SL_TYPE_Q8_1) {
        /* q8_1 stores s = f16(d * sum q) with the unrounded d, so m * s differs
         * from m * sum(q * f16(d)) by up to |m s| * 2^-10 (two f16 roundings) */
        const size_t bx = sl_type_block_bytes(t);
        for (int64_t k = 0; k < n / 32; k++) {
            uint16_t m, sy;
            memcpy(&m, (const char *)x + k * bx + 2, 2);
            memcpy(&sy, (const char *)y + k * sizeof(sl_block_q8_1) + 2, 2);
            s += fabs((double)sl_fp16_to_fp32(m) * sl_fp16_to_fp32(sy)) * (1.0 / 1024) * 1.01 / 1e-5;
        }
    }
    return s;
}

static void sizes_for(sl_type t, const int64_t **sz, int *n) {
    static const int64_t s32[] = {32, 96, 288, 4096 + 32};
    static const int64_t s256[] = {256, 768, 2816};
    static const int64_t sf[] = {1, 7, 33, 32, 96, 288, 256, 768, 2816, 4096 + 32};
    const int b = sl_type_block_size(t);
    if (b == 256) *sz = s256, *n = 3;
    else if (b == 32) *sz = s32, *n = 4;
    else *sz = sf, *n = 10;
}

/* The reference dot of every type equals the dot of the dequantized rows
 * (one in double): checks the integer/bsums formulas against to_float. */
static void test_ref_dot_matches_dequant(void) {
    for (int k = 0; k < N_RUN_TYPES; k++) {
        const sl_type t = RUN_TYPES[k];
        const sl_type_traits *tr = sl_type_get_ref(t), *at = sl_type_get_ref(tr->vec_dot_type);
        const int64_t *sz;
        int nsz;
        sizes_for(t, &sz, &nsz);
        for (int s = 0; s < nsz; s++) {
            const int64_t n = sz[s];
            for (int raw = 0; raw < 2; raw++) {
                void *x = make_weights(t, n, raw);
                float *yf = malloc((size_t)n * sizeof *yf);
                fill_weights(yf, n, 1.0f);
                void *y = quantize(at, tr->vec_dot_type, yf, n);
                float got;
                double exact, scale = abs_dot(t, x, y, n, &exact);
                tr->vec_dot(&got, x, y, n);
                T_CHECK(fabs(got - exact) <= 1e-5 * scale + 1e-30, "%s n=%lld raw=%d: %.9g vs %.9g (scale %g)",
                        tr->name, (long long)n, raw, got, exact, scale);
                free(x), free(y), free(yf);
            }
        }
    }
}

/* The weight table's vec_dots are the references at every level: the
 * products run tile kernels (kernels/gemm.h, test_gemm.c), and a SIMD
 * vec_dot nothing calls is not kept. */
static void test_vec_dot_is_reference(void) {
    for (int lvl = 1; lvl < SL_SIMD_COUNT; lvl++)
        for (int k = 0; k < N_RUN_TYPES; k++) {
            const sl_type_traits *tr = sl_type_get_simd(RUN_TYPES[k], (sl_simd)lvl);
            if (tr) T_CHECK(tr->vec_dot == sl_type_get_ref(RUN_TYPES[k])->vec_dot, "%s %s: a SIMD vec_dot",
                            sl_simd_name((sl_simd)lvl), tr->name);
        }
}

/* SIMD quantizers (activations, f16) must equal the reference bit for bit,
 * including exact .5 ties (roundf for q8_0/q8_1, ties-to-even for q8_K). */
static void test_simd_quantizers(void) {
    static const sl_type qt[] = {SL_TYPE_Q8_0, SL_TYPE_Q8_1, SL_TYPE_Q8_K, SL_TYPE_F16};
    int tested = 0;
    for (int lvl = 1; lvl < SL_SIMD_COUNT; lvl++) {
        for (size_t k = 0; k < sizeof qt / sizeof qt[0]; k++) {
            const sl_type_traits *tr = sl_type_get_simd(qt[k], (sl_simd)lvl), *ref = sl_type_get_ref(qt[k]);
            if (!tr || tr->from_float == ref->from_float) continue;
            tested++;
            const int64_t *sz;
            int nsz;
            sizes_for(qt[k] == SL_TYPE_F16 ? SL_TYPE_F32 : qt[k], &sz, &nsz);
            for (int s = 0; s <= nsz; s++) {
                const int64_t n = s < nsz ? sz[s] : 512; /* two q8_K blocks, 16 of q8_0 */
                float *x = malloc((size_t)n * sizeof *x);
                if (s < nsz) {
                    fill_weights(x, n, 1.0f);
                } else {
                    /* ties: a block whose largest magnitude is 127 (scale 1),
                     * the other values at exact halves; the second block
                     * negative-max for q8_K's sign rule */
                    for (int64_t i = 0; i < n; i++) x[i] = (float)((int)(i % 100) - 50) + 0.5f;
                    x[0] = 127;
                    x[n / 2] = -127;
                    x[n / 2 + 1] = 127;
                }
                void *a = quantize(ref, qt[k], x, n), *b = quantize(tr, qt[k], x, n);
                T_CHECK(!memcmp(a, b, sl_row_size(qt[k], n)), "%s %s quantizer differs at n=%lld",
                        sl_simd_name((sl_simd)lvl), tr->name, (long long)n);
                free(a), free(b), free(x);
            }
        }
    }
    if (!tested) T_SKIP("no SIMD level on this CPU");
}

/* ---- quantize -> dequantize error bounds --------------------------------- */

static void round_trip(sl_type t, const float *x, float *y, int64_t n) {
    const sl_type_traits *tr = sl_type_get_ref(t);
    void *q = quantize(tr, t, x, n);
    tr->to_float(y, q, n);
    free(q);
}

static void test_round_trip_legacy(void) {
    enum { N = 4096 };
    static float x[N], y[N];
    fill_weights(x, N, 0.5f);
    x[100] = 0; /* a block with exact zeros and a constant block */
    for (int i = 64; i < 96; i++) x[i] = 0.25f;
    const double h = 1.0 / 2048; /* relative rounding of an f16 scale */
    for (int k = 3; k < 8; k++) {
        const sl_type t = RUN_TYPES[k];
        round_trip(t, x, y, N);
        for (int b = 0; b < N / 32; b++) {
            const float *xb = x + 32 * b, *yb = y + 32 * b;
            double amax = 0, mn = xb[0], mx = xb[0];
            for (int i = 0; i < 32; i++) { /* plain ifs: GCC 12's aarch64 vectorizer ICEs on fmin/fmax here */
                if (fabs(xb[i]) > amax) amax = fabs(xb[i]);
                if (xb[i] < mn) mn = xb[i];
                if (xb[i] > mx) mx = xb[i];
            }
            double bound;
            switch (t) {
            /* symmetric: one step d = amax/8 (or /16): values opposite the
             * largest one may clip to level 7 (15), a full step away */
            case SL_TYPE_Q4_0: bound = amax / 8 * (1 + 9 * h); break;
            case SL_TYPE_Q5_0: bound = amax / 16 * (1 + 17 * h); break;
            /* affine: half a step, plus the f16 rounding of d (15 or 31 steps) and m */
            case SL_TYPE_Q4_1: bound = (mx - mn) / 15 * (0.5 + 16 * h) + fabs(mn) * h; break;
            case SL_TYPE_Q5_1: bound = (mx - mn) / 31 * (0.5 + 32 * h) + fabs(mn) * h; break;
            default: /* q8_0: half a step of amax/127, plus the f16 rounding of d */
                bound = amax / 127 * (0.5 + 128 * h);
            }
            for (int i = 0; i < 32; i++)
                if (fabs(xb[i] - yb[i]) > bound + 1e-12) {
                    T_CHECK(0, "%s block %d elt %d: |%g - %g| > %g", sl_type_name(t), b, i, xb[i], yb[i], bound);
                    break;
                }
        }
    }
}

/* K-quants: the RMSE relative to a plain uniform grid over each sub-block's
 * range with unrounded scales (step = range / (levels-1), rmse step/sqrt(12));
 * a least-squares fit does a little better, 6-bit/8-bit scales a little
 * worse: we require <= 1.05 of it. The max error stays within 1.5 steps
 * (half a step plus what the rounding of the sub-block scale costs; ~1.0-1.3
 * seen, varying with the platform's FMA contraction). */
static void test_round_trip_k(void) {
    enum { N = 256 * 64 };
    static float x[N], y[N];
    static const struct {
        sl_type t;
        int sub, levels;
        double max_ratio;
    } k[] = {{SL_TYPE_Q4_K, 32, 16, 1.05}, {SL_TYPE_Q5_K, 32, 32, 1.05}, {SL_TYPE_Q6_K, 16, 64, 1.05}};
    for (int dist = 0; dist < 2; dist++) {
        if (dist == 0) fill_weights(x, N, 0.1f);
        else for (int i = 0; i < N; i++) x[i] = t_rand_f(&g_seed) * (1 + i % 7); /* uniform, varied ranges */
        for (int j = 0; j < 3; j++) {
            round_trip(k[j].t, x, y, N);
            double err2 = 0, ideal2 = 0, worst = 0;
            for (int s = 0; s < N / k[j].sub; s++) {
                const float *xs = x + s * k[j].sub, *ys = y + s * k[j].sub;
                double mn = xs[0], mx = xs[0];
                for (int i = 0; i < k[j].sub; i++) mn = fmin(mn, xs[i]), mx = fmax(mx, xs[i]);
                if (k[j].t != SL_TYPE_Q6_K && mn > 0) mn = 0;
                const double step = k[j].t == SL_TYPE_Q6_K ? 2 * fmax(fabs(mn), fabs(mx)) / (k[j].levels - 1)
                                                           : (mx - mn) / (k[j].levels - 1);
                ideal2 += k[j].sub * step * step / 12;
                for (int i = 0; i < k[j].sub; i++) {
                    const double e = fabs(xs[i] - ys[i]);
                    err2 += e * e;
                    worst = fmax(worst, e / step);
                }
            }
            const double ratio = sqrt(err2 / ideal2);
            printf("  %s dist %d: rmse / ideal %.3f, max err %.2f steps\n", sl_type_name(k[j].t), dist, ratio, worst);
            T_CHECK(ratio <= k[j].max_ratio, "%s rmse ratio %.3f > %.2f", sl_type_name(k[j].t), ratio, k[j].max_ratio);
            T_CHECK(worst <= 1.5, "%s max error %.2f steps", sl_type_name(k[j].t), worst);
        }
    }
}

static void test_round_trip_float(void) {
    enum { N = 4096 };
    static float x[N], y[N];
    fill_weights(x, N, 10.0f);
    round_trip(SL_TYPE_F32, x, y, N);
    T_CHECK(!memcmp(x, y, sizeof x), "f32 is lossless");
    round_trip(SL_TYPE_F16, x, y, N);
    for (int i = 0; i < N; i++)
        if (fabs(x[i] - y[i]) > fabs(x[i]) / 2048) { T_CHECK(0, "f16 %g -> %g", x[i], y[i]); break; }
    round_trip(SL_TYPE_BF16, x, y, N);
    for (int i = 0; i < N; i++)
        if (fabs(x[i] - y[i]) > fabs(x[i]) / 256) { T_CHECK(0, "bf16 %g -> %g", x[i], y[i]); break; }
}

/* Zeros quantize to zeros (no 0/0) in every type, and the largest element of
 * a q4_0/q5_0/q8_0 block is hit up to the f16 rounding of d. */
static void test_zero_and_extremes(void) {
    static float x[512], y[512];
    for (int k = 0; k < N_RUN_TYPES; k++) {
        memset(x, 0, sizeof x);
        round_trip(RUN_TYPES[k], x, y, 512);
        for (int i = 0; i < 512; i++)
            if (y[i] != 0) { T_CHECK(0, "%s: zero -> %g", sl_type_name(RUN_TYPES[k]), y[i]); break; }
    }
    /* -3 must be the block's extreme whatever the shared generator's state
     * (earlier cases draw more numbers on CPUs with more SIMD levels) */
    fill_weights(x, 32, 1.0f);
    for (int i = 0; i < 32; i++) x[i] = fmaxf(-2.5f, fminf(2.5f, x[i]));
    x[9] = -3.0f;
    static const sl_type sym[] = {SL_TYPE_Q4_0, SL_TYPE_Q5_0, SL_TYPE_Q8_0};
    for (int k = 0; k < 3; k++) {
        round_trip(sym[k], x, y, 32);
        /* -3 = level * d exactly before d is rounded to f16 (relative 2^-11) */
        T_CHECK(fabs(y[9] + 3.0) <= 3.0 / 2048 * 1.01, "%s: -3 -> %.9g", sl_type_name(sym[k]), y[9]);
    }
}

/* SL_FORCE_REF=1 in a child process must select the scalar table. */
static void test_force_ref(void) {
    char cmd[512];
    const char *self = "/proc/self/exe";
    char path[400];
    ssize_t len = readlink(self, path, sizeof path - 1);
    if (len <= 0) T_SKIP("cannot find own binary");
    path[len] = 0;
    snprintf(cmd, sizeof cmd, "SL_FORCE_REF=1 '%s' --print-level", path);
    FILE *p = popen(cmd, "r");
    T_CHECK(p != NULL, "popen");
    if (!p) return;
    char buf[64] = {0};
    if (!fgets(buf, sizeof buf, p)) buf[0] = 0;
    const int st = pclose(p);
    /* 126/127: the shell could not run us (e.g. under qemu-user without binfmt) */
    if (!buf[0] && WIFEXITED(st) && WEXITSTATUS(st) >= 126) T_SKIP("cannot re-run this binary (exit %d)", WEXITSTATUS(st));
    T_CHECK(!strncmp(buf, "scalar", 6), "with SL_FORCE_REF=1 the level is '%s'", buf);
}

int main(int argc, char **argv) {
    if (argc > 1 && !strcmp(argv[1], "--print-level")) {
        printf("%s\n", sl_simd_level());
        return 0;
    }
    T_RUN(test_block_sizes);
    T_RUN(test_traits);
    T_RUN(test_fp16_exhaustive);
    T_RUN(test_bf16_exhaustive);
    T_RUN(test_f16_rows_simd);
    T_RUN(test_dequant_legacy);
    T_RUN(test_dequant_q4_k);
    T_RUN(test_dequant_q5_k);
    T_RUN(test_dequant_q6_k);
    T_RUN(test_ref_dot_matches_dequant);
    T_RUN(test_vec_dot_is_reference);
    T_RUN(test_simd_quantizers);
    T_RUN(test_round_trip_legacy);
    T_RUN(test_round_trip_k);
    T_RUN(test_round_trip_float);
    T_RUN(test_zero_and_extremes);
    T_RUN(test_force_ref);
    return T_DONE();
}
