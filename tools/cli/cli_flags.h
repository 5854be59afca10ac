/* cli_flags.h — flags shared by every command that runs a model: the cache
 * policy (--policy --sinks --window --keep --kv-type --allow-overflow
 * --batch -t -c) and sampling (--temp --top-k --top-p --min-p --repeat-penalty
 * --repeat-last-n --presence-penalty --frequency-penalty --seed/-s). */
#ifndef SL_CLI_FLAGS_H
#define SL_CLI_FLAGS_H

#include <stdbool.h>

#include "streamllm.h"

/* If argv[*i] is a session flag, parses it (and its value), advances *i and
 * returns true. Dies naming the flag on a bad value. */
bool cli_session_flag(int argc, char **argv, int *i, sl_session_params *p);
bool cli_sampler_flag(int argc, char **argv, int *i, sl_sampler_params *p);

/* The value of -c/--ctx-size (llama.cpp's spelling of the cache size), 0
 * when not given; cli_check_geometry turns it into a window. */
int cli_ctx_size_flag(void);

/* Help text for the flags above, for each command's --help. */
extern const char CLI_SESSION_HELP[];
extern const char CLI_SAMPLER_HELP[];

const char *cli_policy_name(sl_policy p);
/* "streaming" -> SL_POLICY_STREAMING; -1 when unknown. */
int cli_policy_from_name(const char *s);

/* Writes s as a JSON string literal (with quotes) to fp. */
void cli_json_string(FILE *fp, const char *s, size_t len);

#endif
