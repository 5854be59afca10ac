/* test_util.h — the tiny harness every tests/unit/test_*.c uses.
 *
 * A test file defines cases `static void test_x(void)` and a main that calls
 * T_RUN(test_x) for each and returns T_DONE(). Each case prints one line:
 *   PASS name | FAIL name | SKIP name: reason
 * tests/run_tests.sh counts those lines across all binaries.
 * Checks never abort: a failing case reports every failed check with the
 * file, line and the values involved. */
#ifndef SL_TEST_UTIL_H
#define SL_TEST_UTIL_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int t_case_failed, t_case_skipped, t_n_pass, t_n_fail, t_n_skip;
static char t_skip_reason[256];

#define T_CHECK(cond, ...)                                                        \
    do {                                                                          \
        if (!(cond)) {                                                            \
            fprintf(stderr, "  %s:%d: check failed: %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                         \
            fputc('\n', stderr);                                                  \
            t_case_failed = 1;                                                    \
        }                                                                         \
    } while (0)

/* Relative-or-absolute closeness: |a-b| <= tol * max(1, |b|). */
#define T_CLOSE(a, b, tol, what)                                                  \
    T_CHECK(fabs((double)(a) - (double)(b)) <= (tol) * fmax(1.0, fabs((double)(b))), \
            "%s: got %.9g want %.9g (tol %g)", (what), (double)(a), (double)(b), (double)(tol))

#define T_SKIP(...)                                                               \
    do {                                                                          \
        snprintf(t_skip_reason, sizeof t_skip_reason, __VA_ARGS__);               \
        t_case_skipped = 1;                                                       \
        return;                                                                   \
    } while (0)

static inline void t_run(const char *name, void (*fn)(void)) {
    t_case_failed = 0;
    t_case_skipped = 0;
    t_skip_reason[0] = 0;
    fn();
    if (t_case_failed) {
        printf("FAIL %s\n", name);
        t_n_fail++;
    } else if (t_case_skipped) {
        printf("SKIP %s: %s\n", name, t_skip_reason);
        t_n_skip++;
    } else {
        printf("PASS %s\n", name);
        t_n_pass++;
    }
    fflush(stdout);
}
#define T_RUN(fn) t_run(#fn, fn)
#define T_DONE() (t_n_fail ? 1 : 0)

/* ../shared/data, or NULL when absent (tests then T_SKIP visibly).
 * SL_SHARED_DIR overrides; run_tests.sh sets it to <repo>/../shared. */
static inline const char *t_shared_data(void) {
    static char buf[4096];
    const char *base = getenv("SL_SHARED_DIR");
    if (!base || !*base) base = "../shared";
    snprintf(buf, sizeof buf, "%s/data", base);
    struct stat st;
    if (stat(buf, &st) != 0 || !S_ISDIR(st.st_mode)) return NULL;
    return buf;
}

/* Joins the shared data dir with a relative path; NULL when shared is absent
 * or the file is missing. */
static inline const char *t_shared_file(const char *rel) {
    static char buf[4096];
    const char *d = t_shared_data();
    if (!d) return NULL;
    if (snprintf(buf, sizeof buf, "%s/%s", d, rel) >= (int)sizeof buf) return NULL;
    struct stat st;
    if (stat(buf, &st) != 0) return NULL;
    return buf;
}

/* A fresh scratch directory for files a test writes (under $TMPDIR or /tmp). */
static inline const char *t_tmpdir(void) {
    static char buf[256];
    if (buf[0]) return buf;
    const char *t = getenv("TMPDIR");
    snprintf(buf, sizeof buf, "%s/sl-test-XXXXXX", t && *t ? t : "/tmp");
    if (!mkdtemp(buf)) { perror("mkdtemp"); exit(2); }
    return buf;
}

/* Deterministic xorshift for test data. */
static inline unsigned long long t_rand_u64(unsigned long long *s) {
    *s ^= *s << 13; *s ^= *s >> 7; *s ^= *s << 17; return *s;
}
static inline float t_rand_f(unsigned long long *s) { /* uniform in [-1, 1) */
    return (float)((t_rand_u64(s) >> 40) * (1.0 / 8388608.0)) - 1.0f;
}

#endif
