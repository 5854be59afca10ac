#include "cli.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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
    if (errno || end == s || *end != '\0')
        cli_die("%s: '%s' is not an integer", flag, s);
    if (v < lo || v > hi) cli_die("%s: %lld is out of range [%lld, %lld]", flag, v, lo, hi);
    return v;
}

double cli_parse_float(const char *flag, const char *s, double lo, double hi) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end != '\0' || isnan(v))
        cli_die("%s: '%s' is not a number", flag, s);
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
    if (ferror(fp)) cli_die("%s: read error", path);
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
    cli_check(sl_model_load(&m, path, &err), &err);
    return m;
}
