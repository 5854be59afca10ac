/* chat_template.c — detection of a chat format from a model's Jinja
 * template, and rendering of each part of a streaming conversation
 * (formats and sources in chat_template.h). */
#include "chat/chat_template.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/error.h"

static const char *const FAMILY_NAMES[SL_CHAT_FAMILY_COUNT] = {
    [SL_CHAT_LLAMA2] = "llama2",   [SL_CHAT_LLAMA3] = "llama3",
    [SL_CHAT_CHATML] = "chatml",   [SL_CHAT_MISTRAL] = "mistral",
    [SL_CHAT_MISTRAL_V7] = "mistral-v7", [SL_CHAT_ZEPHYR] = "zephyr",
    [SL_CHAT_GEMMA] = "gemma",     [SL_CHAT_VICUNA] = "vicuna",
};

const char *sl_chat_family_name(sl_chat_family f) {
    return (unsigned)f < SL_CHAT_FAMILY_COUNT ? FAMILY_NAMES[f] : "?";
}

const char *sl_chat_family_list(void) {
    return "llama2, llama3, chatml, mistral, mistral-v7, zephyr, gemma, vicuna";
}

int sl_chat_family_from_name(const char *name) {
    if (!name) return -1;
    for (int f = 0; f < SL_CHAT_FAMILY_COUNT; f++)
        if (!strcasecmp(name, FAMILY_NAMES[f])) return f;
    static const struct { const char *alias; sl_chat_family f; } ALIASES[] = {
        {"llama-2", SL_CHAT_LLAMA2}, {"llama-3", SL_CHAT_LLAMA3}, {"qwen", SL_CHAT_CHATML},
        {"qwen2", SL_CHAT_CHATML},   {"smollm", SL_CHAT_CHATML},  {"mistral-v1", SL_CHAT_MISTRAL},
        {"gemma2", SL_CHAT_GEMMA},   {"vicuna-1.1", SL_CHAT_VICUNA},
    };
    for (size_t i = 0; i < sizeof ALIASES / sizeof ALIASES[0]; i++)
        if (!strcasecmp(name, ALIASES[i].alias)) return (int)ALIASES[i].f;
    return -1;
}

static bool contains(const char *hay, size_t len, const char *needle) {
    return memmem(hay, len, needle, strlen(needle)) != NULL;
}

int sl_chat_detect(const char *t, size_t len) {
    if (!t) return -1;
    /* A bare family name (as llama.cpp accepts in place of a template). */
    if (len < 32) {
        char name[32];
        memcpy(name, t, len);
        name[len] = '\0';
        int f = sl_chat_family_from_name(name);
        if (f >= 0) return f;
    }
    /* Order matters: the cues are llama.cpp's, checked most specific first. */
    if (contains(t, len, "<|im_start|>")) return SL_CHAT_CHATML;
    if (contains(t, len, "[INST]")) {
        if (contains(t, len, "[SYSTEM_PROMPT]")) return SL_CHAT_MISTRAL_V7;
        if (contains(t, len, "<<SYS>>")) return SL_CHAT_LLAMA2;
        return SL_CHAT_MISTRAL;
    }
    if (contains(t, len, "<|start_header_id|>") && contains(t, len, "<|end_header_id|>"))
        return SL_CHAT_LLAMA3;
    if (contains(t, len, "<start_of_turn>")) return SL_CHAT_GEMMA;
    /* Phi-3 also writes <|user|>/<|assistant|> but closes turns with <|end|>. */
    if (contains(t, len, "<|user|>") && contains(t, len, "<|assistant|>") &&
        !contains(t, len, "<|end|>"))
        return SL_CHAT_ZEPHYR;
    if (contains(t, len, "USER:") && contains(t, len, "ASSISTANT:")) return SL_CHAT_VICUNA;
    return -1;
}

/* ---- sequences ---------------------------------------------------------------- */

void sl_chat_seq_clear(sl_chat_seq *q) {
    q->n_text = 0;
    q->n_segs = 0;
    q->oom = false;
    if (q->text) q->text[0] = '\0';
}

void sl_chat_seq_free(sl_chat_seq *q) {
    if (!q) return;
    free(q->text);
    free(q->segs);
    memset(q, 0, sizeof *q);
}

static bool seq_reserve(sl_chat_seq *q, size_t n_text) {
    if (q->oom) return false;
    if (q->n_text + n_text + 1 > q->cap_text) {
        size_t cap = q->cap_text ? q->cap_text : 256;
        while (cap < q->n_text + n_text + 1) cap *= 2;
        char *t = realloc(q->text, cap);
        if (!t) return !(q->oom = true);
        q->text = t;
        q->cap_text = cap;
    }
    if (q->n_segs + 1 > q->cap_segs) {
        size_t cap = q->cap_segs ? 2 * q->cap_segs : 16;
        sl_chat_seg *s = realloc(q->segs, cap * sizeof *s);
        if (!s) return !(q->oom = true);
        q->segs = s;
        q->cap_segs = cap;
    }
    return true;
}

static void seq_push(sl_chat_seq *q, sl_chat_seg_kind kind, int32_t id, const char *s, size_t n) {
    if (!seq_reserve(q, n)) return;
    /* Consecutive text joins one segment, so a run is tokenized whole. */
    if (kind == SL_SEG_TEXT && q->n_segs > 0 && q->segs[q->n_segs - 1].kind == SL_SEG_TEXT) {
        q->segs[q->n_segs - 1].len += n;
    } else {
        q->segs[q->n_segs++] = (sl_chat_seg){kind, id, q->n_text, n};
    }
    memcpy(q->text + q->n_text, s, n);
    q->n_text += n;
    q->text[q->n_text] = '\0';
}

static void text(sl_chat_seq *q, const char *s) { seq_push(q, SL_SEG_TEXT, -1, s, strlen(s)); }
static void text_n(sl_chat_seq *q, const char *s, size_t n) {
    if (n) seq_push(q, SL_SEG_TEXT, -1, s, n);
}
static void mark(sl_chat_seq *q, const char *m) { seq_push(q, SL_SEG_MARK, -1, m, strlen(m)); }
static void bos(const sl_chat_template *ct, sl_chat_seq *q) {
    if (ct->bos >= 0) seq_push(q, SL_SEG_TOKEN, ct->bos, ct->bos_text, strlen(ct->bos_text));
}
static void eos(const sl_chat_template *ct, sl_chat_seq *q) {
    if (ct->eos >= 0) seq_push(q, SL_SEG_TOKEN, ct->eos, ct->eos_text, strlen(ct->eos_text));
}

/* Python's str.strip() on ASCII whitespace, as the templates apply it. */
static void trim(const char **s, size_t *n) {
    static const char WS[] = " \t\n\r\v\f";
    while (*n > 0 && strchr(WS, (*s)[0])) (*s)++, (*n)--;
    while (*n > 0 && strchr(WS, (*s)[*n - 1])) (*n)--;
}

static sl_status done(const sl_chat_seq *q, sl_error *err) {
    return q->oom ? sl_fail(err, SL_ERR_NOMEM, "chat template: out of memory") : SL_OK;
}

/* ---- binding and rendering ----------------------------------------------------- */

static void token_display(const sl_tokenizer *t, int32_t id, const char *dflt, char *out, size_t cap) {
    const char *s = id >= 0 && t ? sl_tokenizer_token_text(t, id) : NULL;
    snprintf(out, cap, "%s", s && *s ? s : dflt);
}

void sl_chat_template_init(sl_chat_template *ct, sl_chat_family f, const sl_tokenizer *t) {
    memset(ct, 0, sizeof *ct);
    ct->family = f;
    ct->bos = t ? sl_tokenizer_bos(t) : -1;
    ct->eos = t ? sl_tokenizer_eos(t) : -1;
    ct->add_bos = t ? sl_tokenizer_add_bos(t) : false;
    token_display(t, ct->bos, "<s>", ct->bos_text, sizeof ct->bos_text);
    token_display(t, ct->eos, "</s>", ct->eos_text, sizeof ct->eos_text);
}

/* Families whose documented format starts with BOS whatever the vocabulary
 * says; the others (chatml, zephyr) follow tokenizer.ggml.add_bos_token. */
static bool family_starts_with_bos(sl_chat_family f) {
    return f != SL_CHAT_CHATML && f != SL_CHAT_ZEPHYR;
}

static bool trims(sl_chat_family f) {
    return f == SL_CHAT_LLAMA2 || f == SL_CHAT_LLAMA3 || f == SL_CHAT_GEMMA;
}

bool sl_chat_has_system(const sl_chat_template *ct, const char *sys, size_t n) {
    if (!sys) return false;
    if (trims(ct->family)) trim(&sys, &n);
    return n > 0;
}

sl_status sl_chat_render_start(const sl_chat_template *ct, const char *sys, size_t n,
                               sl_chat_seq *q, sl_error *err) {
    if (family_starts_with_bos(ct->family) || ct->add_bos) bos(ct, q);
    if (!sys) n = 0;
    sl_chat_family f = ct->family;
    if (trims(f)) trim(&sys, &n);
    if (n == 0) return done(q, err);
    switch (f) {
    case SL_CHAT_LLAMA2:
        mark(q, "[INST]");
        text(q, " <<SYS>>\n");
        text_n(q, sys, n);
        text(q, "\n<</SYS>>\n\n");
        break;
    case SL_CHAT_LLAMA3:
        mark(q, "<|start_header_id|>");
        text(q, "system");
        mark(q, "<|end_header_id|>");
        text(q, "\n\n");
        text_n(q, sys, n);
        mark(q, "<|eot_id|>");
        break;
    case SL_CHAT_CHATML:
        mark(q, "<|im_start|>");
        text(q, "system\n");
        text_n(q, sys, n);
        mark(q, "<|im_end|>");
        text(q, "\n");
        break;
    case SL_CHAT_MISTRAL:
        mark(q, "[INST]");
        text(q, " ");
        text_n(q, sys, n);
        text(q, "\n\n");
        break;
    case SL_CHAT_MISTRAL_V7:
        mark(q, "[SYSTEM_PROMPT]");
        text(q, " ");
        text_n(q, sys, n);
        mark(q, "[/SYSTEM_PROMPT]");
        break;
    case SL_CHAT_ZEPHYR:
        mark(q, "<|system|>");
        text(q, "\n");
        text_n(q, sys, n);
        eos(ct, q);
        text(q, "\n");
        break;
    case SL_CHAT_GEMMA:
        mark(q, "<start_of_turn>");
        text(q, "user\n");
        text_n(q, sys, n);
        text(q, "\n\n");
        break;
    case SL_CHAT_VICUNA:
    default:
        text_n(q, sys, n);
        text(q, "\n\n");
        break;
    }
    return done(q, err);
}

sl_status sl_chat_render_user(const sl_chat_template *ct, const char *u, size_t n, bool first,
                              bool has_system, sl_chat_seq *q, sl_error *err) {
    sl_chat_family f = ct->family;
    if (!u) n = 0;
    if (trims(f)) trim(&u, &n);
    /* llama2, mistral and gemma opened the first user block in the system part. */
    bool continues = first && has_system;
    switch (f) {
    case SL_CHAT_LLAMA2:
        if (!continues) {
            if (!first) bos(ct, q); /* BOS before every later [INST] */
            mark(q, "[INST]");
            text(q, " ");
        }
        text_n(q, u, n);
        text(q, " ");
        mark(q, "[/INST]");
        break;
    case SL_CHAT_LLAMA3:
        mark(q, "<|start_header_id|>");
        text(q, "user");
        mark(q, "<|end_header_id|>");
        text(q, "\n\n");
        text_n(q, u, n);
        mark(q, "<|eot_id|>");
        mark(q, "<|start_header_id|>");
        text(q, "assistant");
        mark(q, "<|end_header_id|>");
        text(q, "\n\n");
        break;
    case SL_CHAT_CHATML:
        mark(q, "<|im_start|>");
        text(q, "user\n");
        text_n(q, u, n);
        mark(q, "<|im_end|>");
        text(q, "\n");
        mark(q, "<|im_start|>");
        text(q, "assistant\n");
        break;
    case SL_CHAT_MISTRAL:
        if (!continues) {
            mark(q, "[INST]");
            text(q, " ");
        }
        text_n(q, u, n);
        text(q, " ");
        mark(q, "[/INST]");
        break;
    case SL_CHAT_MISTRAL_V7:
        mark(q, "[INST]");
        text(q, " ");
        text_n(q, u, n);
        mark(q, "[/INST]");
        break;
    case SL_CHAT_ZEPHYR:
        mark(q, "<|user|>");
        text(q, "\n");
        text_n(q, u, n);
        eos(ct, q);
        text(q, "\n");
        mark(q, "<|assistant|>");
        text(q, "\n");
        break;
    case SL_CHAT_GEMMA:
        if (!continues) {
            mark(q, "<start_of_turn>");
            text(q, "user\n");
        }
        text_n(q, u, n);
        mark(q, "<end_of_turn>");
        text(q, "\n");
        mark(q, "<start_of_turn>");
        text(q, "model\n");
        break;
    case SL_CHAT_VICUNA:
    default:
        text(q, "USER: ");
        text_n(q, u, n);
        text(q, "\n\nASSISTANT: ");
        break;
    }
    return done(q, err);
}

sl_status sl_chat_render_reply_end(const sl_chat_template *ct, sl_chat_seq *q, sl_error *err) {
    switch (ct->family) {
    case SL_CHAT_LLAMA3: mark(q, "<|eot_id|>"); break;
    case SL_CHAT_CHATML: mark(q, "<|im_end|>"); text(q, "\n"); break;
    case SL_CHAT_ZEPHYR: eos(ct, q); text(q, "\n"); break;
    case SL_CHAT_GEMMA: mark(q, "<end_of_turn>"); text(q, "\n"); break;
    case SL_CHAT_LLAMA2:
    case SL_CHAT_MISTRAL:
    case SL_CHAT_MISTRAL_V7:
    case SL_CHAT_VICUNA:
    default: eos(ct, q); break;
    }
    return done(q, err);
}

sl_status sl_chat_render_conversation(const sl_chat_template *ct, const char *sys,
                                      const char *const *msgs, size_t n, sl_chat_seq *q,
                                      sl_error *err) {
    size_t sys_len = sys ? strlen(sys) : 0;
    sl_status st = sl_chat_render_start(ct, sys, sys_len, q, err);
    bool has_system = sl_chat_has_system(ct, sys, sys_len);
    for (size_t i = 0; st == SL_OK && i < n; i += 2) {
        st = sl_chat_render_user(ct, msgs[i], strlen(msgs[i]), i == 0, has_system, q, err);
        if (st == SL_OK && i + 1 < n) {
            /* The llama3 and gemma templates trim replies too; when streaming,
             * the reply is whatever the model generated. */
            const char *a = msgs[i + 1];
            size_t an = strlen(a);
            if (ct->family == SL_CHAT_LLAMA3 || ct->family == SL_CHAT_GEMMA) trim(&a, &an);
            text_n(q, a, an);
            st = sl_chat_render_reply_end(ct, q, err);
        }
    }
    return st == SL_OK ? done(q, err) : st;
}

/* ---- tokenization ---------------------------------------------------------------- */

int32_t sl_chat_marker_token(const sl_tokenizer *t, const char *marker) {
    int32_t id = sl_tokenizer_find(t, marker);
    if (id < 0) return -1;
    int type = sl_tokenizer_token_type(t, id);
    return type == SL_TOKEN_CONTROL || type == SL_TOKEN_USER_DEFINED ? id : -1;
}

typedef struct {
    int32_t *ids;
    size_t n, cap;
} id_list;

static bool ids_append(id_list *l, const int32_t *src, size_t n) {
    if (l->n + n > l->cap) {
        size_t cap = l->cap ? l->cap : 64;
        while (cap < l->n + n) cap *= 2;
        int32_t *p = realloc(l->ids, cap * sizeof *p);
        if (!p) return false;
        l->ids = p;
        l->cap = cap;
    }
    memcpy(l->ids + l->n, src, n * sizeof *src);
    l->n += n;
    return true;
}

sl_status sl_chat_seq_tokenize(const sl_chat_seq *q, const sl_tokenizer *t, int32_t **ids_out,
                               size_t *n_out, sl_error *err) {
    *ids_out = NULL;
    *n_out = 0;
    if (q->oom) return sl_fail(err, SL_ERR_NOMEM, "chat template: out of memory");
    id_list out = {0};
    /* A text run is a byte range in q->text that may span several segments
     * (text, plus markers the vocabulary does not hold). Runs are contiguous
     * because segments are laid out in order. */
    size_t run_off = 0, run_len = 0;
    sl_status st = SL_OK;
    char mbuf[64];
    for (size_t i = 0; i <= q->n_segs && st == SL_OK; i++) {
        int32_t special = -1;
        if (i < q->n_segs) {
            const sl_chat_seg *g = &q->segs[i];
            if (g->kind == SL_SEG_TOKEN) {
                special = g->id;
            } else if (g->kind == SL_SEG_MARK && g->len < sizeof mbuf) {
                memcpy(mbuf, q->text + g->off, g->len);
                mbuf[g->len] = '\0';
                special = sl_chat_marker_token(t, mbuf);
            }
            if (special < 0) { /* text, or a marker that stays text */
                if (run_len == 0) run_off = g->off;
                run_len += g->len;
                continue;
            }
        }
        if (run_len > 0) {
            int32_t *tk = NULL;
            size_t nt = 0;
            st = sl_tokenizer_encode(t, q->text + run_off, run_len, false, false, &tk, &nt, err);
            if (st == SL_OK && !ids_append(&out, tk, nt))
                st = sl_fail(err, SL_ERR_NOMEM, "chat template: out of memory");
            free(tk);
            run_len = 0;
        }
        if (st == SL_OK && special >= 0 && !ids_append(&out, &special, 1))
            st = sl_fail(err, SL_ERR_NOMEM, "chat template: out of memory");
    }
    if (st != SL_OK) {
        free(out.ids);
        return st;
    }
    *ids_out = out.ids;
    *n_out = out.n;
    return SL_OK;
}

int sl_chat_stop_tokens(const sl_chat_template *ct, const sl_tokenizer *t, int32_t *out, int cap) {
    const char *m = NULL;
    switch (ct->family) {
    case SL_CHAT_LLAMA3: m = "<|eot_id|>"; break;
    case SL_CHAT_CHATML: m = "<|im_end|>"; break;
    case SL_CHAT_GEMMA: m = "<end_of_turn>"; break;
    default: break;
    }
    int n = 0;
    if (ct->eos >= 0 && n < cap) out[n++] = ct->eos;
    int32_t id = m ? sl_chat_marker_token(t, m) : -1;
    if (id >= 0 && n < cap) out[n++] = id;
    return n;
}
