/* chat_common.c — Ctrl-C handling, reply streaming and /stats for
 * `streamllm chat`. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "chat_cli.h"
#include "cli.h"
#include "cli_flags.h"
#include "cli_progress.h"
#include "core/sys_stats.h"

volatile sig_atomic_t chat_interrupted;

static void on_sigint(int sig) {
    (void)sig;
    chat_interrupted = 1;
}

void chat_install_sigint(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0; /* no SA_RESTART: a blocking read sees EINTR */
    sigaction(SIGINT, &sa, NULL);
}

bool chat_sink_emit(void *user, const char *text, size_t len) {
    chat_sink *s = user;
    if (len > 0) {
        if (s->out) {
            fwrite(text, 1, len, s->out);
            fflush(s->out);
        }
        if (s->keep) {
            if (s->len + len + 1 > s->cap) {
                size_t cap = s->cap ? s->cap : 256;
                while (cap < s->len + len + 1) cap *= 2;
                char *nb = realloc(s->buf, cap);
                if (!nb) cli_die("out of memory");
                s->buf = nb;
                s->cap = cap;
            }
            memcpy(s->buf + s->len, text, len);
            s->len += len;
            s->buf[s->len] = '\0';
        }
    }
    return !chat_interrupted;
}

void chat_sink_free(chat_sink *s) {
    free(s->buf);
    memset(s, 0, sizeof *s);
}

static double mib(uint64_t b) { return (double)b / (1024.0 * 1024.0); }

void chat_print_stats(FILE *fp, const sl_chat *c, const sl_chat_turn_stats *last) {
    sl_chat_info in;
    sl_chat_get_info(c, &in);
    fprintf(fp, "turns          %llu\n", (unsigned long long)in.turns);
    fprintf(fp, "tokens         %llu streamed through the cache, %llu generated\n",
            (unsigned long long)in.stream_pos, (unsigned long long)in.generated);
    fprintf(fp, "cache          %zu / %zu tokens (%s: %d pinned = %d sinks + %d system; window %d)\n",
            in.cache_tokens, in.cache_capacity, cli_policy_name(in.policy), in.n_pinned, in.n_sink,
            in.n_pinned - in.n_sink, in.n_window);
    fprintf(fp, "template       %s; stream start (BOS + system prompt) %zu tokens%s\n",
            sl_chat_family_name(in.family), in.system_tokens,
            in.keep_system ? ", pinned" : ", not pinned");
    if (last)
        fprintf(fp, "speed          last reply %zu tokens at %.1f tok/s; mean %.1f tok/s\n",
                last->reply_tokens, last->tok_per_s,
                in.decode_s > 0 ? (double)in.generated / in.decode_s : 0.0);
    else
        fprintf(fp, "speed          mean %.1f tok/s\n",
                in.decode_s > 0 ? (double)in.generated / in.decode_s : 0.0);
    uint64_t rss, peak;
    sl_mem_snapshot(&rss, &peak);
    fprintf(fp, "memory         KV cache %.2f MiB (fixed), RSS %.2f MiB, peak %.2f MiB\n",
            mib(in.kv_bytes), mib(rss), mib(peak));
    fflush(fp);
}

void chat_prefill_progress(void *user, size_t done, size_t total) {
    cli_progress *p = user;
    if (done <= 256 || done == total) {
        if (done == total) cli_progress_end(p);
        if (done <= 256 && done != total) cli_progress_start(p, "prefill", "tok", total);
        if (done == total) return;
    }
    cli_progress_update(p, done);
}
