#!/usr/bin/env bash
# chat.sh — `streamllm chat` end to end: replay of every MT-Bench turn in
# constant memory, malformed JSONL, save -> restore -> continue, corrupt and
# foreign save files, an over-long turn, and the interactive chat driven
# through a pseudo-terminal (chat_pty.py).
source "$(dirname "$0")/../cli_util.bash"
HERE=$(cd "$(dirname "$0")" && pwd)

if ! have_shared; then
    t_skip chat_all "needs ../shared/data (stories260K, MT-Bench)"
    exit 0
fi
MODELS=$SHARED/models
MT=$SHARED/reference/mt_bench.jsonl
STORIES=$TMP/stories.gguf
OTHER=$TMP/aidreams.gguf
"$SL_BIN" convert --from-llama2c "$MODELS/stories260K.bin" --tokenizer "$MODELS/tok512.bin" \
    -o "$STORIES" >/dev/null 2>&1 || { t_fail chat_setup "cannot convert stories260K"; exit 1; }
"$SL_BIN" convert --from-llama2c "$MODELS/aidreams260K.bin" --tokenizer "$MODELS/aidreams-tok512.bin" \
    -o "$OTHER" >/dev/null 2>&1 || { t_fail chat_setup "cannot convert aidreams260K"; exit 1; }
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3 || true)
CHAT=("$SL_BIN" chat -m "$STORIES" -t 1)

# --- flags and missing files --------------------------------------------------
expect_error chat_template_unknown "not one of llama2, llama3, chatml" "${CHAT[@]}" --template bogus --replay "$MT"
expect_error chat_replay_missing "no-such.jsonl: cannot open" "${CHAT[@]}" --replay "$TMP/no-such.jsonl"
expect_error chat_load_missing "no-such.chat: cannot open" "${CHAT[@]}" --load "$TMP/no-such.chat" --replay "$MT"
expect_error chat_json_needs_replay "--json needs --replay" "${CHAT[@]}" --json

# --- the default template -----------------------------------------------------
printf '{"turns": ["Hi", "Tell me a story"]}\n' > "$TMP/two.jsonl"
out=$("${CHAT[@]}" --replay "$TMP/two.jsonl" -n 8 2>"$TMP/err")
rc=$?
if [ $rc -eq 0 ] && grep -q "warning: the model has no tokenizer.chat_template; using the default template 'vicuna'" "$TMP/err" \
   && grep -q "^ASSISTANT: " <<<"$out" && grep -q "^\[turn 2 | line 1 | prompt" <<<"$out"; then
    t_pass chat_replay_text_and_fallback
else
    t_fail chat_replay_text_and_fallback "rc=$rc stderr: $(head -c 300 "$TMP/err") stdout: $(head -c 300 <<<"$out")"
fi

# Under ASan the allocator's quarantine grows RSS by design and everything
# runs ~10x slower: there, replay the first 12 questions and skip the RSS check.
SANITIZED=0
{ nm -a "$SL_BIN" 2>/dev/null; nm -D "$SL_BIN" 2>/dev/null; } | grep -q __asan_init && SANITIZED=1

if [ -z "$PY" ]; then
    t_skip chat_mtbench_constant_memory "python3 not found (needed to read the JSON)"
else
# --- every MT-Bench turn, one conversation, constant memory -------------------
MT_RUN=$MT
if [ $SANITIZED -eq 1 ]; then
    head -n 12 "$MT" > "$TMP/mt12.jsonl"
    MT_RUN=$TMP/mt12.jsonl
    t_skip chat_mtbench_rss "sanitizer build: ASan's quarantine grows RSS; replaying 12 questions only"
fi
start=$(date +%s)
"${CHAT[@]}" --replay "$MT_RUN" --json --sinks 4 --window 256 -n 64 > "$TMP/mt.json" 2>"$TMP/mt.err"
rc=$?
secs=$(( $(date +%s) - start ))
msg=$(CHECK_RSS=$((1 - SANITIZED)) "$PY" - "$TMP/mt.json" "$MT_RUN" <<'PYEOF'
import json, os, sys
d = json.load(open(sys.argv[1]))
want = sum(len(json.loads(l)["turns"]) for l in open(sys.argv[2]) if l.strip())
t = d["turns"]
bad = []
if len(t) != want or d["completed_turns"] != want:
    bad.append(f"{len(t)} turns, the file has {want}")
limit = 4 + d["system_tokens"] + 256
over = [x["turn"] for x in t if x["cache_tokens"] > limit or x["cache_tokens"] > d["cache_capacity"]]
if over:
    bad.append(f"cache above sinks + system + window ({limit}) at turns {over[:5]}")
if len(t) >= 10 and os.environ.get("CHECK_RSS") == "1":
    grow = t[-1]["peak_rss_bytes"] - t[9]["peak_rss_bytes"]
    if grow > 1 << 20:
        bad.append(f"peak RSS grew {grow} bytes from turn 10 to turn {len(t)}")
if any(x["reply_tokens"] > 64 for x in t):
    bad.append("a reply exceeded -n 64")
print("; ".join(bad) if bad else
      f"ok {len(t)} turns, max cache {max(x['cache_tokens'] for x in t)}/{limit}, "
      f"peak RSS turn 10 {t[9]['peak_rss_bytes']} -> turn {len(t)} {t[-1]['peak_rss_bytes']}, "
      f"{sum(x['overlong'] for x in t)} over-long turns")
PYEOF
)
if [ $rc -eq 0 ] && [[ $msg == ok* ]]; then
    t_pass "chat_mtbench_constant_memory ($msg, ${secs}s)"
else
    t_fail chat_mtbench_constant_memory "rc=$rc: $msg $(head -c 300 "$TMP/mt.err")"
fi

# --- malformed lines: reported with their numbers, the rest still runs --------
{
    printf '{"turns": ["first line, first turn", "first line, second turn"]}\n'
    printf '{not json at all\n'
    printf '{"turns": [1, "x"]}\n'
    printf '{"question_id": 5}\n'
    printf '\n'
    printf '{"turns": ["last line"]}\n'
} > "$TMP/bad.jsonl"
"${CHAT[@]}" --replay "$TMP/bad.jsonl" --json -n 6 > "$TMP/bad.json" 2>"$TMP/bad.err"
rc=$?
n=$("$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["completed_turns"], d["malformed_lines"], [x["line"] for x in d["turns"]])' "$TMP/bad.json" 2>&1)
if [ $rc -eq 1 ] && grep -q "bad.jsonl:2:[0-9]*: malformed JSON" "$TMP/bad.err" \
   && grep -q 'bad.jsonl:3: malformed line: turns\[0\] is not a string' "$TMP/bad.err" \
   && grep -q 'bad.jsonl:4: malformed line: expected an object with a "turns" array' "$TMP/bad.err" \
   && [ "$n" = "3 3 [1, 1, 6]" ]; then
    t_pass chat_replay_malformed_lines
else
    t_fail chat_replay_malformed_lines "rc=$rc turns/bad/lines='$n' stderr: $(cat "$TMP/bad.err")"
fi

# --- a turn longer than the window streams through -------------------------------
"$PY" -c 'import json; print(json.dumps({"turns": [" ".join(["the cat sat on the mat"] * 400), "and then?"]}))' > "$TMP/long.jsonl"
"${CHAT[@]}" --replay "$TMP/long.jsonl" --json --window 64 -n 16 > "$TMP/long.json" 2>"$TMP/long.err"
rc=$?
n=$("$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); t=d["turns"]; print(len(t), t[0]["overlong"], t[0]["prompt_tokens"] > 64, max(x["cache_tokens"] for x in t) <= d["cache_capacity"], t[1]["overlong"])' "$TMP/long.json" 2>&1)
if [ $rc -eq 0 ] && [ "$n" = "2 True True True False" ]; then
    t_pass chat_overlong_turn
else
    t_fail chat_overlong_turn "rc=$rc '$n' $(head -c 300 "$TMP/long.err")"
fi
fi

# --- save -> restore -> continue --------------------------------------------------
SAMPLING=(--temp 0.8 --seed 5 --sinks 4 --window 96 -n 24 --quiet)
printf 'Once upon a time\nWhat did the dog do?\n/save %s\nAnd then?\nHow did it end?\n' "$TMP/s.chat" \
    | "${CHAT[@]}" "${SAMPLING[@]}" > "$TMP/a.out" 2>"$TMP/a.err"
rc_a=$?
printf 'Once upon a time\nWhat did the dog do?\nAnd then?\nHow did it end?\n' \
    | "${CHAT[@]}" "${SAMPLING[@]}" > "$TMP/c.out" 2>/dev/null
printf 'And then?\nHow did it end?\n' \
    | "${CHAT[@]}" "${SAMPLING[@]}" --load "$TMP/s.chat" > "$TMP/b.out" 2>"$TMP/b.err"
rc_b=$?
a=$(cat "$TMP/a.out"); b=$(cat "$TMP/b.out")
if [ $rc_a -eq 0 ] && [ $rc_b -eq 0 ] && [ ${#b} -ge 10 ] && [ "${a: -${#b}}" = "$b" ] \
   && cmp -s "$TMP/a.out" "$TMP/c.out" && grep -q "saved to" "$TMP/a.err"; then
    t_pass chat_save_restore_continue
else
    t_fail chat_save_restore_continue "rc $rc_a/$rc_b; resumed: [$(head -c 200 "$TMP/b.out")] $(cat "$TMP/b.err")"
fi

# --- corrupt and foreign save files -------------------------------------------------
cp "$TMP/s.chat" "$TMP/corrupt.chat"
size=$(stat -c %s "$TMP/corrupt.chat")
printf '\x5a' | dd of="$TMP/corrupt.chat" bs=1 seek=$((size / 2)) conv=notrunc 2>/dev/null
cmp -s "$TMP/s.chat" "$TMP/corrupt.chat" && printf '\x5b' | dd of="$TMP/corrupt.chat" bs=1 seek=$((size / 2)) conv=notrunc 2>/dev/null
expect_error chat_load_corrupt "corrupt.chat: checksum mismatch" "${CHAT[@]}" --load "$TMP/corrupt.chat" --replay "$TMP/two.jsonl"
expect_error chat_load_foreign "s.chat: it was saved with model .* not with this model" \
    "$SL_BIN" chat -m "$OTHER" -t 1 --load "$TMP/s.chat" --replay "$TMP/two.jsonl"
printf 'hello\n' > "$TMP/not-a-state"
expect_error chat_load_not_state "not a streamllm state file" "${CHAT[@]}" --load "$TMP/not-a-state" --replay "$TMP/two.jsonl"

# --- the interactive chat through a pseudo-terminal ------------------------------------
if [ -n "$PY" ] && "$PY" -c 'import pty' 2>/dev/null; then
    timeout 120 "$PY" "$HERE/chat_pty.py" "$SL_BIN" "$STORIES" || FAILED=1
else
    t_skip chat_pty "python3 with the pty module not found"
fi
exit $FAILED
