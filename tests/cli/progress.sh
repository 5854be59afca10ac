#!/usr/bin/env bash
# progress.sh — a long prefill shows a progress line when stderr is a
# terminal (a pseudo-terminal here), and nothing extra at all when it is not.
# generate (a long prompt) and chat --replay (a long turn) on the default model.
source "$(dirname "$0")/../cli_util.bash"
PY=$(command -v python3)
if [ -z "$PY" ] || ! "$PY" -c 'import pty' 2>/dev/null; then
    t_skip progress "python3 with the pty module not found"
    exit 0
fi
# About 60K tokens: a prefill of several seconds on the embedded model.
for i in $(seq 1 4000); do echo "The cat sat on the mat and looked at the dog for a long time, then slept."; done > "$TMP/long.txt"
"$PY" -c 'import json,sys; print(json.dumps({"turns": [open(sys.argv[1]).read()]}))' "$TMP/long.txt" > "$TMP/long.jsonl"

# Runs the command with stderr on a pseudo-terminal (stdout to a file); prints what the terminal got.
on_tty() {
    "$PY" - "$@" <<'PYEOF'
import os, pty, sys
pid, fd = pty.fork()
if pid == 0:
    out = os.open(os.environ["OUT"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(out, 1)
    os.execv(sys.argv[1], sys.argv[1:])
buf = b""
while True:
    try:
        d = os.read(fd, 4096)
    except OSError:
        break
    if not d:
        break
    buf += d
os.waitpid(pid, 0)
sys.stdout.write(buf.decode("utf-8", "replace"))
PYEOF
}

tty=$(OUT="$TMP/g.out" on_tty "$SL_BIN" generate -f "$TMP/long.txt" -n 2 -t 1 --no-display-prompt)
grep -q '\[prefill\] [0-9]*/[0-9]* tok' <<<"$tty" && t_pass generate_prefill_progress_on_tty \
    || t_fail generate_prefill_progress_on_tty "terminal got: $(tail -c 300 <<<"$tty")"
"$SL_BIN" generate -f "$TMP/long.txt" -n 2 -t 1 --no-display-prompt >/dev/null 2>"$TMP/g.err"
if grep -q 'prefill' "$TMP/g.err" || grep -q $'\r' "$TMP/g.err"; then
    t_fail generate_no_progress_off_tty "stderr got: $(head -c 300 "$TMP/g.err")"
else t_pass generate_no_progress_off_tty; fi

tty=$(OUT="$TMP/c.out" on_tty "$SL_BIN" chat --replay "$TMP/long.jsonl" --json -n 2 -t 1)
grep -q '\[prefill\] [0-9]*/[0-9]* tok' <<<"$tty" && t_pass chat_replay_prefill_progress_on_tty \
    || t_fail chat_replay_prefill_progress_on_tty "terminal got: $(tail -c 300 <<<"$tty")"
"$SL_BIN" chat --replay "$TMP/long.jsonl" --json -n 2 -t 1 >/dev/null 2>"$TMP/c.err"
if grep -q 'prefill' "$TMP/c.err" || grep -q $'\r' "$TMP/c.err"; then
    t_fail chat_no_progress_off_tty "stderr got: $(head -c 300 "$TMP/c.err")"
else t_pass chat_no_progress_off_tty; fi
exit $FAILED
