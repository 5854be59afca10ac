/* utf8.c — strict UTF-8 validation and the streaming printer.
 *
 * "Valid" is RFC 3629: no overlong forms, no surrogates (U+D800..DFFF),
 * nothing above U+10FFFF. The streamer replaces each maximal ill-formed
 * subpart with one U+FFFD (Unicode's recommended practice, also what
 * browsers do), so a byte-token the model emitted out of order cannot
 * corrupt what follows it. */
#include <string.h>

#include "tokenizer/tok_internal.h"

/* Length a lead byte announces; 0 for bytes that cannot start a character. */
static int lead_len(unsigned char b) {
    if (b < 0x80) return 1;
    if (b < 0xC2) return 0; /* continuation bytes, overlong 2-byte leads */
    if (b < 0xE0) return 2;
    if (b < 0xF0) return 3;
    if (b < 0xF5) return 4;
    return 0;
}

/* Whether b may follow the bytes lead..(pos-1) at position pos (1-based
 * continuation index). The second byte carries the range limits that rule
 * out overlongs, surrogates and code points above U+10FFFF. */
static bool cont_ok(unsigned char lead, int pos, unsigned char b) {
    if (pos == 1) {
        switch (lead) {
        case 0xE0: return b >= 0xA0 && b <= 0xBF;
        case 0xED: return b >= 0x80 && b <= 0x9F;
        case 0xF0: return b >= 0x90 && b <= 0xBF;
        case 0xF4: return b >= 0x80 && b <= 0x8F;
        default: break;
        }
    }
    return b >= 0x80 && b <= 0xBF;
}

int tok_utf8_char_len(const unsigned char *s, size_t n) {
    if (n == 0) return 0;
    int len = lead_len(s[0]);
    if (len == 0 || (size_t)len > n) return 0;
    for (int i = 1; i < len; i++)
        if (!cont_ok(s[0], i, s[i])) return 0;
    return len;
}

size_t sl_utf8_validate(const char *s, size_t len) {
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        if (p[i] < 0x80) { /* ASCII runs dominate real text */
            i++;
            continue;
        }
        int l = tok_utf8_char_len(p + i, len - i);
        if (l == 0) return i;
        i += (size_t)l;
    }
    return (size_t)-1;
}

static size_t put_fffd(char *out) {
    out[0] = (char)0xEF;
    out[1] = (char)0xBF;
    out[2] = (char)0xBD;
    return 3;
}

size_t sl_utf8_stream_push(sl_utf8_stream *s, const char *piece, size_t len, char *out) {
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char b = (unsigned char)piece[i];
        if (s->n_pending > 0) {
            if (cont_ok(s->pending[0], s->n_pending, b)) {
                s->pending[s->n_pending++] = b;
                if (s->n_pending == lead_len(s->pending[0])) {
                    memcpy(out + o, s->pending, (size_t)s->n_pending);
                    o += (size_t)s->n_pending;
                    s->n_pending = 0;
                }
                continue;
            }
            /* the pending bytes were a cut-off character: replace them and
             * look at b afresh */
            o += put_fffd(out + o);
            s->n_pending = 0;
        }
        int l = lead_len(b);
        if (l == 1) {
            out[o++] = (char)b;
        } else if (l == 0) {
            o += put_fffd(out + o);
        } else {
            s->pending[0] = b;
            s->n_pending = 1;
        }
    }
    return o;
}

size_t sl_utf8_stream_flush(sl_utf8_stream *s, char *out) {
    if (s->n_pending == 0) return 0;
    s->n_pending = 0;
    return put_fffd(out);
}
