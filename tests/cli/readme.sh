#!/usr/bin/env bash
# readme.sh — every `./build/streamllm ...` command in README.md's shell
# blocks, extracted from the README itself (continuation lines joined,
# comments dropped) and run as written, in a scratch directory holding the
# inputs the README names. Only sizes are made small, by the rewrites in
# shrink() below (fewer tokens, repetitions and positions, a tiny synth
# shape, a two-step training run); flags, files and subcommands stay as
# written, so a README example that stops working fails here.
source "$(dirname "$0")/../cli_util.bash"
README=$SL_ROOT/README.md
W=$TMP/work
mkdir -p "$W"

# ---- the commands, as the README writes them -------------------------------------
mapfile -t CMDS < <(awk '
    /^```sh/ { inblk = 1; next }
    /^```/   { inblk = 0; next }
    !inblk   { next }
    {
        line = $0
        if (cont != "") { sub(/^[ \t]+/, "", line); line = cont " " line; cont = "" }
        if (line ~ /\\$/) { sub(/[ \t]*\\$/, "", line); cont = line; next }
        i = index(line, "./build/streamllm")
        if (i == 0) next
        line = substr(line, i)
        sub(/[ \t][ \t]+#.*$/, "", line)   # a trailing "   # comment"
        print line
    }' "$README")
if [ ${#CMDS[@]} -ge 20 ]; then t_pass readme_commands_found
else t_fail readme_commands_found "only ${#CMDS[@]} ./build/streamllm commands found in README.md"; fi

# ---- the inputs it names -----------------------------------------------------------
# Text: the repository's own documents (any UTF-8 text will do).
cat "$SL_ROOT"/README.md "$SL_ROOT"/docs/*.md > "$W/book.txt"
head -c 2000 "$W/book.txt" > "$W/prompt.txt"
printf '%s\n' '{"question_id": 1, "turns": ["Write one line about the sea.", "Shorter."]}' \
    '{"question_id": 2, "turns": ["What is 2 + 2?"]}' > "$W/mt_bench.jsonl"
# model.gguf: a small random llama whose trained context fits --window 1020.
"$SL_BIN" synth --shape tiny --ctx 2048 -o "$W/model.gguf" >/dev/null 2>&1
"$SL_BIN" synth --shape tiny --ctx 2048 --type f16 -o "$W/model-f16.gguf" >/dev/null 2>&1
if have_shared; then
    ln -s "$SHARED/models/stories260K.bin" "$W/stories260K.bin"
    ln -s "$SHARED/models/tok512.bin" "$W/tok512.bin"
    ln -s "$SHARED/text/tinystories-validation-prefix.txt" "$W/tinystories-validation-prefix.txt"
    ln -s "$SHARED/text/pg19-test-10146-reminiscences-of-pioneer-days-in-st-paul.txt" "$W/pg19-test-10146.txt"
else
    # No llama2.c files: stories.gguf is a random model in its shape, and convert is skipped.
    "$SL_BIN" synth --shape stories260k -o "$W/stories.gguf" >/dev/null 2>&1
    cp "$W/book.txt" "$W/tinystories-validation-prefix.txt"
    cp "$W/book.txt" "$W/pg19-test-10146.txt"
fi

# ---- small sizes -------------------------------------------------------------------
shrink() {
    local c=$1
    c=${c//-n 1000000/-n 64}
    c=${c//--tokens 1000000/--tokens 3000}
    c=${c//--tokens 5000/--tokens 400}
    c=${c//--tokens 4000/--tokens 400}
    c=${c//--positions 1000,100000,1000000/--positions 600,2000}
    c=${c//--shape tinyllama-1.1b/--shape tiny}
    c=${c//--reps 5/--reps 1}
    c=${c//--window 256,512,1024/--window 64,128}
    case $c in
    *" train "*) c="$c --steps 2 --dim 32 --layers 1 --heads 2 --ctx 32 --batch 2 --eval-every 0" ;;
    esac
    printf '%s' "$c"
}

k=0
for cmd in "${CMDS[@]}"; do
    k=$((k + 1))
    name="readme_$k: ${cmd:18:60}"
    if ! have_shared && [[ $cmd == *"--from-llama2c"* ]]; then
        t_skip "$name" "$SHARED is absent (no llama2.c checkpoint to convert)"
        continue
    fi
    run=$(shrink "$cmd")
    run=${run/.\/build\/streamllm/\"\$SL_BIN\"}
    # Interactive chat reads stdin: end of input ends it.
    if (cd "$W" && SL_BIN=$SL_BIN timeout 300 bash -c "$run" </dev/null >"$TMP/out.$k" 2>"$TMP/err.$k"); then
        t_pass "$name"
    else
        t_fail "$name" "exit $?: $run: $(tail -c 300 "$TMP/err.$k")"
    fi
done
exit $FAILED
