/* fuzz_replay.c — libFuzzer target for the JSONL reader of `chat --replay`
 * (tools/cli/chat_jsonl.c, the code the command runs).
 *
 * The input is the file: every line is parsed; a line accepted as turns
 * must give an array of strings whose bytes are all readable, and a refused
 * line must say why. Build: make fuzz CC=clang BUILD=build-fuzz; seeds in
 * fuzz/corpus/replay/. */
#include <stdint.h>
#include <string.h>

#include "../tools/cli/chat_jsonl.h"

static volatile unsigned char sink;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *p = (const char *)data, *end = p + size;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = nl ? (size_t)(nl - p) + 1 : (size_t)(end - p);
        json_t *root, *turns;
        char why[256] = "";
        chat_jsonl_kind k = chat_jsonl_parse(p, len, &root, &turns, why, sizeof why);
        if (k == CHAT_JSONL_TURNS) {
            if (!root || !json_is_array(turns)) __builtin_trap();
            for (size_t i = 0; i < json_array_size(turns); i++) {
                json_t *s = json_array_get(turns, i);
                const char *v = json_string_value(s);
                size_t n = json_string_length(s);
                if (!v) __builtin_trap();
                for (size_t j = 0; j < n; j++) sink ^= (unsigned char)v[j];
            }
            json_decref(root);
        } else if (k == CHAT_JSONL_MALFORMED) {
            if (!why[0] || root || turns) __builtin_trap();
        }
        p += len;
    }
    return 0;
}
