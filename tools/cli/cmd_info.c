/* cmd_info.c — `streamllm info [-m] FILE.gguf [--json]`: what a GGUF file holds.
 *
 * Prints the header, every metadata key with its type and value, and a table
 * of tensors with a total. Long strings are cut (at a UTF-8 boundary) and
 * arrays show their element type, count and first few elements, so a 32000-
 * token vocab fits on one line. --json gives the same, as one JSON object.
 * File contents are untrusted bytes: every string is escaped, and invalid
 * UTF-8 is shown as \xNN (text) or U+FFFD (JSON) so the output stays valid. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "gguf/gguf.h"
#include "tensor/quant.h"

#define STR_MAX 80      /* bytes of a string value shown */
#define ELEM_STR_MAX 24 /* bytes of each string shown inside an array */
#define ARR_HEAD 8      /* array elements shown */

typedef struct {
    FILE *fp;
    bool json;
} printer;

static void usage(FILE *fp) {
    fprintf(fp,
            "usage: streamllm info [-m] FILE.gguf [--json]\n"
            "\n"
            "Prints a GGUF file's version, alignment, metadata (type and value of every key;\n"
            "long strings cut at %d bytes, arrays shown as type, count and first %d elements)\n"
            "and its tensors (name, type, shape, bytes) with a total.\n"
            "\n"
            "  -m, --model PATH  the GGUF file\n"
            "  --json            print one JSON object instead of text\n",
            STR_MAX, ARR_HEAD);
}

/* ---- strings ------------------------------------------------------------------ */

/* Length of the valid UTF-8 sequence at s (n bytes available), 0 if invalid:
 * no overlong forms, no surrogates, nothing above U+10FFFF. */
static size_t utf8_seq(const unsigned char *s, size_t n) {
    unsigned c = s[0];
    size_t len;
    unsigned lo = 0x80, hi = 0xbf; /* allowed range of the second byte */
    if (c < 0x80) return 1;
    if (c >= 0xc2 && c <= 0xdf) len = 2;
    else if (c >= 0xe0 && c <= 0xef) len = 3, lo = c == 0xe0 ? 0xa0 : 0x80, hi = c == 0xed ? 0x9f : 0xbf;
    else if (c >= 0xf0 && c <= 0xf4) len = 4, lo = c == 0xf0 ? 0x90 : 0x80, hi = c == 0xf4 ? 0x8f : 0xbf;
    else return 0;
    if (n < len || s[1] < lo || s[1] > hi) return 0;
    for (size_t i = 2; i < len; i++)
        if ((s[i] & 0xc0) != 0x80) return 0;
    return len;
}

/* Writes s as a quoted string, escaped for text or JSON, keeping at most max
 * bytes (whole characters only). Returns true when it was cut. */
static bool put_str(const printer *pr, const char *str, uint64_t len, uint64_t max) {
    const unsigned char *s = (const unsigned char *)str;
    FILE *fp = pr->fp;
    uint64_t i = 0;
    fputc('"', fp);
    while (i < len) {
        size_t n = utf8_seq(s + i, (size_t)(len - i < 4 ? len - i : 4));
        if (i + (n ? n : 1) > max) break;
        unsigned c = s[i];
        if (n > 1) {
            fwrite(s + i, 1, n, fp);
        } else if (n == 0) {
            if (pr->json) fputs("\\ufffd", fp);
            else fprintf(fp, "\\x%02x", c);
        } else if (c == '"' || c == '\\') {
            fputc('\\', fp);
            fputc((int)c, fp);
        } else if (c == '\n') {
            fputs("\\n", fp);
        } else if (c == '\t') {
            fputs("\\t", fp);
        } else if (c == '\r') {
            fputs("\\r", fp);
        } else if (c < 0x20 || (c == 0x7f && !pr->json)) {
            fprintf(fp, pr->json ? "\\u%04x" : "\\x%02x", c);
        } else {
            fputc((int)c, fp);
        }
        i += n ? n : 1;
    }
    fputc('"', fp);
    return i < len;
}

/* ---- numbers --------------------------------------------------------------------- */

/* The shortest %g form that reads back as the same float (or double). */
static void put_float(const printer *pr, double v, bool is_f32) {
    if (!isfinite(v)) {
        if (pr->json) fputs("null", pr->fp);
        else fputs(isnan(v) ? "nan" : v > 0 ? "inf" : "-inf", pr->fp);
        return;
    }
    char buf[40];
    for (int p = is_f32 ? 6 : 15; p <= (is_f32 ? 9 : 17); p++) {
        snprintf(buf, sizeof buf, "%.*g", p, v);
        if (is_f32 ? strtof(buf, NULL) == (float)v : strtod(buf, NULL) == v) break;
    }
    fputs(buf, pr->fp);
}

/* Element i of a fixed-size array, printed as its type. */
static void put_elem(const printer *pr, sl_gguf_type t, const unsigned char *p) {
    FILE *fp = pr->fp;
    switch (t) {
    case SL_GGUF_UINT8: fprintf(fp, "%u", p[0]); break;
    case SL_GGUF_INT8: fprintf(fp, "%d", (int8_t)p[0]); break;
    case SL_GGUF_BOOL: fputs(p[0] ? "true" : "false", fp); break;
    case SL_GGUF_UINT16: { uint16_t x; memcpy(&x, p, 2); fprintf(fp, "%u", x); break; }
    case SL_GGUF_INT16: { int16_t x; memcpy(&x, p, 2); fprintf(fp, "%d", x); break; }
    case SL_GGUF_UINT32: { uint32_t x; memcpy(&x, p, 4); fprintf(fp, "%" PRIu32, x); break; }
    case SL_GGUF_INT32: { int32_t x; memcpy(&x, p, 4); fprintf(fp, "%" PRId32, x); break; }
    case SL_GGUF_UINT64: { uint64_t x; memcpy(&x, p, 8); fprintf(fp, "%" PRIu64, x); break; }
    case SL_GGUF_INT64: { int64_t x; memcpy(&x, p, 8); fprintf(fp, "%" PRId64, x); break; }
    case SL_GGUF_FLOAT32: { float x; memcpy(&x, p, 4); put_float(pr, x, true); break; }
    case SL_GGUF_FLOAT64: { double x; memcpy(&x, p, 8); put_float(pr, x, false); break; }
    default: fputs("?", fp); break;
    }
}

/* ---- metadata ----------------------------------------------------------------------- */

static void put_scalar(const printer *pr, const sl_gguf_kv *kv) {
    FILE *fp = pr->fp;
    switch (kv->type) {
    case SL_GGUF_UINT8: case SL_GGUF_UINT16: case SL_GGUF_UINT32: case SL_GGUF_UINT64:
        fprintf(fp, "%" PRIu64, kv->v.u64);
        break;
    case SL_GGUF_INT8: case SL_GGUF_INT16: case SL_GGUF_INT32: case SL_GGUF_INT64:
        fprintf(fp, "%" PRId64, kv->v.i64);
        break;
    case SL_GGUF_BOOL: fputs(kv->v.u64 ? "true" : "false", fp); break;
    case SL_GGUF_FLOAT32: put_float(pr, kv->v.f64, true); break;
    case SL_GGUF_FLOAT64: put_float(pr, kv->v.f64, false); break;
    default: fputs("?", fp); break;
    }
}

/* The first ARR_HEAD elements, comma-separated, inside [ ]. */
static void put_arr_head(const printer *pr, const sl_gguf_kv *kv) {
    uint64_t n = kv->arr_n < ARR_HEAD ? kv->arr_n : ARR_HEAD;
    size_t esz = sl_gguf_type_size(kv->arr_type);
    fputc('[', pr->fp);
    for (uint64_t i = 0; i < n; i++) {
        if (i) fputs(pr->json ? "," : ", ", pr->fp);
        if (kv->arr_type == SL_GGUF_STRING) {
            bool cut = put_str(pr, kv->arr_strs[i].ptr, kv->arr_strs[i].len, ELEM_STR_MAX);
            if (cut && !pr->json) fputs("...", pr->fp);
        } else {
            put_elem(pr, kv->arr_type, (const unsigned char *)kv->arr_data + i * esz);
        }
    }
    if (!pr->json && kv->arr_n > n) fputs(", ...", pr->fp);
    fputc(']', pr->fp);
}

static void text_kv(const printer *pr, const sl_gguf_kv *kv, int key_w) {
    FILE *fp = pr->fp;
    char type[48];
    if (kv->type == SL_GGUF_ARRAY)
        snprintf(type, sizeof type, "%s[%" PRIu64 "]", sl_gguf_type_name(kv->arr_type), kv->arr_n);
    else
        snprintf(type, sizeof type, "%s", sl_gguf_type_name(kv->type));
    fputs("  ", fp);
    /* Keys are printed escaped but unquoted; pad by their byte length. */
    for (uint64_t i = 0; i < kv->key.len; i++) {
        unsigned char c = (unsigned char)kv->key.ptr[i];
        if (c < 0x20 || c >= 0x7f) fprintf(fp, "\\x%02x", c);
        else fputc((int)c, fp);
    }
    for (int i = (int)kv->key.len; i < key_w; i++) fputc(' ', fp);
    fprintf(fp, "  %-16s ", type);
    if (kv->type == SL_GGUF_STRING) {
        if (put_str(pr, kv->v.str.ptr, kv->v.str.len, STR_MAX))
            fprintf(fp, "... (%" PRIu64 " bytes)", kv->v.str.len);
    } else if (kv->type == SL_GGUF_ARRAY) {
        put_arr_head(pr, kv);
    } else {
        put_scalar(pr, kv);
    }
    fputc('\n', fp);
}

static void json_kv(const printer *pr, const sl_gguf_kv *kv) {
    FILE *fp = pr->fp;
    fputs("{\"key\":", fp);
    put_str(pr, kv->key.ptr, kv->key.len, UINT64_MAX);
    fprintf(fp, ",\"type\":\"%s\"", sl_gguf_type_name(kv->type));
    if (kv->type == SL_GGUF_STRING) {
        fputs(",\"value\":", fp);
        bool cut = put_str(pr, kv->v.str.ptr, kv->v.str.len, STR_MAX);
        fprintf(fp, ",\"len\":%" PRIu64 ",\"truncated\":%s", kv->v.str.len, cut ? "true" : "false");
    } else if (kv->type == SL_GGUF_ARRAY) {
        fprintf(fp, ",\"elem_type\":\"%s\",\"count\":%" PRIu64 ",\"head\":",
                sl_gguf_type_name(kv->arr_type), kv->arr_n);
        put_arr_head(pr, kv);
    } else {
        fputs(",\"value\":", fp);
        put_scalar(pr, kv);
    }
    fputc('}', fp);
}

/* ---- tensors ------------------------------------------------------------------------- */

static void shape_str(const sl_gguf_tensor *t, char *buf, size_t cap) {
    size_t n = 0;
    buf[0] = 0;
    for (uint32_t d = 0; d < t->n_dims && n < cap; d++)
        n += (size_t)snprintf(buf + n, cap - n, d ? " x %" PRIu64 : "%" PRIu64, t->ne[d]);
}

static uint64_t n_elements(const sl_gguf_tensor *t) {
    uint64_t n = 1;
    for (uint32_t d = 0; d < t->n_dims; d++) n *= t->ne[d]; /* validated by the reader */
    return n;
}

static void print_text(const sl_gguf *g) {
    printer pr = {stdout, false};
    printf("file:      %s\n", g->path);
    printf("version:   %" PRIu32 "\n", g->version);
    printf("alignment: %" PRIu64 "\n", g->alignment);
    if (g->n_tensors)
        printf("size:      %zu bytes (data section at offset %" PRIu64 ")\n", g->file.size,
               g->data_offset);
    else
        printf("size:      %zu bytes (no tensor data)\n", g->file.size);
    printf("metadata:  %" PRIu64 " keys\n", g->n_kv);
    int key_w = 0;
    for (uint64_t i = 0; i < g->n_kv; i++)
        if (g->kv[i].key.len > (uint64_t)key_w) key_w = g->kv[i].key.len > 48 ? 48 : (int)g->kv[i].key.len;
    for (uint64_t i = 0; i < g->n_kv; i++) text_kv(&pr, &g->kv[i], key_w);

    printf("tensors:   %" PRIu64 "\n", g->n_tensors);
    if (g->n_tensors == 0) return;
    int name_w = 4;
    for (uint64_t i = 0; i < g->n_tensors; i++)
        if ((int)g->tensors[i].name.len > name_w) name_w = (int)g->tensors[i].name.len;
    printf("  %-*s  %-7s  %-24s  %14s\n", name_w, "name", "type", "shape", "bytes");
    uint64_t total = 0, elems = 0;
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        const sl_gguf_tensor *t = &g->tensors[i];
        char shape[128];
        shape_str(t, shape, sizeof shape);
        printf("  ");
        /* Names are at most 63 bytes; escape anything unprintable. */
        for (uint64_t k = 0; k < t->name.len; k++) {
            unsigned char c = (unsigned char)t->name.ptr[k];
            if (c < 0x20 || c >= 0x7f) printf("\\x%02x", c);
            else putchar(c);
        }
        printf("%*s  %-7s  %-24s  %14" PRIu64 "\n", name_w - (int)t->name.len, "",
               sl_type_name(t->type), shape, t->nbytes);
        total += t->nbytes;
        elems += n_elements(t);
    }
    printf("total:     %" PRIu64 " tensors, %" PRIu64 " elements, %" PRIu64 " bytes (%.2f MiB)\n",
           g->n_tensors, elems, total, (double)total / (1024.0 * 1024.0));
}

static void print_json(const sl_gguf *g) {
    printer pr = {stdout, true};
    FILE *fp = stdout;
    fputs("{\"file\":", fp);
    put_str(&pr, g->path, strlen(g->path), UINT64_MAX);
    fprintf(fp,
            ",\"version\":%" PRIu32 ",\"alignment\":%" PRIu64 ",\"size\":%zu,\"data_offset\":%" PRIu64
            ",\"n_kv\":%" PRIu64 ",\"metadata\":[",
            g->version, g->alignment, g->file.size, g->data_offset, g->n_kv);
    for (uint64_t i = 0; i < g->n_kv; i++) {
        if (i) fputc(',', fp);
        json_kv(&pr, &g->kv[i]);
    }
    fprintf(fp, "],\"n_tensors\":%" PRIu64 ",\"tensors\":[", g->n_tensors);
    uint64_t total = 0, elems = 0;
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        const sl_gguf_tensor *t = &g->tensors[i];
        if (i) fputc(',', fp);
        fputs("{\"name\":", fp);
        put_str(&pr, t->name.ptr, t->name.len, UINT64_MAX);
        fprintf(fp, ",\"type\":\"%s\",\"shape\":[", sl_type_name(t->type));
        for (uint32_t d = 0; d < t->n_dims; d++) fprintf(fp, d ? ",%" PRIu64 : "%" PRIu64, t->ne[d]);
        fprintf(fp, "],\"offset\":%" PRIu64 ",\"bytes\":%" PRIu64 "}", t->offset, t->nbytes);
        total += t->nbytes;
        elems += n_elements(t);
    }
    fprintf(fp, "],\"total_elements\":%" PRIu64 ",\"total_bytes\":%" PRIu64 "}\n", elems, total);
}

int cmd_info(int argc, char **argv) {
    const char *path = NULL;
    bool json = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "-m") || !strcmp(a, "--model")) {
            path = cli_value(argc, argv, &i);
        } else if (!strcmp(a, "--json")) {
            json = true;
        } else if (a[0] == '-' && a[1]) {
            cli_die("unknown flag '%s' (see streamllm info --help)", a);
        } else if (!path) {
            path = a; /* `streamllm info FILE` reads as well as -m FILE */
        } else {
            cli_die("unexpected argument '%s': one file at a time (already have '%s')", a, path);
        }
    }
    if (!path) cli_die("-m FILE.gguf is required");
    sl_gguf *g = NULL;
    sl_error err = {0};
    cli_check(sl_gguf_open(&g, path, &err), &err);
    if (json) print_json(g);
    else print_text(g);
    sl_gguf_close(g);
    if (fflush(stdout) != 0 || ferror(stdout)) cli_die("cannot write to stdout");
    return 0;
}
