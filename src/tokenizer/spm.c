/* spm.c — SentencePiece BPE by scores (llama.cpp's llm_tokenizer_spm).
 *
 * The text (spaces already U+2581) starts as one symbol per UTF-8 char.
 * Every adjacent pair whose concatenation is a vocabulary token is a
 * candidate; the candidate with the highest score merges first (ties: the
 * leftmost), which may create new candidates with its neighbours. A max-heap
 * makes this O(n log n). Symbols that end up outside the vocabulary fall
 * back to <0xXX> byte tokens (then the unknown token).
 *
 * Work is split at "barrier" chars (ASCII that no multi-byte token
 * contains, e.g. '\n' in Llama's vocabulary): no merge can cross one, so
 * merging each part alone gives the same tokens with memory bounded by the
 * longest line instead of the whole text. */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "tokenizer/tok_internal.h"

typedef struct {
    int prev, next; /* neighbours in the live chain, -1 at the ends */
    uint32_t off;   /* byte offset into the segment */
    uint32_t n;     /* byte length; 0 once merged into the left neighbour */
} spm_sym;

typedef struct {
    float score;
    int left, right;
    uint32_t size; /* bytes of the merged text: a stale entry no longer matches */
} spm_pair;

typedef struct {
    spm_sym *sym;
    size_t sym_cap;
    spm_pair *heap;
    size_t heap_n, heap_cap;
    bool oom;
} spm_work;

/* heap order: higher score first, then lower left index */
static bool pair_before(const spm_pair *a, const spm_pair *b) {
    return a->score > b->score || (a->score == b->score && a->left < b->left);
}

static void heap_push(spm_work *w, spm_pair p) {
    if (w->heap_n == w->heap_cap) {
        size_t cap = w->heap_cap ? 2 * w->heap_cap : 256;
        spm_pair *h = realloc(w->heap, cap * sizeof *h);
        if (!h) {
            w->oom = true;
            return;
        }
        w->heap = h;
        w->heap_cap = cap;
    }
    size_t i = w->heap_n++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!pair_before(&p, &w->heap[parent])) break;
        w->heap[i] = w->heap[parent];
        i = parent;
    }
    w->heap[i] = p;
}

static spm_pair heap_pop(spm_work *w) {
    spm_pair top = w->heap[0], last = w->heap[--w->heap_n];
    size_t i = 0, n = w->heap_n;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, best = i;
        const spm_pair *bp = &last;
        if (l < n && pair_before(&w->heap[l], bp)) best = l, bp = &w->heap[l];
        if (r < n && pair_before(&w->heap[r], bp)) best = r;
        if (best == i) break;
        w->heap[i] = w->heap[best];
        i = best;
    }
    if (n > 0) w->heap[i] = last;
    return top;
}

static void try_pair(const sl_tokenizer *t, spm_work *w, const char *seg, int left, int right) {
    if (left < 0 || right < 0) return;
    const spm_sym *l = &w->sym[left], *r = &w->sym[right];
    uint32_t size = l->n + r->n;
    int32_t id = tok_vocab_find(t, seg + l->off, size);
    if (id < 0) return;
    heap_push(w, (spm_pair){t->scores[id], left, right, size});
}

static void emit_symbol(const sl_tokenizer *t, const char *s, uint32_t n, tok_list *out) {
    int32_t id = tok_vocab_find(t, s, n);
    if (id >= 0) {
        tok_list_push(out, id);
        return;
    }
    for (uint32_t i = 0; i < n; i++) {
        int32_t b = t->byte_tok[(unsigned char)s[i]];
        if (b < 0) b = t->unk;
        if (b >= 0) tok_list_push(out, b);
    }
}

static sl_status encode_segment(const sl_tokenizer *t, spm_work *w, const char *seg, size_t n,
                                tok_list *out, sl_error *err) {
    if (n == 0) return SL_OK;
    if (n > UINT32_MAX / 2)
        return sl_fail(err, SL_ERR_INVALID_ARG, "tokenize: a line of %zu bytes is too long", n);
    if (n > w->sym_cap) {
        spm_sym *s = realloc(w->sym, n * sizeof *s);
        if (!s) return sl_fail(err, SL_ERR_NOMEM, "tokenize: out of memory");
        w->sym = s;
        w->sym_cap = n;
    }
    int n_sym = 0;
    for (size_t off = 0; off < n;) {
        int len = tok_utf8_char_len((const unsigned char *)seg + off, n - off);
        if (len == 0) len = 1; /* cannot happen: the caller validated the text */
        w->sym[n_sym] = (spm_sym){n_sym - 1, -1, (uint32_t)off, (uint32_t)len};
        if (n_sym > 0) w->sym[n_sym - 1].next = n_sym;
        n_sym++;
        off += (size_t)len;
    }
    w->heap_n = 0;
    for (int i = 1; i < n_sym; i++) try_pair(t, w, seg, i - 1, i);
    while (w->heap_n > 0) {
        spm_pair p = heap_pop(w);
        spm_sym *l = &w->sym[p.left], *r = &w->sym[p.right];
        if (l->n == 0 || r->n == 0 || l->n + r->n != p.size) continue; /* stale */
        l->n += r->n;
        r->n = 0;
        l->next = r->next;
        if (r->next >= 0) w->sym[r->next].prev = p.left;
        try_pair(t, w, seg, l->prev, p.left);
        try_pair(t, w, seg, p.left, l->next);
    }
    if (w->oom) return sl_fail(err, SL_ERR_NOMEM, "tokenize: out of memory");
    for (int i = 0; i >= 0; i = w->sym[i].next) emit_symbol(t, seg + w->sym[i].off, w->sym[i].n, out);
    return SL_OK;
}

sl_status tok_spm_encode(const sl_tokenizer *t, const char *text, size_t n, tok_list *out,
                         sl_error *err) {
    spm_work w = {0};
    sl_status st = SL_OK;
    size_t start = 0;
    for (size_t i = 0; i < n && st == SL_OK; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c >= 128 || !t->spm_barrier[c]) continue;
        st = encode_segment(t, &w, text + start, i - start, out, err);
        if (st == SL_OK) emit_symbol(t, text + i, 1, out);
        start = i + 1;
    }
    if (st == SL_OK) st = encode_segment(t, &w, text + start, n - start, out, err);
    free(w.sym);
    free(w.heap);
    return st;
}
