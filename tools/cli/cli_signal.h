/* cli_signal.h — Ctrl-C for the long-running commands (generate, ppl,
 * train): the first SIGINT only sets a flag, which the command's loop polls
 * to stop cleanly and still print (and write) what it has; a second SIGINT
 * ends the process at once, with the usual "killed by SIGINT" status. */
#ifndef SL_CLI_SIGNAL_H
#define SL_CLI_SIGNAL_H

#include <signal.h>
#include <stdbool.h>

/* Installs the handler. Installed even when the shell started the command
 * with SIGINT ignored (a background job), so `kill -INT` still stops it
 * cleanly. */
void cli_sigint_install(void);
/* True once Ctrl-C was pressed. */
bool cli_interrupted(void);

#endif
