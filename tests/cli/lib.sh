# tests/cli/lib.sh - tiny assertion helpers for the CLI integration tests.
# Usage: source it, call check/expect_exit, end with `finish`.
set -u
AUDITFS=$(realpath "${1:?usage: $0 PATH/TO/auditfs}")
PASS=0
FAIL=0
WORK=$(mktemp -d "${TMPDIR:-/tmp}/auditfs-test.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
cd "$WORK" || exit 1
# every test has its own verifier's memory (never the real ~/.local/state/auditfs)
export AUDITFS_STATE="$WORK/state"

ok() { PASS=$((PASS + 1)); echo "ok - $*"; }
not_ok() { FAIL=$((FAIL + 1)); echo "not ok - $*"; }

# check DESCRIPTION COMMAND...: the command must exit 0
check() {
    local d=$1; shift
    if "$@" >"$WORK/.out" 2>"$WORK/.err"; then ok "$d"; else not_ok "$d (exit $?)"; sed 's/^/#   /' "$WORK/.err" | head -5; fi
}
# expect_exit CODE DESCRIPTION COMMAND...: the command must exit with CODE
expect_exit() {
    local want=$1 d=$2; shift 2
    "$@" >"$WORK/.out" 2>"$WORK/.err"
    local got=$?
    if [ "$got" -eq "$want" ]; then ok "$d"; else not_ok "$d (exit $got, wanted $want)"; sed 's/^/#   /' "$WORK/.err" | head -5; fi
}
# expect_err PATTERN DESCRIPTION: the last command's stderr matches PATTERN
expect_err() {
    if grep -qE -- "$1" "$WORK/.err"; then ok "$2"; else not_ok "$2 (stderr: $(head -c 300 "$WORK/.err"))"; fi
}
expect_out() {
    if grep -qE -- "$1" "$WORK/.out"; then ok "$2"; else not_ok "$2 (stdout: $(head -c 300 "$WORK/.out"))"; fi
}
finish() {
    echo "$PASS passed, $FAIL failed"
    [ "$FAIL" -eq 0 ]
}
# records N [SEED]: N JSON audit lines
records() {
    awk -v n="$1" -v s="${2:-1}" 'BEGIN { for (i = 0; i < n; i++) printf "{\"seq\":%d,\"actor\":\"ops-%d\",\"action\":\"ecs:StopInstance\",\"resource\":\"i-%06d\",\"result\":\"success\"}\n", i, (i * 7 + s) % 13, i * s }'
}
