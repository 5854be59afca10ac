/* cli_check.h — the rules every command applies to its options before any
 * work starts, so that a run is never lost to an error found at its end:
 * the cache geometry against the model's trained context, and output paths
 * that must be writable. Each rule dies naming the flag (tool code). */
#ifndef SL_CLI_CHECK_H
#define SL_CLI_CHECK_H

#include <stdbool.h>

#include "streamllm.h"

/* Checks the cache the flags ask for against the trained context n_ctx:
 * cache positions are numbered inside the cache, so a cache larger than the
 * trained context puts queries at positions the model never saw.
 *  - streaming: sinks + keep + window <= n_ctx;
 *  - window (sinks ignored), recompute (sinks and keep ignored): the same
 *    sum without them;
 *  - dense: --window, when given, <= n_ctx.
 * --allow-overflow lifts the limit (to show the degradation on purpose).
 * When no --window was given, the default is set here to what is left of
 * the trained context (n_ctx - sinks - keep), which must be >= 1. */
void cli_check_geometry(sl_session_params *p, int n_ctx);

/* Dies unless path could be created or overwritten: its directory exists and
 * is writable, and path is not a directory or a read-only file. Nothing is
 * created. flag names the option in the message ("--nll-out"). suffix, when
 * not NULL, is appended (a PREFIX flag that writes PREFIX.csv). */
void cli_check_writable(const char *flag, const char *path, const char *suffix);

#endif
