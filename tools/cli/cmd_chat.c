/* cmd_chat.c — `streamllm chat`: an endless conversation in constant
 * memory, interactive (chat_repl.c) or replayed from a JSONL file
 * (chat_replay.c). Flags, template choice and set-up live here. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat_cli.h"
#include "cli.h"
#include "cli_check.h"
#include "cli_progress.h"
#include "cli_flags.h"
#include "chat/chat_internal.h"
#include "model/model.h"

static void usage(void) {
    printf("usage: streamllm chat [-m FILE.gguf] [--replay TURNS.jsonl [--json]] [flags]\n\n"
           "An endless multi-round chat. The streaming cache keeps the attention sinks,\n"
           "the system prompt (pinned) and a rolling window of recent turns; before each\n"
           "turn, whole old turns are evicted to make room for it plus the reply cap, so\n"
           "memory and speed stay the same at turn 1,000 as at turn 1. What leaves the\n"
           "window is forgotten. A single turn longer than the window still streams\n"
           "through (the window then starts inside it until the next turn).\n\n"
           "  -m, --model FILE    GGUF model\n"
           "  -n, --n-predict N   reply cap in tokens per turn (default 256, -1 = none:\n"
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

/* --load brings the saved template, cache shape and sampler settings. A flag
 * given with it must agree with the file (then it is applied as it is);
 * one that differs is refused by name rather than silently ignored. Only
 * -t/--threads and --batch are this run's own. */
static void check_load_flags(const sl_chat *c, const char *path, const sl_chat_params *want,
                             bool template_given, const char *const *given, int n_given) {
    sl_chat_info in;
    sl_chat_get_info(c, &in);
    const sl_session_params *sp = &c->v.s->p;
    const sl_sampler_params *sa = &c->v.sampler_params, *wa = &want->sampler;
    const sl_session_params *ws = &want->session;
    if (template_given && want->family != in.family)
        cli_die("--template %s: %s was saved with template %s; drop --template (--load restores it)",
                sl_chat_family_name(want->family), path, sl_chat_family_name(in.family));
    for (int k = 0; k < n_given; k++) {
        const char *f = given[k];
        bool same;
        if (!strcmp(f, "--policy")) same = ws->policy == sp->policy;
        else if (!strcmp(f, "--sinks")) same = ws->n_sink == in.n_sink;
        else if (!strcmp(f, "--window")) same = ws->n_window == in.n_window;
        else if (!strcmp(f, "--kv-type")) same = ws->kv_type == sp->kv_type;
        else if (!strcmp(f, "--allow-overflow")) same = sp->allow_overflow;
        else if (!strcmp(f, "--no-keep-system")) same = !in.keep_system;
        else if (!strcmp(f, "--temp")) same = wa->temp == sa->temp;
        else if (!strcmp(f, "--top-k")) same = wa->top_k == sa->top_k;
        else if (!strcmp(f, "--top-p")) same = wa->top_p == sa->top_p;
        else if (!strcmp(f, "--min-p")) same = wa->min_p == sa->min_p;
        else if (!strcmp(f, "--repeat-penalty")) same = wa->repeat_penalty == sa->repeat_penalty;
        else if (!strcmp(f, "--repeat-last-n")) same = wa->penalty_last_n == sa->penalty_last_n;
        else if (!strcmp(f, "--presence-penalty")) same = wa->presence_penalty == sa->presence_penalty;
        else if (!strcmp(f, "--frequency-penalty")) same = wa->frequency_penalty == sa->frequency_penalty;
        else if (!strcmp(f, "--seed") || !strcmp(f, "-s")) same = wa->seed == sa->seed;
        else same = false; /* --keep, -c: the saved cache decides */
        if (!same)
            cli_die("%s: differs from what %s was saved with; drop it (--load restores the template, "
                    "cache shape and sampler settings; only -t/--threads and --batch apply)",
                    f, path);
    }
}

int cmd_chat(int argc, char **argv) {
    chat_opts o = {0};
    o.n_predict = 256;
    const char *template_name = NULL, *system_file = NULL;
    const char **given = calloc((size_t)argc + 1, sizeof *given); /* flags a --load file also sets */
    int n_given = 0;
    if (!given) cli_die("out of memory");
    sl_chat_params cp;
    sl_chat_params_default(&cp);

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage();
            free(given);
            return 0;
        } else if (!strcmp(a, "-m") || !strcmp(a, "--model")) o.model_path = cli_value(argc, argv, &i);
        else if (!strcmp(a, "-n") || !strcmp(a, "--n-predict"))
            o.n_predict = cli_parse_int(a, cli_value(argc, argv, &i), -1, (long long)1 << 40);
        else if (!strcmp(a, "--template")) template_name = cli_value(argc, argv, &i);
        else if (!strcmp(a, "--system")) o.system = cli_value(argc, argv, &i);
        else if (!strcmp(a, "--system-file")) system_file = cli_value(argc, argv, &i);
        else if (!strcmp(a, "--no-keep-system")) cp.keep_system = false, given[n_given++] = a;
        else if (!strcmp(a, "--replay")) o.replay = cli_value(argc, argv, &i);
        else if (!strcmp(a, "--json")) o.json = true;
        else if (!strcmp(a, "--load")) o.load = cli_value(argc, argv, &i);
        else if (!strcmp(a, "--ignore-eos")) cp.ignore_eos = true;
        else if (!strcmp(a, "--quiet")) o.quiet = true;
        else if (cli_session_flag(argc, argv, &i, &cp.session)) {
            /* Threads and batch are how this process runs; the rest is the
             * cache shape a saved conversation brings with it. */
            if (strcmp(a, "-t") && strcmp(a, "--threads") && strcmp(a, "--batch")) given[n_given++] = a;
        } else if (cli_sampler_flag(argc, argv, &i, &cp.sampler)) {
            given[n_given++] = a;
        }
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
    if (!o.load) {
        /* Checked, not resolved: chat sizes its window around the system prompt. */
        sl_session_params g = cp.session;
        if (g.n_window > 0 || cli_ctx_size_flag() > 0) cli_check_geometry(&g, m->hp.n_ctx_train);
        else if (g.policy == SL_POLICY_STREAMING && g.n_sink >= m->hp.n_ctx_train)
            cli_die("--sinks %d leaves no window in the model's trained context (%d)", g.n_sink,
                    m->hp.n_ctx_train);
        cp.session.n_window = g.n_window;
    }
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

    /* Long turns (a pasted document, a replayed file) show a progress line on a terminal. */
    static cli_progress prefill_bar;
    cp.progress = chat_prefill_progress;
    cp.progress_user = &prefill_bar;
    sl_error err = {0};
    sl_chat *c = NULL;
    cli_check(sl_chat_create(&c, m, &cp, o.system, &err), &err);
    if (o.load) {
        cli_check(sl_chat_load(c, o.load, &err), &err);
        check_load_flags(c, o.load, &cp, template_name != NULL, given, n_given);
    }
    free(given);

    chat_install_sigint();
    int rc = o.replay ? chat_run_replay(c, &o) : chat_run_interactive(c, &o);
    sl_chat_free(c);
    sl_model_free(m);
    free(sys_buf);
    return rc;
}
