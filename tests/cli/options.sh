#!/usr/bin/env bash
# options.sh — the option rules every command shares (issue 22): the cache
# geometry is checked against the trained context before any work, output
# paths are checked writable before any work, --load either agrees with the
# flags given or refuses them by name, llama.cpp's flag spellings work and
# are in --help, and each bad value gets one clear line. Runs on the embedded
# default model (trained context 256) and files made here, so it needs no
# shared data.
source "$(dirname "$0")/../cli_util.bash"
S=$SL_BIN
for i in $(seq 1 200); do echo "The cat sat on the mat and looked at the dog for a long time."; done > "$TMP/text.txt"

# ---- attn --layers '' was a division by zero (SIGFPE) -----------------------------
expect_error attn_layers_empty "--layers: '' selects no layer" "$S" attn -f "$TMP/text.txt" --tokens 16 --layers ''
expect_error attn_layers_comma "--layers: ',' " "$S" attn -f "$TMP/text.txt" --tokens 16 --layers ','
expect_error attn_out_unwritable "--out: cannot write /nonexistent/a_layer0.csv" \
    "$S" attn -f "$TMP/text.txt" --tokens 16 --out /nonexistent/a

# ---- output paths are checked before the text is scored ---------------------------
# --repeat makes the run long: an error at its end would take hours (timeout
# 20 s turns that into a failure here, not a hang).
start=$(date +%s)
expect_error ppl_plot_out_unwritable "--plot-out: cannot write /nonexistent/x.csv" \
    timeout 20 "$S" ppl -f "$TMP/text.txt" --repeat 100000 --plot-out /nonexistent/x
expect_error ppl_nll_out_unwritable "--nll-out: cannot write /nonexistent/n.csv" \
    timeout 20 "$S" ppl -f "$TMP/text.txt" --repeat 100000 --nll-out /nonexistent/n.csv
expect_error ppl_nll_out_directory "--nll-out: $TMP is a directory" \
    timeout 20 "$S" ppl -f "$TMP/text.txt" --repeat 100000 --nll-out "$TMP"
[ $(( $(date +%s) - start )) -lt 15 ] && t_pass ppl_output_checked_first \
    || t_fail ppl_output_checked_first "the errors took $(( $(date +%s) - start )) s: the text was scored first"
expect_error train_output_unwritable "-o: cannot write /nonexistent/m.gguf" \
    "$S" train --tokenizer "$TMP/nope.gguf" --corpus "$TMP/text.txt" -o /nonexistent/m.gguf
for c in "synth --shape tiny" "convert --from-llama2c $TMP/a.bin --tokenizer $TMP/b.bin" "train-tokenizer --corpus $TMP/text.txt"; do
    expect_error "${c%% *}_output_unwritable" "-o: cannot write /nonexistent/o.gguf" "$S" $c -o /nonexistent/o.gguf
done
expect_error train_corpus_is_dir "$TMP: is a directory, expected a corpus text file" \
    "$S" train-tokenizer --corpus "$TMP" -o "$TMP/t.gguf"
expect_error quantize_output_unwritable "OUT.gguf: cannot write /nonexistent/q.gguf" \
    "$S" quantize "$SL_ROOT/fuzz/corpus/gguf/model-small.gguf" /nonexistent/q.gguf q8_0

# ---- one geometry rule for generate, ppl and chat (trained context 256) -----------
for cmd in generate ppl chat; do
    case $cmd in
    generate) run=("$S" generate -p hi -n 2) ;;
    ppl) run=("$S" ppl -f "$TMP/text.txt" --tokens 10) ;;
    chat) run=("$S" chat --replay /dev/null --quiet) ;;
    esac
    expect_error "${cmd}_sinks_past_context" "--sinks 600 .*trained context \(256\)" "${run[@]}" --sinks 600
    expect_error "${cmd}_window_past_context" "--window 1020 = a cache of 1024 tokens, more than the model's trained context \(256\)" \
        "${run[@]}" --window 1020
    expect_error "${cmd}_ctx_size_past_context" "-c/--ctx-size: 1000 is more than the model's trained context \(256\)" \
        "${run[@]}" -c 1000
done
expect_error generate_keep_past_context "--keep 100000 leave no window.*\(256\)" "$S" generate -p hi -n 2 --keep 100000
expect_error generate_keep_window_past_context "--keep 100 \+ --window 200 = a cache of 304" \
    "$S" generate -p hi -n 2 --keep 100 --window 200
# Within the context, and past it on purpose, still run.
out=$("$S" generate -p hi -n 2 --window 1020 --allow-overflow --json 2>/dev/null | tail -n 1)
grep -q '"window": 1020' <<<"$out" && t_pass generate_allow_overflow || t_fail generate_allow_overflow "$out"
out=$("$S" generate -p hi -n 2 --keep 10 --json 2>/dev/null | tail -n 1)
grep -q '"window": 242' <<<"$out" && t_pass generate_default_window_leaves_room_for_keep \
    || t_fail generate_default_window_leaves_room_for_keep "want window 256-4-10 = 242: $out"

# ---- chat --load: flags that agree are applied, flags that differ are refused -----
printf '{"turns": ["Once upon a time"]}\n' > "$TMP/one.jsonl"
printf 'Once upon a time\n/save %s\n' "$TMP/s.chat" | "$S" chat --quiet --window 96 --temp 0.5 -n 8 >/dev/null 2>"$TMP/save.err"
if [ -s "$TMP/s.chat" ]; then
    expect_error chat_load_window_differs "--window: differs from what .*s.chat was saved with" \
        "$S" chat --load "$TMP/s.chat" --replay "$TMP/one.jsonl" --window 64
    expect_error chat_load_sinks_differs "--sinks: differs" "$S" chat --load "$TMP/s.chat" --replay "$TMP/one.jsonl" --sinks 2
    expect_error chat_load_temp_differs "--temp: differs" "$S" chat --load "$TMP/s.chat" --replay "$TMP/one.jsonl" --temp 0.9
    expect_error chat_load_template_differs "--template chatml: .*saved with template" \
        "$S" chat --load "$TMP/s.chat" --replay "$TMP/one.jsonl" --template chatml
    if "$S" chat --load "$TMP/s.chat" --replay "$TMP/one.jsonl" --window 96 --temp 0.5 -t 1 -n 4 --quiet \
            >/dev/null 2>"$TMP/l.err"; then t_pass chat_load_same_flags_run
    else t_fail chat_load_same_flags_run "$(cat "$TMP/l.err")"; fi
else
    t_fail chat_save "no save file: $(cat "$TMP/save.err")"
fi

# ---- quantize of a vocab-only GGUF ----------------------------------------------
expect_error quantize_vocab_only "no tensors \(a vocab-only GGUF\?\)" \
    "$S" quantize "$SL_ROOT/fuzz/corpus/gguf/vocab.gguf" "$TMP/v.gguf" q4_0
[ -e "$TMP/v.gguf" ] && t_fail quantize_vocab_only_no_output "wrote $TMP/v.gguf" || t_pass quantize_vocab_only_no_output

# ---- error messages ---------------------------------------------------------------
expect_error generate_file_is_dir "$TMP: is a directory" "$S" generate -f "$TMP"
expect_error generate_huge_n "-n: 99999999999999999999999 is out of range" "$S" generate -p hi -n 99999999999999999999999
expect_error generate_top_p_zero "--top-p: 0 keeps no token: expected a value in \(0, 1\]" "$S" generate -p hi --top-p 0
printf 'good\xc3(bad' > "$TMP/bad.txt"
expect_error tokenize_utf8_names_prompt "-p: invalid UTF-8 at byte offset 1" "$S" tokenize -m "$SL_ROOT/models/default.gguf" -p $'a\xffb'
"$S" train-tokenizer --corpus "$TMP/text.txt" --vocab 280 -o "$TMP/tok.gguf" >/dev/null 2>&1
expect_error train_utf8_names_file "bad.txt: not UTF-8 text: invalid byte 0xC3 at byte offset 4" \
    "$S" train --tokenizer "$TMP/tok.gguf" --corpus "$TMP/text.txt" --corpus "$TMP/bad.txt" -o "$TMP/m.gguf"
expect_error train_tokenizer_utf8_names_file "bad.txt: not UTF-8 text" \
    "$S" train-tokenizer --corpus "$TMP/bad.txt" --vocab 300 -o "$TMP/t2.gguf"
if have_shared; then
    expect_error generate_llama2c_points_to_convert "llama2.c checkpoint.*streamllm convert --from-llama2c" \
        "$S" generate -m "$SHARED/models/stories260K.bin" -p hi
else
    t_skip generate_llama2c_points_to_convert "$SHARED is absent"
fi

# ---- peak RSS is never printed below the current RSS (ppl's interim lines) ---------
"$S" ppl -f "$TMP/text.txt" --repeat 50 --tokens 40000 --report-every 2000 -t 2 >/dev/null 2>"$TMP/rss.err"
bad=$(grep -oE 'RSS [0-9.]+ MiB \(peak [0-9.]+ MiB\)' "$TMP/rss.err" | awk '{ if ($5 + 0 < $2 + 0) print }')
n=$(grep -c 'RSS .* (peak' "$TMP/rss.err")
[ "$n" -ge 10 ] && [ -z "$bad" ] && t_pass ppl_peak_rss_not_below_rss \
    || t_fail ppl_peak_rss_not_below_rss "$n interim lines; peak below RSS in: $bad"

# ---- llama.cpp spellings: accepted, and listed in --help --------------------------
help=$("$S" generate --help)
missing=""
for f in "-c, --ctx-size" "-s, --seed" "-e, --escape" "--no-display-prompt" "-m, --model" "-p, --prompt" \
         "-n, --n-predict" "-t, --threads" "-f, --file"; do
    grep -qF -- "$f" <<<"$help" || missing="$missing [$f]"
done
[ -z "$missing" ] && t_pass generate_help_lists_llama_cpp_flags || t_fail generate_help_lists_llama_cpp_flags "missing:$missing"
a=$("$S" generate --model "$SL_ROOT/models/default.gguf" --prompt "The cat" --n-predict 8 -s 3 --temp 1 --ctx-size 64 -t 1 2>/dev/null)
b=$("$S" generate -m "$SL_ROOT/models/default.gguf" -p "The cat" -n 8 --seed 3 --temp 1 --sinks 4 --window 60 -t 1 2>/dev/null)
[ -n "$a" ] && [ "$a" = "$b" ] && t_pass generate_llama_cpp_aliases || t_fail generate_llama_cpp_aliases "'$a' vs '$b'"
out=$("$S" generate -p 'The cat' -n 0 --no-display-prompt 2>/dev/null); rc=$?
[ $rc -eq 0 ] && [ -z "$out" ] && t_pass generate_no_display_prompt || t_fail generate_no_display_prompt "rc $rc, printed '$out'"
out=$("$S" generate -p 'a\tb' -n 0 -e 2>/dev/null)
[ "$out" = $'a\tb' ] && t_pass generate_escape || t_fail generate_escape "printed '$out'"
for cmd in ppl chat bench attn tokenize; do
    "$S" $cmd --help | grep -qF -- "-m, --model" && t_pass "${cmd}_help_has_--model" || t_fail "${cmd}_help_has_--model" "no '-m, --model' in --help"
done
"$S" chat --help | grep -qF -- "-n, --n-predict" && t_pass chat_help_has_--n-predict || t_fail chat_help_has_--n-predict "missing"
"$S" bench --help | grep -qF -- "-r, --reps" && t_pass bench_help_has_-r || t_fail bench_help_has_-r "missing"
for cmd in generate ppl chat bench attn train quantize; do
    "$S" $cmd --help | grep -qE -- "-t, --threads" && t_pass "${cmd}_help_has_-t" || t_fail "${cmd}_help_has_-t" "no '-t, --threads' in --help"
done
if "$S" train --tokenizer "$TMP/tok.gguf" --corpus "$TMP/text.txt" -t 1 --dim 16 --layers 1 --heads 2 --ctx 16 \
        --batch 1 --steps 1 --eval-every 0 -o "$TMP/t1.gguf" >/dev/null 2>"$TMP/t1.err"; then t_pass train_accepts_-t
else t_fail train_accepts_-t "$(tail -1 "$TMP/t1.err")"; fi
exit $FAILED
