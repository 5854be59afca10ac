/* fuzz_chat_template.c — libFuzzer target for chat-template detection and
 * rendering (src/chat/chat_template.c).
 *
 * Byte 0 picks the family and the vocabulary (the tiny model's
 * SentencePiece, or byte-level BPE with ChatML control tokens); the rest is
 * split at NUL bytes into the system prompt and the messages (user, reply,
 * user ...). The whole input is also run through template detection as if it
 * were tokenizer.chat_template. Rendering must either succeed, giving
 * segments inside the text and token ids inside the vocabulary, or fail
 * with a message (invalid UTF-8). Build: make fuzz CC=clang BUILD=build-fuzz;
 * seeds in fuzz/corpus/chat_template/. */
#include "fuzz_util.h"

#include "chat/chat_template.h"
#include "model/model.h"

#define MAX_MSGS 16

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const sl_tokenizer *bpe;
    if (!bpe) bpe = fuzz_bpe_tokenizer("qwen2");
    int det = sl_chat_detect((const char *)data, size);
    if (det >= SL_CHAT_FAMILY_COUNT) __builtin_trap();
    if (size < 1) return 0;
    const sl_chat_family fam = (sl_chat_family)(data[0] % SL_CHAT_FAMILY_COUNT);
    const sl_tokenizer *tok = data[0] & 0x80 ? bpe : fuzz_tiny_model()->tok;
    const char *p = (const char *)data + 1, *end = (const char *)data + size;

    /* Split into NUL-terminated copies: the renderer takes C strings. */
    char *copy = malloc(size);
    if (!copy) return 0;
    memcpy(copy, p, (size_t)(end - p));
    copy[end - p] = '\0';
    const char *parts[MAX_MSGS + 1];
    int n = 0;
    for (char *q = copy; n < MAX_MSGS + 1;) {
        parts[n++] = q;
        char *z = memchr(q, '\0', (size_t)(copy + (end - p) - q));
        if (!z || z >= copy + (end - p)) break;
        q = z + 1;
    }
    sl_chat_template ct;
    sl_chat_template_init(&ct, fam, tok);
    sl_chat_seq q = {0};
    sl_error err;
    sl_status st = sl_chat_render_conversation(&ct, parts[0], parts + 1, (size_t)(n - 1), &q, &err);
    if (st == SL_OK) {
        for (size_t i = 0; i < q.n_segs; i++) {
            const sl_chat_seg *s = &q.segs[i];
            if (s->off > q.n_text || s->len > q.n_text - s->off) __builtin_trap();
            fuzz_touch(q.text + s->off, s->len);
        }
        int32_t *ids = NULL;
        size_t n_ids = 0;
        if (sl_chat_seq_tokenize(&q, tok, &ids, &n_ids, &err) == SL_OK) {
            for (size_t i = 0; i < n_ids; i++)
                if (ids[i] < 0 || ids[i] >= sl_tokenizer_n_vocab(tok)) __builtin_trap();
        }
        free(ids);
        int32_t stops[8];
        int ns = sl_chat_stop_tokens(&ct, tok, stops, 8);
        if (ns < 0 || ns > 8) __builtin_trap();
    } else {
        fuzz_touch(err.msg, strlen(err.msg));
    }
    sl_chat_seq_free(&q);
    sl_chat_has_system(&ct, parts[0], strlen(parts[0]));
    free(copy);
    return 0;
}
