#!/usr/bin/env bash
# Optional cross-check of tests/unit/ref_llama64.h against PyTorch (Debian's
# python3-torch). Not part of `make test`: run it by hand after `make`.
#   bash tests/ref/run_torch_check.sh [BUILD_DIR]
# Prints PASS/FAIL per case; SKIP when torch is not installed.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${1:-build}
case "$BUILD" in /*) ;; *) BUILD="$ROOT/$BUILD" ;; esac
PY=/usr/bin/python3
if ! "$PY" -c "import torch" 2>/dev/null; then
    echo "SKIP torch_check: python3-torch is not installed (apt-get install python3-torch)"
    exit 0
fi
if ! [ -f "$BUILD/libstreamllm.a" ]; then
    echo "SKIP torch_check: no $BUILD/libstreamllm.a (run make first)"
    exit 0
fi
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
PCRE_LIBS=$(pkg-config --libs libpcre2-8 2>/dev/null || echo -lpcre2-8)
${CC:-cc} -std=c11 -O2 -D_GNU_SOURCE -I"$ROOT/include" -I"$ROOT/src" -I"$ROOT/tests/unit" \
    "$ROOT/tests/ref/dump_ref64.c" "$BUILD/libstreamllm.a" -lm -pthread $PCRE_LIBS \
    -o "$TMP/dump_ref64" || { echo "FAIL torch_check: cannot build dump_ref64"; exit 1; }
"$TMP/dump_ref64" "$TMP" || { echo "FAIL torch_check: dump_ref64 failed"; exit 1; }
"$PY" "$ROOT/tests/ref/torch_check.py" "$TMP"
