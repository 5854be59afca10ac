/* cli_signal.c — the two-stage Ctrl-C of cli_signal.h. */
#include "cli_signal.h"

#include <string.h>

static volatile sig_atomic_t g_interrupted;

static void on_sigint(int sig) {
    if (g_interrupted) {
        /* Second Ctrl-C: die of SIGINT now (async-signal-safe calls only). */
        signal(sig, SIG_DFL);
        raise(sig);
        return;
    }
    g_interrupted = 1;
}

void cli_sigint_install(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART; /* file writes in progress complete */
    sigaction(SIGINT, &sa, NULL);
}

bool cli_interrupted(void) { return g_interrupted != 0; }
