/* corpus.c — reading and splitting training text (see corpus.h). */
#include "train/corpus.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/error.h"
#include "tokenizer/tokenizer.h"

void sl_corpus_free(sl_corpus *c) {
    if (!c) return;
    for (int i = 0; i < c->n; i++) {
        if (c->name) free(c->name[i]);
        if (c->train) free(c->train[i]);
        if (c->held) free(c->held[i]);
    }
    free(c->name);
    free(c->train);
    free(c->n_train);
    free(c->held);
    free(c->n_held);
    free(c->stripped);
    memset(c, 0, sizeof *c);
}

static char *read_all(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    while (buf) {
        size_t r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (n < cap) break;
        char *nb = realloc(buf, 2 * cap + 1);
        if (!nb) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = nb;
        cap *= 2;
    }
    bool bad = ferror(f);
    fclose(f);
    if (!buf || bad) {
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

/* Start of the line after the one holding marker, or NULL. */
static const char *after_line(const char *s, const char *marker) {
    const char *m = strstr(s, marker);
    if (!m) return NULL;
    const char *nl = strchr(m, '\n');
    return nl ? nl + 1 : m + strlen(m);
}

/* In place: drop BOM, CRLF -> LF, strip the Gutenberg frame; returns length. */
static size_t clean(char *s, size_t n, bool strip, bool *stripped) {
    size_t o = 0, i = 0;
    if (n >= 3 && (unsigned char)s[0] == 0xEF && (unsigned char)s[1] == 0xBB && (unsigned char)s[2] == 0xBF) i = 3;
    for (; i < n; i++)
        if (!(s[i] == '\r' && i + 1 < n && s[i + 1] == '\n')) s[o++] = s[i];
    s[o] = '\0';
    *stripped = false;
    if (!strip) return o;
    const char *a = after_line(s, "*** START OF");
    const char *e = a ? strstr(a, "*** END OF") : NULL;
    if (!a || !e) return o;
    /* back to the start of the END line */
    while (e > a && e[-1] != '\n') e--;
    size_t len = (size_t)(e - a);
    memmove(s, a, len);
    s[len] = '\0';
    *stripped = true;
    /* trim blank lines at both ends */
    size_t b = 0;
    while (b < len && (s[b] == '\n' || s[b] == ' ')) b++;
    while (len > b && (s[len - 1] == '\n' || s[len - 1] == ' ')) len--;
    memmove(s, s + b, len - b);
    s[len - b] = '\0';
    return len - b;
}

sl_status sl_corpus_load(sl_corpus *c, const char *const *paths, int n, double holdout,
                         bool strip_gutenberg, sl_error *err) {
    memset(c, 0, sizeof *c);
    if (n < 1) return sl_fail(err, SL_ERR_INVALID_ARG, "no corpus files given (--corpus FILE)");
    if (!(holdout >= 0 && holdout <= 0.5))
        return sl_fail(err, SL_ERR_INVALID_ARG, "--holdout %g is out of range [0, 0.5]", holdout);
    c->name = calloc((size_t)n, sizeof *c->name);
    c->train = calloc((size_t)n, sizeof *c->train);
    c->held = calloc((size_t)n, sizeof *c->held);
    c->n_train = calloc((size_t)n, sizeof *c->n_train);
    c->n_held = calloc((size_t)n, sizeof *c->n_held);
    c->stripped = calloc((size_t)n, sizeof *c->stripped);
    if (!c->name || !c->train || !c->held || !c->n_train || !c->n_held || !c->stripped) {
        sl_corpus_free(c);
        return sl_fail(err, SL_ERR_NOMEM, "corpus: out of memory");
    }
    c->n = n;
    size_t total = 0;
    for (int i = 0; i < n; i++) {
        size_t len = 0;
        struct stat sb;
        if (stat(paths[i], &sb) == 0 && S_ISDIR(sb.st_mode)) {
            sl_corpus_free(c);
            return sl_fail(err, SL_ERR_IO, "%s: is a directory, expected a corpus text file", paths[i]);
        }
        errno = 0;
        char *s = read_all(paths[i], &len);
        c->name[i] = strdup(paths[i]);
        if (!s) {
            int e = errno;
            sl_corpus_free(c);
            return sl_fail(err, SL_ERR_IO, "%s: cannot read the corpus file%s%s", paths[i], e ? ": " : "",
                           e ? strerror(e) : "");
        }
        /* Checked on the file as read, so the offset is one an editor shows. */
        size_t bad = sl_utf8_validate(s, len);
        if (bad != (size_t)-1) {
            unsigned char b = (unsigned char)s[bad];
            free(s);
            sl_corpus_free(c);
            return sl_fail(err, SL_ERR_FORMAT, "%s: not UTF-8 text: invalid byte 0x%02X at byte offset %zu",
                           paths[i], b, bad);
        }
        len = clean(s, len, strip_gutenberg, &c->stripped[i]);
        /* cut at the first paragraph break after the split point */
        size_t cut = len - (size_t)((double)len * holdout);
        if (holdout > 0 && cut < len) {
            const char *p = strstr(s + cut, "\n\n");
            if (p) cut = (size_t)(p - s) + 2;
            else {
                while (cut < len && s[cut] != '\n') cut++;
            }
        }
        c->held[i] = strdup(s + cut);
        c->n_held[i] = len - cut;
        s[cut] = '\0';
        c->train[i] = s;
        c->n_train[i] = cut;
        total += cut;
        if (!c->held[i] || !c->name[i]) {
            sl_corpus_free(c);
            return sl_fail(err, SL_ERR_NOMEM, "corpus: out of memory");
        }
    }
    if (total == 0) {
        sl_corpus_free(c);
        return sl_fail(err, SL_ERR_INVALID_ARG, "the corpus is empty (%d file%s, no training text "
                       "after stripping)", n, n == 1 ? "" : "s");
    }
    return SL_OK;
}

char *sl_corpus_join(const sl_corpus *c, bool held, size_t *len) {
    size_t total = 0;
    for (int i = 0; i < c->n; i++) total += (held ? c->n_held[i] : c->n_train[i]) + 2;
    char *out = malloc(total + 1);
    if (!out) return NULL;
    size_t o = 0;
    for (int i = 0; i < c->n; i++) {
        size_t n = held ? c->n_held[i] : c->n_train[i];
        if (n == 0) continue;
        if (o) {
            out[o++] = '\n';
            out[o++] = '\n';
        }
        memcpy(out + o, held ? c->held[i] : c->train[i], n);
        o += n;
    }
    out[o] = '\0';
    *len = o;
    return out;
}
