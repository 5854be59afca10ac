/* gemm.c — C = A · B^T in f32 (see gemm.h).
 *
 * Blocking: the output is cut in tiles of 4 rows x 4 columns; a tile keeps
 * its 16 dot products in registers and streams the 4 + 4 operand rows along
 * K once, so each loaded vector feeds 4 FMAs. Tiles are grouped in panels of
 * NB columns so the B rows of a panel stay in L2 while every A row passes.
 * Threads own whole 4-row strips: the order of every sum is fixed by the
 * tile, never by the split.
 *
 * The AVX2 kernel is compiled with a target attribute and chosen once by
 * cpuid; the portable kernel computes the same tiles with plain loops. */
#include "train/gemm.h"

#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define SL_GEMM_X86 1
#include <immintrin.h>
#endif

#define NB 16 /* columns of B per panel: 16 rows x K floats stay in L1 for K <= 256 */

void sl_gemm_nt_ref(float *c, const float *a, const float *b, int M, int N, int K, bool accumulate) {
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double s = 0;
            for (int k = 0; k < K; k++) s += (double)a[(size_t)i * K + k] * b[(size_t)j * K + k];
            float *o = &c[(size_t)i * N + j];
            *o = accumulate ? *o + (float)s : (float)s;
        }
}

void sl_transpose(float *dst, const float *src, int rows, int cols) {
    enum { TB = 32 };
    for (int r0 = 0; r0 < rows; r0 += TB)
        for (int c0 = 0; c0 < cols; c0 += TB) {
            int r1 = r0 + TB < rows ? r0 + TB : rows, c1 = c0 + TB < cols ? c0 + TB : cols;
            for (int r = r0; r < r1; r++)
                for (int cc = c0; cc < c1; cc++) dst[(size_t)cc * rows + r] = src[(size_t)r * cols + cc];
        }
}

/* One output element, portable: the order is k ascending in 8 interleaved
 * lanes, then the lanes pairwise, the same order the AVX2 kernel uses. */
static float dot_lanes(const float *x, const float *y, int K) {
    float l[8] = {0};
    int k = 0;
    for (; k + 8 <= K; k += 8)
        for (int j = 0; j < 8; j++) l[j] += x[k + j] * y[k + j];
    float s = ((l[0] + l[4]) + (l[2] + l[6])) + ((l[1] + l[5]) + (l[3] + l[7]));
    for (; k < K; k++) s += x[k] * y[k];
    return s;
}

typedef void (*tile_fn)(float *c, const float *a, const float *b, int N, int K, int rows,
                        int cols, bool acc);

static void tile_generic(float *c, const float *a, const float *b, int N, int K, int rows,
                         int cols, bool acc) {
    for (int i = 0; i < rows; i++)
        for (int j = 0; j < cols; j++) {
            float s = dot_lanes(a + (size_t)i * K, b + (size_t)j * K, K);
            float *o = &c[(size_t)i * N + j];
            *o = acc ? *o + s : s;
        }
}

#ifdef SL_GEMM_X86
__attribute__((target("avx2,fma"))) static inline float hsum8(__m256 v) {
    /* lanes (0+4, 1+5, 2+6, 3+7), then (0+2, 1+3), then 0+1: dot_lanes' order */
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* A full 4x4 tile; other shapes go one element at a time. */
__attribute__((target("avx2,fma"))) static void tile_avx2(float *c, const float *a, const float *b,
                                                          int N, int K, int rows, int cols,
                                                          bool acc) {
    if (rows != 4 || cols != 4) {
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < cols; j++) {
                const float *x = a + (size_t)i * K, *y = b + (size_t)j * K;
                __m256 v = _mm256_setzero_ps();
                int k = 0;
                for (; k + 8 <= K; k += 8)
                    v = _mm256_fmadd_ps(_mm256_loadu_ps(x + k), _mm256_loadu_ps(y + k), v);
                float s = hsum8(v);
                for (; k < K; k++) s += x[k] * y[k];
                float *o = &c[(size_t)i * N + j];
                *o = acc ? *o + s : s;
            }
        return;
    }
    __m256 r[4][4];
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++) r[i][j] = _mm256_setzero_ps();
    const float *a0 = a, *a1 = a + K, *a2 = a + 2 * (size_t)K, *a3 = a + 3 * (size_t)K;
    const float *b0 = b, *b1 = b + K, *b2 = b + 2 * (size_t)K, *b3 = b + 3 * (size_t)K;
    int k = 0;
    for (; k + 8 <= K; k += 8) {
        __m256 x0 = _mm256_loadu_ps(a0 + k), x1 = _mm256_loadu_ps(a1 + k);
        __m256 x2 = _mm256_loadu_ps(a2 + k), x3 = _mm256_loadu_ps(a3 + k);
        __m256 y;
#define COL(j, bj)                                   \
        y = _mm256_loadu_ps(bj + k);                 \
        r[0][j] = _mm256_fmadd_ps(x0, y, r[0][j]);   \
        r[1][j] = _mm256_fmadd_ps(x1, y, r[1][j]);   \
        r[2][j] = _mm256_fmadd_ps(x2, y, r[2][j]);   \
        r[3][j] = _mm256_fmadd_ps(x3, y, r[3][j]);
        COL(0, b0) COL(1, b1) COL(2, b2) COL(3, b3)
#undef COL
    }
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++) {
            float s = hsum8(r[i][j]);
            for (int kk = k; kk < K; kk++) s += a[(size_t)i * K + kk] * b[(size_t)j * K + kk];
            float *o = &c[(size_t)i * N + j];
            *o = acc ? *o + s : s;
        }
}

__attribute__((target("avx2,fma"))) static float vdot_avx2(const float *a, const float *b, int n) {
    __m256 v = _mm256_setzero_ps();
    int k = 0;
    for (; k + 8 <= n; k += 8) v = _mm256_fmadd_ps(_mm256_loadu_ps(a + k), _mm256_loadu_ps(b + k), v);
    float s = hsum8(v);
    for (; k < n; k++) s += a[k] * b[k];
    return s;
}
__attribute__((target("avx2,fma"))) static void vaxpy_avx2(float *y, float alpha, const float *x, int n) {
    __m256 al = _mm256_set1_ps(alpha);
    int k = 0;
    for (; k + 8 <= n; k += 8)
        _mm256_storeu_ps(y + k, _mm256_fmadd_ps(al, _mm256_loadu_ps(x + k), _mm256_loadu_ps(y + k)));
    for (; k < n; k++) y[k] += alpha * x[k];
}
#endif

static void vaxpy_generic(float *y, float alpha, const float *x, int n) {
    for (int k = 0; k < n; k++) y[k] += alpha * x[k];
}

static tile_fn g_tile;

static tile_fn pick_tile(void) {
    if (g_tile) return g_tile;
    tile_fn f = tile_generic;
#ifdef SL_GEMM_X86
    const char *force = getenv("SL_FORCE_REF");
    if (!(force && *force && strcmp(force, "0")) && __builtin_cpu_supports("avx2") &&
        __builtin_cpu_supports("fma"))
        f = tile_avx2;
#endif
    g_tile = f; /* a benign race: every thread computes the same value */
    return f;
}

float sl_vdot(const float *a, const float *b, int n) {
#ifdef SL_GEMM_X86
    if (pick_tile() == tile_avx2) return vdot_avx2(a, b, n);
#endif
    return dot_lanes(a, b, n);
}

void sl_vaxpy(float *y, float alpha, const float *x, int n) {
#ifdef SL_GEMM_X86
    if (pick_tile() == tile_avx2) {
        vaxpy_avx2(y, alpha, x, n);
        return;
    }
#endif
    vaxpy_generic(y, alpha, x, n);
}

bool sl_gemm_uses_avx2(void) {
#ifdef SL_GEMM_X86
    return pick_tile() == tile_avx2;
#else
    return false;
#endif
}

typedef struct {
    float *c;
    const float *a, *b;
    int M, N, K;
    bool acc;
    tile_fn tile;
} gemm_job;

static void gemm_task(void *ctx, int ith, int nth) {
    const gemm_job *j = ctx;
    long strips = (j->M + 3) / 4, lo, hi;
    sl_split_range(strips, ith, nth, &lo, &hi);
    for (int n0 = 0; n0 < j->N; n0 += NB) {
        int n1 = n0 + NB < j->N ? n0 + NB : j->N;
        for (long s = lo; s < hi; s++) {
            int i = (int)s * 4, rows = j->M - i < 4 ? j->M - i : 4;
            for (int n = n0; n < n1; n += 4) {
                int cols = n1 - n < 4 ? n1 - n : 4;
                j->tile(j->c + (size_t)i * j->N + n, j->a + (size_t)i * j->K,
                        j->b + (size_t)n * j->K, j->N, j->K, rows, cols, j->acc);
            }
        }
    }
}

void sl_gemm_nt(sl_pool *pool, float *c, const float *a, const float *b, int M, int N, int K,
                bool accumulate) {
    gemm_job j = {c, a, b, M, N, K, accumulate, pick_tile()};
    if (pool && (long)M * N * K > 32768) sl_pool_run(pool, gemm_task, &j);
    else gemm_task(&j, 0, 1);
}
