/* gemm.h — the f32 matrix products of training, multithreaded over a pool.
 *
 * One layout does all the work: C (M, N) (+)= A (M, K) · B (N, K)^T, where
 * both operands are read along K (rows of dot products). The other products
 * of the backward pass are brought to this form by transposing an operand
 * (sl_transpose), which costs O(M*N) against the product's O(M*N*K).
 *
 * Each output element is summed in the same order whatever the thread count
 * or split, so a run is reproducible bit for bit on the same machine. */
#ifndef SL_TRAIN_GEMM_H
#define SL_TRAIN_GEMM_H

#include <stdbool.h>

#include "core/thread_pool.h"

/* c (M, N) = a (M, K) · b (N, K)^T, or c += that when accumulate. */
void sl_gemm_nt(sl_pool *pool, float *c, const float *a, const float *b, int M, int N, int K,
                bool accumulate);

/* The scalar reference (double accumulators), always compiled; tests compare. */
void sl_gemm_nt_ref(float *c, const float *a, const float *b, int M, int N, int K, bool accumulate);

/* dst (cols, rows) = src (rows, cols)^T, blocked for the cache. */
void sl_transpose(float *dst, const float *src, int rows, int cols);

/* Short vector helpers for attention (rows of head_dim floats), dispatched
 * like the GEMM: dot = a . b; y += alpha * x. */
float sl_vdot(const float *a, const float *b, int n);
void sl_vaxpy(float *y, float alpha, const float *x, int n);

/* True when the AVX2+FMA micro-kernel is in use (cpuid, and SL_FORCE_REF unset). */
bool sl_gemm_uses_avx2(void);

#endif
