#!/usr/bin/env bash
# tests/cli/tokenize.sh — `streamllm tokenize`: every case of llama.cpp's
# vocab fixtures through the CLI (ids from Hugging Face tokenizers), the
# default per-token listing, -f/stdin, BOS and --special, and the errors.
source "$(dirname "$0")/../cli_util.bash"

# ---- errors that need no data -------------------------------------------------
expect_error tok_missing_model '-m FILE.gguf is required' "$SL_BIN" tokenize -p hello
expect_error tok_missing_file 'nonexistent.gguf: cannot open' "$SL_BIN" tokenize -m "$TMP/nonexistent.gguf" -p hello
expect_error tok_unknown_flag "unknown flag '--frobnicate'" "$SL_BIN" tokenize -m x.gguf -p a --frobnicate
expect_error tok_flag_needs_value '-p needs a value' "$SL_BIN" tokenize -m x.gguf -p
printf 'not a gguf at all' > "$TMP/junk.gguf"
expect_error tok_not_gguf 'junk.gguf.*GGUF' "$SL_BIN" tokenize -m "$TMP/junk.gguf" -p hello

if ! have_shared; then
    t_skip tok_fixtures "no $SHARED (vocab fixtures)"
    exit $FAILED
fi
V=$SHARED/tokenizers
SPM=$V/ggml-vocab-llama-spm.gguf
GPT2=$V/ggml-vocab-gpt-2.gguf

expect_error tok_missing_text 'give the text with -p TEXT or -f FILE' "$SL_BIN" tokenize -m "$SPM"
expect_error tok_p_and_f 'cannot be used together' "$SL_BIN" tokenize -m "$SPM" -p a -f "$TMP/x"
expect_error tok_missing_input_file 'nope.txt: cannot open' "$SL_BIN" tokenize -m "$SPM" -f "$TMP/nope.txt"
printf 'good\xc3(bad' > "$TMP/bad.txt"
expect_error tok_invalid_utf8 'bad.txt: invalid UTF-8 at byte offset 4' "$SL_BIN" tokenize -m "$SPM" -f "$TMP/bad.txt"

# ---- every fixture case, through -p -----------------------------------------------
# name.inp: cases separated by "\n__ggml_vocab_test__\n"; name.out: one line
# of space-separated ids per case (no BOS, special tokens not parsed).
check_fixture() {
    local name=$1 gguf=$V/$1
    local -a want
    mapfile -t want < "$gguf.out"
    local i=0 bad=0 text got exp
    while IFS= read -r -d '' text; do
        exp="[$(sed -e 's/^ //' -e 's/ /, /g' <<<"${want[$i]}")]"
        got=$("$SL_BIN" tokenize -m "$gguf" -p "$text" --ids --no-bos 2>&1)
        if [ "$got" != "$exp" ]; then
            bad=$((bad + 1))
            [ $bad -le 3 ] && echo "  $name case $i: got $got want $exp"
        fi
        i=$((i + 1))
    done < <(awk 'BEGIN { RS = "\n__ggml_vocab_test__\n"; ORS = "\0" } { print }' "$gguf.inp")
    if [ $i -ne 46 ]; then
        t_fail "tok_fixture_$name" "read $i cases, expected 46"
    elif [ $bad -ne 0 ]; then
        t_fail "tok_fixture_$name" "$bad of $i cases differ"
    else
        t_pass "tok_fixture_$name"
    fi
}
check_fixture ggml-vocab-llama-spm.gguf
check_fixture ggml-vocab-gpt-2.gguf

# ---- the default listing ------------------------------------------------------------
out=$("$SL_BIN" tokenize -m "$SPM" -p "Hello world" 2>&1)
want=$(printf '1\t<s>\n15043\t" Hello"\n3186\t" world"')
[ "$out" = "$want" ] && t_pass tok_listing || t_fail tok_listing "got: $out"

# GPT-2 splits the emoji over three tokens (ids from the fixture case
# " this is 🦙.cpp"): the partial UTF-8 shows as \xNN
out=$("$SL_BIN" tokenize -m "$GPT2" -p $' this is \xf0\x9f\xa6\x99\t"x"' 2>&1)
want=$(printf '428\t" this"\n318\t" is"\n12520\t" \\xf0\\x9f"\n99\t"\\xa6"\n247\t"\\x99"\n197\t"\\t"\n1\t"\\""\n87\t"x"\n1\t"\\""')
[ "$out" = "$want" ] && t_pass tok_listing_escapes || t_fail tok_listing_escapes "got: $out"

# ---- input from a file and from stdin agrees with -p ------------------------------------
printf 'Hello, y'"'"'all! How are you \xf0\x9f\x98\x81 ?\n' > "$TMP/in.txt"
a=$("$SL_BIN" tokenize -m "$GPT2" -p "$(cat "$TMP/in.txt"; echo .)" --ids)
b=$(printf '.' | cat "$TMP/in.txt" - | "$SL_BIN" tokenize -m "$GPT2" -f - --ids)
c=$(printf '.' >> "$TMP/in.txt"; "$SL_BIN" tokenize -m "$GPT2" -f "$TMP/in.txt" --ids)
[ -n "$a" ] && [ "$a" = "$b" ] && [ "$a" = "$c" ] && t_pass tok_file_stdin || t_fail tok_file_stdin "-p $a / stdin $b / -f $c"

# ---- BOS: the file decides, --no-bos overrides; an empty text is allowed -----------------
[ "$("$SL_BIN" tokenize -m "$SPM" -p "" --ids)" = "[1]" ] && t_pass tok_empty_bos || t_fail tok_empty_bos "not [1]"
[ "$("$SL_BIN" tokenize -m "$SPM" -p "" --ids --no-bos)" = "[]" ] && t_pass tok_empty_nobos || t_fail tok_empty_nobos "not []"
[ "$("$SL_BIN" tokenize -m "$GPT2" -p "Hello" --ids)" = "[15496]" ] && t_pass tok_gpt2_no_bos_default || t_fail tok_gpt2_no_bos_default "gpt-2 adds no BOS"
out=$("$SL_BIN" tokenize -m "$SHARED/models/llama-2-tiny-random.gguf" -p "Hello world" --ids 2>&1)
[ "$out" = "[1, 15043, 3186]" ] && t_pass tok_model_file || t_fail tok_model_file "got $out"

# ---- --special -------------------------------------------------------------------------
plain=$("$SL_BIN" tokenize -m "$GPT2" -p "a<|endoftext|>b" --ids)
spec=$("$SL_BIN" tokenize -m "$GPT2" -p "a<|endoftext|>b" --ids --special)
[ "$spec" = "[64, 50256, 65]" ] && ! grep -q 50256 <<<"$plain" && t_pass tok_special \
    || t_fail tok_special "plain $plain special $spec"

exit $FAILED
