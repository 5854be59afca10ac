#include "cli.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "model/llama2c.h"

const char *cli_cmd = "";

void cli_die(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "streamllm%s%s: error: ", *cli_cmd ? " " : "", cli_cmd);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

void cli_check(sl_status st, const sl_error *err) {
    if (st == SL_OK) return;
    cli_die("%s", err && err->msg[0] ? err->msg : sl_status_str(st));
}

long long cli_parse_int(const char *flag, const char *s, long long lo, long long hi) {
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (end == s || *end != '\0' || (errno && errno != ERANGE))
        cli_die("%s: '%s' is not an integer", flag, s);
    if (errno == ERANGE) cli_die("%s: %s is out of range [%lld, %lld]", flag, s, lo, hi);
    if (v < lo || v > hi) cli_die("%s: %lld is out of range [%lld, %lld]", flag, v, lo, hi);
    return v;
}

double cli_parse_float(const char *flag, const char *s, double lo, double hi) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end != '\0' || isnan(v) || (errno && errno != ERANGE))
        cli_die("%s: '%s' is not a number", flag, s);
    if (errno == ERANGE && fabs(v) > 1) cli_die("%s: %s is out of range [%g, %g]", flag, s, lo, hi);
    if (v < lo || v > hi) cli_die("%s: %g is out of range [%g, %g]", flag, v, lo, hi);
    return v;
}

const char *cli_value(int argc, char **argv, int *i) {
    if (*i + 1 >= argc) cli_die("%s needs a value", argv[*i]);
    return argv[++*i];
}

char *cli_read_file(const char *path, size_t *len) {
    FILE *fp = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!fp) cli_die("%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(fp), &st) == 0 && S_ISDIR(st.st_mode))
        cli_die("%s: is a directory, expected a file", path);
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    if (!buf) cli_die("%s: out of memory", path);
    for (;;) {
        if (n == cap) {
            cap *= 2;
            char *nb = realloc(buf, cap + 1);
            if (!nb) cli_die("%s: out of memory", path);
            buf = nb;
        }
        size_t r = fread(buf + n, 1, cap - n, fp);
        n += r;
        if (r == 0) break;
    }
    if (ferror(fp)) cli_die("%s: read error: %s", path, strerror(errno));
    if (fp != stdin) fclose(fp);
    buf[n] = '\0';
    if (len) *len = n;
    return buf;
}

static int file_exists(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

const char *cli_default_model(void) {
    static char buf[PATH_MAX + 64];
    const char *env = getenv("STREAMLLM_MODEL");
    if (env && *env) return env;
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) *slash = '\0';
        /* build/streamllm -> ../models ; PREFIX/bin -> ../share/streamllm */
        snprintf(buf, sizeof buf, "%s/../models/default.gguf", exe);
        if (file_exists(buf)) return buf;
        snprintf(buf, sizeof buf, "%s/../share/streamllm/default.gguf", exe);
        if (file_exists(buf)) return buf;
    }
    if (file_exists("models/default.gguf")) return "models/default.gguf";
    return NULL;
}

sl_model *cli_load_model(const char *path) {
    if (!path) {
        path = cli_default_model();
        if (!path)
            cli_die("no model: pass -m FILE.gguf (the embedded default models/default.gguf was not found)");
    }
    sl_model *m = NULL;
    sl_error err = {0};
    sl_status st = sl_model_load(&m, path, &err);
    if (st != SL_OK) {
        /* A llama2.c checkpoint is a common first try: say how to load it. */
        sl_llama2c_config cfg;
        sl_error e2 = {0};
        if (sl_llama2c_read_config(path, &cfg, &e2) == SL_OK)
            cli_die("%s: this is a llama2.c checkpoint (v%d, dim %d, %d layers), not a GGUF file: "
                    "convert it first with `streamllm convert --from-llama2c %s --tokenizer tok512.bin "
                    "-o model.gguf` (its tokenizer .bin beside it)",
                    path, cfg.version, cfg.dim, cfg.n_layers, path);
        cli_check(st, &err);
    }
    return m;
}

size_t cli_unescape(char *s, size_t len) {
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c != '\\' || i + 1 == len) {
            s[o++] = c;
            continue;
        }
        char e = s[++i];
        switch (e) {
        case 'n': s[o++] = '\n'; break;
        case 't': s[o++] = '\t'; break;
        case 'r': s[o++] = '\r'; break;
        case '\\': s[o++] = '\\'; break;
        case '"': s[o++] = '"'; break;
        case '\'': s[o++] = '\''; break;
        case 'x': {
            int v = 0, k = 0;
            while (k < 2 && i + 1 < len) {
                char h = s[i + 1];
                int d = h >= '0' && h <= '9' ? h - '0' : h >= 'a' && h <= 'f' ? h - 'a' + 10
                      : h >= 'A' && h <= 'F' ? h - 'A' + 10 : -1;
                if (d < 0) break;
                v = v * 16 + d;
                i++;
                k++;
            }
            if (k == 0) {
                s[o++] = '\\';
                s[o++] = 'x';
            } else {
                s[o++] = (char)v;
            }
            break;
        }
        default: /* unknown escape: kept as written, like llama.cpp */
            s[o++] = '\\';
            s[o++] = e;
        }
    }
    s[o] = '\0';
    return o;
}
