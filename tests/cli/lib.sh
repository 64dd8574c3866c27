# tests/cli/lib.sh - tiny assertion helpers for the CLI integration tests.
# Usage: source it, call check/expect_exit, end with `finish`.
set -u
AUDITFS=$(realpath "${1:?usage: $0 PATH/TO/auditfs}")
PASS=0
FAIL=0
WORK=$(mktemp -d "${TMPDIR:-/tmp}/auditfs-test.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
# never the user's state directory (it holds the index key, issue 13)
export AUDITFS_STATE="$WORK/.state"
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
# obj_bytes LEDGER OID: "FILE OFFSET LENGTH" of where the object's stored bytes are: its loose
# file, or its entry in a pack (writers put each batch in one pack since issue 13)
obj_bytes() {
    local f=$1/objects/${2:0:2}/${2:2} idx off next
    if [ -f "$f" ]; then echo "$f 0 $(stat -c %s "$f")"; return 0; fi
    for idx in "$1"/objects/pack/pack-*.idx; do
        [ -f "$idx" ] || continue
        off=$(git show-index <"$idx" | awk -v o="$2" '$2 == o { print $1 }')
        [ -n "$off" ] || continue
        next=$(git show-index <"$idx" | awk -v o="$off" '$1 > o + 0 { print $1 }' | sort -n | head -n 1)
        [ -n "$next" ] || next=$(( $(stat -c %s "${idx%.idx}.pack") - 20 ))
        echo "${idx%.idx}.pack $off $((next - off))"
        return 0
    done
    return 1
}
# all_objects LEDGER: every object id, loose or packed
all_objects() {
    local idx
    find "$1/objects" -type f -path '*/objects/??/*' | sed 's|.*/objects/\(..\)/|\1|'
    for idx in "$1"/objects/pack/pack-*.idx; do [ -f "$idx" ] && git show-index <"$idx" | awk '{ print $2 }'; done
}
# flip_obj LEDGER OID [PERCENT [MASK]]: xors MASK (0x55) into the byte PERCENT (50) % into the
# object's stored bytes
flip_obj() {
    local loc f off len byte
    loc=$(obj_bytes "$1" "$2") || return 1
    read -r f off len <<<"$loc"
    off=$((off + len * ${3:-50} / 100))
    chmod u+w "$f"
    byte=$(od -An -tu1 -j "$off" -N1 "$f" | tr -d ' ')
    printf "$(printf '\\%03o' $(( (byte ^ ${4:-0x55}) & 255 )))" | dd of="$f" bs=1 seek="$off" conv=notrunc 2>/dev/null
}
