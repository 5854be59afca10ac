#!/usr/bin/env bash
# streamllm convert --from-llama2c: a real conversion, then every error path
# must give one line on stderr and exit 1.
source "$(dirname "$0")/../cli_util.bash"

# expect_error, plus: stderr is exactly one line.
expect_error1() {
    local name=$1 pat=$2; shift 2
    local before=$FAILED
    expect_error "$name" "$pat" "$@"
    [ "$FAILED" != "$before" ] && return
    local n
    n=$("$@" 2>&1 >/dev/null | wc -l)
    [ "$n" -eq 1 ] || t_fail "${name}_one_line" "stderr has $n lines"
}

BIN=$SHARED/models/stories260K.bin
TOK=$SHARED/models/tok512.bin

if ! [ -x "$SL_BIN" ]; then
    t_skip convert "no binary at $SL_BIN"
    exit 0
fi

# --help works and exits 0
if "$SL_BIN" convert --help | grep -q -- "--from-llama2c"; then t_pass convert_help
else t_fail convert_help "--help does not mention --from-llama2c"; fi

expect_error1 convert_no_args "from-llama2c" "$SL_BIN" convert
expect_error1 convert_no_tokenizer "tokenizer" "$SL_BIN" convert --from-llama2c x.bin -o "$TMP/o.gguf"
expect_error1 convert_no_output "-o" "$SL_BIN" convert --from-llama2c x.bin --tokenizer t.bin
expect_error1 convert_flag_without_value "needs a value" "$SL_BIN" convert --from-llama2c
expect_error1 convert_unknown_flag "unknown flag" "$SL_BIN" convert --frobnicate
expect_error1 convert_missing_model "nope.bin" "$SL_BIN" convert --from-llama2c "$TMP/nope.bin" \
    --tokenizer "$TMP/nope-tok.bin" -o "$TMP/o.gguf"

if ! have_shared || ! [ -f "$BIN" ] || ! [ -f "$TOK" ]; then
    t_skip convert_stories260k "shared data absent: $BIN"
    exit $FAILED
fi

# A real conversion: exit 0, a GGUF file ("GGUF" magic), one summary line.
err=$("$SL_BIN" convert --from-llama2c "$BIN" --tokenizer "$TOK" -o "$TMP/s.gguf" 2>&1 >/dev/null)
rc=$?
if [ $rc -eq 0 ] && [ "$(head -c 4 "$TMP/s.gguf" 2>/dev/null)" = "GGUF" ] &&
    grep -q "dim 64" <<<"$err" && [ ! -e "$TMP/s.gguf.partial" ]; then
    t_pass convert_stories260k
else
    t_fail convert_stories260k "rc=$rc stderr='$err'"
fi

# The converted model is loadable by `info` when that command is in the build.
if "$SL_BIN" info --help >/dev/null 2>&1; then
    if "$SL_BIN" info "$TMP/s.gguf" >"$TMP/info.txt" 2>&1 && grep -q "llama" "$TMP/info.txt"; then
        t_pass convert_info_reads_output
    else
        t_fail convert_info_reads_output "$(head -3 "$TMP/info.txt")"
    fi
else
    t_skip convert_info_reads_output "info command not in this build"
fi

# Truncated checkpoint: one line naming the file, exit 1, no output left.
head -c 1000000 "$BIN" >"$TMP/trunc.bin"
expect_error1 convert_truncated "trunc.bin.*truncated" "$SL_BIN" convert --from-llama2c "$TMP/trunc.bin" \
    --tokenizer "$TOK" -o "$TMP/t.gguf"
if [ -e "$TMP/t.gguf" ] || [ -e "$TMP/t.gguf.partial" ]; then
    t_fail convert_truncated_no_output "an output file was left behind"
else
    t_pass convert_truncated_no_output
fi

# Vocab mismatch: a 32000-token tokenizer for a 512-token model.
BIG=$SHARED/tokenizers/llama2-tokenizer.bin
if [ -f "$BIG" ]; then
    expect_error1 convert_vocab_mismatch "32000|512" "$SL_BIN" convert --from-llama2c "$BIN" \
        --tokenizer "$BIG" -o "$TMP/v.gguf"
else
    t_skip convert_vocab_mismatch "shared data absent: $BIG"
fi

# Unwritable output directory.
expect_error1 convert_bad_output "no-such-dir" "$SL_BIN" convert --from-llama2c "$BIN" \
    --tokenizer "$TOK" -o "$TMP/no-such-dir/x.gguf"

exit $FAILED
