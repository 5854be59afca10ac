#!/usr/bin/env bash
# tests/cli/info.sh — `streamllm info`: errors, a hand-built GGUF with hostile
# strings (escaping in text and JSON), and the real tiny llama file.
source "$(dirname "$0")/../cli_util.bash"

# ---- a GGUF assembled byte by byte (spec: ggml docs/gguf.md) ----------------
le32() { printf '\\x%02x\\x%02x\\x%02x\\x%02x' $(($1 & 255)) $((($1 >> 8) & 255)) $((($1 >> 16) & 255)) $((($1 >> 24) & 255)); }
u32() { printf "$(le32 "$1")"; }
u64() { u32 "$1"; u32 0; }                       # values < 2^32 only
str() { u64 "${#1}"; printf '%s' "$1"; }          # ASCII only: ${#1} counts bytes
f=$TMP/hostile.gguf
long=$(printf 'x%.0s' $(seq 200))
{
    printf 'GGUF'; u32 3; u64 1; u64 5             # version 3, 1 tensor, 5 kvs
    str general.name; u32 8; str "$long"          # a 200-byte string
    # "q\"b\\n<LF>t<TAB>c<0x01>é<0xff>": 13 bytes with é as 2 and 0xff invalid UTF-8
    str test.weird; u32 8; u64 13; printf 'q"b\\n\nt\tc\001\303\251\377'
    str test.nan; u32 6; printf '\x00\x00\xc0\x7f'  # float32 NaN
    str test.ids; u32 9; u32 5; u64 10; for i in $(seq 10); do u32 $((i * 100)); done
    str test.neg; u32 11; printf '\xfe\xff\xff\xff\xff\xff\xff\xff'   # int64 -2
    str w; u32 2; u64 4; u64 2; u32 1; u64 0      # tensor w: 2 dims 4 x 2, f16, offset 0
} > "$f"
size=$(stat -c %s "$f")
pad=$(( (32 - size % 32) % 32 ))
head -c $((pad + 16)) /dev/zero >> "$f"           # align, then 16 bytes of f16 data

out=$("$SL_BIN" info -m "$f" 2>&1); rc=$?
if [ $rc -ne 0 ]; then
    t_fail info_handmade "exit $rc: $out"
else
    ok=1
    n_lines=$(sed -n '/^metadata:/,/^tensors:/p' <<<"$out" | wc -l)
    [ "$n_lines" -eq 7 ] || { ok=0; t_fail info_handmade_one_line_per_key "$n_lines lines from metadata: to tensors:"; }
    grep -qF 'test.weird' <<<"$out" && grep -qF '"q\"b\\n\nt\tc\x01é\xff"' <<<"$out" || { ok=0; t_fail info_handmade_escapes "$(grep weird <<<"$out")"; }
    grep -qE 'general\.name +string +"x{80}"\.\.\. \(200 bytes\)' <<<"$out" || { ok=0; t_fail info_handmade_cut "$(grep general.name <<<"$out")"; }
    grep -qE 'test\.ids +int32\[10\] +\[100, 200, 300, 400, 500, 600, 700, 800, \.\.\.\]' <<<"$out" || { ok=0; t_fail info_handmade_array "$(grep test.ids <<<"$out")"; }
    grep -qE 'test\.nan +float32 +nan' <<<"$out" && grep -qE 'test\.neg +int64 +-2$' <<<"$out" || { ok=0; t_fail info_handmade_numbers "$out"; }
    grep -qE '^  w +f16 +4 x 2 +16$' <<<"$out" || { ok=0; t_fail info_handmade_tensor "$(grep -A2 '^tensors' <<<"$out")"; }
    grep -qE '^total: +1 tensors, 8 elements, 16 bytes' <<<"$out" || { ok=0; t_fail info_handmade_total "$(grep total <<<"$out")"; }
    [ $ok -eq 1 ] && t_pass info_handmade_text
fi

if command -v jq >/dev/null; then
    json=$("$SL_BIN" info -m "$f" --json)
    if ! jq -e . >/dev/null <<<"$json"; then
        t_fail info_handmade_json "not valid JSON: $json"
    else
        weird=$(jq -r '.metadata[] | select(.key == "test.weird") | .value' <<<"$json")
        want=$(printf 'q"b\\n\nt\tc\001\303\251\357\277\275')   # 0xff becomes U+FFFD
        checks=(
            "$(jq -r '.metadata[0] | "\(.len) \(.truncated) \(.value | length)"' <<<"$json")" "200 true 80"
            "$(jq -r '.metadata[] | select(.key == "test.nan") | .value' <<<"$json")" "null"
            "$(jq -r '.metadata[] | select(.key == "test.ids") | "\(.elem_type) \(.count) \(.head | length) \(.head[7])"' <<<"$json")" "int32 10 8 800"
            "$(jq -r '.metadata[] | select(.key == "test.neg") | .value' <<<"$json")" "-2"
            "$(jq -r '.tensors[0] | "\(.name) \(.type) \(.shape) \(.bytes)"' <<<"$json")" "w f16 [4,2] 16"
            "$(jq -r '"\(.version) \(.n_kv) \(.n_tensors) \(.total_bytes)"' <<<"$json")" "3 5 1 16"
            "$weird" "$want"
        )
        ok=1
        for ((i = 0; i < ${#checks[@]}; i += 2)); do
            [ "${checks[i]}" == "${checks[i+1]}" ] || { ok=0; t_fail info_handmade_json "got '${checks[i]}', want '${checks[i+1]}'"; }
        done
        [ $ok -eq 1 ] && t_pass info_handmade_json
    fi
else
    t_skip info_handmade_json "jq not installed"
fi

# ---- errors: one line, exit 1 --------------------------------------------------
printf 'hello, not a model\n' > "$TMP/text.gguf"
head -c 100 "$f" > "$TMP/cut.gguf"   # cuts the 200-byte string
expect_error info_missing_m '-m FILE.gguf is required' "$SL_BIN" info
expect_error info_m_needs_value 'needs a value' "$SL_BIN" info -m
expect_error info_unknown_flag "unknown flag '--frobnicate'" "$SL_BIN" info -m "$f" --frobnicate
expect_error info_two_files "unexpected argument .*one file at a time" "$SL_BIN" info -m "$f" "$f"
"$SL_BIN" info "$f" | grep -q '^tensors: *1$' && t_pass info_positional_file || t_fail info_positional_file "info FILE failed"
expect_error info_missing_file 'nope\.gguf: cannot open' "$SL_BIN" info -m "$TMP/nope.gguf"
expect_error info_not_gguf 'text\.gguf: header: not a GGUF file' "$SL_BIN" info -m "$TMP/text.gguf"
expect_error info_truncated "cut\\.gguf: .*past the end" "$SL_BIN" info -m "$TMP/cut.gguf"
expect_error info_directory 'not a regular file' "$SL_BIN" info -m "$TMP"
for name in text cut; do
    n=$("$SL_BIN" info -m "$TMP/$name.gguf" 2>&1 >/dev/null | wc -l)
    [ "$n" -eq 1 ] && t_pass "info_${name}_one_line" || t_fail "info_${name}_one_line" "$n lines on stderr"
done
"$SL_BIN" info --help | grep -q 'usage: streamllm info' && t_pass info_help || t_fail info_help "no usage"

# ---- the real tiny llama (facts from ../shared/data/README.md) --------------------
real=$SHARED/models/llama-2-tiny-random.gguf
if [ ! -f "$real" ]; then
    t_skip info_real "shared data absent ($real)"
else
    out=$("$SL_BIN" info -m "$real"); rc=$?
    ok=1
    [ $rc -eq 0 ] || { ok=0; t_fail info_real "exit $rc"; }
    for pat in '^version: +3$' '^tensors: +12$' 'llama\.embedding_length +uint32 +8$' \
               'tokenizer\.ggml\.tokens +string\[32000\] +\["<unk>", "<s>", "</s>",' \
               '^  token_embd\.weight +f16 +8 x 32000 +512000$' '^total: +12 tensors'; do
        grep -qE "$pat" <<<"$out" || { ok=0; t_fail info_real "output lacks /$pat/"; }
    done
    [ $ok -eq 1 ] && t_pass info_real
    if command -v jq >/dev/null; then
        json=$("$SL_BIN" info -m "$real" --json)
        size=$(stat -c %s "$real")
        # tensors end exactly at EOF in this file, so their bytes add up to
        # the file size minus the data offset, and the total must agree.
        got=$(jq -r '"\(.n_tensors) \(.metadata[] | select(.key == "tokenizer.ggml.tokens") | "\(.count) \(.head[0])") \(.total_bytes == ([.tensors[].bytes] | add)) \(.size - .data_offset == .total_bytes) \(.size)"' <<<"$json")
        [ "$got" == "12 32000 <unk> true true $size" ] && t_pass info_real_json || t_fail info_real_json "got '$got'"
    else
        t_skip info_real_json "jq not installed"
    fi
fi
exit $FAILED
