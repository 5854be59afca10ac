/* chat_jsonl.h — one line of a `chat --replay` file: {"turns": ["...", ...]}
 * plus any other keys (MT-Bench's question_id, category). Pure parsing, no
 * printing and no exits, so fuzz/fuzz_replay.c runs exactly this code. */
#ifndef SL_CHAT_JSONL_H
#define SL_CHAT_JSONL_H

#include <jansson.h>
#include <stddef.h>

typedef enum {
    CHAT_JSONL_TURNS = 0,     /* *root (caller decrefs) holds *turns, an array of strings */
    CHAT_JSONL_BLANK = 1,     /* only spaces, tabs and line endings: not a turn */
    CHAT_JSONL_MALFORMED = 2, /* why says what, after "FILE:LINE" (e.g. ":7: malformed JSON: ...") */
} chat_jsonl_kind;

/* Parses line[0..len) (its '\n'/'\r' ending is ignored). */
chat_jsonl_kind chat_jsonl_parse(const char *line, size_t len, json_t **root, json_t **turns, char *why,
                                 size_t why_cap);

#endif
