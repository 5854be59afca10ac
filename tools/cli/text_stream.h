/* text_stream.h — token ids of one or more text files, read and tokenized
 * incrementally so that texts of any length stream in constant memory
 * (ppl over millions of tokens, attn over a prefix).
 *
 * The logical text is the files concatenated byte for byte, the whole list
 * repeated `repeat` times, with BOS once in front when asked. It is read in
 * blocks; every block is checked to be UTF-8 text (no NUL) and an error names
 * the file and the byte offset. Pending text is cut into segments at a line
 * break where the cut cannot change the tokenization:
 *  - when no ordinary vocabulary token spans a '\n' or '\r' together with
 *    other bytes (SentencePiece vocabularies), before any newline run;
 *  - otherwise (byte-level BPE, whose pre-tokenizers glue punctuation and
 *    newlines) only before a newline run that follows an ASCII letter or
 *    digit, where every pre-tokenizer regex we know ends a chunk anyway.
 * Each later segment starts with that newline, so what the tokenizer puts
 * at the start of a text (SentencePiece's U+2581 prefix) is known from
 * tokenizing the newline alone and stripped. A segment that grows past 16
 * blocks without a safe cut is cut at the last newline or character boundary
 * instead; n_loose counts those (0 on ordinary text).
 *
 * Errors (unreadable, empty, non-UTF-8 input) end the program via cli_die:
 * this is tool code. */
#ifndef SL_TEXT_STREAM_H
#define SL_TEXT_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "streamllm.h"
#include "tokenizer/tokenizer.h"

#define TEXT_STREAM_DEFAULT_CHUNK (64u << 10)
#define TEXT_STREAM_MAX_PREFIX 8

typedef struct {
    const sl_tokenizer *tok;
    const char *const *paths; /* (n_paths) not owned */
    int n_paths;
    int64_t repeat;          /* passes over the list, >= 1 */
    int path_i;              /* file being read */
    int64_t rep_i;           /* pass being read */
    FILE *fp;                /* NULL between files */
    uint64_t file_off;       /* bytes of the current file read so far */
    size_t chunk;            /* bytes per read and target segment size */

    char *pend;              /* (cap_pend) validated text not yet tokenized */
    size_t n_pend, cap_pend;
    size_t n_held;           /* bytes after n_pend: a character the last read cut short */
    bool input_done;

    int32_t *ids;            /* tokens of the current segment (malloc'd by the tokenizer) */
    size_t n_ids, i_ids;     /* count, next to hand out */
    bool add_bos, first_segment;

    bool nl_barrier;         /* no ordinary token contains '\n' or '\r' plus other bytes */
    int32_t pfx[2][TEXT_STREAM_MAX_PREFIX]; /* start-of-text tokens before '\n' [0] and '\r' [1] */
    int n_pfx[2];            /* -1: unknown, segments starting with that byte are kept as is */

    uint64_t n_tokens;       /* tokens handed out so far */
    uint64_t n_bytes;        /* text bytes tokenized so far */
    uint64_t n_loose;        /* cuts that were not at a safe line break */
} text_stream;

/* Dies unless every file can be opened and is a non-empty regular file (or
 * a pipe). Cheap: call it before loading a model. */
void text_stream_check_files(const char *const *paths, int n_paths);

/* Checks the files, probes the tokenizer (see above) and prepares to read.
 * chunk 0 means TEXT_STREAM_DEFAULT_CHUNK. */
void text_stream_init(text_stream *ts, const sl_tokenizer *tok, const char *const *paths, int n_paths,
                      int64_t repeat, bool add_bos, size_t chunk);
/* The next token id; false at the end of the text. */
bool text_stream_next(text_stream *ts, int32_t *tok);
/* Safe on a zeroed struct and twice. */
void text_stream_free(text_stream *ts);

#endif
