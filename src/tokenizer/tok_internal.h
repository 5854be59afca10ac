/* tok_internal.h — what the tokenizer's files share: the sl_tokenizer
 * struct, the string hash tables, and the SPM/BPE entry points.
 *
 * Letters: V = vocabulary size, M = number of BPE merges, n = text bytes. */
#ifndef SL_TOK_INTERNAL_H
#define SL_TOK_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tokenizer/tokenizer.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

/* ---- a growable list of token ids ------------------------------------------ */

typedef struct {
    int32_t *ids;
    size_t n, cap;
    bool oom; /* set once an append failed; checked at the end of encode */
} tok_list;

void tok_list_push(tok_list *l, int32_t id);

/* ---- open-addressing hash of byte strings -> int32 --------------------------- */

static inline uint64_t tok_hash(const void *p, size_t n, uint64_t seed) {
    /* FNV-1a: token strings are short, so a simple byte loop is enough. */
    const unsigned char *s = p;
    uint64_t h = 0xcbf29ce484222325ull ^ seed;
    for (size_t i = 0; i < n; i++) h = (h ^ s[i]) * 0x100000001b3ull;
    return h ^ (h >> 29);
}

/* A hash slot: the id plus 32 bits of the hash, so most mismatches are
 * rejected without touching the token's text (a cache miss). */
typedef struct {
    int32_t id;
    uint32_t tag;
} tok_slot;

/* ---- the tokenizer -------------------------------------------------------------- */

#define TOK_FLAG_EOG 1u
#define TOK_MAX_REGEX 4

struct sl_tokenizer {
    sl_tok_kind kind;
    int n_vocab;
    const sl_gguf_str *tokens; /* (V) views into the gguf's string table */
    float *scores;             /* (V) SPM merge priorities; 0 when the file has none */
    uint8_t *types;            /* (V) SL_TOKEN_* */
    uint8_t *flags;            /* (V) TOK_FLAG_* */
    char *text_buf;            /* every token's text, each NUL-terminated */
    size_t *text_off;          /* (V) offsets into text_buf */
    char *piece_buf;           /* decoded pieces, concatenated */
    size_t *piece_off;         /* (V + 1) offsets into piece_buf; piece i is [off[i], off[i+1]) */

    tok_slot *vocab_slots; /* (vocab_cap) text -> id, id -1 = empty */
    size_t vocab_cap;      /* power of two >= 2V */

    int32_t bos, eos, eot, unk; /* -1 when none */
    bool add_bos;
    bool add_space_prefix; /* SPM: a leading U+2581 on the first text fragment */

    /* special tokens matched inside text, longest first (ties: lower id) */
    int32_t *specials; /* (n_specials) */
    int n_specials;
    uint8_t special_first[256]; /* bit0: first byte of a CONTROL/UNKNOWN special, bit1: USER_DEFINED */
    int *special_lens;          /* distinct byte lengths of specials, descending */
    int n_special_lens;

    /* SPM */
    int32_t byte_tok[256];  /* byte -> <0xXX> token (or the 1-byte token), -1 when none */
    bool spm_barrier[128];  /* ASCII chars inside no multi-char token: SPM splits there */

    /* BPE */
    char pre[64];                       /* tokenizer.ggml.pre, for messages */
    const sl_gguf_str *merges;          /* (M) "first second" views into the gguf */
    uint32_t *merge_split;              /* (M) byte length of "first" */
    int32_t *merge_slots;               /* (merge_cap) merge ranks, -1 = empty */
    size_t merge_cap;
    bool ignore_merges;                 /* llama3: a chunk that is a whole token is kept */
    pcre2_code *re[TOK_MAX_REGEX];      /* applied in turn, each inside the previous chunks */
    int n_re;
};

/* Vocabulary lookup by exact bytes; -1 when absent. */
int32_t tok_vocab_find(const sl_tokenizer *t, const char *s, size_t n);

/* Appends the SPM tokens of text (already U+2581-escaped, valid UTF-8). */
sl_status tok_spm_encode(const sl_tokenizer *t, const char *text, size_t n, tok_list *out,
                         sl_error *err);

/* BPE: sets up t's merges table and regexes from the gguf (after the vocab). */
sl_status tok_bpe_init(sl_tokenizer *t, const sl_gguf *g, sl_error *err);
void tok_bpe_free(sl_tokenizer *t);
/* Per-call state of a BPE encode (regex match data, chunk cache). */
typedef struct tok_bpe_ctx tok_bpe_ctx;
sl_status tok_bpe_ctx_create(tok_bpe_ctx **out, const sl_tokenizer *t, sl_error *err);
void tok_bpe_ctx_free(tok_bpe_ctx *c);
/* Appends the BPE tokens of one text fragment (valid UTF-8). */
sl_status tok_bpe_encode(tok_bpe_ctx *c, const char *text, size_t n, tok_list *out,
                         sl_error *err);
/* The GPT-2 byte-level decoding of one token's text into out (capacity n);
 * returns the byte count. */
size_t tok_bpe_decode_text(const char *s, size_t n, char *out);

/* UTF-8: length of the valid character at s (1..4), 0 when invalid or cut. */
int tok_utf8_char_len(const unsigned char *s, size_t n);

#endif
