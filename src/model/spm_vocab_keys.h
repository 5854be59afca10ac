/* spm_vocab_keys.h — the tokenizer.ggml.* keys of a SentencePiece vocab laid
 * out the llama2.c way (<unk> 0, <s> 1 = BOS, </s> 2 = EOS), shared by the
 * llama2.c converter and the random-model writer. */
#ifndef SL_MODEL_SPM_VOCAB_KEYS_H
#define SL_MODEL_SPM_VOCAB_KEYS_H

#include <stdint.h>

#include "gguf/gguf.h"

/* texts (n) token strings; lens (n) byte lengths or NULL for NUL-terminated;
 * scores (n); types (n) token types. Returns the first writer failure. */
sl_status sl_write_spm_vocab_keys(sl_gguf_writer *w, const char *const *texts,
                                  const uint64_t *lens, const float *scores,
                                  const int32_t *types, uint64_t n);

#endif
