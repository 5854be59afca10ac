/* fuzz_llama2c.c — libFuzzer target for llama2.c checkpoints and tokenizer
 * files (the `convert --from-llama2c` inputs).
 *
 * Input: byte 0 flags, u32 little-endian length L of the checkpoint, L bytes
 * of checkpoint, the rest is the tokenizer file. With flag bit 0, a
 * checkpoint whose header is valid but whose size is not gets padded or cut
 * to the size the header asks for, so the fuzzer reaches the tokenizer
 * reader and the GGUF writer instead of stopping at the size check. A file
 * that converts must then load as a model. Build: make fuzz CC=clang
 * BUILD=build-fuzz; seeds in fuzz/corpus/llama2c/. */
#include "fuzz_util.h"

#include "model/llama2c.h"
#include "model/model.h"

#define MAX_MODEL (1u << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static fuzz_file model, tok;
    static char out[160];
    if (!model.path[0]) {
        fuzz_file_open(&model, "model.bin");
        fuzz_file_open(&tok, "tok.bin");
        snprintf(out, sizeof out, "%s/out.gguf", fuzz_tmpdir());
    }
    if (size < 5) return 0;
    const int fix_size = data[0] & 1;
    uint32_t L = (uint32_t)data[1] | (uint32_t)data[2] << 8 | (uint32_t)data[3] << 16 | (uint32_t)data[4] << 24;
    data += 5, size -= 5;
    if (L > size) L = (uint32_t)size;
    fuzz_file_set(&model, data, L);
    fuzz_file_set(&tok, data + L, size - L);

    sl_llama2c_config cfg;
    sl_error err;
    sl_status st = sl_llama2c_read_config(model.path, &cfg, &err);
    const char *needs = st != SL_OK ? strstr(err.msg, " needs ") : NULL;
    unsigned long long want = 0;
    if (fix_size && needs && sscanf(needs, " needs %llu", &want) == 1 && want <= MAX_MODEL) {
        unsigned char *buf = calloc(1, (size_t)want + 1);
        if (!buf) return 0;
        memcpy(buf, data, L < want ? L : (size_t)want);
        fuzz_file_set(&model, buf, (size_t)want);
        free(buf);
        st = sl_llama2c_read_config(model.path, &cfg, &err);
        if (st != SL_OK) __builtin_trap(); /* the size it asked for must be accepted */
    }
    if (st != SL_OK) {
        fuzz_touch(err.msg, strlen(err.msg));
        return 0;
    }
    if (sl_llama2c_convert(model.path, tok.path, out, &err) != SL_OK) {
        fuzz_touch(err.msg, strlen(err.msg));
        return 0;
    }
    sl_model *m = NULL;
    if (sl_model_load(&m, out, &err) == SL_OK) {
        int32_t *ids = NULL;
        size_t n = 0;
        if (sl_tokenizer_encode(m->tok, "Once upon a time", 16, true, false, &ids, &n, &err) == SL_OK)
            for (size_t i = 0; i < n; i++)
                if (ids[i] < 0 || ids[i] >= m->hp.n_vocab) __builtin_trap();
        free(ids);
        sl_model_free(m);
    }
    unlink(out);
    return 0;
}
