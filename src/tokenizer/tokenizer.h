/* tokenizer.h — tokenizers built from GGUF metadata (tokenizer.ggml.*).
 *
 * model "llama": SentencePiece BPE driven by scores, byte fallback <0xXX>,
 *   the leading-space prefix (tokenizer.ggml.add_space_prefix, default true),
 *   U+2581 as the space marker.
 * model "gpt2": byte-level BPE with merges; the pre-tokenizer regex comes
 *   from tokenizer.ggml.pre (default/gpt-2, llama3/llama-bpe, qwen2, ...),
 *   run with PCRE2 for the Unicode classes.
 * Control/user-defined special tokens are matched in the text only when
 * parse_special is set.
 *
 * The tokenizer keeps pointers into the sl_gguf it was built from: the gguf
 * must outlive it. */
#ifndef SL_TOKENIZER_H
#define SL_TOKENIZER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "streamllm.h"
#include "gguf/gguf.h"

typedef enum { SL_TOK_SPM = 0, SL_TOK_BPE = 1 } sl_tok_kind;

/* tokenizer.ggml.token_type values (llama.cpp's). */
enum {
    SL_TOKEN_UNDEFINED = 0,
    SL_TOKEN_NORMAL = 1,
    SL_TOKEN_UNKNOWN = 2,
    SL_TOKEN_CONTROL = 3,
    SL_TOKEN_USER_DEFINED = 4,
    SL_TOKEN_UNUSED = 5,
    SL_TOKEN_BYTE = 6,
};

typedef struct sl_tokenizer sl_tokenizer;

/* Builds the tokenizer described by g's tokenizer.ggml.* keys.
 * Errors: SL_ERR_FORMAT (missing/inconsistent keys, message names the key),
 * SL_ERR_UNSUPPORTED (unknown tokenizer.ggml.model or pre). */
sl_status sl_tokenizer_load(sl_tokenizer **out, const sl_gguf *g, sl_error *err);
void sl_tokenizer_free(sl_tokenizer *t);

int sl_tokenizer_n_vocab(const sl_tokenizer *t);
sl_tok_kind sl_tokenizer_kind(const sl_tokenizer *t);
int32_t sl_tokenizer_bos(const sl_tokenizer *t); /* -1 when none */
int32_t sl_tokenizer_eos(const sl_tokenizer *t); /* -1 when none */
bool sl_tokenizer_add_bos(const sl_tokenizer *t); /* tokenizer.ggml.add_bos_token or model default */
/* True for EOS, EOT (<|eot_id|>, <|im_end|>, <|endoftext|> ...): generation stops. */
bool sl_tokenizer_is_eog(const sl_tokenizer *t, int32_t id);
int sl_tokenizer_token_type(const sl_tokenizer *t, int32_t id);
/* Raw vocabulary text of a token (as stored, e.g. "▁the"), NUL-terminated copy owned by t. */
const char *sl_tokenizer_token_text(const sl_tokenizer *t, int32_t id);
/* Looks a token up by exact vocabulary text; -1 when absent. */
int32_t sl_tokenizer_find(const sl_tokenizer *t, const char *text);

/* Encodes text (len bytes, need not be NUL-terminated) into *ids, a malloc'd
 * array the caller frees; *n gets the count. Invalid UTF-8 input is an
 * SL_ERR_INVALID_ARG error naming the byte offset. */
sl_status sl_tokenizer_encode(const sl_tokenizer *t, const char *text, size_t len, bool add_bos,
                              bool parse_special, int32_t **ids, size_t *n, sl_error *err);

/* The bytes a token decodes to: byte tokens give their byte, SPM's U+2581
 * becomes ' ', GPT-2 byte-level chars map back to bytes; control tokens give
 * "" (len 0). Owned by t. The bytes of one token may be part of a UTF-8
 * character; use sl_utf8_stream to print. */
const char *sl_tokenizer_piece(const sl_tokenizer *t, int32_t id, size_t *len);

/* Emits only complete UTF-8 characters as token pieces arrive. */
typedef struct {
    unsigned char pending[4];
    int n_pending;
} sl_utf8_stream;
/* Appends piece bytes; writes the complete characters to out (capacity at
 * least SL_UTF8_STREAM_CAP(len)) and returns how many bytes were written.
 * Each maximal invalid subsequence becomes U+FFFD (3 bytes), so a piece of
 * invalid bytes can triple; valid text never needs more than len + 3. */
#define SL_UTF8_STREAM_CAP(len) (3 * (size_t)(len) + 4)
size_t sl_utf8_stream_push(sl_utf8_stream *s, const char *piece, size_t len, char *out);
/* Flushes what is left (an incomplete tail becomes U+FFFD). */
size_t sl_utf8_stream_flush(sl_utf8_stream *s, char *out);

/* Validates UTF-8; returns the offset of the first bad byte or (size_t)-1. */
size_t sl_utf8_validate(const char *s, size_t len);

#endif
