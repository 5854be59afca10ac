/* gemm_dispatch.c — the one table of tile kernels: per weight type the
 * reference, the AVX2 kernels (rows as stored, x8 groups) and the AVX-512
 * x16 kernel, with the activation format they read. The level follows the
 * weight table's CPU detection (kernels/dispatch.c): SL_FORCE_REF=1 selects
 * the references here too, SL_ISA=avx2 keeps the AVX-512 kernels out. */
#include <stddef.h>

#include "kernels/gemm.h"
#include "kernels/quant_isa.h"

/* One row per weight type: its activation format and every kernel it has,
 * the scalar reference first. A NULL gemm: no such kernel. x16 kernels that
 * need an instruction beyond AVX-512 F/BW/DQ/VL name it in x16_needs. */
typedef struct {
    sl_type type;
    sl_gemm_kernel ref, avx2, x8, x16;
    unsigned x16_needs;      /* sl_cpu_feature bits */
    sl_gemm_kernel x16_ref;  /* the reference x16 matches, when not ref */
    sl_gemm_kernel avx512;   /* rows as stored at the AVX-512 level, when not avx2's */
} gemm_row;

#define K_(fn, act, align) {fn, SL_ACT_##act, align}
#define NONE {NULL, SL_ACT_F32, 0}
#define LEGACY(T, t, x16fn, needs)                                                                        \
    {SL_TYPE_##T, K_(sl_gemm_##t##_ref, Q8S, 8), K_(sl_gemm_##t##_avx2, Q8S, 8), K_(sl_gemm_##t##x8_avx2, Q8S, 8), \
     K_(x16fn, Q8S, 16), needs, NONE, NONE}
#define KQUANT(T, t, x16fn)                                                                                \
    {SL_TYPE_##T, K_(sl_gemm_##t##_ref, Q8K, 8), K_(sl_gemm_##t##_avx2, Q8K, 8), K_(sl_gemm_##t##x8_avx2, Q8K, 8), \
     K_(x16fn, Q8K, 16), SL_CPU_AVX512VNNI, NONE, NONE}
#define HALF(T, t)                                                                                              \
    {SL_TYPE_##T, K_(sl_gemm_##t##_ref, F32X4, 8), K_(sl_gemm_##t##_avx2, F32X4, 8),                              \
     K_(sl_gemm_##t##x8_avx2, F32X4, 8), K_(sl_gemm_##t##x16_avx512, F32X4, 16), 0, NONE, NONE}

#if !defined(SL_NO_SIMD) && (defined(__x86_64__) || defined(__i386__))
#define HAVE_AVX2_BUILD 1
static const gemm_row ROWS[] = {
    LEGACY(Q4_0, q4_0, sl_gemm_q4_0x16_avx512, SL_CPU_AVX512VNNI),
    LEGACY(Q4_1, q4_1, sl_gemm_q4_1x16_avx512, SL_CPU_AVX512VNNI),
    LEGACY(Q5_0, q5_0, sl_gemm_q5_0x16_avx512, SL_CPU_AVX512VNNI),
    LEGACY(Q5_1, q5_1, sl_gemm_q5_1x16_avx512, SL_CPU_AVX512VNNI),
    LEGACY(Q8_0, q8_0, sl_gemm_q8_0x16_avx512, SL_CPU_AVX512VNNI),
    {SL_TYPE_F32, K_(sl_gemm_f32_ref, F32T, 4), K_(sl_gemm_f32_avx2, F32T, 4), NONE, NONE, 0, NONE,
     K_(sl_gemm_f32_avx512, F32T, 4)},
    HALF(F16, f16),
    {SL_TYPE_BF16, K_(sl_gemm_bf16_ref, F32X4, 8), K_(sl_gemm_bf16_avx2, F32X4, 8), K_(sl_gemm_bf16x8_avx2, F32X4, 8),
     K_(sl_gemm_bf16x16_avx512, BF16P, 16), SL_CPU_AVX512BF16, K_(sl_gemm_bf16_dp_ref, BF16P, 16), NONE},
    KQUANT(Q4_K, q4_k, sl_gemm_q4_kx16_avx512),
    KQUANT(Q5_K, q5_k, sl_gemm_q5_kx16_avx512),
    /* sl_gemm_q6_kx16_avx512 matches the reference and prefills 1.5x faster,
     * but its decode streams ~20% slower than the x8 kernel's: not yet */
    KQUANT(Q6_K, q6_k, NULL),
};
#else
/* No x86 SIMD in this build (Arm included: its NEON code covers the weight
 * table's conversions, and Arm runs these scalar tile kernels). */
#define REF_ONLY(T, t, act) {SL_TYPE_##T, K_(sl_gemm_##t##_ref, act, 8), NONE, NONE, NONE, 0, NONE, NONE}
static const gemm_row ROWS[] = {
    REF_ONLY(Q4_0, q4_0, Q8S), REF_ONLY(Q4_1, q4_1, Q8S),   REF_ONLY(Q5_0, q5_0, Q8S),
    REF_ONLY(Q5_1, q5_1, Q8S), REF_ONLY(Q8_0, q8_0, Q8S),   {SL_TYPE_F32, K_(sl_gemm_f32_ref, F32T, 4), NONE, NONE, NONE, 0, NONE, NONE},
    REF_ONLY(F16, f16, F32X4), REF_ONLY(BF16, bf16, F32X4), REF_ONLY(Q4_K, q4_k, Q8K),
    REF_ONLY(Q5_K, q5_k, Q8K), REF_ONLY(Q6_K, q6_k, Q8K),
};
#endif
#define N_ROWS (sizeof ROWS / sizeof ROWS[0])

static const gemm_row *row_of(sl_type t) {
    for (size_t i = 0; i < N_ROWS; i++)
        if (ROWS[i].type == t) return &ROWS[i];
    return NULL;
}

static bool use_avx2(void) {
    sl_simd l = sl_simd_active();
    return l == SL_SIMD_AVX2 || l == SL_SIMD_AVX512;
}

static const sl_gemm_kernel *some(const sl_gemm_kernel *k) { return k->gemm ? k : NULL; }

const sl_gemm_kernel *sl_gemm_get(sl_type t) {
    const gemm_row *r = row_of(t);
    if (!r) return NULL;
    if (sl_simd_active() == SL_SIMD_AVX512 && r->avx512.gemm) return &r->avx512;
    return use_avx2() && r->avx2.gemm ? &r->avx2 : &r->ref;
}

const sl_gemm_kernel *sl_gemm_get_ref(sl_type t) {
    const gemm_row *r = row_of(t);
    return r ? &r->ref : NULL;
}

const sl_gemm_kernel *sl_gemm_get_x8(sl_type t) {
    const gemm_row *r = row_of(t);
    return r && use_avx2() ? some(&r->x8) : NULL;
}

const sl_gemm_kernel *sl_gemm_get_x16(sl_type t) {
    const gemm_row *r = row_of(t);
    if (!r || sl_simd_active() != SL_SIMD_AVX512 || (sl_cpu_features() & r->x16_needs) != r->x16_needs) return NULL;
    return some(&r->x16);
}

const sl_gemm_kernel *sl_gemm_get_grouped(sl_type t, int group) {
    return group == SL_ROWS_X16 ? sl_gemm_get_x16(t) : group == SL_ROWS_X8 ? sl_gemm_get_x8(t)
         : group == SL_ROWS_STORED ? sl_gemm_get(t) : NULL;
}

const sl_gemm_kernel *sl_gemm_get_x16_ref(sl_type t) {
    const gemm_row *r = row_of(t);
    return !r ? NULL : r->x16_ref.gemm ? &r->x16_ref : &r->ref;
}

int sl_gemm_best_group(sl_type t, int N, int K) {
    if (N > 0 && N % 16 == 0 && sl_gemm_get_x16(t) && (t != SL_TYPE_BF16 || K % 2 == 0)) return SL_ROWS_X16;
    if (N > 0 && N % 8 == 0 && sl_gemm_get_x8(t)) return SL_ROWS_X8;
    return SL_ROWS_STORED;
}

sl_swiglu_fn sl_swiglu_get(void) {
#ifdef HAVE_AVX2_BUILD
    if (use_avx2()) return sl_swiglu_avx2;
#endif
    return sl_swiglu_ref;
}

/* q8_K rows through the weight table's quantizer (the same bits at every level) */
static void quant_q8k(void *xq, const float *x, int K) { sl_type_get(SL_TYPE_Q8_K)->from_float(xq, x, K); }
static void quant_q8k_ref(void *xq, const float *x, int K) { sl_type_get_ref(SL_TYPE_Q8_K)->from_float(xq, x, K); }

sl_act_quant_fn sl_act_quant_get(sl_act_format f) {
    if (f == SL_ACT_Q8K) return quant_q8k;
#ifdef HAVE_AVX2_BUILD
    if (f == SL_ACT_BF16P && sl_simd_active() == SL_SIMD_AVX512) return sl_quant_bf16p_avx512;
#endif
    if (f == SL_ACT_BF16P) return sl_quant_bf16p_ref;
    if (f != SL_ACT_Q8S) return NULL;
#ifdef HAVE_AVX2_BUILD
    if (use_avx2()) return sl_quant_q8s_avx2;
#endif
    return sl_quant_q8s_ref;
}

sl_act_quant_fn sl_act_quant_get_ref(sl_act_format f) {
    return f == SL_ACT_Q8S ? sl_quant_q8s_ref : f == SL_ACT_Q8K ? quant_q8k_ref : f == SL_ACT_BF16P ? sl_quant_bf16p_ref : NULL;
}

size_t sl_act_row_bytes(sl_act_format f, int K) {
    return f == SL_ACT_Q8S ? sl_q8s_row_bytes(K)
         : f == SL_ACT_Q8K ? sl_row_size(SL_TYPE_Q8_K, K)
         : f == SL_ACT_F32T ? sl_f32t_tile_bytes(K)
         : f == SL_ACT_F32X4 ? sl_f32x4_tile_bytes(K)
         : f == SL_ACT_BF16P ? sl_bf16p_row_bytes(K) : (size_t)K * sizeof(float);
}
