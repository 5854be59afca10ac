#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "cli_flags.h"

const char CLI_SESSION_HELP[] =
    "cache (StreamingLLM):\n"
    "  --policy P          streaming (default) | window | dense | recompute\n"
    "  --sinks N           attention-sink tokens kept forever (default 4; streaming only)\n"
    "  --window N          recent tokens kept (default: trained context - sinks - keep)\n"
    "  -c, --ctx-size N    llama.cpp spelling of the cache size: window = N - sinks - keep\n"
    "  --keep N            also pin the first N tokens after the sinks (a system prompt)\n"
    "  --kv-type T         f16 (default) | f32 | q8_0 (about half of f16; head_dim % 32 == 0)\n"
    "  --allow-overflow    run past the trained context: dense beyond it, or a cache\n"
    "                      (sinks + keep + window) larger than it (shows the degradation)\n"
    "  --batch N           prompt chunk size (default 64)\n"
    "  -t, --threads N     threads (default: number of cores)\n";

const char CLI_SAMPLER_HELP[] =
    "sampling:\n"
    "  --temp T            temperature, 0 = greedy (default 0.8)\n"
    "  --top-k N           keep the N most likely tokens (default 40, 0 = off)\n"
    "  --top-p P           nucleus sampling, (0, 1] (default 0.95, 1 = off)\n"
    "  --min-p P           drop tokens below P x the top probability (default 0.05, 0 = off)\n"
    "  --repeat-penalty R  penalise recent tokens (default 1.0 = off)\n"
    "  --repeat-last-n N   how many recent tokens the penalties see (default 64)\n"
    "  --presence-penalty X, --frequency-penalty X   OpenAI-style (default 0)\n"
    "  -s, --seed S        RNG seed (default 42): the same seed gives the same text\n";

const char *cli_policy_name(sl_policy p) {
    switch (p) {
    case SL_POLICY_STREAMING: return "streaming";
    case SL_POLICY_WINDOW: return "window";
    case SL_POLICY_DENSE: return "dense";
    case SL_POLICY_RECOMPUTE: return "recompute";
    }
    return "?";
}

int cli_policy_from_name(const char *s) {
    for (int p = 0; p <= SL_POLICY_RECOMPUTE; p++)
        if (!strcmp(s, cli_policy_name((sl_policy)p))) return p;
    return -1;
}

/* -c N, kept until cli_check_geometry knows sinks and keep; the flag
 * parser runs once per process (tool code, not the library). */
static int ctx_size_flag;

int cli_ctx_size_flag(void) { return ctx_size_flag; }

bool cli_session_flag(int argc, char **argv, int *i, sl_session_params *p) {
    const char *a = argv[*i];
    if (!strcmp(a, "--policy")) {
        const char *v = cli_value(argc, argv, i);
        int pol = cli_policy_from_name(v);
        if (pol < 0) cli_die("--policy: '%s' is not one of streaming, window, dense, recompute", v);
        p->policy = (sl_policy)pol;
    } else if (!strcmp(a, "--sinks")) {
        p->n_sink = (int)cli_parse_int(a, cli_value(argc, argv, i), 0, 1024);
    } else if (!strcmp(a, "--window")) {
        p->n_window = (int)cli_parse_int(a, cli_value(argc, argv, i), 1, 1 << 28);
        ctx_size_flag = 0; /* the last of --window and -c wins */
    } else if (!strcmp(a, "-c") || !strcmp(a, "--ctx-size")) {
        ctx_size_flag = (int)cli_parse_int(a, cli_value(argc, argv, i), 1, 1 << 28);
        p->n_window = 0;
    } else if (!strcmp(a, "--keep")) {
        p->n_keep = (int)cli_parse_int(a, cli_value(argc, argv, i), 0, 1 << 20);
    } else if (!strcmp(a, "--kv-type")) {
        const char *v = cli_value(argc, argv, i);
        if (!strcmp(v, "f16")) p->kv_type = SL_KV_F16;
        else if (!strcmp(v, "f32")) p->kv_type = SL_KV_F32;
        else if (!strcmp(v, "q8_0")) p->kv_type = SL_KV_Q8_0;
        else cli_die("--kv-type: '%s' is not one of f16, f32, q8_0", v);
    } else if (!strcmp(a, "--allow-overflow")) {
        p->allow_overflow = true;
    } else if (!strcmp(a, "--batch")) {
        p->n_batch = (int)cli_parse_int(a, cli_value(argc, argv, i), 1, 4096);
    } else if (!strcmp(a, "-t") || !strcmp(a, "--threads")) {
        p->n_threads = (int)cli_parse_int(a, cli_value(argc, argv, i), 1, 256);
    } else {
        return false;
    }
    return true;
}

bool cli_sampler_flag(int argc, char **argv, int *i, sl_sampler_params *p) {
    const char *a = argv[*i];
    if (!strcmp(a, "--temp")) p->temp = (float)cli_parse_float(a, cli_value(argc, argv, i), 0, 100);
    else if (!strcmp(a, "--top-k")) p->top_k = (int)cli_parse_int(a, cli_value(argc, argv, i), 0, 1 << 24);
    else if (!strcmp(a, "--top-p")) {
        const char *v = cli_value(argc, argv, i);
        p->top_p = (float)cli_parse_float(a, v, 0, 1);
        if (!(p->top_p > 0)) cli_die("--top-p: %s keeps no token: expected a value in (0, 1] (1 = off)", v);
    }
    else if (!strcmp(a, "--min-p")) p->min_p = (float)cli_parse_float(a, cli_value(argc, argv, i), 0, 1);
    else if (!strcmp(a, "--repeat-penalty"))
        p->repeat_penalty = (float)cli_parse_float(a, cli_value(argc, argv, i), 0.01, 100);
    else if (!strcmp(a, "--repeat-last-n"))
        p->penalty_last_n = (int)cli_parse_int(a, cli_value(argc, argv, i), 0, SL_SAMPLER_MAX_LAST_N);
    else if (!strcmp(a, "--presence-penalty"))
        p->presence_penalty = (float)cli_parse_float(a, cli_value(argc, argv, i), -100, 100);
    else if (!strcmp(a, "--frequency-penalty"))
        p->frequency_penalty = (float)cli_parse_float(a, cli_value(argc, argv, i), -100, 100);
    else if (!strcmp(a, "--seed") || !strcmp(a, "-s"))
        p->seed = (uint64_t)cli_parse_int(a, cli_value(argc, argv, i), 0, INT64_MAX);
    else return false;
    return true;
}

void cli_json_string(FILE *fp, const char *s, size_t len) {
    fputc('"', fp);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        switch (c) {
        case '"': fputs("\\\"", fp); break;
        case '\\': fputs("\\\\", fp); break;
        case '\n': fputs("\\n", fp); break;
        case '\r': fputs("\\r", fp); break;
        case '\t': fputs("\\t", fp); break;
        default:
            if (c < 0x20) fprintf(fp, "\\u%04x", c);
            else fputc(c, fp);
        }
    }
    fputc('"', fp);
}
