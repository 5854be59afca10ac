/* gemm_dispatch.c — the tile kernels of each weight type, SIMD or reference,
 * following the weight table's CPU detection (kernels/dispatch.c): the same
 * level, and SL_FORCE_REF=1 selects the references here too. */
#include <stddef.h>

#include "kernels/gemm.h"
#include "kernels/quant_isa.h"

typedef struct {
    sl_type type;
    sl_gemm_kernel ref, avx2;
} gemm_row;

static const gemm_row ROWS[] = {
    {SL_TYPE_Q4_0, {sl_gemm_q4_0_ref, SL_ACT_Q8S, 8}, {sl_gemm_q4_0_avx2, SL_ACT_Q8S, 8}},
    {SL_TYPE_Q4_1, {sl_gemm_q4_1_ref, SL_ACT_Q8S, 8}, {sl_gemm_q4_1_avx2, SL_ACT_Q8S, 8}},
    {SL_TYPE_Q5_0, {sl_gemm_q5_0_ref, SL_ACT_Q8S, 8}, {sl_gemm_q5_0_avx2, SL_ACT_Q8S, 8}},
    {SL_TYPE_Q5_1, {sl_gemm_q5_1_ref, SL_ACT_Q8S, 8}, {sl_gemm_q5_1_avx2, SL_ACT_Q8S, 8}},
    {SL_TYPE_Q8_0, {sl_gemm_q8_0_ref, SL_ACT_Q8S, 8}, {sl_gemm_q8_0_avx2, SL_ACT_Q8S, 8}},
    {SL_TYPE_F32, {sl_gemm_f32_ref, SL_ACT_F32T, 4}, {sl_gemm_f32_avx2, SL_ACT_F32T, 4}},
    {SL_TYPE_F16, {sl_gemm_f16_ref, SL_ACT_F32X4, 8}, {sl_gemm_f16_avx2, SL_ACT_F32X4, 8}},
    {SL_TYPE_BF16, {sl_gemm_bf16_ref, SL_ACT_F32X4, 8}, {sl_gemm_bf16_avx2, SL_ACT_F32X4, 8}},
    {SL_TYPE_Q4_K, {sl_gemm_q4_k_ref, SL_ACT_Q8K, 8}, {sl_gemm_q4_k_avx2, SL_ACT_Q8K, 8}},
    {SL_TYPE_Q5_K, {sl_gemm_q5_k_ref, SL_ACT_Q8K, 8}, {sl_gemm_q5_k_avx2, SL_ACT_Q8K, 8}},
    {SL_TYPE_Q6_K, {sl_gemm_q6_k_ref, SL_ACT_Q8K, 8}, {sl_gemm_q6_k_avx2, SL_ACT_Q8K, 8}},
};
#define N_ROWS (sizeof ROWS / sizeof ROWS[0])

#if !defined(SL_NO_SIMD) && (defined(__x86_64__) || defined(__i386__))
#define HAVE_AVX2_BUILD 1
#endif

static bool use_avx2(void) {
#ifdef HAVE_AVX2_BUILD
    sl_simd l = sl_simd_active();
    return l == SL_SIMD_AVX2 || l == SL_SIMD_AVX512;
#else
    return false;
#endif
}

static const sl_gemm_kernel *find(sl_type t, bool simd) {
    for (size_t i = 0; i < N_ROWS; i++) {
        if (ROWS[i].type != t) continue;
#ifdef HAVE_AVX2_BUILD
        if (simd) return &ROWS[i].avx2;
#endif
        return &ROWS[i].ref;
    }
    return NULL;
}

const sl_gemm_kernel *sl_gemm_get(sl_type t) { return find(t, use_avx2()); }

sl_swiglu_fn sl_swiglu_get(void) {
#ifdef HAVE_AVX2_BUILD
    if (use_avx2()) return sl_swiglu_avx2;
#endif
    return sl_swiglu_ref;
}

const sl_gemm_kernel *sl_gemm_get_x8(sl_type t) {
#ifdef HAVE_AVX2_BUILD
    static const sl_gemm_kernel q4_0x8 = {sl_gemm_q4_0x8_avx2, SL_ACT_Q8S, 8}, q8_0x8 = {sl_gemm_q8_0x8_avx2, SL_ACT_Q8S, 8},
                                q4_1x8 = {sl_gemm_q4_1x8_avx2, SL_ACT_Q8S, 8}, q5_0x8 = {sl_gemm_q5_0x8_avx2, SL_ACT_Q8S, 8},
                                q5_1x8 = {sl_gemm_q5_1x8_avx2, SL_ACT_Q8S, 8},
                                q4_kx8 = {sl_gemm_q4_kx8_avx2, SL_ACT_Q8K, 8}, q5_kx8 = {sl_gemm_q5_kx8_avx2, SL_ACT_Q8K, 8},
                                q6_kx8 = {sl_gemm_q6_kx8_avx2, SL_ACT_Q8K, 8},
                                f16x8 = {sl_gemm_f16x8_avx2, SL_ACT_F32X4, 8},
                                bf16x8 = {sl_gemm_bf16x8_avx2, SL_ACT_F32X4, 8};
    if (!use_avx2()) return NULL;
    return t == SL_TYPE_Q4_0 ? &q4_0x8 : t == SL_TYPE_Q8_0 ? &q8_0x8 : t == SL_TYPE_Q4_K ? &q4_kx8
         : t == SL_TYPE_Q5_K ? &q5_kx8 : t == SL_TYPE_Q6_K ? &q6_kx8 : t == SL_TYPE_F16 ? &f16x8
         : t == SL_TYPE_BF16 ? &bf16x8 : t == SL_TYPE_Q4_1 ? &q4_1x8 : t == SL_TYPE_Q5_0 ? &q5_0x8
         : t == SL_TYPE_Q5_1 ? &q5_1x8 : NULL;
#else
    (void)t;
    return NULL;
#endif
}
const sl_gemm_kernel *sl_gemm_get_ref(sl_type t) { return find(t, false); }

/* q8_K rows through the weight table's quantizer (the same bits at every level) */
static void quant_q8k(void *xq, const float *x, int K) { sl_type_get(SL_TYPE_Q8_K)->from_float(xq, x, K); }
static void quant_q8k_ref(void *xq, const float *x, int K) { sl_type_get_ref(SL_TYPE_Q8_K)->from_float(xq, x, K); }

sl_act_quant_fn sl_act_quant_get(sl_act_format f) {
    if (f == SL_ACT_Q8K) return quant_q8k;
    if (f != SL_ACT_Q8S) return NULL;
#ifdef HAVE_AVX2_BUILD
    if (use_avx2()) return sl_quant_q8s_avx2;
#endif
    return sl_quant_q8s_ref;
}

sl_act_quant_fn sl_act_quant_get_ref(sl_act_format f) {
    return f == SL_ACT_Q8S ? sl_quant_q8s_ref : f == SL_ACT_Q8K ? quant_q8k_ref : NULL;
}

size_t sl_act_row_bytes(sl_act_format f, int K) {
    return f == SL_ACT_Q8S ? sl_q8s_row_bytes(K)
         : f == SL_ACT_Q8K ? sl_row_size(SL_TYPE_Q8_K, K)
         : f == SL_ACT_F32T ? sl_f32t_tile_bytes(K)
         : f == SL_ACT_F32X4 ? sl_f32x4_tile_bytes(K) : (size_t)K * sizeof(float);
}
