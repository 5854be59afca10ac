/* checkpoint.c — resumable training state in one file.
 *
 * Layout (little-endian):
 *   "SLTRAIN1"                                 8 bytes magic + version
 *   config: 7 x i32 (vocab, embd, layers, heads, ff, ctx, sink), i32 zero_sink,
 *           f64 rms_eps, f64 rope_base
 *   options: 5 x i32 (batch, accum, steps, warmup, pad), 8 x f64 (lr, min_lr,
 *           wd, clip, beta1, beta2, eps, init_std), u64 seed
 *   state: u64 step, u64 rng, u64 data_hash, u64 n_data, u64 n_params
 *   f32 params[n_params], f32 m[n_params], f32 v[n_params]
 *   u64 FNV-1a of every byte above
 * Floats are stored bit-exactly, so a resumed run is the same run. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "train/trainer.h"

#define MAGIC "SLTRAIN1"

typedef struct {
    FILE *f;
    uint64_t h;
    bool ok;
} ck_io;

static void hash_bytes(uint64_t *h, const void *p, size_t n) {
    const unsigned char *s = p;
    for (size_t i = 0; i < n; i++) *h = (*h ^ s[i]) * 0x100000001b3ull;
}

static void put(ck_io *io, const void *p, size_t n) {
    if (!io->ok) return;
    hash_bytes(&io->h, p, n);
    if (fwrite(p, 1, n, io->f) != n) io->ok = false;
}
static void get(ck_io *io, void *p, size_t n) {
    if (!io->ok) return;
    if (fread(p, 1, n, io->f) != n) {
        io->ok = false;
        return;
    }
    hash_bytes(&io->h, p, n);
}

#define PUT_I32(v) do { int32_t x_ = (int32_t)(v); put(&io, &x_, 4); } while (0)
#define PUT_F64(v) do { double x_ = (double)(v); put(&io, &x_, 8); } while (0)
#define PUT_U64(v) do { uint64_t x_ = (uint64_t)(v); put(&io, &x_, 8); } while (0)

sl_status sl_trainer_save(const sl_trainer *t, const char *path, sl_error *err) {
    /* Write a temporary file and rename it, so an interrupted save never
     * destroys the previous checkpoint. */
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
        return sl_fail(err, SL_ERR_INVALID_ARG, "checkpoint path is too long");
    ck_io io = {fopen(tmp, "wb"), 0xcbf29ce484222325ull, true};
    if (!io.f) return sl_fail(err, SL_ERR_IO, "%s: cannot create the checkpoint", tmp);
    const sl_train_config *c = &t->cfg;
    const sl_train_opts *o = &t->o;
    put(&io, MAGIC, 8);
    PUT_I32(c->n_vocab); PUT_I32(c->n_embd); PUT_I32(c->n_layer); PUT_I32(c->n_head);
    PUT_I32(c->n_ff); PUT_I32(c->n_ctx); PUT_I32(c->sink_token); PUT_I32(c->zero_sink);
    PUT_F64(c->rms_eps); PUT_F64(c->rope_base);
    PUT_I32(o->batch); PUT_I32(o->accum); PUT_I32(o->steps); PUT_I32(o->warmup); PUT_I32(0);
    PUT_F64(o->lr); PUT_F64(o->min_lr); PUT_F64(o->wd); PUT_F64(o->clip);
    PUT_F64(o->beta1); PUT_F64(o->beta2); PUT_F64(o->adam_eps); PUT_F64(o->init_std);
    PUT_U64(o->seed);
    PUT_U64(t->step); PUT_U64(t->rng); PUT_U64(t->data_hash); PUT_U64(t->n_data);
    PUT_U64(t->m.n_params);
    put(&io, t->m.params, t->m.n_params * sizeof(float));
    put(&io, t->adam_m, t->m.n_params * sizeof(float));
    put(&io, t->adam_v, t->m.n_params * sizeof(float));
    uint64_t h = io.h;
    if (io.ok && fwrite(&h, 8, 1, io.f) != 1) io.ok = false;
    if (fclose(io.f) != 0) io.ok = false;
    if (!io.ok || rename(tmp, path) != 0) {
        remove(tmp);
        return sl_fail(err, SL_ERR_IO, "%s: cannot write the checkpoint", path);
    }
    return SL_OK;
}

sl_status sl_trainer_load(sl_trainer *t, const char *path, sl_pool *pool, const int32_t *data,
                          size_t n_data, sl_error *err) {
    memset(t, 0, sizeof *t);
    ck_io io = {fopen(path, "rb"), 0xcbf29ce484222325ull, true};
    if (!io.f) return sl_fail(err, SL_ERR_IO, "%s: cannot open the checkpoint", path);
    char magic[8];
    int32_t ci[8], oi[5];
    double cf[2], of[8];
    uint64_t seed, st5[5];
    get(&io, magic, 8);
    if (!io.ok || memcmp(magic, MAGIC, 8) != 0) {
        fclose(io.f);
        return sl_fail(err, SL_ERR_FORMAT, "%s: not a streamllm training checkpoint (bad magic)", path);
    }
    get(&io, ci, sizeof ci);
    get(&io, cf, sizeof cf);
    get(&io, oi, sizeof oi);
    get(&io, of, sizeof of);
    get(&io, &seed, 8);
    get(&io, st5, sizeof st5);
    if (!io.ok) {
        fclose(io.f);
        return sl_fail(err, SL_ERR_FORMAT, "%s: corrupt checkpoint: truncated header", path);
    }
    sl_train_config c = {.n_vocab = ci[0], .n_embd = ci[1], .n_layer = ci[2], .n_head = ci[3],
                         .n_ff = ci[4], .n_ctx = ci[5], .sink_token = ci[6],
                         .zero_sink = ci[7] != 0, .rms_eps = (float)cf[0], .rope_base = cf[1]};
    sl_train_opts o = {.batch = oi[0], .accum = oi[1], .steps = oi[2], .warmup = oi[3],
                       .lr = (float)of[0], .min_lr = (float)of[1], .wd = (float)of[2],
                       .clip = (float)of[3], .beta1 = (float)of[4], .beta2 = (float)of[5],
                       .adam_eps = (float)of[6], .init_std = (float)of[7], .seed = seed};
    sl_error e2;
    if (sl_train_config_check(&c, o.batch, &e2) != SL_OK || st5[4] != sl_train_n_params(&c)) {
        fclose(io.f);
        return sl_fail(err, SL_ERR_FORMAT, "%s: corrupt checkpoint: inconsistent shape (%s)", path,
                       e2.msg);
    }
    /* The remaining size must match exactly before anything is allocated. */
    long here = ftell(io.f);
    if (fseek(io.f, 0, SEEK_END) != 0) io.ok = false;
    long end = ftell(io.f);
    uint64_t want = (uint64_t)here + 3 * 4 * st5[4] + 8;
    if (!io.ok || end < 0 || (uint64_t)end != want || fseek(io.f, here, SEEK_SET) != 0) {
        fclose(io.f);
        return sl_fail(err, SL_ERR_FORMAT, "%s: corrupt checkpoint: %ld bytes, expected %llu", path,
                       end, (unsigned long long)want);
    }
    sl_status st = sl_trainer_init(t, &c, &o, pool, data, n_data, err);
    if (st != SL_OK) {
        fclose(io.f);
        return st;
    }
    if (t->data_hash != st5[2] || n_data != st5[3]) {
        fclose(io.f);
        sl_trainer_free(t);
        return sl_fail(err, SL_ERR_INVALID_ARG, "%s: the checkpoint was trained on other data (%llu "
                       "tokens, hash %016llx; now %zu tokens): pass the same corpus, tokenizer and "
                       "--holdout", path, (unsigned long long)st5[3], (unsigned long long)st5[2], n_data);
    }
    get(&io, t->m.params, t->m.n_params * sizeof(float));
    get(&io, t->adam_m, t->m.n_params * sizeof(float));
    get(&io, t->adam_v, t->m.n_params * sizeof(float));
    uint64_t h_want = io.h, h_file = 0;
    bool ok = io.ok && fread(&h_file, 8, 1, io.f) == 1;
    fclose(io.f);
    if (!ok || h_file != h_want) {
        sl_trainer_free(t);
        return sl_fail(err, SL_ERR_FORMAT, "%s: corrupt checkpoint: checksum mismatch", path);
    }
    t->step = st5[0];
    t->rng = st5[1];
    return SL_OK;
}
