/* dispatch.c — builds the weight-type tables once (reference kernels, then
 * each SIMD level's overrides) and picks the level this CPU runs.
 *
 * The tables are written once under pthread_once and read-only afterwards,
 * so any number of sessions and threads may call sl_type_get concurrently.
 * SL_FORCE_REF=1 (any value but "" or "0") makes sl_type_get return the
 * scalar references; SL_ISA=scalar|avx2|avx512 caps the level at the one
 * named (an AVX-512 machine then runs, and tests, the AVX2 kernels; other
 * values are ignored, and the level in use is what sl_simd_level names). Building with -DSL_NO_SIMD leaves out every SIMD table
 * (for builds that do not compile kernels/x86 or kernels/arm). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/quant_isa.h"
#include "kernels/ref/quant_ref.h"
#include "tensor/quant.h"

#if !defined(SL_NO_SIMD) && (defined(__x86_64__) || defined(__i386__))
#define SL_X86 1
#include <cpuid.h>
#endif
#if !defined(SL_NO_SIMD) && defined(__aarch64__) && defined(__ARM_NEON)
#define SL_ARM 1
#endif

typedef struct {
    uint32_t type;
    sl_type vec_dot_type;
    bool supported;
    sl_to_float_fn to_float;
    sl_from_float_fn from_float;
    sl_vec_dot_fn vec_dot;
} kernel_row;

#define REF_ROW(T, t, vdt) {SL_TYPE_##T, SL_TYPE_##vdt, true, sl_to_float_##t##_ref, sl_from_float_##t##_ref, sl_vec_dot_##t##_ref}

/* The references: one row per type we run, plus the activation-only types. */
static const kernel_row REF_ROWS[] = {
    REF_ROW(F32, f32, F32),    REF_ROW(F16, f16, F32),    REF_ROW(BF16, bf16, F32),
    REF_ROW(Q4_0, q4_0, Q8_0), REF_ROW(Q4_1, q4_1, Q8_1), REF_ROW(Q5_0, q5_0, Q8_0),
    REF_ROW(Q5_1, q5_1, Q8_1), REF_ROW(Q8_0, q8_0, Q8_0), REF_ROW(Q4_K, q4_k, Q8_K),
    REF_ROW(Q5_K, q5_k, Q8_K), REF_ROW(Q6_K, q6_k, Q8_K),
    {SL_TYPE_Q8_1, SL_TYPE_Q8_1, false, sl_to_float_q8_1_ref, sl_from_float_q8_1_ref, NULL},
    {SL_TYPE_Q8_K, SL_TYPE_Q8_K, false, sl_to_float_q8_k_ref, sl_from_float_q8_k_ref, NULL},
};

/* Per-level overrides; a NULL field keeps the level below's kernel. The
 * vec_dots stay the references at every level: every supported type has a
 * tile kernel (kernels/gemm_dispatch.c), so they only serve tests and the
 * matmul fallback for a type without one. */
#define OVR(T, tf, ff, vd) {SL_TYPE_##T, SL_TYPE_F32, true, tf, ff, vd}

#ifdef SL_X86
static const kernel_row AVX2_ROWS[] = {
    OVR(F16, sl_to_float_f16_avx2, sl_from_float_f16_avx2, NULL),
    OVR(Q8_0, NULL, sl_from_float_q8_0_avx2, NULL),
    OVR(Q8_1, NULL, sl_from_float_q8_1_avx2, NULL),
    OVR(Q8_K, NULL, sl_from_float_q8_k_avx2, NULL),
};
#endif
#ifdef SL_ARM
static const kernel_row NEON_ROWS[] = {
    OVR(Q8_0, NULL, sl_from_float_q8_0_neon, NULL),
};
#endif

static sl_type_traits g_tables[SL_SIMD_COUNT][SL_TYPE_COUNT];
static bool g_have[SL_SIMD_COUNT];
static sl_simd g_best = SL_SIMD_SCALAR;
static unsigned g_features; /* sl_cpu_feature bits */
static bool g_force_ref;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

#ifdef SL_X86
static uint64_t xcr0(void) {
    uint32_t eax, edx;
    __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
    return (uint64_t)edx << 32 | eax;
}

/* CPU flags and the OS's promise to save the wide registers (XCR0). */
static void detect_x86(bool *avx2, bool *avx512, unsigned *features) {
    unsigned a, b, c, d;
    *avx2 = *avx512 = false;
    *features = 0;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return;
    const bool fma = c >> 12 & 1, osxsave = c >> 27 & 1, avx = c >> 28 & 1, f16c = c >> 29 & 1;
    if (!osxsave || !avx) return;
    const uint64_t xcr = xcr0();
    if ((xcr & 0x6) != 0x6) return; /* SSE and AVX state */
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return;
    *avx2 = (b >> 5 & 1) && fma && f16c;
    const bool f = b >> 16 & 1, dq = b >> 17 & 1, bw = b >> 30 & 1, vl = b >> 31 & 1;
    *avx512 = *avx2 && f && dq && bw && vl && (xcr & 0xE6) == 0xE6; /* + opmask, ZMM state */
    const bool vnni512 = c >> 11 & 1;
    unsigned a1 = 0, b1, c1, d1;
    if (a >= 1) __get_cpuid_count(7, 1, &a1, &b1, &c1, &d1);
    if (*avx512 && vnni512) *features |= SL_CPU_AVX512VNNI;
    if (*avx512 && (a1 >> 5 & 1)) *features |= SL_CPU_AVX512BF16;
    if (*avx2 && (a1 >> 4 & 1)) *features |= SL_CPU_AVXVNNI;
}
#endif

#if defined(SL_X86) || defined(SL_ARM)
static void apply(sl_simd level, sl_simd base, const kernel_row *rows, size_t n) {
    for (int t = 0; t < SL_TYPE_COUNT; t++) g_tables[level][t] = g_tables[base][t];
    for (size_t i = 0; i < n; i++) {
        sl_type_traits *tr = &g_tables[level][rows[i].type];
        if (rows[i].to_float) tr->to_float = rows[i].to_float;
        if (rows[i].from_float) tr->from_float = rows[i].from_float;
        if (rows[i].vec_dot) tr->vec_dot = rows[i].vec_dot;
    }
    g_have[level] = true;
}
#endif

static void build_tables(void) {
    sl_type_traits *ref = g_tables[SL_SIMD_SCALAR];
    for (uint32_t t = 0; t < SL_TYPE_COUNT; t++) {
        if (sl_type_block_size(t) == 0) continue; /* unknown id: name stays NULL */
        ref[t].name = sl_type_name(t);
        ref[t].blck_size = sl_type_block_size(t);
        ref[t].type_size = sl_type_block_bytes(t);
        ref[t].vec_dot_type = (sl_type)t;
    }
    for (size_t i = 0; i < sizeof REF_ROWS / sizeof REF_ROWS[0]; i++) {
        sl_type_traits *tr = &ref[REF_ROWS[i].type];
        tr->supported = REF_ROWS[i].supported;
        tr->vec_dot_type = REF_ROWS[i].vec_dot_type;
        tr->to_float = REF_ROWS[i].to_float;
        tr->from_float = REF_ROWS[i].from_float;
        tr->vec_dot = REF_ROWS[i].vec_dot;
    }
    g_have[SL_SIMD_SCALAR] = true;
#ifdef SL_X86
    bool avx2, avx512;
    detect_x86(&avx2, &avx512, &g_features);
    if (avx2) {
        apply(SL_SIMD_AVX2, SL_SIMD_SCALAR, AVX2_ROWS, sizeof AVX2_ROWS / sizeof AVX2_ROWS[0]);
        g_best = SL_SIMD_AVX2;
    }
    if (avx512) { /* the weight table of AVX2; the AVX-512 kernels are tile kernels (gemm_dispatch.c) */
        apply(SL_SIMD_AVX512, SL_SIMD_AVX2, NULL, 0);
        g_best = SL_SIMD_AVX512;
    }
#endif
#ifdef SL_ARM
    apply(SL_SIMD_NEON, SL_SIMD_SCALAR, NEON_ROWS, sizeof NEON_ROWS / sizeof NEON_ROWS[0]);
    g_best = SL_SIMD_NEON;
#endif
    const char *force = getenv("SL_FORCE_REF");
    g_force_ref = force && *force && !(force[0] == '0' && force[1] == 0);
    const char *isa = getenv("SL_ISA");
    sl_simd cap = SL_SIMD_COUNT;
    if (isa && strcmp(isa, "scalar") == 0) cap = SL_SIMD_SCALAR;
    else if (isa && strcmp(isa, "avx2") == 0) cap = SL_SIMD_AVX2;
    else if (isa && strcmp(isa, "avx512") == 0) cap = SL_SIMD_AVX512;
    if (cap == SL_SIMD_SCALAR || (g_best != SL_SIMD_NEON && cap < g_best)) g_best = cap;
    if (g_best != SL_SIMD_AVX512) g_features &= ~(unsigned)(SL_CPU_AVX512VNNI | SL_CPU_AVX512BF16);
    if (g_best == SL_SIMD_SCALAR) g_features = 0;
}

static void init(void) { pthread_once(&g_once, build_tables); }

const sl_type_traits *sl_type_get_simd(uint32_t type, sl_simd level) {
    init();
    if (type >= SL_TYPE_COUNT || (unsigned)level >= SL_SIMD_COUNT || !g_have[level]) return NULL;
    const sl_type_traits *tr = &g_tables[level][type];
    return tr->name ? tr : NULL;
}

sl_simd sl_simd_active(void) {
    init();
    return g_force_ref ? SL_SIMD_SCALAR : g_best;
}

unsigned sl_cpu_features(void) {
    init();
    return g_force_ref ? 0 : g_features;
}

const char *sl_simd_name(sl_simd level) {
    switch (level) {
    case SL_SIMD_AVX2: return "avx2";
    case SL_SIMD_AVX512: return "avx512";
    case SL_SIMD_NEON: return "neon";
    default: return "scalar";
    }
}

const sl_type_traits *sl_type_get(uint32_t type) { return sl_type_get_simd(type, sl_simd_active()); }

const sl_type_traits *sl_type_get_ref(uint32_t type) { return sl_type_get_simd(type, SL_SIMD_SCALAR); }

const char *sl_simd_level(void) { return sl_simd_name(sl_simd_active()); }
