/* text_stream.c — incremental reading, validation and tokenization of the
 * texts ppl and attn score (see text_stream.h for why cuts are safe). */
#include "text_stream.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"

/* A segment with no safe cut is cut anyway once it reaches this many chunks,
 * so memory stays bounded even on text without line breaks. */
#define MAX_CHUNKS_PER_SEGMENT 16

static bool is_nl(char c) { return c == '\n' || c == '\r'; }

/* Bytes at the end of s[0..n) that start a multi-byte UTF-8 character the
 * read cut short (0..3); they are validated with the next read. */
static size_t incomplete_tail(const unsigned char *s, size_t n) {
    for (size_t k = 1; k <= 3 && k <= n; k++) {
        unsigned char c = s[n - k];
        if ((c & 0xC0) == 0x80) continue; /* continuation byte: keep looking for the lead */
        if (c < 0xC0) return 0;           /* ASCII: nothing is cut */
        size_t want = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
        return want > k ? k : 0;
    }
    return 0; /* only continuation bytes: let validation report them */
}

static void open_current(text_stream *ts) {
    const char *path = ts->paths[ts->path_i];
    ts->fp = fopen(path, "rb");
    if (!ts->fp) cli_die("%s: cannot open: %s", path, strerror(errno));
    ts->file_off = 0;
}

static void reserve(text_stream *ts, size_t need) {
    if (need <= ts->cap_pend) return;
    size_t cap = ts->cap_pend ? ts->cap_pend : 4096;
    while (cap < need) cap *= 2;
    char *p = realloc(ts->pend, cap);
    if (!p) cli_die("out of memory reading the text");
    ts->pend = p;
    ts->cap_pend = cap;
}

/* Appends at least one read's worth of validated bytes to pend, or sets
 * input_done. Bytes of a character cut by the read stay after n_pend
 * (n_held of them) until the next read completes them. */
static void read_more(text_stream *ts) {
    size_t *held = &ts->n_held;
    for (;;) {
        if (!ts->fp) {
            if (ts->path_i >= ts->n_paths) {
                ts->path_i = 0;
                ts->rep_i++;
            }
            if (ts->rep_i >= ts->repeat) {
                ts->input_done = true;
                return;
            }
            open_current(ts);
        }
        const char *path = ts->paths[ts->path_i];
        reserve(ts, ts->n_pend + *held + ts->chunk + 1);
        unsigned char *region = (unsigned char *)ts->pend + ts->n_pend;
        size_t r = fread(region + *held, 1, ts->chunk, ts->fp);
        if (ferror(ts->fp)) cli_die("%s: read error at byte %llu", path, (unsigned long long)ts->file_off);
        bool eof = r < ts->chunk;
        uint64_t region_off = ts->file_off - *held;
        ts->file_off += r;
        size_t len = *held + r;
        size_t keep = eof ? 0 : incomplete_tail(region, len);
        size_t ok_len = len - keep;
        const unsigned char *nul = memchr(region, 0, ok_len);
        if (nul)
            cli_die("%s: not a text file: NUL byte at byte offset %llu", path,
                    (unsigned long long)(region_off + (uint64_t)(nul - region)));
        size_t bad = sl_utf8_validate((const char *)region, ok_len);
        if (bad != (size_t)-1)
            cli_die("%s: not UTF-8 text: invalid byte 0x%02x at byte offset %llu", path, region[bad],
                    (unsigned long long)(region_off + bad));
        ts->n_pend += ok_len;
        *held = keep;
        if (eof) {
            if (ts->file_off == 0) cli_die("%s: empty file: no text to score", path);
            fclose(ts->fp);
            ts->fp = NULL;
            ts->path_i++;
        }
        if (r > 0 || ts->input_done) return;
    }
}

/* The last cut in pend that cannot change the tokenization, or 0. */
static size_t find_cut(const text_stream *ts) {
    const char *p = ts->pend;
    for (size_t i = ts->n_pend; i-- > 1;) {
        if (!is_nl(p[i]) || is_nl(p[i - 1])) continue; /* the first byte of a newline run */
        unsigned char b = (unsigned char)p[i - 1];
        bool alnum = (b >= '0' && b <= '9') || (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z');
        if (ts->nl_barrier || alnum) return i;
    }
    return 0;
}

/* Last resort for text without safe cuts: any newline, else a character boundary. */
static size_t fallback_cut(const text_stream *ts) {
    const char *p = ts->pend;
    for (size_t i = ts->n_pend; i-- > 1;)
        if (is_nl(p[i])) return i;
    for (size_t i = ts->n_pend; i-- > 1;)
        if (((unsigned char)p[i] & 0xC0) != 0x80) return i;
    return ts->n_pend;
}

/* Skips what the tokenizer put before the leading newline of a later segment. */
static void strip_text_start(text_stream *ts, char first) {
    int k = first == '\n' ? 0 : first == '\r' ? 1 : -1;
    if (k < 0 || ts->n_pfx[k] < 0) {
        ts->n_loose++;
        return;
    }
    size_t np = (size_t)ts->n_pfx[k];
    if (ts->n_ids <= np || memcmp(ts->ids, ts->pfx[k], np * sizeof(int32_t)) != 0) {
        ts->n_loose++;
        return;
    }
    size_t len;
    const char *piece = sl_tokenizer_piece(ts->tok, ts->ids[np], &len);
    if (len == 0 || piece[0] != first) {
        ts->n_loose++;
        return;
    }
    ts->i_ids = np;
}

static bool next_segment(text_stream *ts) {
    size_t *held = &ts->n_held;
    free(ts->ids);
    ts->ids = NULL;
    ts->n_ids = ts->i_ids = 0;
    for (;;) {
        if (!ts->input_done && ts->n_pend < ts->chunk) {
            read_more(ts);
            continue;
        }
        if (ts->n_pend == 0) return false; /* input_done here */
        size_t cut;
        if (ts->input_done) {
            cut = ts->n_pend;
        } else {
            cut = find_cut(ts);
            if (cut == 0) {
                if (ts->n_pend < MAX_CHUNKS_PER_SEGMENT * ts->chunk) {
                    read_more(ts);
                    continue;
                }
                cut = fallback_cut(ts);
                ts->n_loose++;
            }
        }
        sl_error err = {0};
        bool bos = ts->add_bos && ts->first_segment;
        if (sl_tokenizer_encode(ts->tok, ts->pend, cut, bos, false, &ts->ids, &ts->n_ids, &err) != SL_OK)
            cli_die("tokenizing the text: %s", err.msg);
        if (!ts->first_segment) strip_text_start(ts, ts->pend[0]);
        ts->first_segment = false;
        ts->n_bytes += cut;
        memmove(ts->pend, ts->pend + cut, ts->n_pend - cut + *held);
        ts->n_pend -= cut;
        if (ts->i_ids < ts->n_ids) return true;
    }
}

void text_stream_check_files(const char *const *paths, int n_paths) {
    if (n_paths < 1) cli_die("no text: pass -f FILE");
    for (int i = 0; i < n_paths; i++) {
        FILE *fp = fopen(paths[i], "rb");
        if (!fp) cli_die("%s: cannot open: %s", paths[i], strerror(errno));
        struct stat st;
        bool ok = fstat(fileno(fp), &st) == 0;
        fclose(fp);
        if (ok && S_ISDIR(st.st_mode)) cli_die("%s: is a directory, not a text file", paths[i]);
        if (ok && S_ISREG(st.st_mode) && st.st_size == 0)
            cli_die("%s: empty file: no text to score", paths[i]);
    }
}

void text_stream_init(text_stream *ts, const sl_tokenizer *tok, const char *const *paths, int n_paths,
                      int64_t repeat, bool add_bos, size_t chunk) {
    memset(ts, 0, sizeof *ts);
    ts->tok = tok;
    ts->paths = paths;
    ts->n_paths = n_paths;
    ts->repeat = repeat < 1 ? 1 : repeat;
    ts->chunk = chunk ? chunk : TEXT_STREAM_DEFAULT_CHUNK;
    ts->add_bos = add_bos;
    ts->first_segment = true;
    text_stream_check_files(paths, n_paths);

    /* Can a token glue a newline to other bytes? Special tokens are not
     * matched in plain text, so only ordinary tokens count. */
    ts->nl_barrier = true;
    int V = sl_tokenizer_n_vocab(tok);
    for (int32_t id = 0; id < V && ts->nl_barrier; id++) {
        int type = sl_tokenizer_token_type(tok, id);
        if (type == SL_TOKEN_CONTROL || type == SL_TOKEN_USER_DEFINED || type == SL_TOKEN_UNUSED ||
            type == SL_TOKEN_UNKNOWN)
            continue;
        size_t len;
        const char *piece = sl_tokenizer_piece(tok, id, &len);
        if (len > 1 && (memchr(piece, '\n', len) || memchr(piece, '\r', len))) ts->nl_barrier = false;
    }

    /* What a text that is just "\n" (or "\r") tokenizes to, minus that
     * newline: the tokens the tokenizer adds at the start of any text. */
    for (int k = 0; k < 2; k++) {
        const char c = k == 0 ? '\n' : '\r';
        int32_t *ids = NULL;
        size_t n = 0;
        sl_error err = {0};
        ts->n_pfx[k] = -1;
        if (sl_tokenizer_encode(tok, &c, 1, false, false, &ids, &n, &err) == SL_OK && n >= 1 &&
            n - 1 <= TEXT_STREAM_MAX_PREFIX) {
            size_t len;
            const char *piece = sl_tokenizer_piece(tok, ids[n - 1], &len);
            if (len == 1 && piece[0] == c) {
                memcpy(ts->pfx[k], ids, (n - 1) * sizeof(int32_t));
                ts->n_pfx[k] = (int)(n - 1);
            }
        }
        free(ids);
    }
}

bool text_stream_next(text_stream *ts, int32_t *tok) {
    while (ts->i_ids >= ts->n_ids)
        if (!next_segment(ts)) return false;
    *tok = ts->ids[ts->i_ids++];
    ts->n_tokens++;
    return true;
}

void text_stream_free(text_stream *ts) {
    if (!ts) return;
    if (ts->fp) fclose(ts->fp);
    ts->fp = NULL;
    free(ts->pend);
    free(ts->ids);
    ts->pend = NULL;
    ts->ids = NULL;
    ts->n_pend = ts->n_held = ts->cap_pend = ts->n_ids = ts->i_ids = 0;
}
