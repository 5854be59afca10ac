#!/usr/bin/env bash
# streamllm synth: random-weight models in real shapes. Checks the written
# files through `streamllm info` (shapes, tensor types, metadata), the
# llama.cpp Q4_K_M rule (q6_K for output and for attn_v/ffn_down in layers
# i < n/8, i >= 7n/8 and (i - n/8) % 3 == 2, llama-quant.cpp's
# use_more_bits), determinism by seed, a copied vocab, and the error paths.
source "$(dirname "$0")/../cli_util.bash"

if ! [ -x "$SL_BIN" ]; then
    t_skip synth "no binary at $SL_BIN"
    exit 0
fi

# type of a tensor in `info` output: "name type shape bytes"
ttype() { awk -v n="$1" '$1 == n { print $2 }' "$2"; }
tshape() { awk -v n="$1" '$1 == n { print $3, $4, $5 }' "$2"; }

# ---- the tiny shape, f32 and quantized, and what generate makes of it
if "$SL_BIN" synth --shape tiny -o "$TMP/t.gguf" 2>"$TMP/err" && "$SL_BIN" info "$TMP/t.gguf" >"$TMP/t.info"; then
    if grep -q 'llama.embedding_length *uint32 *64$' "$TMP/t.info" && grep -q 'llama.block_count *uint32 *2$' "$TMP/t.info" &&
       [ "$(ttype blk.1.ffn_down.weight "$TMP/t.info")" = f32 ] && [ "$(tshape blk.1.ffn_down.weight "$TMP/t.info")" = "96 x 64" ] &&
       ! grep -q '^  output.weight' "$TMP/t.info"; then
        t_pass synth_tiny_f32
    else t_fail synth_tiny_f32 "unexpected shapes: $(grep -E 'embedding_length|block_count|ffn_down' "$TMP/t.info" | tr '\n' ' ')"; fi
else t_fail synth_tiny_f32 "$(cat "$TMP/err")"; fi

if "$SL_BIN" synth --shape tiny --type q8_0 --output-type f16 --seed 3 -o "$TMP/q.gguf" 2>"$TMP/err" &&
   "$SL_BIN" info "$TMP/q.gguf" >"$TMP/q.info"; then
    # tied model: the embedding is the output, so it takes --output-type
    if [ "$(ttype blk.0.attn_q.weight "$TMP/q.info")" = q8_0 ] && [ "$(ttype token_embd.weight "$TMP/q.info")" = f16 ] &&
       [ "$(ttype blk.0.attn_norm.weight "$TMP/q.info")" = f32 ] && grep -q 'general.file_type *uint32 *7$' "$TMP/q.info"; then
        t_pass synth_types
    else t_fail synth_types "$(grep -E 'attn_q|token_embd|attn_norm|file_type' "$TMP/q.info" | tr '\n' ' ')"; fi
    out=$("$SL_BIN" generate -m "$TMP/q.gguf" -p "Once upon" -n 8 --temp 0 2>/dev/null)
    if [ -n "$out" ] && [[ "$out" == "Once upon"* ]]; then t_pass synth_runs
    else t_fail synth_runs "generate printed '$out'"; fi
else t_fail synth_types "$(cat "$TMP/err")"; fi

# ---- the same seed writes the same bytes; another seed other weights
"$SL_BIN" synth --shape tiny --type q8_0 --output-type f16 --seed 3 -o "$TMP/q2.gguf" 2>/dev/null
"$SL_BIN" synth --shape tiny --type q8_0 --output-type f16 --seed 4 -o "$TMP/q3.gguf" 2>/dev/null
if cmp -s "$TMP/q.gguf" "$TMP/q2.gguf" && ! cmp -s "$TMP/q.gguf" "$TMP/q3.gguf" &&
   [ "$(stat -c %s "$TMP/q.gguf")" = "$(stat -c %s "$TMP/q3.gguf")" ]; then
    t_pass synth_seed
else t_fail synth_seed "seed 3 twice should match and seed 4 differ"; fi

# ---- llama.cpp's Q4_K_M mix, 12 layers (n/8 = 1, 7n/8 = 10), small dimensions
if "$SL_BIN" synth --shape tiny --layers 12 --embd 256 --ff 512 --heads 4 --heads-kv 2 --type q4_k_m -o "$TMP/m.gguf" 2>"$TMP/err" &&
   "$SL_BIN" info "$TMP/m.gguf" >"$TMP/m.info"; then
    want="" got=""
    for i in 0 1 2 3 4 5 6 7 8 9 10 11; do
        if [ $i -lt 1 ] || [ $i -ge 10 ] || [ $(( (i - 1) % 3 )) -eq 2 ]; then w=q6_k; else w=q4_k; fi
        want+="$w $w q4_k "
        got+="$(ttype blk.$i.attn_v.weight "$TMP/m.info") $(ttype blk.$i.ffn_down.weight "$TMP/m.info") $(ttype blk.$i.attn_q.weight "$TMP/m.info") "
    done
    # tiny is tied: the embedding is the output and gets q6_K
    if [ "$want" = "$got" ] && [ "$(ttype token_embd.weight "$TMP/m.info")" = q6_k ] &&
       grep -q 'llama.block_count *uint32 *12$' "$TMP/m.info" && grep -q 'general.file_type *uint32 *15$' "$TMP/m.info"; then
        t_pass synth_q4_k_m_mix
    else t_fail synth_q4_k_m_mix "want [$want] got [$got] embedding $(ttype token_embd.weight "$TMP/m.info")"; fi
else t_fail synth_q4_k_m_mix "$(cat "$TMP/err")"; fi
rm -f "$TMP/m.gguf"

# ---- a real tokenizer copied from a vocab GGUF
V=$SHARED/tokenizers/ggml-vocab-llama-spm.gguf
if [ -f "$V" ]; then
    if "$SL_BIN" synth --shape tiny --vocab "$V" -o "$TMP/v.gguf" 2>"$TMP/err" && "$SL_BIN" info "$TMP/v.gguf" >"$TMP/v.info" &&
       grep -q 'llama.vocab_size *uint32 *32000$' "$TMP/v.info" && [ "$(tshape token_embd.weight "$TMP/v.info")" = "64 x 32000" ]; then
        ids=$("$SL_BIN" tokenize -m "$TMP/v.gguf" -p "Hello world" 2>/dev/null | tr -s ' \n' ' ')
        # Llama 2 ids of "Hello world" with BOS (llama.cpp's tokenizer test data): 1 15043 3186
        if [[ "$ids" == *"15043"*"3186"* ]]; then t_pass synth_vocab
        else t_fail synth_vocab "tokenize gave '$ids'"; fi
    else t_fail synth_vocab "$(cat "$TMP/err")"; fi
else t_skip synth_vocab "$V absent"; fi

# ---- errors: one line naming the problem, no file left behind
expect_error synth_no_shape "--shape is required" "$SL_BIN" synth -o "$TMP/x.gguf"
expect_error synth_bad_shape "unknown synth preset 'gpt5'" "$SL_BIN" synth --shape gpt5 -o "$TMP/x.gguf"
expect_error synth_no_output "-o FILE is required" "$SL_BIN" synth --shape tiny
expect_error synth_bad_type "--type: 'q3_z'" "$SL_BIN" synth --shape tiny --type q3_z -o "$TMP/x.gguf"
expect_error synth_bad_output_type "--output-type: 'q4_k_m'" "$SL_BIN" synth --shape tiny --output-type q4_k_m -o "$TMP/x.gguf"
expect_error synth_block_size "multiples of its block size 256" "$SL_BIN" synth --shape tiny --type q4_k -o "$TMP/x.gguf"
expect_error synth_bad_seed "--seed" "$SL_BIN" synth --shape tiny --seed -1 -o "$TMP/x.gguf"
expect_error synth_bad_arch "--arch: 'gpt2'" "$SL_BIN" synth --shape tiny --arch gpt2 -o "$TMP/x.gguf"
expect_error synth_unknown_flag "unknown flag" "$SL_BIN" synth --shape tiny --frobnicate
expect_error synth_bad_heads "n_head 5 times an even head_dim" "$SL_BIN" synth --shape tiny --heads 5 -o "$TMP/x.gguf"
expect_error synth_bad_layers "--layers" "$SL_BIN" synth --shape tiny --layers 0 -o "$TMP/x.gguf"
expect_error synth_bad_dir "x.gguf" "$SL_BIN" synth --shape tiny -o "$TMP/no/such/dir/x.gguf"
[ -e "$TMP/x.gguf" ] && t_fail synth_no_output_on_error "x.gguf was written"

exit $FAILED
