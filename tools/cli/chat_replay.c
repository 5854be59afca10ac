/* chat_replay.c — `streamllm chat --replay TURNS.jsonl`: every turn of every
 * line, in order, as one endless conversation (what the paper's
 * run_streaming_llama.py does with MT-Bench).
 *
 * Memory stays constant however long the file: lines are read one at a
 * time into one reused buffer, each parsed line is freed after its turns,
 * and with --json each turn's object is written out as soon as the turn
 * ends instead of collecting the transcript. A line that is not a JSON
 * object with a "turns" array of strings is reported with its line number
 * and skipped; the other lines still run, and the exit status is 1. */
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "chat_cli.h"
#include "chat_jsonl.h"
#include "cli_progress.h"
#include "cli.h"
#include "cli_flags.h"
#include "core/sys_stats.h"

/* Writes `"key": value` (and a leading comma unless first) with jansson, so
 * every string is escaped by the library. Takes ownership of v. */
static void put_kv(FILE *fp, const char *key, json_t *v, bool first) {
    if (!v) cli_die("out of memory");
    fputs(first ? "" : ", ", fp);
    json_t *k = json_string(key);
    json_dumpf(k, fp, JSON_ENCODE_ANY);
    fputs(": ", fp);
    json_dumpf(v, fp, JSON_ENCODE_ANY | JSON_COMPACT);
    json_decref(k);
    json_decref(v);
}

static void json_header(FILE *fp, const sl_chat *c, const chat_opts *o) {
    sl_chat_info in;
    sl_chat_get_info(c, &in);
    fputs("{", fp);
    put_kv(fp, "replay", json_string(o->replay), true);
    put_kv(fp, "template", json_string(sl_chat_family_name(in.family)), false);
    put_kv(fp, "policy", json_string(cli_policy_name(in.policy)), false);
    put_kv(fp, "sinks", json_integer(in.n_sink), false);
    put_kv(fp, "window", json_integer(in.n_window), false);
    put_kv(fp, "system_tokens", json_integer((json_int_t)in.system_tokens), false);
    put_kv(fp, "pinned", json_integer(in.n_pinned), false);
    put_kv(fp, "cache_capacity", json_integer((json_int_t)in.cache_capacity), false);
    put_kv(fp, "reply_cap", json_integer(o->n_predict), false);
    put_kv(fp, "kv_bytes", json_integer((json_int_t)in.kv_bytes), false);
    fputs(", \"turns\": [\n", fp);
}

int chat_run_replay(sl_chat *c, const chat_opts *o) {
    FILE *fp = fopen(o->replay, "rb");
    if (!fp) cli_die("--replay %s: cannot open: %s", o->replay, strerror(errno));
    FILE *out = stdout;
    sl_chat_info in;
    sl_chat_get_info(c, &in);
    if (o->json) {
        json_header(out, c, o);
    } else if (!o->quiet) {
        fprintf(stderr, "streamllm chat: replaying %s, template %s, cache %d pinned (%d sinks + %d "
                        "system) + window %d = %zu tokens, reply cap %lld\n",
                o->replay, sl_chat_family_name(in.family), in.n_pinned, in.n_sink,
                in.n_pinned - in.n_sink, in.n_window, in.cache_capacity, o->n_predict);
    }

    /* With --json nothing readable reaches the terminal until the end: a
     * progress line (terminal only) shows the turns done. */
    cli_progress bar;
    cli_progress_start(&bar, "replay", "turns", 0);
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    unsigned long lineno = 0, n_bad = 0, n_turns = 0;
    bool stop = false;
    sl_error err = {0};
    while (!stop && (n = getline(&line, &cap, fp)) != -1) {
        lineno++;
        json_t *root, *turns;
        char why[256];
        chat_jsonl_kind kind = chat_jsonl_parse(line, (size_t)n, &root, &turns, why, sizeof why);
        if (kind == CHAT_JSONL_BLANK) continue; /* blank lines are not turns */
        if (kind == CHAT_JSONL_MALFORMED) {
            fprintf(stderr, "streamllm chat: %s:%lu%s (line skipped)\n", o->replay, lineno, why);
            n_bad++;
            continue;
        }
        for (size_t i = 0; i < json_array_size(turns) && !stop; i++) {
            json_t *js = json_array_get(turns, i);
            const char *prompt = json_string_value(js);
            size_t plen = json_string_length(js);
            chat_sink sink = {.out = o->json ? NULL : out, .keep = o->json};
            if (!o->json) {
                fputs("USER: ", out);
                fwrite(prompt, 1, plen, out);
                fputs("\n\nASSISTANT: ", out);
                fflush(out);
            }
            sl_chat_turn_stats ts;
            sl_status st = sl_chat_turn(c, prompt, plen, o->n_predict, chat_sink_emit, &sink, &ts, &err);
            if (st != SL_OK) {
                /* The conversation cannot go on (e.g. a dense cache is full). */
                if (o->json) fputs("\n], \"error\": \"turn failed\"}\n", out);
                cli_check(st, &err);
            }
            n_turns++;
            uint64_t peak = sl_peak_rss_bytes();
            if (o->json) {
                json_t *t = json_pack("{s:I, s:I, s:s%, s:s%, s:I, s:I, s:I, s:I, s:f, s:I, s:s, s:b}",
                                      "turn", (json_int_t)n_turns, "line", (json_int_t)lineno,
                                      "prompt", prompt, plen, "reply", sink.buf ? sink.buf : "",
                                      sink.len, "prompt_tokens", (json_int_t)ts.prompt_tokens,
                                      "reply_tokens", (json_int_t)ts.reply_tokens, "cache_tokens",
                                      (json_int_t)ts.cache_tokens, "stream_position",
                                      (json_int_t)ts.stream_pos, "tok_per_s", ts.tok_per_s,
                                      "peak_rss_bytes", (json_int_t)peak, "stop", ts.stop,
                                      "overlong", ts.overlong);
                if (!t) cli_die("turn %lu: cannot build its JSON object", n_turns);
                fputs(n_turns > 1 ? ",\n" : "", out);
                json_dumpf(t, out, JSON_COMPACT);
                json_decref(t);
            } else {
                fputs("\n", out);
                if (!o->quiet)
                    fprintf(out, "[turn %lu | line %lu | prompt %zu tok | reply %zu tok, %.1f tok/s "
                                 "| cache %zu/%zu tok | stream %llu tok | peak RSS %.2f MiB%s]\n\n",
                            n_turns, lineno, ts.prompt_tokens, ts.reply_tokens, ts.tok_per_s,
                            ts.cache_tokens, in.cache_capacity, (unsigned long long)ts.stream_pos,
                            (double)peak / (1024.0 * 1024.0),
                            ts.overlong ? " | turn longer than the window: streamed through" : "");
            }
            fflush(out);
            if (o->json) cli_progress_update(&bar, n_turns);
            chat_sink_free(&sink);
            if (chat_interrupted) stop = true;
        }
        json_decref(root);
    }
    cli_progress_end(&bar);
    bool read_error = !stop && ferror(fp);
    free(line);
    fclose(fp);
    if (read_error) cli_die("--replay %s: read error", o->replay);
    if (o->json) {
        fputs("\n]", out);
        put_kv(out, "completed_turns", json_integer((json_int_t)n_turns), false);
        put_kv(out, "malformed_lines", json_integer((json_int_t)n_bad), false);
        put_kv(out, "peak_rss_bytes", json_integer((json_int_t)sl_peak_rss_bytes()), false);
        put_kv(out, "interrupted", json_boolean(stop), false);
        fputs("}\n", out);
        fflush(out);
    }
    if (stop) fprintf(stderr, "streamllm chat: interrupted after %lu turns\n", n_turns);
    if (n_bad > 0) {
        fprintf(stderr, "streamllm chat: %s: %lu malformed line%s skipped, %lu turns ran\n",
                o->replay, n_bad, n_bad == 1 ? "" : "s", n_turns);
        return 1;
    }
    return stop ? 130 : 0;
}
