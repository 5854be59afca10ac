/* fuzz_train_ckpt.c — libFuzzer target for training checkpoints
 * (`train --resume`).
 *
 * Input: byte 0 flags, then the file. The corpus is fixed: 64 tokens of 0
 * and 1. Flag bit 0 writes that corpus's hash and length into the state
 * fields and bit 1 recomputes the trailing FNV-1a checksum, so mutations
 * reach the shape checks and the parameter arrays instead of stopping at
 * those two checks. A checkpoint that loads must then train one step (when
 * that step is small: see below).
 * SL_FUZZ_WRITE_SEEDS=DIR writes valid checkpoints to DIR and exits (how
 * fuzz/corpus/train_ckpt/ was made). Build: make fuzz CC=clang BUILD=build-fuzz. */
#include "fuzz_util.h"

#include "core/thread_pool.h"
#include "train/trainer.h"

#define N_DATA 64
#define OFF_DATA_HASH 164 /* checkpoint.c layout: magic, config, options, seed, step, rng */

static int32_t corpus[N_DATA];
static sl_pool *pool;

static void setup(void) {
    if (pool) return;
    for (int i = 0; i < N_DATA; i++) corpus[i] = (i * 7 / 3) & 1;
    sl_error err;
    if (sl_pool_create(&pool, 1, &err) != SL_OK) abort();
}

static uint64_t fnv(const unsigned char *p, size_t n) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

static void write_seeds(const char *dir) {
    setup();
    static const struct { int embd, layers, heads, ctx, batch, sink; bool zero; const char *name; } v[] = {
        {4, 1, 2, 8, 1, -1, false, "vanilla"}, {4, 1, 1, 16, 2, 1, false, "sink-token"},
        {4, 1, 2, 4, 1, -1, true, "zero-sink"}};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        sl_train_config c = {.n_vocab = 4, .n_embd = v[i].embd, .n_layer = v[i].layers, .n_head = v[i].heads,
                             .n_ff = 4, .n_ctx = v[i].ctx, .rms_eps = 1e-5f, .rope_base = 10000.0,
                             .sink_token = v[i].sink, .zero_sink = v[i].zero};
        sl_train_opts o;
        sl_train_opts_default(&o);
        o.batch = v[i].batch;
        o.steps = 4;
        sl_trainer t;
        sl_error err;
        if (sl_trainer_init(&t, &c, &o, pool, corpus, N_DATA, &err) != SL_OK) {
            fprintf(stderr, "fuzz: %s\n", err.msg);
            abort();
        }
        sl_trainer_step(&t);
        char raw[256], path[256];
        snprintf(raw, sizeof raw, "%s/%s.raw", dir, v[i].name);
        if (sl_trainer_save(&t, raw, &err) != SL_OK) abort();
        FILE *in = fopen(raw, "rb");
        snprintf(path, sizeof path, "%s/%s", dir, v[i].name);
        FILE *out = fopen(path, "wb");
        if (!in || !out) abort();
        fputc(3, out);
        int ch;
        while ((ch = fgetc(in)) != EOF) fputc(ch, out);
        fclose(in);
        fclose(out);
        remove(raw);
        sl_trainer_free(&t);
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    const char *dir = getenv("SL_FUZZ_WRITE_SEEDS");
    if (dir && *dir) {
        write_seeds(dir);
        exit(0);
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static fuzz_file f;
    setup();
    if (!f.path[0]) fuzz_file_open(&f, "train.ckpt");
    if (size < 1) return 0;
    const int flags = data[0];
    data++, size--;
    unsigned char *buf = malloc(size ? size : 1);
    if (!buf) return 0;
    memcpy(buf, data, size);
    if ((flags & 1) && size >= OFF_DATA_HASH + 16) {
        uint64_t h = sl_train_hash_tokens(corpus, N_DATA), n = N_DATA;
        memcpy(buf + OFF_DATA_HASH, &h, 8);
        memcpy(buf + OFF_DATA_HASH + 8, &n, 8);
    }
    if ((flags & 2) && size >= 16) {
        uint64_t h = fnv(buf, size - 8);
        memcpy(buf + size - 8, &h, 8);
    }
    fuzz_file_set(&f, buf, size);
    free(buf);
    sl_trainer t;
    sl_error err;
    if (sl_trainer_load(&t, f.path, pool, corpus, N_DATA, &err) != SL_OK) {
        if (getenv("SL_FUZZ_DEBUG")) fprintf(stderr, "load: %s\n", err.msg);
        fuzz_touch(err.msg, strlen(err.msg));
        return 0;
    }
    /* One step costs batch x accum x ctx tokens, which the file sets freely
     * (a real run may ask for millions): step only small ones, so each input
     * stays fast (an early run spent 972 s in one step). */
    if ((uint64_t)t.o.batch * (uint64_t)t.o.accum * (uint64_t)t.cfg.n_ctx <= 4096) sl_trainer_step(&t);
    sl_trainer_free(&t);
    return 0;
}
