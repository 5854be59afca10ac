/* chat_cli.h — what the pieces of `streamllm chat` share: options, the
 * Ctrl-C flag, reply streaming and the stats printout. The conversation
 * itself is the library's (src/chat/chat.h); these files only drive it. */
#ifndef SL_CHAT_CLI_H
#define SL_CHAT_CLI_H

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>

#include "streamllm.h"
#include "chat/chat.h"

typedef struct {
    const char *model_path;
    const char *replay;      /* --replay TURNS.jsonl */
    const char *load;        /* --load FILE */
    const char *system;      /* --system TEXT (or the text of --system-file) */
    long long n_predict;     /* -n: reply cap per turn, -1 = none */
    bool json;               /* --json (replay) */
    bool quiet;              /* --quiet: no banner / per-turn stats lines */
} chat_opts;

/* Set by the SIGINT handler; the reply in progress stops when it is set. */
extern volatile sig_atomic_t chat_interrupted;
/* Installs the SIGINT handler (no SA_RESTART, so a blocking read returns). */
void chat_install_sigint(void);

/* Streams reply text to a FILE and, when keep is set, also collects it. */
typedef struct {
    FILE *out;          /* NULL: do not print */
    char *buf;          /* collected text (keep) */
    size_t len, cap;
    bool keep;
} chat_sink;

/* sl_chat_emit_fn over a chat_sink: prints, collects, and stops on Ctrl-C. */
bool chat_sink_emit(void *user, const char *text, size_t len);
void chat_sink_free(chat_sink *s);

/* Prints the /stats block (turns, tokens streamed, cache occupancy, tok/s,
 * memory). last may be NULL before the first turn. */
void chat_print_stats(FILE *fp, const sl_chat *c, const sl_chat_turn_stats *last);

/* sl_chat_params.progress for a terminal: user is a cli_progress. */
void chat_prefill_progress(void *user, size_t done, size_t total);

int chat_run_replay(sl_chat *c, const chat_opts *o);
int chat_run_interactive(sl_chat *c, const chat_opts *o);

#endif
