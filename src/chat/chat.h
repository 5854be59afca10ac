/* chat.h — an endless multi-round conversation in constant memory.
 *
 * One sl_chat owns a session (the streaming cache), a sampler and the turn
 * bookkeeping. The stream is the system part followed by turns; a turn is the
 * rendered user message, the reply as generated, and the reply's end marker
 * (chat_template.h). Memory is fixed at creation: the cache, the logits row
 * and a ring of turn start positions; nothing grows with the number of turns.
 *
 * Pinning. With keep_system (the default) the session is created with
 * n_keep = the system part's tokens beyond the sinks, so the cache pins
 * P = max(sinks, system tokens) from position 0 and never evicts them. When
 * the system part is shorter than the sinks (or empty) the first turn's
 * opening tokens fill the remaining sink slots and stay there as attention
 * sinks, as in the paper. Without keep_system the system part is ordinary
 * window content, evicted whole at the start of the first turn.
 *
 * Eviction. Before each user turn the chat makes room for the rendered turn
 * plus the reply cap plus the reply's end marker, as run_streaming_llama.py
 * does, but at a turn boundary: it calls sl_session_evict_before with the
 * start of the oldest turn that can stay, so evicted text goes whole and the
 * window never starts inside a turn's template markers. When one turn alone
 * needs more than the window, every earlier turn is evicted and that turn
 * streams through: the ring then evicts token by token inside it (the window
 * starts mid-turn until the next turn boundary). The window and dense
 * policies work the same way (dense refuses once its capacity is full);
 * recompute keeps its own last-W window and ignores turn boundaries. */
#ifndef SL_CHAT_H
#define SL_CHAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "streamllm.h"
#include "chat/chat_template.h"

typedef struct {
    sl_chat_family family;
    bool keep_system;          /* pin the system part (default true) */
    bool ignore_eos;           /* keep generating past end-of-turn tokens (tests) */
    sl_session_params session; /* n_keep is computed from the system prompt */
    sl_sampler_params sampler;
    /* Called while a turn's prompt is fed, after each slice of it, with the
     * tokens fed so far and the turn's total (done == total last). NULL: not
     * called. The library prints nothing itself: a tool draws the progress. */
    void (*progress)(void *user, size_t done, size_t total);
    void *progress_user;
} sl_chat_params;

/* Defaults: vicuna, keep_system, the session and sampler defaults. */
void sl_chat_params_default(sl_chat_params *p);

/* Picks the family for model m: tokenizer.chat_template when it matches one,
 * else SL_CHAT_DEFAULT_FAMILY. *how says which (for the caller's warning). */
sl_chat_family sl_chat_family_for_model(const sl_model *m, sl_chat_detect_result *how);

typedef struct sl_chat sl_chat;

/* Creates a conversation over m (which must outlive it) and feeds the
 * system part. system may be NULL or "". Errors: those of session creation,
 * tokenization (invalid UTF-8 names the byte) and feeding. */
sl_status sl_chat_create(sl_chat **out, const sl_model *m, const sl_chat_params *p,
                         const char *system, sl_error *err);
void sl_chat_free(sl_chat *c);

/* Starts a new conversation with a new system prompt (NULL keeps the
 * current one): the session is re-created, because the pinned prefix
 * changes size, and the system part is fed. The sampler is re-seeded.
 * On error the old conversation is kept. */
sl_status sl_chat_reset(sl_chat *c, const char *system, sl_error *err);

/* Receives the reply as it is produced, in complete UTF-8 characters. It is
 * also called once with len 0 before the first token, as a poll. Returning
 * false stops the reply (the text so far stays in the conversation). */
typedef bool (*sl_chat_emit_fn)(void *user, const char *text, size_t len);

typedef struct {
    size_t prompt_tokens;    /* the rendered user turn */
    size_t reply_tokens;     /* generated (and fed) */
    size_t end_tokens;       /* the reply's end marker */
    double prefill_s, decode_s;
    double tok_per_s;        /* reply tokens / decode seconds (0 with no reply) */
    const char *stop;        /* "eos", "length" or "interrupted" */
    bool overlong;           /* the turn alone needed more than the window */
    uint64_t evicted_before; /* the stream position evicted up to before this turn; 0: none */
    size_t cache_tokens;     /* held after the turn */
    uint64_t stream_pos;     /* tokens fed since the start, after the turn */
} sl_chat_turn_stats;

/* One round: renders the user message, evicts whole turns to make room for
 * it plus n_reply_max reply tokens (n_reply_max < 0: no cap and no reserve,
 * the reply streams through the ring), feeds it, generates the reply through
 * emit, then feeds the reply's end marker. st may be NULL. */
sl_status sl_chat_turn(sl_chat *c, const char *user, size_t len, long long n_reply_max,
                       sl_chat_emit_fn emit, void *emit_user, sl_chat_turn_stats *st,
                       sl_error *err);

typedef struct {
    sl_chat_family family;
    const char *system;        /* owned by the chat */
    bool keep_system;
    uint64_t turns;            /* since the last reset */
    uint64_t stream_pos;       /* tokens streamed through the cache */
    uint64_t generated;        /* reply tokens since the last reset */
    double decode_s;           /* time spent generating them */
    size_t system_tokens;      /* the rendered system part */
    size_t cache_tokens;       /* held now */
    size_t cache_capacity;     /* P + W */
    int n_sink, n_pinned, n_window;
    size_t kv_bytes;           /* the cache's allocation */
    sl_policy policy;
} sl_chat_info;

void sl_chat_get_info(const sl_chat *c, sl_chat_info *out);

/* Saves the conversation: the session state file (session.h) with the
 * chat's bookkeeping (family, system prompt, turn starts, sampler settings)
 * as its application blob. */
sl_status sl_chat_save(const sl_chat *c, const char *path, sl_error *err);

/* Replaces the conversation with a saved one. The file carries the template,
 * system prompt, cache geometry and sampler settings, which replace c's;
 * the thread count and batch size stay c's. Errors: those of
 * sl_session_state_open (missing, corrupt, foreign file) and SL_ERR_FORMAT
 * for a bad chat blob. On error c is unchanged. */
sl_status sl_chat_load(sl_chat *c, const char *path, sl_error *err);

/* The session and sampler, for tests and tools that inspect them. */
struct sl_session *sl_chat_session(sl_chat *c);

#endif
