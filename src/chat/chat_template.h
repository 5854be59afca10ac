/* chat_template.h — chat prompt formats, rendered turn by turn.
 *
 * A streaming chat never re-renders the whole conversation: the stream is
 *     start(system) | user(1) reply(1) end | user(2) reply(2) end | ...
 * where reply(i) is exactly the tokens the model generated. Each part below
 * renders one piece, so the concatenation equals the family's documented
 * format for the whole conversation (the tests check the full text).
 *
 * A rendered piece is a sequence of segments: plain text, template markers
 * (such as "<|im_start|>"), and explicit token ids (BOS/EOS). A marker becomes
 * one token when the vocabulary holds it as a control or user-defined token,
 * and plain text otherwise (so any template runs on any vocabulary). User
 * text is never scanned for special tokens: typing "<|im_end|>" cannot close
 * a turn. Adjacent text is tokenized as one run, split only at special
 * tokens, like llama.cpp does when it parses special tokens.
 *
 * Formats (S = system prompt, U = user text, A = the model's reply, verbatim;
 * [BOS]/[EOS] = the model's token ids, omitted when the model has none;
 * <|x|> = a marker). "first" is the first user turn after the system part.
 *
 *   llama2     Meta Llama-2-chat with the system in <<SYS>> and BOS before every
 *              [INST] (llama.cpp's "llama2-sys-bos"):
 *              [BOS][INST] <<SYS>>\nS\n<</SYS>>\n\nU [/INST]A[EOS][BOS][INST] U [/INST]
 *              (no system: [BOS][INST] U [/INST]...). S and U are stripped.
 *   llama3     [BOS]<|start_header_id|>system<|end_header_id|>\n\nS<|eot_id|>
 *              <|start_header_id|>user<|end_header_id|>\n\nU<|eot_id|>
 *              <|start_header_id|>assistant<|end_header_id|>\n\nA<|eot_id|>  (S, U trimmed)
 *   chatml     <|im_start|>system\nS<|im_end|>\n<|im_start|>user\nU<|im_end|>\n
 *              <|im_start|>assistant\nA<|im_end|>\n   (Qwen, SmolLM, ...; BOS only
 *              when the vocabulary asks for one)
 *   mistral    Mistral-7B-Instruct v0.1/v0.2: [BOS][INST] U [/INST]A[EOS][INST] U [/INST]
 *              It has no system role: S goes into the first user turn as
 *              "[INST] S\n\nU [/INST]" (llama.cpp's convention).
 *   mistral-v7 [BOS][SYSTEM_PROMPT] S[/SYSTEM_PROMPT][INST] U[/INST]A[EOS]
 *   zephyr     <|system|>\nS[EOS]\n<|user|>\nU[EOS]\n<|assistant|>\nA[EOS]\n
 *   gemma      [BOS]<start_of_turn>user\nS\n\nU<end_of_turn>\n<start_of_turn>model\n
 *              A<end_of_turn>\n  (no system role: S opens the first user turn;
 *              S, U trimmed)
 *   vicuna     the StreamingLLM demo (run_streaming_llama.py): [BOS]S\n\n then
 *              "USER: U\n\nASSISTANT: " A [EOS] per turn ([EOS] is Vicuna v1.1's
 *              "</s>" separator; the demo re-sent BOS instead).
 *
 * Families that have no system role (mistral, gemma) or that put it inside
 * the first [INST] (llama2) end the system part in the middle of the first
 * user block. Pinned, it stays in the cache when that first turn is evicted,
 * followed directly by the oldest turn still held; the cache still starts at
 * a turn boundary and never inside a marker.
 *
 * The default when a model has no template, or one we do not recognise, is
 * vicuna: plain text, so it works with any vocabulary, and it is the format
 * of the paper's own chat demo. */
#ifndef SL_CHAT_TEMPLATE_H
#define SL_CHAT_TEMPLATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "streamllm.h"
#include "tokenizer/tokenizer.h"

typedef enum {
    SL_CHAT_LLAMA2 = 0,
    SL_CHAT_LLAMA3,
    SL_CHAT_CHATML,
    SL_CHAT_MISTRAL,
    SL_CHAT_MISTRAL_V7,
    SL_CHAT_ZEPHYR,
    SL_CHAT_GEMMA,
    SL_CHAT_VICUNA,
    SL_CHAT_FAMILY_COUNT
} sl_chat_family;

#define SL_CHAT_DEFAULT_FAMILY SL_CHAT_VICUNA

/* "llama2", "chatml", ... Never NULL. */
const char *sl_chat_family_name(sl_chat_family f);
/* The family of a name (as above, case-insensitive; also "qwen" -> chatml,
 * "llama-2", "llama-3"); -1 when unknown. */
int sl_chat_family_from_name(const char *name);
/* Comma-separated list of the names, for help and error messages. */
const char *sl_chat_family_list(void);

/* How a model's template was resolved. */
typedef enum {
    SL_CHAT_DETECTED = 0, /* tokenizer.chat_template matched a family */
    SL_CHAT_NO_TEMPLATE,  /* the model has no tokenizer.chat_template: default used */
    SL_CHAT_UNKNOWN,      /* it has one we do not recognise: default used */
} sl_chat_detect_result;

/* Detects the family from the text of a Jinja chat template by the markers
 * it contains (the same cues llama.cpp uses). A template that is exactly a
 * family name also matches. Returns -1 when nothing matches. */
int sl_chat_detect(const char *tmpl, size_t len);

/* ---- rendered pieces ------------------------------------------------------- */

typedef enum { SL_SEG_TEXT = 0, SL_SEG_MARK = 1, SL_SEG_TOKEN = 2 } sl_chat_seg_kind;

typedef struct {
    sl_chat_seg_kind kind;
    int32_t id;      /* SL_SEG_TOKEN: the token id */
    size_t off, len; /* bytes in the sequence's text (for a token: its display text) */
} sl_chat_seg;

/* A growable rendering. Free with sl_chat_seq_free (safe on zeroed/NULL). */
typedef struct {
    char *text;      /* (n_text + 1) bytes, NUL-terminated */
    size_t n_text, cap_text;
    sl_chat_seg *segs;
    size_t n_segs, cap_segs;
    bool oom;        /* an append failed; rendering functions report SL_ERR_NOMEM */
} sl_chat_seq;

void sl_chat_seq_clear(sl_chat_seq *q);
void sl_chat_seq_free(sl_chat_seq *q);

/* ---- a template bound to a vocabulary ------------------------------------- */

typedef struct {
    sl_chat_family family;
    int32_t bos, eos;   /* -1 when the model has none */
    bool add_bos;       /* the stream starts with BOS (tokenizer.ggml.add_bos_token) */
    char bos_text[32], eos_text[32]; /* display text of BOS/EOS ("<s>", "</s>") */
} sl_chat_template;

/* Binds family f to tokenizer t (BOS/EOS ids, add_bos, their texts). */
void sl_chat_template_init(sl_chat_template *ct, sl_chat_family f, const sl_tokenizer *t);

/* The stream start: BOS (when the family or vocabulary wants one) and the
 * system part (nothing when sys is empty). Appends to q. */
sl_status sl_chat_render_start(const sl_chat_template *ct, const char *sys, size_t sys_len,
                               sl_chat_seq *q, sl_error *err);
/* True when sl_chat_render_start renders a system part for sys (some
 * families trim it first, so blank text renders none). */
bool sl_chat_has_system(const sl_chat_template *ct, const char *sys, size_t len);
/* One user turn up to and including the assistant header the reply follows.
 * first: no user turn came before it since the start; has_system: the start
 * rendered a system part (llama2, mistral and gemma put S inside it). */
sl_status sl_chat_render_user(const sl_chat_template *ct, const char *user, size_t len,
                              bool first, bool has_system, sl_chat_seq *q, sl_error *err);
/* What follows a reply (the end-of-turn marker, EOS, a newline). */
sl_status sl_chat_render_reply_end(const sl_chat_template *ct, sl_chat_seq *q, sl_error *err);

/* A whole conversation, for tests and display: start, then for each i
 * user msgs[2i] and, when present, reply msgs[2i+1] plus its end. With an
 * odd n the last user turn ends with the assistant header (generation prompt).
 * Replies go in as given (trimmed for llama3 and gemma, whose templates trim
 * them): exactly what streaming produces when the model generates them. */
sl_status sl_chat_render_conversation(const sl_chat_template *ct, const char *sys,
                                      const char *const *msgs, size_t n, sl_chat_seq *q,
                                      sl_error *err);

/* Tokenizes q: markers the vocabulary holds as control/user-defined tokens
 * become those ids, other markers join the surrounding text; each text run is
 * encoded without BOS and without parsing special tokens. *ids is malloc'd
 * (caller frees), *n gets the count. */
sl_status sl_chat_seq_tokenize(const sl_chat_seq *q, const sl_tokenizer *t, int32_t **ids,
                               size_t *n, sl_error *err);

/* The token a marker resolves to in t, or -1 when it stays text. */
int32_t sl_chat_marker_token(const sl_tokenizer *t, const char *marker);

/* Token ids that end a reply besides the tokenizer's end-of-generation set:
 * the family's end-of-turn marker when the vocabulary has it. Writes up to
 * cap ids, returns the count. */
int sl_chat_stop_tokens(const sl_chat_template *ct, const sl_tokenizer *t, int32_t *out, int cap);

#endif
