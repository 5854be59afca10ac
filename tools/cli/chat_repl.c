/* chat_repl.c — the interactive loop of `streamllm chat`.
 *
 * On a terminal, lines are read with libedit (editing, in-memory history
 * capped at HISTORY_MAX lines so a day-long chat does not grow). Otherwise
 * lines come from stdin as they are, so scripts can pipe a conversation in.
 * Ctrl-C stops the reply in progress (or clears the line at the prompt);
 * Ctrl-D on an empty line, /quit or the end of input exits with status 0. */
#include <editline/readline.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chat_cli.h"
#include "cli.h"

#define HISTORY_MAX 1000

static const char HELP[] =
    "commands:\n"
    "  /reset          start over (same system prompt)\n"
    "  /system TEXT    start over with a new system prompt (/system alone shows it)\n"
    "  /stats          turns, tokens streamed, cache occupancy, tok/s, memory\n"
    "  /save FILE      save the conversation (cache, tokens, sampler state)\n"
    "  /load FILE      resume a saved conversation\n"
    "  /help           this text\n"
    "  /quit           exit (as does Ctrl-D on an empty line)\n"
    "Ctrl-C stops a reply. A line starting with // sends the text after the first /.\n";

/* One input line without its newline, or NULL at end of input. Sets
 * *interrupted when Ctrl-C arrived at the prompt. The caller frees. */
static char *read_line(bool tty, bool *interrupted) {
    *interrupted = false;
    if (tty) {
        chat_interrupted = 0;
        char *l = readline("> ");
        if (!l && chat_interrupted) *interrupted = true;
        if (l && chat_interrupted) { /* Ctrl-C typed while editing: drop the line */
            free(l);
            *interrupted = true;
            return NULL;
        }
        return l;
    }
    char *line = NULL;
    size_t cap = 0;
    for (;;) {
        errno = 0;
        ssize_t n = getline(&line, &cap, stdin);
        if (n >= 0) {
            while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = '\0';
            return line;
        }
        if (errno == EINTR && chat_interrupted) {
            clearerr(stdin);
            chat_interrupted = 0;
            continue;
        }
        free(line);
        return NULL;
    }
}

static const char *skip_ws(const char *s) {
    while (*s == ' ' || *s == '\t') s++;
    return s;
}

/* Returns false when the loop should end (/quit). */
static bool command(sl_chat *c, const char *line, const sl_chat_turn_stats *last, bool *have_last) {
    sl_error err = {0};
    const char *arg = line + 1;
    size_t name_len = strcspn(arg, " \t");
    const char *rest = skip_ws(arg + name_len);
#define IS(name) (name_len == strlen(name) && !strncmp(arg, name, name_len))
    if (IS("help") || IS("?")) {
        fputs(HELP, stdout);
    } else if (IS("quit") || IS("exit")) {
        return false;
    } else if (IS("reset")) {
        if (sl_chat_reset(c, NULL, &err) != SL_OK) {
            fprintf(stderr, "error: %s\n", err.msg);
        } else {
            *have_last = false;
            fprintf(stderr, "[conversation reset]\n");
        }
    } else if (IS("system")) {
        sl_chat_info in;
        sl_chat_get_info(c, &in);
        if (!*rest) {
            printf("system prompt (%zu tokens%s): %s\n", in.system_tokens,
                   in.keep_system ? ", pinned" : "", *in.system ? in.system : "(none)");
        } else if (sl_chat_reset(c, rest, &err) != SL_OK) {
            fprintf(stderr, "error: %s\n", err.msg);
        } else {
            sl_chat_get_info(c, &in);
            *have_last = false;
            fprintf(stderr, "[new system prompt: %zu tokens; conversation reset]\n", in.system_tokens);
        }
    } else if (IS("stats")) {
        chat_print_stats(stdout, c, *have_last ? last : NULL);
    } else if (IS("save")) {
        if (!*rest) fprintf(stderr, "error: /save needs a file name\n");
        else if (sl_chat_save(c, rest, &err) != SL_OK) fprintf(stderr, "error: %s\n", err.msg);
        else fprintf(stderr, "[saved to %s]\n", rest);
    } else if (IS("load")) {
        if (!*rest) fprintf(stderr, "error: /load needs a file name\n");
        else if (sl_chat_load(c, rest, &err) != SL_OK) fprintf(stderr, "error: %s\n", err.msg);
        else {
            sl_chat_info in;
            sl_chat_get_info(c, &in);
            *have_last = false;
            fprintf(stderr, "[loaded %s: %llu turns, %zu tokens in the cache]\n", rest,
                    (unsigned long long)in.turns, in.cache_tokens);
        }
    } else {
        fprintf(stderr, "error: unknown command '/%.*s' (/help lists them)\n", (int)name_len, arg);
    }
#undef IS
    fflush(stdout);
    return true;
}

int chat_run_interactive(sl_chat *c, const chat_opts *o) {
    bool tty = isatty(STDIN_FILENO);
    if (tty) {
        rl_readline_name = "streamllm";
        rl_catch_signals = 0; /* our SIGINT handler sees Ctrl-C */
        stifle_history(HISTORY_MAX);
    }
    if (!o->quiet) {
        sl_chat_info in;
        sl_chat_get_info(c, &in);
        fprintf(stderr, "streamllm chat: template %s, cache %d pinned (%d sinks + %d system) + "
                        "window %d tokens, reply cap %lld. /help for commands, Ctrl-C stops a "
                        "reply, Ctrl-D exits.\n",
                sl_chat_family_name(in.family), in.n_pinned, in.n_sink, in.n_pinned - in.n_sink,
                in.n_window, o->n_predict);
    }
    sl_chat_turn_stats last;
    memset(&last, 0, sizeof last);
    bool have_last = false;
    for (;;) {
        bool intr;
        char *line = read_line(tty, &intr);
        if (!line) {
            if (intr) {
                fputs("^C\n", stdout); /* a fresh prompt, like a shell */
                fflush(stdout);
                continue;
            }
            if (tty) fputs("\n", stdout);
            break;
        }
        const char *text = line;
        if (tty && *skip_ws(line)) add_history(line);
        if (line[0] == '/' && line[1] != '/') {
            bool go = command(c, line, &last, &have_last);
            free(line);
            if (!go) break;
            continue;
        }
        if (line[0] == '/') text = line + 1; /* "//x" sends "/x" */
        if (!*skip_ws(text)) {
            free(line);
            continue;
        }
        chat_interrupted = 0;
        chat_sink sink = {.out = stdout, .keep = false};
        sl_error err = {0};
        sl_status st = sl_chat_turn(c, text, strlen(text), o->n_predict, chat_sink_emit, &sink,
                                    &last, &err);
        free(line);
        fputs("\n", stdout);
        if (st != SL_OK) {
            fflush(stdout);
            fprintf(stderr, "error: %s (/reset starts over)\n", err.msg);
            continue;
        }
        have_last = true;
        if (!strcmp(last.stop, "interrupted")) fputs("[reply stopped]\n", stdout);
        fflush(stdout);
        chat_interrupted = 0;
    }
    return 0;
}
