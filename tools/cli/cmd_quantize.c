/* cmd_quantize.c — `streamllm quantize IN.gguf OUT.gguf TYPE [-t N]`:
 * re-encodes a GGUF model's weight matrices into another weight type.
 *
 * Every metadata key is copied (general.file_type and
 * general.quantization_version are set anew). Tensors of two or more
 * dimensions are re-encoded, whatever supported type they are stored in
 * (dequantized row by row first); one-dimensional tensors (norms, biases)
 * are copied unchanged. When a matrix's row length is not a multiple of the
 * target's block size, it falls back as llama.cpp does: q4_K -> q5_0,
 * q5_K -> q5_1, q6_K -> q8_0 when rows are multiples of 32, and otherwise
 * the tensor is copied unchanged. The mixes q4_k_m / q5_k_m follow
 * llama.cpp: output.weight, and attn_v / ffn_down in the first and last
 * eighth of the layers and every third layer between, get q6_K. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_check.h"
#include "core/thread_pool.h"
#include "gguf/gguf.h"
#include "tensor/quant.h"

typedef struct {
    const char *name;  /* as typed on the command line */
    sl_type base;      /* what most matrices become */
    bool mix_m;        /* the _M mix: more bits for output, attn_v, ffn_down */
    uint32_t ftype;    /* llama.cpp's general.file_type (LLAMA_FTYPE_*) */
} target;

static const target TARGETS[] = {
    {"f32", SL_TYPE_F32, false, 0},   {"f16", SL_TYPE_F16, false, 1},
    {"bf16", SL_TYPE_BF16, false, 32}, {"q8_0", SL_TYPE_Q8_0, false, 7},
    {"q4_0", SL_TYPE_Q4_0, false, 2}, {"q4_1", SL_TYPE_Q4_1, false, 3},
    {"q5_0", SL_TYPE_Q5_0, false, 8}, {"q5_1", SL_TYPE_Q5_1, false, 9},
    {"q4_k", SL_TYPE_Q4_K, false, 14}, {"q5_k", SL_TYPE_Q5_K, false, 16},
    {"q6_k", SL_TYPE_Q6_K, false, 18}, {"q4_k_m", SL_TYPE_Q4_K, true, 15},
    {"q5_k_m", SL_TYPE_Q5_K, true, 17},
};
#define N_TARGETS (sizeof TARGETS / sizeof TARGETS[0])

static void usage(FILE *fp) {
    fprintf(fp,
            "usage: streamllm quantize IN.gguf OUT.gguf TYPE [-t N]\n"
            "\n"
            "Re-encodes every weight matrix of IN into TYPE and writes OUT; metadata is\n"
            "copied and 1-D tensors (norms, biases) stay as they are. Sources of any\n"
            "supported type are dequantized first.\n"
            "\n"
            "  TYPE   f32 f16 bf16 q8_0 q4_0 q4_1 q5_0 q5_1 q4_k q5_k q6_k, or the mixes\n"
            "         q4_k_m q5_k_m (q6_k for output, and attn_v/ffn_down in some layers)\n"
            "  -t, --threads N   threads (default: all cores)\n");
}

/* llama.cpp's use_more_bits: the first and last eighth, and every third. */
static bool more_bits(int i, int n) { return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2; }

/* Layer index of "blk.N.<...>", or -1. */
static int layer_of(const char *name) {
    int n, len = 0;
    if (sscanf(name, "blk.%d.%n", &n, &len) == 1 && len > 0) return n;
    return -1;
}

static bool ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && !strcmp(s + a - b, suffix);
}

/* The type a matrix gets (before the block-size fallback). */
static sl_type choose_type(const target *tg, const char *name, int n_layer) {
    if (!tg->mix_m) return tg->base;
    if (!strcmp(name, "output.weight")) return SL_TYPE_Q6_K;
    const int il = layer_of(name);
    if (il >= 0 && n_layer > 0 && (ends_with(name, ".attn_v.weight") || ends_with(name, ".ffn_down.weight")) &&
        more_bits(il, n_layer))
        return SL_TYPE_Q6_K;
    return tg->base;
}

/* A type whose block fits rows of n, or -1 (copy the tensor unchanged). */
static int fit_type(sl_type t, uint64_t n) {
    if (n % (uint64_t)sl_type_block_size(t) == 0) return (int)t;
    sl_type fb = t == SL_TYPE_Q4_K ? SL_TYPE_Q5_0 : t == SL_TYPE_Q5_K ? SL_TYPE_Q5_1
               : t == SL_TYPE_Q6_K ? SL_TYPE_Q8_0 : t;
    return n % (uint64_t)sl_type_block_size(fb) == 0 ? (int)fb : -1;
}

/* One tensor's rows, re-encoded in parallel. */
typedef struct {
    const sl_type_traits *src, *dst;
    const char *in;   /* (rows, K) in src */
    char *out;        /* (rows, K) in dst */
    size_t in_row, out_row;
    int64_t rows, K;
    float *buf;       /* (n_threads, K) */
} requant_job;

static void requant_rows(void *ctx, int ith, int nth) {
    const requant_job *j = ctx;
    long lo, hi;
    sl_split_range((long)j->rows, ith, nth, &lo, &hi);
    float *f = j->buf + (size_t)ith * j->K;
    for (long r = lo; r < hi; r++) {
        j->src->to_float(f, j->in + (size_t)r * j->in_row, j->K);
        j->dst->from_float(j->out + (size_t)r * j->out_row, f, j->K);
    }
}

int cmd_quantize(int argc, char **argv) {
    const char *pos[3] = {NULL, NULL, NULL};
    int n_pos = 0, n_threads = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "-t") || !strcmp(a, "--threads")) {
            n_threads = (int)cli_parse_int(a, cli_value(argc, argv, &i), 1, 256);
        } else if (a[0] == '-' && a[1]) {
            cli_die("unknown flag '%s' (see streamllm quantize --help)", a);
        } else if (n_pos < 3) {
            pos[n_pos++] = a;
        } else {
            cli_die("unexpected argument '%s': expected IN.gguf OUT.gguf TYPE", a);
        }
    }
    if (n_pos < 3) cli_die("expected IN.gguf OUT.gguf TYPE (see streamllm quantize --help)");
    const target *tg = NULL;
    for (size_t i = 0; i < N_TARGETS; i++) {
        size_t k = 0;
        while (TARGETS[i].name[k] && tolower((unsigned char)pos[2][k]) == TARGETS[i].name[k]) k++;
        if (!TARGETS[i].name[k] && !pos[2][k]) tg = &TARGETS[i];
    }
    if (!tg)
        cli_die("unknown type '%s' (expected f32, f16, bf16, q8_0, q4_0, q4_1, q5_0, q5_1, q4_k, q5_k, "
                "q6_k, q4_k_m or q5_k_m)",
                pos[2]);
    if (!strcmp(pos[0], pos[1])) cli_die("OUT.gguf must differ from IN.gguf ('%s')", pos[0]);

    sl_error err = {0};
    sl_gguf *in = NULL;
    cli_check(sl_gguf_open(&in, pos[0], &err), &err);
    /* A vocab-only file (llama.cpp's ggml-vocab-*.gguf) has nothing to re-encode. */
    if (in->n_tensors == 0)
        cli_die("%s: the file has no tensors (a vocab-only GGUF?): there are no weights to quantize", pos[0]);
    cli_check_writable("OUT.gguf", pos[1], NULL);
    sl_gguf_writer *w = NULL;
    cli_check(sl_gguf_writer_create(&w, &err), &err);
    static const char *const skip[] = {"general.file_type", "general.quantization_version", NULL};
    cli_check(sl_gguf_writer_copy_kvs(w, in, skip, &err), &err);
    if (sl_gguf_writer_set_u32(w, "general.file_type", tg->ftype) != SL_OK ||
        (sl_type_block_size(tg->base) > 1 && sl_gguf_writer_set_u32(w, "general.quantization_version", 2) != SL_OK))
        cli_die("out of memory writing metadata");

    /* layer count for the _M mix: <arch>.block_count, else the highest blk.N + 1 */
    int n_layer = 0;
    sl_gguf_str arch;
    if (sl_gguf_get_str(in, "general.architecture", &arch, NULL) == SL_OK && arch.len < 200) {
        char key[256];
        snprintf(key, sizeof key, "%.*s.block_count", (int)arch.len, arch.ptr);
        uint32_t v;
        if (sl_gguf_get_u32(in, key, &v, NULL) == SL_OK) n_layer = (int)v;
    }
    if (n_layer == 0) {
        for (uint64_t i = 0; i < in->n_tensors; i++) {
            char nm[80];
            snprintf(nm, sizeof nm, "%.*s", (int)in->tensors[i].name.len, in->tensors[i].name.ptr);
            if (layer_of(nm) + 1 > n_layer) n_layer = layer_of(nm) + 1;
        }
    }

    sl_pool *pool = NULL;
    cli_check(sl_pool_create(&pool, n_threads, &err), &err);
    const int nth = sl_pool_n_threads(pool);
    uint64_t bytes_in = 0, bytes_out = 0;
    int counts[SL_TYPE_COUNT] = {0}, n_kept = 0;
    for (uint64_t i = 0; i < in->n_tensors; i++) {
        const sl_gguf_tensor *t = &in->tensors[i];
        char name[80];
        if (t->name.len >= sizeof name) cli_die("%s: tensor name longer than 79 bytes", pos[0]);
        snprintf(name, sizeof name, "%.*s", (int)t->name.len, t->name.ptr);
        bytes_in += t->nbytes;
        const uint64_t K = t->ne[0];
        const size_t in_row = sl_row_size(t->type, (int64_t)K);
        const uint64_t rows = in_row ? t->nbytes / in_row : 0;
        const int to = t->n_dims >= 2 && rows > 0 ? fit_type(choose_type(tg, name, n_layer), K) : -1;
        if (to < 0 || (uint32_t)to == t->type) { /* copied as it is */
            cli_check(sl_gguf_writer_add_tensor(w, name, t->type, t->n_dims, t->ne, t->data, t->nbytes, &err),
                      &err);
            bytes_out += t->nbytes;
            if (to < 0) n_kept++;
            else counts[to]++;
            continue;
        }
        const sl_type_traits *src = sl_type_get(t->type), *dst = sl_type_get((uint32_t)to);
        if (!src || !src->to_float)
            cli_die("%s: tensor '%s' is %s, which this build cannot decode", pos[0], name, sl_type_name(t->type));
        requant_job job = {.src = src, .dst = dst, .in = t->data, .in_row = in_row,
                           .out_row = sl_row_size((uint32_t)to, (int64_t)K), .rows = (int64_t)rows, .K = (int64_t)K};
        const size_t out_bytes = job.out_row * rows;
        job.out = malloc(out_bytes ? out_bytes : 1);
        job.buf = malloc((size_t)nth * K * sizeof *job.buf);
        if (!job.out || !job.buf) cli_die("out of memory re-encoding '%s' (%llu bytes)", name, (unsigned long long)out_bytes);
        sl_pool_run(pool, requant_rows, &job);
        cli_check(sl_gguf_writer_add_tensor(w, name, (uint32_t)to, t->n_dims, t->ne, job.out, out_bytes, &err), &err);
        free(job.out);
        free(job.buf);
        bytes_out += out_bytes;
        counts[to]++;
    }
    cli_check(sl_gguf_writer_write(w, pos[1], &err), &err);

    fprintf(stderr, "wrote %s (%s): %.2f MiB of tensors -> %.2f MiB;", pos[1], tg->name, bytes_in / 1048576.0,
            bytes_out / 1048576.0);
    for (int t = 0; t < SL_TYPE_COUNT; t++)
        if (counts[t]) fprintf(stderr, " %d %s", counts[t], sl_type_name((uint32_t)t));
    fprintf(stderr, ", %d kept as they were\n", n_kept);
    sl_pool_free(pool);
    sl_gguf_writer_free(w);
    sl_gguf_close(in);
    return 0;
}
