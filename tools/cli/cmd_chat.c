/* cmd_chat.c — `streamllm chat`: an endless conversation in constant
 * memory, interactive (chat_repl.c) or replayed from a JSONL file
 * (chat_replay.c). Flags, template choice and set-up live here. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat_cli.h"
#include "cli.h"
#include "cli_flags.h"
#include "model/model.h"

static void usage(void) {
    printf("usage: streamllm chat [-m FILE.gguf] [--replay TURNS.jsonl [--json]] [flags]\n\n"
           "An endless multi-round chat. The streaming cache keeps the attention sinks,\n"
           "the system prompt (pinned) and a rolling window of recent turns; before each\n"
           "turn, whole old turns are evicted to make room for it plus the reply cap, so\n"
           "memory and speed stay the same at turn 1,000 as at turn 1. What leaves the\n"
           "window is forgotten. A single turn longer than the window still streams\n"
           "through (the window then starts inside it until the next turn).\n\n"
           "  -m FILE             GGUF model\n"
           "  -n N                reply cap in tokens per turn (default 256, -1 = none:\n"
           "                      then no room is reserved and long replies stream through)\n"
           "  --template NAME     chat format: %s\n"
           "                      (default: detected from tokenizer.chat_template; a model\n"
           "                      without one, or with an unknown one, gets vicuna, the\n"
           "                      \"USER: / ASSISTANT:\" format of the paper's demo, and a warning)\n"
           "  --system TEXT       system prompt; --system-file FILE reads it from a file\n"
           "  --no-keep-system    do not pin the system prompt (it is evicted like a turn)\n"
           "  --replay FILE       feed every turn of a JSONL file ({\"turns\": [\"...\", ...]} per\n"
           "                      line, like MT-Bench) as one conversation; print each reply\n"
           "                      and per-turn stats\n"
           "  --json              with --replay: print one JSON object {\"turns\": [...]} instead\n"
           "  --load FILE         resume a conversation saved with /save (it carries its\n"
           "                      template, system prompt, cache shape and sampler settings)\n"
           "  --ignore-eos        keep generating past end-of-turn tokens\n"
           "  --quiet             no banner and no per-turn stats lines\n\n"
           "interactive commands: /help /reset /system TEXT /stats /save FILE /load FILE /quit\n"
           "Ctrl-C stops the reply in progress; Ctrl-D (on an empty line) exits.\n\n%s\n%s",
           sl_chat_family_list(), CLI_SAMPLER_HELP, CLI_SESSION_HELP);
}

int cmd_chat(int argc, char **argv) {
    chat_opts o = {0};
    o.n_predict = 256;
    const char *template_name = NULL, *system_file = NULL;
    sl_chat_params cp;
    sl_chat_params_default(&cp);

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage();
            return 0;
        } else if (!strcmp(a, "-m") || !strcmp(a, "--model")) o.model_path = cli_value(argc, argv, &i);
        else if (!strcmp(a, "-n") || !strcmp(a, "--n-predict"))
            o.n_predict = cli_parse_int(a, cli_value(argc, argv, &i), -1, (long long)1 << 40);
        else if (!strcmp(a, "--template")) template_name = cli_value(argc, argv, &i);
        else if (!strcmp(a, "--system")) o.system = cli_value(argc, argv, &i);
        else if (!strcmp(a, "--system-file")) system_file = cli_value(argc, argv, &i);
        else if (!strcmp(a, "--no-keep-system")) cp.keep_system = false;
        else if (!strcmp(a, "--replay")) o.replay = cli_value(argc, argv, &i);
        else if (!strcmp(a, "--json")) o.json = true;
        else if (!strcmp(a, "--load")) o.load = cli_value(argc, argv, &i);
        else if (!strcmp(a, "--ignore-eos")) cp.ignore_eos = true;
        else if (!strcmp(a, "--quiet")) o.quiet = true;
        else if (cli_session_flag(argc, argv, &i, &cp.session)) continue;
        else if (cli_sampler_flag(argc, argv, &i, &cp.sampler)) continue;
        else cli_die("unknown flag '%s' (see streamllm chat --help)", a);
    }
    if (o.system && system_file) cli_die("--system and --system-file are exclusive");
    if (o.json && !o.replay) cli_die("--json needs --replay (interactive output is plain text)");
    if (o.load && (o.system || system_file))
        cli_die("--load restores the saved system prompt: drop --system/--system-file");
    char *sys_buf = NULL;
    if (system_file) {
        size_t n;
        sys_buf = cli_read_file(system_file, &n);
        if (strlen(sys_buf) != n) cli_die("%s: the system prompt contains a NUL byte", system_file);
        o.system = sys_buf;
    }
    if (o.system && sl_utf8_validate(o.system, strlen(o.system)) != (size_t)-1)
        cli_die("--system: invalid UTF-8 at byte %zu", sl_utf8_validate(o.system, strlen(o.system)));
    if (template_name) {
        int f = sl_chat_family_from_name(template_name);
        if (f < 0) cli_die("--template: '%s' is not one of %s", template_name, sl_chat_family_list());
        cp.family = (sl_chat_family)f;
    }

    sl_model *m = cli_load_model(o.model_path);
    if (!template_name && !o.load) {
        sl_chat_detect_result how;
        cp.family = sl_chat_family_for_model(m, &how);
        if (how != SL_CHAT_DETECTED)
            fprintf(stderr,
                    "streamllm chat: warning: %s; using the default template '%s' (\"USER: ... "
                    "ASSISTANT: \", the StreamingLLM demo format). Choose one with --template "
                    "(%s).\n",
                    how == SL_CHAT_NO_TEMPLATE ? "the model has no tokenizer.chat_template"
                                               : "the model's tokenizer.chat_template is not a "
                                                 "known format",
                    sl_chat_family_name(cp.family), sl_chat_family_list());
    }

    sl_error err = {0};
    sl_chat *c = NULL;
    cli_check(sl_chat_create(&c, m, &cp, o.system, &err), &err);
    if (o.load) cli_check(sl_chat_load(c, o.load, &err), &err);

    chat_install_sigint();
    int rc = o.replay ? chat_run_replay(c, &o) : chat_run_interactive(c, &o);
    sl_chat_free(c);
    sl_model_free(m);
    free(sys_buf);
    return rc;
}
