#!/usr/bin/env bash
# generate: exact greedy output on the real stories260K, streaming output
# contract (prompt + text on stdout, nothing else), seeds, and bad input.
source "$(dirname "$0")/../cli_util.bash"

if have_shared; then
    "$SL_BIN" convert --from-llama2c "$SHARED/models/stories260K.bin" --tokenizer "$SHARED/models/tok512.bin" \
        -o "$TMP/stories.gguf" >/dev/null 2>&1 || t_fail convert "convert failed"
    M="$TMP/stories.gguf"
    expected="$SHARED/reference/stories260K-greedy-200steps-expected.txt"
    # run.c generated 200 tokens from BOS; the prompt takes some of them.
    n_prompt=$("$SL_BIN" tokenize -m "$M" -p "Once upon a time" --ids --no-bos | tr -cd ',' | wc -c)
    n_prompt=$((n_prompt + 1))
    for batch in 1 64; do
        "$SL_BIN" generate -m "$M" -p "Once upon a time" -n $((200 - n_prompt)) --temp 0 --batch $batch -t 2 \
            >"$TMP/out.txt" 2>"$TMP/err.txt"
        if cmp -s "$TMP/out.txt" "$expected"; then t_pass "greedy_matches_llama2c_run_c_batch$batch"
        else t_fail "greedy_matches_llama2c_run_c_batch$batch" "$(head -c 300 "$TMP/out.txt")"; fi
    done
    # Same seed, same text; different seed, different text.
    a=$("$SL_BIN" generate -m "$M" -p "Once" -n 40 --temp 1 --seed 7 2>/dev/null)
    b=$("$SL_BIN" generate -m "$M" -p "Once" -n 40 --temp 1 --seed 7 2>/dev/null)
    c=$("$SL_BIN" generate -m "$M" -p "Once" -n 40 --temp 1 --seed 8 2>/dev/null)
    [ "$a" = "$b" ] && [ "$a" != "$c" ] && t_pass seeded_sampling || t_fail seeded_sampling "a=$a c=$c"
    # Prompt from stdin and from a file, same as -p.
    printf 'Once upon a time' >"$TMP/prompt.txt"
    d=$("$SL_BIN" generate -m "$M" -p - -n 20 --temp 0 <"$TMP/prompt.txt" 2>/dev/null)
    e=$("$SL_BIN" generate -m "$M" -f "$TMP/prompt.txt" -n 20 --temp 0 2>/dev/null)
    f=$("$SL_BIN" generate -m "$M" -p "Once upon a time" -n 20 --temp 0 2>/dev/null)
    [ "$d" = "$f" ] && [ "$e" = "$f" ] && t_pass prompt_sources || t_fail prompt_sources "stdin/file differ"
    # --json: the text, then one JSON object.
    "$SL_BIN" generate -m "$M" -p "Once" -n 5 --temp 0 --json 2>/dev/null | tail -n 1 >"$TMP/j.json"
    if grep -q '"decode_tok_per_s"' "$TMP/j.json" && grep -q '"peak_rss_bytes"' "$TMP/j.json"; then
        t_pass json_stats; else t_fail json_stats "$(cat "$TMP/j.json")"; fi
    # Streaming past the trained context (512) at constant cache size.
    out=$("$SL_BIN" generate -m "$M" -p "Once" -n 1500 --temp 0.8 --window 60 --json 2>/dev/null | tail -n 1)
    grep -q '"cache_tokens": 64' <<<"$out" && t_pass streams_past_context || t_fail streams_past_context "$out"
    # Dense refuses past the trained context.
    expect_error dense_refuses "context|full" "$SL_BIN" generate -m "$M" -p "Once" -n 600 --policy dense
    expect_error unsupported_arch "architecture 'gpt2' is not supported" \
        "$SL_BIN" generate -m "$SHARED/tokenizers/ggml-vocab-gpt-2.gguf" -p hi
    expect_error vocab_only_model "missing" "$SL_BIN" generate -m "$SHARED/tokenizers/ggml-vocab-llama-spm.gguf" -p hi
    expect_error empty_prompt "empty prompt" "$SL_BIN" generate -m "$M" -p ""
    printf '\xff\xfe' >"$TMP/bad.txt"
    expect_error invalid_utf8_prompt "UTF-8" "$SL_BIN" generate -m "$M" -f "$TMP/bad.txt"
else
    t_skip generate_real_model "../shared/data absent"
fi

expect_error missing_model "cannot open" "$SL_BIN" generate -m "$TMP/nope.gguf" -p hi
printf 'not a gguf file at all' >"$TMP/junk.gguf"
expect_error not_gguf "magic|GGUF" "$SL_BIN" generate -m "$TMP/junk.gguf" -p hi
expect_error no_prompt "no prompt" "$SL_BIN" generate -m "$TMP/junk.gguf"
expect_error bad_flag "unknown flag" "$SL_BIN" generate --frobnicate
expect_error bad_n "-n" "$SL_BIN" generate -p hi -n abc
expect_error bad_temp "--temp" "$SL_BIN" generate -p hi --temp -1
expect_error bad_window "--window" "$SL_BIN" generate -p hi --window 0
expect_error bad_policy "--policy" "$SL_BIN" generate -p hi --policy sideways
expect_error unknown_command "unknown command" "$SL_BIN" frobnicate
[ "$FAILED" = 0 ]
