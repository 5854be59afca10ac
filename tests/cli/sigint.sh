#!/usr/bin/env bash
# sigint.sh — Ctrl-C (SIGINT) stops generate, ppl and train cleanly: generate
# prints its stats line, ppl the PPL so far marked partial (and its CSV and
# JSON), train a checkpoint and the command that resumes it, which works. A
# second Ctrl-C ends the process at once. Exit status 130 (128 + SIGINT) in
# every case. Default model and files made here: no shared data needed.
source "$(dirname "$0")/../cli_util.bash"
S=$SL_BIN
for i in $(seq 1 300); do echo "The cat sat on the mat and looked at the dog for a long time."; done > "$TMP/text.txt"

# Starts CMD in the background, waits until FILE has grown (the run is under
# way), sends SIGINT, and leaves the exit status in $rc.
interrupt_when() {
    local file=$1; shift
    "$@" & local pid=$!
    for _ in $(seq 1 200); do [ -s "$file" ] && break; sleep 0.05; done
    sleep 0.3
    kill -INT $pid
    stop_or_kill $pid
}
# Waits for pid; one that ignores SIGINT (as the old code did in a background
# job) is killed after 20 s, so the case fails (rc 137) instead of hanging.
stop_or_kill() {
    for _ in $(seq 1 100); do kill -0 "$1" 2>/dev/null || break; sleep 0.2; done
    kill -0 "$1" 2>/dev/null && kill -KILL "$1"
    wait "$1"; rc=$?
}

# ---- generate ---------------------------------------------------------------------
interrupt_when "$TMP/g.out" sh -c "exec \"$S\" generate -p 'The cat' -n -1 --ignore-eos -t 1 >\"$TMP/g.out\" 2>\"$TMP/g.err\""
if [ $rc -eq 130 ] && grep -q "interrupted (Ctrl-C): prompt .* generated [0-9]* tok" "$TMP/g.err"; then t_pass generate_sigint_stats
else t_fail generate_sigint_stats "rc $rc: $(tail -c 300 "$TMP/g.err")"; fi
interrupt_when "$TMP/gj.out" sh -c "exec \"$S\" generate -p 'The cat' -n -1 --ignore-eos -t 1 --json >\"$TMP/gj.out\" 2>/dev/null"
if [ $rc -eq 130 ] && tail -n 1 "$TMP/gj.out" | grep -q '"stop": "interrupted"'; then t_pass generate_sigint_json
else t_fail generate_sigint_json "rc $rc: $(tail -c 300 "$TMP/gj.out")"; fi

# ---- ppl: partial PPL, JSON and CSV -------------------------------------------------
interrupt_when "$TMP/p.csv" sh -c "exec \"$S\" ppl -f \"$TMP/text.txt\" --repeat 100000 --batch 8 -t 1 --json --nll-out \"$TMP/p.csv\" >\"$TMP/p.json\" 2>\"$TMP/p.err\""
tokens=$(grep -o '"tokens": [0-9]*' "$TMP/p.json" | grep -o '[0-9]*$')
rows=$(($(wc -l < "$TMP/p.csv") - 1))
if [ $rc -eq 130 ] && grep -q '"partial": true' "$TMP/p.json" && grep -q '"ppl": [0-9]' "$TMP/p.json" \
   && [ -n "$tokens" ] && [ "$tokens" -gt 0 ] && [ "$rows" = "$tokens" ] && grep -q "partial" "$TMP/p.err"; then
    t_pass ppl_sigint_partial
else
    t_fail ppl_sigint_partial "rc $rc tokens '$tokens' csv rows $rows: $(cat "$TMP/p.json") $(tail -c 200 "$TMP/p.err")"
fi
interrupt_when "$TMP/pp.err" sh -c "exec \"$S\" ppl -f \"$TMP/text.txt\" --repeat 100000 --batch 8 -t 1 --report-every 64 --plot-out \"$TMP/plot\" >\"$TMP/pp.out\" 2>\"$TMP/pp.err\""
if [ $rc -eq 130 ] && grep -q "PPL [0-9.]*.*(partial: interrupted)" "$TMP/pp.out" && [ -s "$TMP/plot.csv" ]; then
    t_pass ppl_sigint_text_and_plot
else
    t_fail ppl_sigint_text_and_plot "rc $rc: $(cat "$TMP/pp.out") $(ls "$TMP")"
fi

# ---- train: checkpoint and resume ---------------------------------------------------
"$S" train-tokenizer --corpus "$TMP/text.txt" --vocab 280 -o "$TMP/tok.gguf" >/dev/null 2>&1
SHAPE=(--dim 32 --layers 2 --heads 2 --ctx 32 --batch 2 --steps 1000000 -t 1 --eval-every 0)
interrupt_when "$TMP/m.loss.csv" "$S" train --tokenizer "$TMP/tok.gguf" --corpus "$TMP/text.txt" "${SHAPE[@]}" \
    -o "$TMP/m.gguf" 2>"$TMP/t.err"
resume=$(grep -o 'resume with: .*' "$TMP/t.err" | sed 's/^resume with: //')
if [ $rc -eq 130 ] && [ -s "$TMP/m.ckpt" ] && [ -n "$resume" ]; then t_pass train_sigint_checkpoint
else t_fail train_sigint_checkpoint "rc $rc: $(tail -c 300 "$TMP/t.err")"; fi
# The printed command resumes (stopped again after one step).
step=$(grep -o 'interrupted (Ctrl-C) at step [0-9]*' "$TMP/t.err" | grep -o '[0-9]*$')
if [ -n "$resume" ] && eval "${resume/streamllm/\"$S\"} --stop-after 1" >/dev/null 2>"$TMP/r.err" \
   && grep -q "resumed .* at step $step " "$TMP/r.err"; then t_pass train_sigint_resume_command_works
else t_fail train_sigint_resume_command_works "$(tail -c 300 "$TMP/r.err")"; fi

# ---- a second Ctrl-C exits at once (killed by SIGINT: no stats, no checkpoint) ------
rm -f "$TMP/m2.ckpt" "$TMP/m2.loss.csv"
BIG=(--dim 256 --layers 4 --heads 4 --ctx 256 --batch 8 --steps 1000000 -t 1 --eval-every 0)
"$S" train --tokenizer "$TMP/tok.gguf" --corpus "$TMP/text.txt" "${BIG[@]}" -o "$TMP/m2.gguf" 2>"$TMP/t2.err" &
pid=$!
for _ in $(seq 1 200); do grep -q "parameters" "$TMP/t2.err" 2>/dev/null && break; sleep 0.05; done
sleep 0.2
kill -INT $pid; sleep 0.05; kill -INT $pid
stop_or_kill $pid
if [ $rc -eq 130 ] && [ ! -e "$TMP/m2.ckpt" ] && ! grep -q "interrupted" "$TMP/t2.err"; then t_pass second_sigint_exits_at_once
else t_fail second_sigint_exits_at_once "rc $rc, checkpoint $(ls "$TMP"/m2.ckpt 2>&1): $(tail -c 200 "$TMP/t2.err")"; fi
exit $FAILED
