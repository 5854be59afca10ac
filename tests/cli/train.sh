#!/usr/bin/env bash
# tests/cli/train.sh — `streamllm train-tokenizer` and `streamllm train` end to
# end on a small slice of a book: outputs exist and load, a run stopped and
# resumed from its checkpoint exports the same bytes as an uninterrupted run,
# and bad input (empty corpus, vocab too large, shape too big, corrupt
# checkpoint) gets a clear error.
source "$(dirname "$0")/../cli_util.bash"

if ! have_shared; then
    t_skip train_cli "../shared/data is absent"
    exit 0
fi
BOOK=$SHARED/text/pg1661-adventures-of-sherlock-holmes.txt
head -c 60000 "$BOOK" > "$TMP/book.txt"
: > "$TMP/empty.txt"

if "$SL_BIN" train-tokenizer --corpus "$TMP/book.txt" --vocab 400 -o "$TMP/tok.gguf" 2>"$TMP/tt.err" &&
   [ -s "$TMP/tok.gguf" ] && grep -q "400 tokens" "$TMP/tt.err"; then
    t_pass train_tokenizer_writes_vocab
else
    t_fail train_tokenizer_writes_vocab "$(cat "$TMP/tt.err")"
fi
expect_error train_tokenizer_empty_corpus "empty" "$SL_BIN" train-tokenizer --corpus "$TMP/empty.txt" --vocab 300 -o "$TMP/x.gguf"
expect_error train_tokenizer_vocab_too_large "larger than this corpus supports" \
    "$SL_BIN" train-tokenizer --corpus "$TMP/book.txt" --vocab 200000 -o "$TMP/x.gguf"
expect_error train_tokenizer_missing_file "cannot read" "$SL_BIN" train-tokenizer --corpus "$TMP/nope.txt" -o "$TMP/x.gguf"

SHAPE=(--dim 32 --layers 2 --heads 2 --ctx 32 --batch 2 --steps 6 --threads 2 --eval-every 3 --eval-chunks 4)
if "$SL_BIN" train --tokenizer "$TMP/tok.gguf" --corpus "$TMP/book.txt" "${SHAPE[@]}" --sink-token \
       -o "$TMP/full.gguf" 2>"$TMP/full.err" && [ -s "$TMP/full.gguf" ] && [ -s "$TMP/full.loss.csv" ] &&
   grep -q "held-out loss" "$TMP/full.err" && [ "$(wc -l < "$TMP/full.loss.csv")" -eq 7 ]; then
    t_pass train_writes_model_and_curve
else
    t_fail train_writes_model_and_curve "$(tail -3 "$TMP/full.err")"
fi
if grep -qE "step 6/6 .*tok/s .*ETA" "$TMP/full.err"; then t_pass train_live_line; else t_fail train_live_line "no step line"; fi

# stop after 3 steps, resume, finish: the same model as the straight run
"$SL_BIN" train --tokenizer "$TMP/tok.gguf" --corpus "$TMP/book.txt" "${SHAPE[@]}" --sink-token \
    --checkpoint "$TMP/ck" --stop-after 3 -o "$TMP/half.gguf" 2>/dev/null
"$SL_BIN" train --tokenizer "$TMP/tok.gguf" --corpus "$TMP/book.txt" --resume "$TMP/ck" --threads 2 \
    --eval-every 3 --eval-chunks 4 -o "$TMP/resumed.gguf" 2>"$TMP/res.err"
if cmp -s "$TMP/full.gguf" "$TMP/resumed.gguf"; then
    t_pass train_resume_equals_uninterrupted
else
    t_fail train_resume_equals_uninterrupted "exported files differ: $(tail -2 "$TMP/res.err")"
fi

# the exported model runs in the engine, with its sink token prepended
if out=$("$SL_BIN" generate -m "$TMP/full.gguf" -p "Holmes" -n 4 --temp 0 2>&1); then
    t_pass train_model_generates
else
    t_fail train_model_generates "$out"
fi

expect_error train_shape_too_big "needs .* GiB" "$SL_BIN" train --tokenizer "$TMP/tok.gguf" \
    --corpus "$TMP/book.txt" --dim 8192 --layers 100 --heads 64 --ctx 2048 --batch 64 -o "$TMP/x.gguf"
head -c 5000 /dev/urandom > "$TMP/bad.ckpt"
expect_error train_corrupt_checkpoint "not a streamllm training checkpoint" "$SL_BIN" train \
    --tokenizer "$TMP/tok.gguf" --corpus "$TMP/book.txt" --resume "$TMP/bad.ckpt" -o "$TMP/x.gguf"
head -c 3000 "$TMP/ck" > "$TMP/trunc.ckpt"
expect_error train_truncated_checkpoint "corrupt" "$SL_BIN" train \
    --tokenizer "$TMP/tok.gguf" --corpus "$TMP/book.txt" --resume "$TMP/trunc.ckpt" -o "$TMP/x.gguf"
expect_error train_empty_corpus "empty" "$SL_BIN" train --tokenizer "$TMP/tok.gguf" \
    --corpus "$TMP/empty.txt" -o "$TMP/x.gguf"
expect_error train_bad_heads "heads" "$SL_BIN" train --tokenizer "$TMP/tok.gguf" \
    --corpus "$TMP/book.txt" --dim 30 --heads 4 -o "$TMP/x.gguf"
exit $FAILED
