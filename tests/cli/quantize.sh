#!/usr/bin/env bash
# streamllm quantize: every error path gives one line on stderr and exit 1;
# round trips of the tiny llama GGUF to every type, read back by
# `streamllm info`; exact f16/bf16 chains; and quantized stories260K models
# whose perplexity stays near the f32 model's.
source "$(dirname "$0")/../cli_util.bash"

expect_error1() {
    local name=$1 pat=$2; shift 2
    local before=$FAILED
    expect_error "$name" "$pat" "$@"
    [ "$FAILED" != "$before" ] && return
    local n
    n=$("$@" 2>&1 >/dev/null | wc -l)
    [ "$n" -eq 1 ] || t_fail "${name}_one_line" "stderr has $n lines"
}

if ! [ -x "$SL_BIN" ]; then
    t_skip quantize "no binary at $SL_BIN"
    exit 0
fi

if "$SL_BIN" quantize --help | grep -q "q4_k_m"; then t_pass quantize_help
else t_fail quantize_help "--help does not list the types"; fi

printf 'not a gguf file at all' > "$TMP/junk.gguf"
expect_error1 quantize_no_args "IN.gguf OUT.gguf TYPE" "$SL_BIN" quantize
expect_error1 quantize_two_args "IN.gguf OUT.gguf TYPE" "$SL_BIN" quantize a.gguf b.gguf
expect_error1 quantize_unknown_type "unknown type 'q3_z'" "$SL_BIN" quantize a.gguf b.gguf q3_z
expect_error1 quantize_missing_input "nope\.gguf" "$SL_BIN" quantize "$TMP/nope.gguf" "$TMP/o.gguf" q4_0
expect_error1 quantize_bad_input "junk\.gguf" "$SL_BIN" quantize "$TMP/junk.gguf" "$TMP/o.gguf" q4_0
expect_error1 quantize_same_file "must differ" "$SL_BIN" quantize "$TMP/junk.gguf" "$TMP/junk.gguf" q4_0
expect_error1 quantize_unknown_flag "unknown flag" "$SL_BIN" quantize --frobnicate
expect_error1 quantize_bad_threads "-t" "$SL_BIN" quantize a.gguf b.gguf q4_0 -t 0
[ -e "$TMP/o.gguf" ] && t_fail quantize_no_output_on_error "o.gguf was written"

# ---- K-quants through the CLI: a GGUF with one 256 x 3 f32 matrix (rows of
# different scale), written here from the spec (ggml docs/gguf.md), quantized
# and converted back to f32; values read from the last 3072 bytes (the data).
if command -v perl >/dev/null; then
    perl -e '
        sub str { pack("Q<", length $_[0]) . $_[0] }
        my $h = "GGUF" . pack("L<Q<Q<", 3, 1, 1);                  # v3, 1 tensor, 1 kv
        $h .= str("general.architecture") . pack("L<", 8) . str("test");
        $h .= str("w") . pack("L<Q<Q<L<Q<", 2, 256, 3, 0, 0);     # 256 x 3, f32, offset 0
        $h .= "\0" x ((32 - length($h) % 32) % 32);
        print $h, pack("f<*", map { my $r = int($_ / 256); sin($_ * 0.37) * ($r + 1) * ($_ % 7 == 0 ? 2 : 1) } 0 .. 767);
    ' > "$TMP/m.gguf"
    # max |error| <= 1.5 steps of a sub-block (range / levels-1), generously
    for spec in q4_k:15 q5_k:31 q6_k:63 q4_k_m:15 q8_0:254 q4_0:15; do
        ty=${spec%%:*} lv=${spec##*:}
        if "$SL_BIN" quantize "$TMP/m.gguf" "$TMP/m-$ty.gguf" "$ty" 2>/dev/null &&
           "$SL_BIN" quantize "$TMP/m-$ty.gguf" "$TMP/m-$ty-f32.gguf" f32 2>/dev/null; then
            res=$(perl -e '
                local $/; open(my $a, "<", $ARGV[0]); open(my $b, "<", $ARGV[1]);
                my @x = unpack("f<*", substr(<$a>, -3072)); my @y = unpack("f<*", substr(<$b>, -3072));
                my $worst = 0;
                for my $i (0 .. 767) {
                    my $r = int($i / 256); my $step = 4 * ($r + 1) / $ARGV[2];   # each row spans +-2(r+1)
                    my $e = abs($x[$i] - $y[$i]) / $step; $worst = $e if $e > $worst;
                }
                printf "%.3f", $worst;' "$TMP/m.gguf" "$TMP/m-$ty-f32.gguf" "$lv")
            if awk -v w="$res" 'BEGIN { exit !(w != "" && w <= 1.5) }'; then t_pass "quantize_matrix_$ty"
            else t_fail "quantize_matrix_$ty" "worst error $res steps"; fi
            echo "  $ty: worst error $res steps" >&2
        else
            t_fail "quantize_matrix_$ty" "quantize failed"
        fi
    done
    info=$("$SL_BIN" info "$TMP/m-q4_k_m.gguf" 2>&1)
    # one layer-less matrix: the _M mix leaves it q4_K (only output/attn_v/ffn_down get q6_K)
    grep -qE '^  w +q4_k +256 x 3 +432$' <<<"$info" && t_pass quantize_matrix_q4_k_m_type || t_fail quantize_matrix_q4_k_m_type "$(grep -E '^  w ' <<<"$info")"
else
    t_skip quantize_matrix "perl not installed"
fi

TINY=$SHARED/models/llama-2-tiny-random.gguf
if ! have_shared || ! [ -f "$TINY" ]; then
    t_skip quantize_roundtrip "shared data absent: $TINY"
    exit $FAILED
fi

# info's "metadata:" section minus the keys quantize rewrites, and one tensor's row.
meta() { sed -n '/^metadata:/,/^tensors:/p' <<<"$1" | grep -vE '^metadata:|general\.(file_type|quantization_version) '; }
n_keys() { sed -n 's/^metadata: *\([0-9]*\) keys/\1/p' <<<"$1"; }
tensor() { grep -E "^  $2 " <<<"$1"; }

in_info=$("$SL_BIN" info "$TINY")
# TYPE  file_type  what ffn_down (32 x 8, the only matrix with 32-wide rows) becomes,
# and its bytes = 8 rows x (32 / block size) x block bytes (GGUF block sizes).
# The other matrices have 8-wide rows: no block fits, so they stay f16
# (except for the float targets); K-quants fall back to q5_0/q5_1/q8_0 as llama.cpp's.
cases="f32 0 f32 1024
f16 1 f16 512
bf16 32 bf16 512
q8_0 7 q8_0 272
q4_0 2 q4_0 144
q4_1 3 q4_1 160
q5_0 8 q5_0 176
q5_1 9 q5_1 192
q4_k 14 q5_0 176
q5_k 16 q5_1 192
q6_k 18 q8_0 272
q4_k_m 15 q8_0 272
q5_k_m 17 q8_0 272"
while read -r ty ftype down bytes; do
    out=$TMP/tiny-$ty.gguf
    if ! err=$("$SL_BIN" quantize "$TINY" "$out" "$ty" 2>&1); then
        t_fail "quantize_tiny_$ty" "$err"
        continue
    fi
    info=$("$SL_BIN" info "$out" 2>&1)
    ok=1
    grep -qE "^  general\.file_type +uint32 +$ftype$" <<<"$info" || { ok=0; t_fail "quantize_tiny_${ty}_file_type" "$(grep file_type <<<"$info")"; }
    # the input has general.file_type; quantized files add quantization_version
    if [ "$ty" = f32 ] || [ "$ty" = f16 ] || [ "$ty" = bf16 ]; then
        grep -q 'general.quantization_version' <<<"$info" && { ok=0; t_fail "quantize_tiny_${ty}_qver" "float file has quantization_version"; }
        want_keys=$(n_keys "$in_info")
    else
        grep -qE '^  general\.quantization_version +uint32 +2$' <<<"$info" || { ok=0; t_fail "quantize_tiny_${ty}_qver" "missing"; }
        want_keys=$(( $(n_keys "$in_info") + 1 ))
    fi
    [ "$(n_keys "$info")" = "$want_keys" ] || { ok=0; t_fail "quantize_tiny_${ty}_n_keys" "$(n_keys "$info") keys, want $want_keys"; }
    [ "$(meta "$info")" = "$(meta "$in_info")" ] || { ok=0; t_fail "quantize_tiny_${ty}_metadata" "$(diff <(meta "$in_info") <(meta "$info") | head -5)"; }
    tensor "$info" 'blk\.0\.ffn_down\.weight' | grep -qE " $down +32 x 8 +$bytes$" || { ok=0; t_fail "quantize_tiny_${ty}_ffn_down" "$(tensor "$info" 'blk\.0\.ffn_down\.weight')"; }
    for n in 'blk\.0\.attn_norm\.weight' 'blk\.0\.ffn_norm\.weight' 'output_norm\.weight'; do
        [ "$(tensor "$info" "$n")" = "$(tensor "$in_info" "$n")" ] || { ok=0; t_fail "quantize_tiny_${ty}_norm" "$(tensor "$info" "$n")"; }
    done
    case $ty in f32|bf16) want_q=$ty ;; *) want_q=f16 ;; esac
    tensor "$info" 'blk\.0\.attn_q\.weight' | grep -qE " $want_q +8 x 8 " || { ok=0; t_fail "quantize_tiny_${ty}_attn_q" "$(tensor "$info" 'blk\.0\.attn_q\.weight')"; }
    grep -qE '^total: +12 tensors, 513048 elements' <<<"$info" || { ok=0; t_fail "quantize_tiny_${ty}_total" "$(grep total <<<"$info")"; }
    [ $ok -eq 1 ] && t_pass "quantize_tiny_$ty"
done <<<"$cases"

# Exact chains: f16 -> f32 -> f16 and bf16 -> f32 -> bf16 lose nothing, so the
# files must equal the direct conversions byte for byte.
"$SL_BIN" quantize "$TMP/tiny-f32.gguf" "$TMP/back-f16.gguf" f16 2>/dev/null
if cmp -s "$TMP/back-f16.gguf" "$TMP/tiny-f16.gguf"; then t_pass quantize_f16_exact
else t_fail quantize_f16_exact "f16 -> f32 -> f16 differs from the f16 file"; fi
"$SL_BIN" quantize "$TMP/tiny-bf16.gguf" "$TMP/bf16-f32.gguf" f32 2>/dev/null
"$SL_BIN" quantize "$TMP/bf16-f32.gguf" "$TMP/back-bf16.gguf" bf16 2>/dev/null
if cmp -s "$TMP/back-bf16.gguf" "$TMP/tiny-bf16.gguf"; then t_pass quantize_bf16_exact
else t_fail quantize_bf16_exact "bf16 -> f32 -> bf16 differs from the bf16 file"; fi

# A real model: stories260K (dim 64, hidden 172) converted to f32 GGUF, then
# quantized. Perplexity on 400 tokens of TinyStories must stay close: a wrong
# layout or kernel gives a perplexity in the hundreds (512-token vocab).
BIN=$SHARED/models/stories260K.bin
TOK=$SHARED/models/tok512.bin
TXT=$SHARED/text/tinystories-validation-prefix.txt
if ! [ -f "$BIN" ] || ! [ -f "$TOK" ] || ! [ -f "$TXT" ]; then
    t_skip quantize_stories260k "shared data absent"
    exit $FAILED
fi
if ! "$SL_BIN" convert --from-llama2c "$BIN" --tokenizer "$TOK" -o "$TMP/s.gguf" 2>/dev/null; then
    t_skip quantize_stories260k "convert failed"
    exit $FAILED
fi
ppl() { "$SL_BIN" ppl -m "$1" -f "$TXT" --tokens 400 --json -t 1 2>/dev/null | sed -n 's/.*"ppl": \([0-9.]*\).*/\1/p'; }
base=$(ppl "$TMP/s.gguf")
# max relative increase: q8_0 and q6_k (q8_0 here: rows of 64 and 172) ~0.1%,
# q4_0 ~10% on this tiny model
for spec in q8_0:0.02 q6_k:0.02 q4_0:0.30; do
    ty=${spec%%:*} lim=${spec##*:}
    "$SL_BIN" quantize "$TMP/s.gguf" "$TMP/s-$ty.gguf" "$ty" -t 1 2>/dev/null
    p=$(ppl "$TMP/s-$ty.gguf")
    if [ -z "$base" ] || [ -z "$p" ]; then
        t_fail "quantize_stories260k_$ty" "no perplexity (f32 '$base', $ty '$p')"
    elif awk -v a="$base" -v b="$p" -v l="$lim" 'BEGIN { exit !(b <= a * (1 + l) && b >= a * (1 - l)) }'; then
        t_pass "quantize_stories260k_$ty"
    else
        t_fail "quantize_stories260k_$ty" "ppl $p vs f32 $base (limit $lim)"
    fi
done
exit $FAILED
