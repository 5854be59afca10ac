/* cli_check.c — option rules shared by every command (see cli_check.h). */
#include "cli_check.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "cli_flags.h"

void cli_check_geometry(sl_session_params *p, int n_ctx) {
    long long sinks = p->policy == SL_POLICY_STREAMING ? p->n_sink : 0;
    long long keep = p->policy == SL_POLICY_STREAMING || p->policy == SL_POLICY_WINDOW ? p->n_keep : 0;
    if (p->policy == SL_POLICY_DENSE) {
        if (cli_ctx_size_flag() > 0) p->n_window = cli_ctx_size_flag();
        if (p->n_window > n_ctx && !p->allow_overflow)
            cli_die("--window: %d is more than the model's trained context (%d); dense keeps every "
                    "token up to it (pass --allow-overflow to run past it on purpose)",
                    p->n_window, n_ctx);
        return;
    }
    int ctx_size = cli_ctx_size_flag();
    if (ctx_size > 0) {
        if (ctx_size > n_ctx && !p->allow_overflow)
            cli_die("-c/--ctx-size: %d is more than the model's trained context (%d) (pass "
                    "--allow-overflow to run past it)", ctx_size, n_ctx);
        if (ctx_size - sinks - keep < 1)
            cli_die("-c/--ctx-size: %d leaves no window after --sinks %lld and --keep %lld", ctx_size,
                    sinks, keep);
        p->n_window = (int)(ctx_size - sinks - keep);
        return;
    }
    if (p->n_window <= 0) {
        long long w = (long long)n_ctx - sinks - keep;
        if (w < 1)
            cli_die("--sinks %lld + --keep %lld leave no window in the model's trained context (%d): "
                    "lower them or pass --window",
                    sinks, keep, n_ctx);
        p->n_window = (int)w;
        return;
    }
    long long total = sinks + keep + p->n_window;
    if (total > n_ctx && !p->allow_overflow) {
        char parts[96] = "";
        if (p->policy == SL_POLICY_STREAMING) snprintf(parts, sizeof parts, "--sinks %lld + ", sinks);
        if (keep) snprintf(parts + strlen(parts), sizeof parts - strlen(parts), "--keep %lld + ", keep);
        cli_die("%s--window %d = a cache of %lld tokens, more than the model's trained context (%d): "
                "positions past it were never trained (lower --window, or pass --allow-overflow)",
                parts, p->n_window, total, n_ctx);
    }
}

void cli_check_writable(const char *flag, const char *path, const char *suffix) {
    char full[PATH_MAX];
    int n = snprintf(full, sizeof full, "%s%s", path, suffix ? suffix : "");
    if (n < 0 || (size_t)n >= sizeof full) cli_die("%s: '%s' is too long a path", flag, path);
    if (!*path) cli_die("%s: empty path", flag);
    struct stat st;
    if (stat(full, &st) == 0) {
        if (S_ISDIR(st.st_mode)) cli_die("%s: %s is a directory, expected a file to write", flag, full);
        if (access(full, W_OK) != 0) cli_die("%s: cannot write %s: %s", flag, full, strerror(errno));
        return;
    }
    char dir[PATH_MAX];
    memcpy(dir, full, (size_t)n + 1);
    char *slash = strrchr(dir, '/');
    if (!slash) strcpy(dir, ".");
    else if (slash == dir) dir[1] = '\0';
    else *slash = '\0';
    if (stat(dir, &st) != 0)
        cli_die("%s: cannot write %s: directory %s: %s", flag, full, dir, strerror(errno));
    if (!S_ISDIR(st.st_mode)) cli_die("%s: cannot write %s: %s is not a directory", flag, full, dir);
    if (access(dir, W_OK | X_OK) != 0)
        cli_die("%s: cannot write %s: directory %s: %s", flag, full, dir, strerror(errno));
}
