/* fuzz_chat_state.c — libFuzzer target for chat save files (`chat --load`,
 * `/load`): the session state (cache rows, positions, sampler state) and the
 * chat blob inside it (template, system prompt, turn bounds).
 *
 * Input: byte 0 flags, then the file. With flag bit 0 the header's payload
 * length and CRC-32 are recomputed, so mutations reach the parsers behind
 * the checksum instead of stopping at it. A file that loads must then carry
 * the conversation one more short turn. The model is the tiny synthetic
 * llama (fuzz_util.h). SL_FUZZ_WRITE_SEEDS=DIR writes valid saves of this
 * model (each policy and KV type) to DIR and exits: that is how
 * fuzz/corpus/chat_state/ was made. Build: make fuzz CC=clang BUILD=build-fuzz. */
#include "fuzz_util.h"

#include "chat/chat.h"
#include "session/session.h"

#define HEADER_BYTES 32u /* session_state.c: magic, version, header size, payload size, CRC */

static bool discard(void *user, const char *text, size_t len) {
    (void)user;
    fuzz_touch(text, len);
    return true;
}

static sl_chat *new_chat(sl_policy pol, sl_kv_type kv, int window) {
    sl_chat_params p;
    sl_chat_params_default(&p);
    p.session.policy = pol;
    p.session.kv_type = kv;
    p.session.n_window = window;
    p.session.n_threads = 1;
    p.session.allow_overflow = pol == SL_POLICY_DENSE;
    p.sampler.seed = 3;
    p.sampler.penalty_last_n = 8; /* a short sampler history keeps saves small */
    sl_chat *c = NULL;
    sl_error err;
    if (sl_chat_create(&c, fuzz_tiny_model(), &p, "Be brief.", &err) != SL_OK) {
        fprintf(stderr, "fuzz: chat: %s\n", err.msg);
        abort();
    }
    return c;
}

static void write_seeds(const char *dir) {
    static const struct { sl_policy pol; sl_kv_type kv; const char *name; } v[] = {
        {SL_POLICY_STREAMING, SL_KV_F16, "streaming-f16"}, {SL_POLICY_STREAMING, SL_KV_Q8_0, "streaming-q8_0"},
        {SL_POLICY_WINDOW, SL_KV_F32, "window-f32"}, {SL_POLICY_RECOMPUTE, SL_KV_F16, "recompute-f16"},
        {SL_POLICY_DENSE, SL_KV_F16, "dense-f16"}};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        sl_chat *c = new_chat(v[i].pol, v[i].kv, 12);
        sl_error err;
        sl_chat_turn_stats ts;
        for (int k = 0; k < (v[i].kv == SL_KV_F16 && v[i].pol != SL_POLICY_DENSE ? 2 : 1); k++)
            if (sl_chat_turn(c, "A cat.", 6, 3, discard, NULL, &ts, &err) != SL_OK) abort();
        char raw[256], path[256];
        snprintf(raw, sizeof raw, "%s/%s.raw", dir, v[i].name);
        if (sl_chat_save(c, raw, &err) != SL_OK) abort();
        /* Seeds carry the flag byte in front of the file. */
        FILE *in = fopen(raw, "rb");
        snprintf(path, sizeof path, "%s/%s", dir, v[i].name);
        FILE *out = fopen(path, "wb");
        if (!in || !out) abort();
        fputc(1, out);
        int ch;
        while ((ch = fgetc(in)) != EOF) fputc(ch, out);
        fclose(in);
        fclose(out);
        remove(raw);
        sl_chat_free(c);
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
    static sl_chat *c;
    if (!c) {
        fuzz_file_open(&f, "state.chat");
        c = new_chat(SL_POLICY_STREAMING, SL_KV_F16, 12);
    }
    if (size < 1) return 0;
    const bool fix = data[0] & 1;
    data++, size--;
    unsigned char *buf = malloc(size ? size : 1);
    if (!buf) return 0;
    memcpy(buf, data, size);
    if (fix && size >= HEADER_BYTES) {
        uint64_t payload = size - HEADER_BYTES;
        uint32_t hb = HEADER_BYTES, crc = sl_crc32(0, buf + HEADER_BYTES, (size_t)payload);
        memcpy(buf + 12, &hb, 4);
        memcpy(buf + 16, &payload, 8);
        memcpy(buf + 24, &crc, 4);
    }
    fuzz_file_set(&f, buf, size);
    free(buf);
    sl_error err;
    if (sl_chat_load(c, f.path, &err) != SL_OK) {
        fuzz_touch(err.msg, strlen(err.msg));
        return 0;
    }
    sl_chat_info in;
    sl_chat_get_info(c, &in);
    if (in.cache_tokens > in.cache_capacity) __builtin_trap();
    sl_chat_turn_stats ts;
    if (sl_chat_turn(c, "And then?", 9, 2, discard, NULL, &ts, &err) != SL_OK) fuzz_touch(err.msg, strlen(err.msg));
    return 0;
}
