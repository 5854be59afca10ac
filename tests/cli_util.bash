# cli_util.bash — sourced by tests/cli/*.sh.
# Each case prints PASS/FAIL/SKIP lines like the unit harness.
SL_BIN=${SL_BIN:-build/streamllm}
SHARED=${SL_SHARED_DIR:-../shared}/data
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
t_pass() { echo "PASS $1"; }
t_fail() { echo "FAIL $1: $2"; FAILED=1; }
t_skip() { echo "SKIP $1: $2"; }
FAILED=0
have_shared() { [ -d "$SHARED" ]; }
# expect_error NAME PATTERN CMD...: CMD must exit non-zero, print PATTERN on
# stderr, print exactly one error line, and not crash (exit < 128).
expect_error() {
    local name=$1 pat=$2; shift 2
    local err rc
    err=$("$@" 2>&1 >/dev/null); rc=$?
    if [ $rc -eq 0 ]; then t_fail "$name" "exit 0, expected an error"; return; fi
    if [ $rc -ge 128 ]; then t_fail "$name" "crashed (exit $rc): $err"; return; fi
    if ! grep -qiE -- "$pat" <<<"$err"; then t_fail "$name" "message '$err' lacks /$pat/"; return; fi
    t_pass "$name"
}
