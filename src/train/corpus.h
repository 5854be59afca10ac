/* corpus.h — training text: files read whole, Project Gutenberg header and
 * licence footer stripped (between the "*** START OF" and "*** END OF"
 * lines), a leading BOM dropped, CRLF turned into LF, and the last fraction
 * of each file held out for evaluation (cut at the next paragraph break). */
#ifndef SL_TRAIN_CORPUS_H
#define SL_TRAIN_CORPUS_H

#include <stdbool.h>
#include <stddef.h>

#include "streamllm.h"

typedef struct {
    int n;             /* files */
    char **name;       /* (n) paths as given, owned */
    char **train;      /* (n) training part of each file, NUL-terminated, owned */
    size_t *n_train;   /* (n) bytes */
    char **held;       /* (n) held-out tail, NUL-terminated, owned */
    size_t *n_held;    /* (n) bytes */
    bool *stripped;    /* (n) Gutenberg markers found and removed */
} sl_corpus;

/* holdout in [0, 0.5]. Errors: SL_ERR_IO (a file cannot be read),
 * SL_ERR_INVALID_ARG (no files, or every file is empty after stripping:
 * "the corpus is empty"), SL_ERR_NOMEM. */
sl_status sl_corpus_load(sl_corpus *c, const char *const *paths, int n, double holdout,
                         bool strip_gutenberg, sl_error *err);
void sl_corpus_free(sl_corpus *c);

/* Every training part (or held-out part) joined with a blank line between
 * files; malloc'd, NUL-terminated. */
char *sl_corpus_join(const sl_corpus *c, bool held, size_t *len);

#endif
