#!/usr/bin/env bash
# attn.sh — `streamllm attn` on the real stories260K model: the per-layer
# matrices are proper attention (N rows, lower-triangular, rows sum to 1,
# query 0 all on itself), the printed shares are the CSVs' numbers, --layers
# selects, and bad input fails with one clear line.
. "$(dirname "$0")/../cli_util.bash"

if ! have_shared; then
    t_skip attn "$SHARED is absent (needs the stories260K model and texts)"
    exit 0
fi
M=$TMP/stories.gguf
if ! "$SL_BIN" convert --from-llama2c "$SHARED/models/stories260K.bin" \
        --tokenizer "$SHARED/models/tok512.bin" -o "$M" >/dev/null 2>"$TMP/convert.err"; then
    t_fail attn_convert "$(cat "$TMP/convert.err")"
    exit 1
fi
TS=$SHARED/text/tinystories-validation-prefix.txt
attn() { "$SL_BIN" attn -m "$M" "$@"; }
N=40

if attn -f "$TS" --tokens $N --out "$TMP/a" --json -t 2 >"$TMP/a.json" 2>"$TMP/a.err"; then
    t_pass attn_runs
else
    t_fail attn_runs "exit $?: $(cat "$TMP/a.err")"
fi
for l in 0 1 2 3 4; do
    f=$TMP/a_layer$l.csv
    if [ ! -f "$f" ]; then t_fail "attn_csv_layer$l" "no $f"; continue; fi
    # N rows of N values; zero above the diagonal; rows sum to 1; row 0 is [1 0 ...]
    err=$(awk -F, -v N=$N '
        { if (NF != N) { print "row " NR " has " NF " columns"; exit }
          s = 0; for (j = 1; j <= NF; j++) { s += $j; if ($j < 0) { print "negative at " NR "," j; exit }
                                            if (j > NR && $j != 0) { print "above diagonal at " NR "," j; exit } }
          if ((s - 1) ^ 2 > 1e-8) { print "row " NR " sums to " s; exit } }
        NR == 1 && $1 != 1 { print "query 0 puts " $1 " on itself"; exit }
        END { if (NR != N) print NR " rows, want " N }' "$f")
    [ -z "$err" ] && t_pass "attn_csv_layer$l" || t_fail "attn_csv_layer$l" "$err"
done
# The JSON shares are the CSV's column means over queries 1..N-1.
for l in 0 4; do
    want=$(awk -F, 'NR > 1 { f += $1; p += $(NR - 1); n++ } END { printf "%.6f %.6f", f / n, p / n }' "$TMP/a_layer$l.csv")
    got=$(grep -o "\"layer\": $l, \"first\": [0-9.e-]*, \"first4\": [0-9.e-]*, \"prev\": [0-9.e-]*" "$TMP/a.json" \
          | awk '{ gsub(/,/, ""); print $4, $8 }')
    awk -v w="$want" -v g="$got" 'BEGIN { split(w, a, " "); split(g, b, " ");
        exit !(g != "" && (a[1] - b[1]) ^ 2 < 1e-9 && (a[2] - b[2]) ^ 2 < 1e-9) }' \
        && t_pass "attn_json_matches_csv_layer$l" || t_fail "attn_json_matches_csv_layer$l" "csv '$want', json '$got'"
done
grep -q '"queries": "1..39"' "$TMP/a.json" && [ "$(grep -c '"layer":' "$TMP/a.json")" = 5 ] \
    && t_pass attn_json_layers || t_fail attn_json_layers "$(cat "$TMP/a.json")"
if command -v gnuplot >/dev/null; then
    [ -s "$TMP/a.png" ] && t_pass attn_png || t_fail attn_png "no PNG: $(cat "$TMP/a.err")"
fi
# The same numbers whatever the thread count (the observer sums under locks).
attn -f "$TS" --tokens $N --out "$TMP/b" --json -t 1 >"$TMP/b.json" 2>/dev/null
cmp -s "$TMP/a.json" <(sed "s|$TMP/b_|$TMP/a_|" "$TMP/b.json") && t_pass attn_threads_agree \
    || t_fail attn_threads_agree "-t 1 and -t 2 differ"

# --layers picks the maps; the table has one row per layer
rm -f "$TMP"/c_layer*.csv
attn -f "$TS" --tokens 16 --layers 0,3 --out "$TMP/c" -t 1 >"$TMP/c.txt" 2>/dev/null
ls "$TMP"/c_layer*.csv 2>/dev/null | sed 's|.*/||' | tr '\n' ' ' | grep -qx 'c_layer0.csv c_layer3.csv ' \
    && [ "$(grep -cE '^[03] ' "$TMP/c.txt")" = 2 ] && grep -q 'queries 1..15' "$TMP/c.txt" \
    && t_pass attn_layers_select || t_fail attn_layers_select "$(ls "$TMP"; cat "$TMP/c.txt")"

printf 'Hi.\n' >"$TMP/short.txt"
: >"$TMP/empty.txt"
expect_error attn_err_ctx 'trained context' attn -f "$TS" --tokens 600
expect_error attn_err_layer 'layers.*out of range' attn -f "$TS" --layers 0,9
expect_error attn_err_layer_syntax 'layers' attn -f "$TS" --layers first
expect_error attn_err_short 'only [0-9]+ tokens' attn -f "$TMP/short.txt" --tokens 64
expect_error attn_err_missing 'nope.txt.*cannot open' attn -f "$TMP/nope.txt"
expect_error attn_err_empty 'empty' attn -f "$TMP/empty.txt"
expect_error attn_err_tokens '--tokens' attn -f "$TS" --tokens 1
exit $FAILED
