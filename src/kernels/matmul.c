/* matmul.c — y (T, N) = x (T, K) · W (N, K)^T over a thread pool, one or
 * several matrices of the same x per call.
 *
 * 1. x is quantized once per activation format its matrices need (q8s for
 *    the q4_0/q8_0 tile kernels, f32t or f32x4 tiles for the float ones, the vec_dot
 *    type for the others), on the caller for one token, over the pool for
 *    more.
 * 2. The rows of all matrices are split across threads in contiguous runs of
 *    whole SIMD row groups, so each thread streams its own slice of the
 *    weights; a decode step costs one pool dispatch per fused product.
 * 3. Prefill runs tokens in blocks of at most TOKEN_BLOCK, as many as fit
 *    ACT_L2_BYTES of activations: the block stays in L2 while the thread's
 *    weight rows go by, each row group unpacked once per tile of tokens
 *    (kernels/gemm.h). q8s activations (1.06 bytes a value) get large
 *    blocks, wider ones small blocks; the float kernels take the whole batch
 *    and block tokens themselves (x86/gemm_avx2.c).
 * Products too small to pay for waking the workers (MACs < SERIAL_MACS) run
 * on the caller alone. Types without a tile kernel dot each output with the
 * type's vec_dot. Splits never change results: every output is computed by
 * the same operations wherever it falls. */
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "kernels/gemm.h"
#include "kernels/matmul.h"

#define SCRATCH_ALIGN 64
#define MAX_PARTS 4
#define TOKEN_BLOCK 64
#define ACT_L2_BYTES (192 * 1024)
#define SERIAL_MACS (48 * 1024)
#define GROUP 16 /* rows per split unit: a multiple of every kernel's row_align and group */

typedef struct {
    const sl_gemm_kernel *kern; /* NULL: vec_dot per output */
    sl_vec_dot_fn dot;
    size_t w_row;               /* bytes per weight row */
    int act;                    /* index into the job's activations */
    int unit0, units;           /* its units in the job's unit space */
} part_plan;

/* Activation keys: x as is, q8s rows, f32t or f32x4 tiles, bf16p rows, or KEY_TYPE + t: rows
 * through type t's from_float. */
enum { KEY_X = 0, KEY_Q8S, KEY_F32T, KEY_F32X4, KEY_BF16P, KEY_TYPE };

typedef struct {
    int key;
    sl_act_quant_fn q8s;        /* q8s and bf16p rows */
    sl_from_float_fn ff;
    char *rows;                 /* (T / tile rounded up, x_row) */
    size_t x_row;
    int tile;                   /* tokens per row: 1, or f32t's 3 and f32x4's 4 (the float kernels' tiles) */
} act_plan;

typedef struct {
    const sl_mm_part *parts;
    part_plan pp[MAX_PARTS];
    act_plan acts[MAX_PARTS];
    int n_parts, n_acts, n_quant; /* n_quant: activations that need quantizing */
    const float *x;
    int T, K;
    sl_mm_epilogue ep;
    sl_swiglu_fn swiglu;
    int units;
    int chunk_min;                /* the fewest units a grab takes */
    atomic_int next;              /* first unit not yet taken */
} mm_job;

void sl_matmul_scratch_free(sl_matmul_scratch *s) {
    if (!s) return;
    free(s->buf);
    s->buf = NULL;
    s->cap = 0;
}

/* ---- activations ------------------------------------------------------------------ */

static void quant_row(const mm_job *j, const act_plan *a, int t) {
    const float *x = j->x + (size_t)t * j->K;
    char *dst = a->rows + (size_t)t * a->x_row;
    if (a->key == KEY_F32T) sl_pack_f32t(a->rows, x, t, j->T, j->K);
    else if (a->key == KEY_F32X4) sl_pack_f32x4(a->rows, x, t, j->T, j->K);
    else if (a->q8s) a->q8s(dst, x, j->K);
    else a->ff(dst, x, j->K);
}

/* Scratch bytes of an activation of T tokens, whole lines. */
static size_t act_bytes(const act_plan *a, int T) {
    const size_t rows = (size_t)(T + a->tile - 1) / (size_t)a->tile;
    return (rows * a->x_row + SCRATCH_ALIGN - 1) / SCRATCH_ALIGN * SCRATCH_ALIGN;
}

static void quant_task(void *ctx, int ith, int nth) {
    const mm_job *j = ctx;
    long lo, hi;
    sl_split_range((long)j->T * j->n_quant, ith, nth, &lo, &hi);
    for (long i = lo; i < hi; i++) {
        const act_plan *a = &j->acts[j->n_acts - j->n_quant + (int)(i / j->T)];
        quant_row(j, a, (int)(i % j->T));
    }
}

/* ---- products ------------------------------------------------------------------------ */

/* Rows [r0, r1) of part p for every token. */
static void run_rows(const mm_job *j, int p, int r0, int r1) {
    const sl_mm_part *mp = &j->parts[p];
    const part_plan *pp = &j->pp[p];
    const act_plan *a = &j->acts[pp->act];
    const char *W = (const char *)mp->W + (size_t)r0 * pp->w_row;
    const int nr = r1 - r0;
    if (nr <= 0) return;
    if (j->K == 0) {
        for (int t = 0; t < j->T; t++)
            for (int r = r0; r < r1; r++)
                if (!mp->acc) mp->y[(size_t)t * mp->ldy + r] = 0;
        return;
    }
    int tb = (int)(ACT_L2_BYTES / (a->x_row ? a->x_row : 1));
    tb = tb < 12 ? 12 : tb > TOKEN_BLOCK ? TOKEN_BLOCK : tb / 12 * 12; /* whole 4x3 and 8-token tiles */
    if (a->tile > 1) tb = j->T; /* the float kernels block tokens themselves */
    for (int t0 = 0; t0 < j->T; t0 += tb) {
        const int nt = j->T - t0 < tb ? j->T - t0 : tb;
        float *y = mp->y + (size_t)t0 * mp->ldy + r0;
        const char *xq = a->rows + (size_t)t0 * a->x_row;
        if (pp->kern) {
            pp->kern->gemm(y, mp->ldy, W, pp->w_row, xq, a->x_row, nr, nt, j->K, mp->acc);
            continue;
        }
        for (int r = 0; r < nr; r++)
            for (int t = 0; t < nt; t++) {
                float s;
                pp->dot(&s, W + (size_t)r * pp->w_row, xq + (size_t)t * a->x_row, j->K);
                float *o = &y[(size_t)t * mp->ldy + r];
                *o = mp->acc ? *o + s : s;
            }
    }
}

static inline int unit_rows(int u, int N) { return u * GROUP < N ? u * GROUP : N; }

/* Units [lo, hi) of the job: rows of one or several parts. */
static void mm_units(const mm_job *j, long lo, long hi) {
    if (j->ep == SL_MM_SWIGLU) {
        const int N = j->parts[0].N, r0 = unit_rows((int)lo, N), r1 = unit_rows((int)hi, N);
        run_rows(j, 0, r0, r1);
        run_rows(j, 1, r0, r1);
        const sl_mm_part *g = &j->parts[0], *u = &j->parts[1];
        for (int t = 0; t < j->T; t++)
            j->swiglu(g->y + (size_t)t * g->ldy + r0, u->y + (size_t)t * u->ldy + r0, r1 - r0);
        return;
    }
    for (int p = 0; p < j->n_parts; p++) {
        const part_plan *pp = &j->pp[p];
        long a = lo > pp->unit0 ? lo : pp->unit0, b = hi < pp->unit0 + pp->units ? hi : pp->unit0 + pp->units;
        if (a >= b) continue;
        run_rows(j, p, unit_rows((int)(a - pp->unit0), j->parts[p].N), unit_rows((int)(b - pp->unit0), j->parts[p].N));
    }
}

/* Threads take chunks of units from a shared counter until none are left:
 * whoever gets less memory bandwidth or loses its core for a while simply
 * takes fewer chunks, instead of everyone waiting for the slowest half.
 * Each chunk is 1/(2 nth) of what is left, at least chunk_min units (guided
 * scheduling): the first ones are long contiguous runs of weights, the last
 * ones short, so the threads end close together. Against fixed chunks of
 * 1/(8 nth) of the product: prefill pp128 +1.6% to +4.3% (134m f16, q4_0,
 * Q4_K_M; 1.1B f16, q4_0), decode 0.996x to 1.06x (in-process pairs,
 * medians of 7-21 rounds). */
static void mm_task(void *ctx, int ith, int nth) {
    mm_job *j = ctx;
    (void)ith;
    int lo = atomic_load_explicit(&j->next, memory_order_relaxed);
    while (lo < j->units) {
        int c = (j->units - lo) / (2 * nth);
        if (c < j->chunk_min) c = j->chunk_min;
        /* a failed exchange reloads lo with the counter as it now is */
        if (!atomic_compare_exchange_weak_explicit(&j->next, &lo, lo + c, memory_order_relaxed,
                                                   memory_order_relaxed))
            continue;
        mm_units(j, lo, lo + c < j->units ? lo + c : j->units);
        lo = atomic_load_explicit(&j->next, memory_order_relaxed);
    }
}

/* ---- planning --------------------------------------------------------------------------- */

static int act_index(mm_job *j, int key, int K) {
    for (int i = 0; i < j->n_acts; i++)
        if (j->acts[i].key == key) return i;
    act_plan *a = &j->acts[j->n_acts];
    a->key = key;
    a->tile = 1;
    if (key == KEY_Q8S || key == KEY_BF16P) {
        const sl_act_format f = key == KEY_Q8S ? SL_ACT_Q8S : SL_ACT_BF16P;
        a->q8s = sl_act_quant_get(f);
        a->x_row = sl_act_row_bytes(f, K);
    } else if (key == KEY_F32T) {
        a->x_row = sl_act_row_bytes(SL_ACT_F32T, K);
        a->tile = SL_F32T_TOKENS;
    } else if (key == KEY_F32X4) {
        a->x_row = sl_act_row_bytes(SL_ACT_F32X4, K);
        a->tile = SL_F32X4_TOKENS;
    } else if (key >= KEY_TYPE) {
        a->ff = sl_type_get((uint32_t)(key - KEY_TYPE))->from_float;
        a->x_row = sl_row_size((uint32_t)(key - KEY_TYPE), K);
    } else {
        a->x_row = (size_t)K * sizeof(float);
    }
    return j->n_acts++;
}

int sl_matmul_parts(sl_pool *pool, sl_matmul_scratch *scratch, const float *x, int T, int K,
                    const sl_mm_part *parts, int n_parts, sl_mm_epilogue ep) {
    if (n_parts < 1 || n_parts > MAX_PARTS || T < 0 || K < 0) return -1;
    if (ep == SL_MM_SWIGLU && (n_parts != 2 || parts[0].N != parts[1].N)) return -1;
    mm_job j = {.parts = parts, .n_parts = n_parts, .x = x, .T = T, .K = K, .ep = ep};
    if (ep == SL_MM_SWIGLU) j.swiglu = sl_swiglu_get();
    double macs = 0;
    for (int p = 0; p < n_parts; p++) {
        const sl_type_traits *wt = sl_type_get(parts[p].type);
        if (!wt || !wt->supported || !wt->vec_dot || parts[p].N < 0) return -1;
        part_plan *pp = &j.pp[p];
        pp->w_row = sl_row_size(parts[p].type, K);
        if (K > 0 && pp->w_row == 0) return -1;
        pp->kern = sl_gemm_get_grouped(parts[p].type, parts[p].group);
        if (parts[p].group && (!pp->kern || parts[p].N % parts[p].group != 0)) return -1;
        pp->dot = wt->vec_dot;
        /* (a q8_K tile kernel reads what the q8_K quantizer writes) */
        int key = pp->kern ? (pp->kern->act == SL_ACT_Q8S   ? KEY_Q8S
                              : pp->kern->act == SL_ACT_Q8K ? KEY_TYPE + SL_TYPE_Q8_K
                              : pp->kern->act == SL_ACT_F32T ? KEY_F32T
                              : pp->kern->act == SL_ACT_F32X4 ? KEY_F32X4
                              : pp->kern->act == SL_ACT_BF16P ? KEY_BF16P : KEY_X)
                           : (wt->vec_dot_type == SL_TYPE_F32 ? KEY_X : KEY_TYPE + (int)wt->vec_dot_type);
        if (key >= KEY_TYPE &&
            (!sl_type_get((uint32_t)(key - KEY_TYPE)) || !sl_type_get((uint32_t)(key - KEY_TYPE))->from_float ||
             (K > 0 && sl_row_size((uint32_t)(key - KEY_TYPE), K) == 0)))
            return -1;
        pp->unit0 = ep == SL_MM_SWIGLU ? 0 : j.units;
        pp->units = (parts[p].N + GROUP - 1) / GROUP;
        if (ep != SL_MM_SWIGLU) j.units += pp->units;
        pp->act = -1 - key; /* resolved below, after ordering */
        macs += (double)parts[p].N * K * T;
    }
    if (ep == SL_MM_SWIGLU) j.units = j.pp[0].units;
    if (T == 0 || j.units == 0) return 0;

    /* Activations: the f32 one first (x itself), then those to quantize. */
    for (int pass = 0; pass < 2; pass++)
        for (int p = 0; p < n_parts; p++) {
            int key = -1 - j.pp[p].act;
            if (j.pp[p].act >= 0 || (pass == 0) != (key == KEY_X)) continue;
            int idx = act_index(&j, key, K);
            for (int q = p; q < n_parts; q++)
                if (j.pp[q].act == -1 - key) j.pp[q].act = idx;
        }
    size_t need = 0;
    for (int i = 0; i < j.n_acts; i++) {
        if (j.acts[i].key == KEY_X) continue;
        j.n_quant++;
        need += act_bytes(&j.acts[i], T);
    }
    if (need > 0) {
        if (!scratch) return -1;
        if (need > scratch->cap) {
            void *buf = aligned_alloc(SCRATCH_ALIGN, need);
            if (!buf) return -1;
            free(scratch->buf);
            scratch->buf = buf;
            scratch->cap = need;
        }
    }
    size_t off = 0;
    for (int i = 0; i < j.n_acts; i++) {
        if (j.acts[i].key == KEY_X) {
            j.acts[i].rows = (char *)x;
            continue;
        }
        j.acts[i].rows = (char *)scratch->buf + off;
        off += act_bytes(&j.acts[i], T);
    }

    const bool small = macs < SERIAL_MACS;
    const bool serial = !pool || sl_pool_n_threads(pool) == 1 || small;
    /* chunks down to 1/(32 nth) of the product; a small product in one
     * chunk (one kernel call per matrix, not per few rows: a tiny model's
     * decode is mostly such products) */
    const int nth = serial ? 1 : sl_pool_n_threads(pool);
    j.chunk_min = small ? j.units : j.units / (32 * nth) > 1 ? j.units / (32 * nth) : 1;
    atomic_init(&j.next, 0);
    if (j.n_quant > 0 && K > 0) {
        if (T == 1 || serial) quant_task(&j, 0, 1); /* one row: not worth waking the pool */
        else sl_pool_run(pool, quant_task, &j);
    }
    if (serial) mm_task(&j, 0, 1);
    else sl_pool_run(pool, mm_task, &j);
    return 0;
}

int sl_matmul(sl_pool *pool, sl_matmul_scratch *scratch, float *y, const void *W, sl_type wtype,
              const float *x, int T, int N, int K) {
    const sl_mm_part part = {.W = W, .type = wtype, .N = N, .y = y, .ldy = (size_t)(N > 0 ? N : 1)};
    return sl_matmul_parts(pool, scratch, x, T, K, &part, 1, SL_MM_PLAIN);
}

void sl_matmul_ref(float *y, const void *W, sl_type wtype, const float *x, int T, int N, int K) {
    const sl_type_traits *wt = sl_type_get_ref(wtype);
    const size_t w_row = sl_row_size(wtype, K);
    float *row = malloc((size_t)(K > 0 ? K : 1) * sizeof *row);
    if (!row || !wt || !wt->to_float) {
        free(row);
        return;
    }
    for (int r = 0; r < N; r++) {
        wt->to_float(row, (const char *)W + (size_t)r * w_row, K);
        for (int t = 0; t < T; t++) {
            double sum = 0;
            for (int k = 0; k < K; k++) sum += (double)row[k] * x[(size_t)t * K + k];
            y[(size_t)t * N + r] = (float)sum;
        }
    }
    free(row);
}
