/* bpe.h — byte-level BPE (GPT-2 style) trained on a corpus, stored the way
 * llama.cpp stores GPT-2's: tokenizer.ggml.model = "gpt2", pre = "gpt-2" (the
 * GPT-2 split regex), tokens as byte-level unicode text, token_type, merges
 * "left right" in rank order. The engine's tokenizer (src/tokenizer) reads it.
 *
 * Vocabulary layout: ids 0..255 are the 256 bytes (GPT-2's byte-to-unicode
 * characters, by byte value), then one token per merge that made a new text,
 * in merge order, then two control tokens: <|endoftext|> (bos/eos) and
 * <|sink|> (the learnable attention sink, see `streamllm train --sink-token`). */
#ifndef SL_TRAIN_BPE_H
#define SL_TRAIN_BPE_H

#include <stddef.h>
#include <stdint.h>

#include "streamllm.h"
#include "gguf/gguf.h"

#define SL_BPE_EOT "<|endoftext|>"
#define SL_BPE_SINK "<|sink|>"
#define SL_BPE_MIN_VOCAB 259 /* 256 bytes + one merge + the two control tokens */

typedef struct sl_bpe_maps sl_bpe_maps;

typedef struct {
    int n_vocab;
    char **text;        /* (n_vocab) byte-level unicode text, NUL-terminated, owned */
    int32_t *type;      /* (n_vocab) SL_TOKEN_NORMAL or SL_TOKEN_CONTROL */
    int n_merges;
    int32_t *merge_l, *merge_r, *merge_out; /* (n_merges) ids, rank = index */
    int32_t eot, sink;  /* ids of the control tokens, -1 when absent */
    sl_bpe_maps *maps;  /* lookups for encoding, built on demand */
} sl_bpe;

/* Trains on n_texts texts to exactly vocab_size tokens (including the two
 * control tokens). Errors: SL_ERR_INVALID_ARG for an empty corpus, a vocab
 * size below SL_BPE_MIN_VOCAB, or one the corpus cannot reach (no pair occurs
 * twice any more: the message says how many tokens it supports);
 * SL_ERR_NOMEM. progress (may be NULL) is called every 100 merges. */
sl_status sl_bpe_train(sl_bpe *b, const char *const *texts, const size_t *lens, int n_texts,
                       int vocab_size, void (*progress)(void *user, int done, int total),
                       void *user, sl_error *err);

/* Reads tokens and merges from a GGUF written by sl_bpe_write (or any gpt2
 * vocab whose merges build tokens of the vocabulary). */
sl_status sl_bpe_from_gguf(sl_bpe *b, const sl_gguf *g, sl_error *err);

/* Writes a vocab-only GGUF (no tensors). */
sl_status sl_bpe_write(const sl_bpe *b, const char *path, sl_error *err);

/* Encodes UTF-8 text (no special-token parsing, no BOS): GPT-2 split, then
 * the lowest-rank merge first, leftmost on ties (llama.cpp's order).
 * *ids is malloc'd; the caller frees it. */
sl_status sl_bpe_encode(sl_bpe *b, const char *text, size_t len, int32_t **ids, size_t *n,
                        sl_error *err);

void sl_bpe_free(sl_bpe *b);

/* The GPT-2 byte-to-unicode character of byte c, as UTF-8 into out (<= 2 bytes);
 * returns the length. */
int sl_bpe_byte_char(unsigned char c, char *out);

#endif
