#include "model/spm_vocab_keys.h"

#include "model/gguf_names.h"

sl_status sl_write_spm_vocab_keys(sl_gguf_writer *w, const char *const *texts,
                                  const uint64_t *lens, const float *scores,
                                  const int32_t *types, uint64_t n) {
    sl_status st = SL_OK;
#define SET(call) do { if (st == SL_OK) st = (call); } while (0)
    SET(sl_gguf_writer_set_str(w, KEY_TOK_MODEL, "llama"));
    SET(sl_gguf_writer_set_arr_str(w, KEY_TOK_TOKENS, texts, lens, n));
    SET(sl_gguf_writer_set_arr(w, KEY_TOK_SCORES, SL_GGUF_FLOAT32, scores, n));
    SET(sl_gguf_writer_set_arr(w, KEY_TOK_TYPES, SL_GGUF_INT32, types, n));
    /* run.c hard-codes BOS 1 and EOS 2; SentencePiece puts <unk> at 0. */
    SET(sl_gguf_writer_set_u32(w, KEY_TOK_BOS, 1));
    SET(sl_gguf_writer_set_u32(w, KEY_TOK_EOS, 2));
    SET(sl_gguf_writer_set_u32(w, KEY_TOK_UNK, 0));
    SET(sl_gguf_writer_set_bool(w, KEY_TOK_ADD_BOS, true));
    SET(sl_gguf_writer_set_bool(w, KEY_TOK_ADD_EOS, false));
    SET(sl_gguf_writer_set_bool(w, KEY_TOK_ADD_SPACE, true));
#undef SET
    return st;
}
