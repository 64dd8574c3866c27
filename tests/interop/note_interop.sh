#!/usr/bin/env bash
# Cross-checks auditfs's keys, signed notes and checkpoints against Go's reference
# golang.org/x/mod/sumdb/note and sumdb/tlog, in both directions.
# usage: note_interop.sh NOTE_TOOL       exit 0 pass, 1 fail, 77 skip (no Go toolchain/sources)
set -u
if [ $# -ne 1 ]; then
    echo "usage: $0 NOTE_TOOL" >&2
    exit 2
fi
tool=$1
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/auditfs-note-interop.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT
umask 077
failures=0

pass() { echo "ok - $*"; }
fail() { echo "not ok - $*"; failures=$((failures + 1)); }
# expect DESCRIPTION COMMAND...: the command must succeed.
expect() {
    local d=$1; shift
    if "$@" >"$work/out" 2>"$work/err"; then pass "$d"; else fail "$d"; cat "$work/err"; fi
}
# refuse DESCRIPTION COMMAND...: the command must fail with status 1 (not a crash or usage error).
refuse() {
    local d=$1; shift
    "$@" >"$work/out" 2>"$work/err"
    local rc=$?
    if [ "$rc" -eq 1 ]; then pass "$d"; else fail "$d (exit $rc)"; cat "$work/err"; fi
}

bash "$here/build.sh" "$work/gonote"
rc=$?
if [ "$rc" -eq 77 ]; then exit 77; fi
if [ "$rc" -ne 0 ]; then echo "Go interop tool failed to build" >&2; exit 1; fi
go=$work/gonote

root_b64=$(printf 'auditfs interop root hash.......' | base64)
printf 'example.com/interop\n42\n%s\n' "$root_b64" >"$work/cp.txt"

# 1. Go generates the key; we sign; Go verifies.
"$go" genkey example.com/interop >"$work/gokeys" || exit 1
sed -n 1p "$work/gokeys" >"$work/go.sec"
sed -n 2p "$work/gokeys" >"$work/go.pub"
expect "auditfs signs a checkpoint with a Go key" "$tool" sign "$work/go.sec" "$work/cp.txt"
cp "$work/out" "$work/cp.ours"
expect "Go verifies auditfs's signed checkpoint" "$go" verify-note "$work/go.pub" "$work/cp.ours"
cmp -s "$work/out" "$work/cp.txt" && pass "Go recovers the checkpoint text" \
    || fail "Go text differs"
expect "Go signs the same checkpoint" "$go" sign-note "$work/go.sec" "$work/cp.txt"
cmp -s "$work/out" "$work/cp.ours" && pass "Ed25519 signatures are byte-identical" \
    || fail "signatures differ"
sed 's/^42$/43/' "$work/cp.ours" >"$work/cp.bad"
refuse "Go refuses a tampered checkpoint" "$go" verify-note "$work/go.pub" "$work/cp.bad"
refuse "auditfs refuses a tampered checkpoint" "$tool" verify "$work/go.pub" "$work/cp.bad"

# 2. auditfs generates the key; Go signs; we verify and parse.
expect "auditfs generates a key" "$tool" genkey example.com/ours "$work/ours.sec"
perms=$(stat -c %a "$work/ours.sec")
[ "$perms" = 600 ] && pass "key file is mode 600" || fail "key file is mode $perms"
sed 's/^example.com\/interop$/example.com\/ours/' "$work/cp.txt" >"$work/cp2.txt"
expect "Go signs with an auditfs key" "$go" sign-note "$work/ours.sec" "$work/cp2.txt"
cp "$work/out" "$work/cp2.go"
expect "auditfs verifies Go's note" "$tool" verify "$work/ours.sec.pub" "$work/cp2.go"
expect "auditfs opens Go's checkpoint" "$tool" checkpoint "$work/ours.sec.pub" "$work/cp2.go" \
    example.com/ours
cmp -s "$work/out" "$work/cp2.txt" && pass "auditfs parses origin, size and root" \
    || fail "parsed checkpoint differs"
refuse "auditfs refuses the wrong origin" "$tool" checkpoint "$work/ours.sec.pub" \
    "$work/cp2.go" example.com/other
expect "Go verifies with auditfs's public key" "$go" verify-note "$work/ours.sec.pub" \
    "$work/cp2.go"
refuse "auditfs refuses a note by another key" "$tool" verify "$work/ours.sec.pub" \
    "$work/cp.ours"

# 3. Go-signed note with two signatures (ours and Go's): each side verifies with either key.
"$tool" sign "$work/ours.sec" "$work/cp.txt" >"$work/one" || fail "sign for cosigning"
sed -n '$p' "$work/one" >"$work/oursig"
cat "$work/cp.ours" "$work/oursig" >"$work/two"
expect "Go verifies a two-signature note with its key" "$go" verify-note "$work/go.pub" "$work/two"
expect "Go verifies a two-signature note with ours" "$go" verify-note "$work/ours.sec.pub" \
    "$work/two"
expect "auditfs verifies a two-signature note with Go's key" "$tool" verify "$work/go.pub" \
    "$work/two"

# 4. The proof checker itself, on a one-leaf tree (root = RFC 6962 leaf hash): the Merkle
#    module's proofs are cross-checked with it elsewhere.
if command -v openssl >/dev/null 2>&1; then
    printf 'leaf data' >"$work/leaf"
    leaf_root=$({ printf '\0'; cat "$work/leaf"; } | openssl dgst -sha256 -binary | base64)
    printf 'example.com/interop\n1\n%s\n' "$leaf_root" >"$work/cp1.txt"
    "$tool" sign "$work/go.sec" "$work/cp1.txt" >"$work/cp1.note" || fail "sign size-1 tree"
    echo '{"leaf_index":0,"tree_size":1,"audit_path":[]}' >"$work/incl.json"
    expect "Go checks a one-leaf inclusion proof" "$go" check-inclusion "$work/go.pub" \
        "$work/cp1.note" "$work/incl.json" "$work/leaf"
    printf 'other data' >"$work/leaf2"
    refuse "Go refuses the wrong leaf" "$go" check-inclusion "$work/go.pub" "$work/cp1.note" \
        "$work/incl.json" "$work/leaf2"
    echo '{"first":1,"second":1,"consistency":[]}' >"$work/cons.json"
    expect "Go checks a trivial consistency proof" "$go" check-consistency "$work/go.pub" \
        "$work/cp1.note" "$work/cp1.note" "$work/cons.json"
fi

# 5. C2SP tlog-cosignature v1: a checkpoint cosigned by auditfs still opens with Go's note.Open
#    given only the log key, and Go (crypto/ed25519, our key-id and message rules re-implemented
#    from the spec) verifies the cosignature.
expect "auditfs generates a witness key" "$tool" genkey witness.example/w1 "$work/wit.sec"
expect "auditfs cosigns the checkpoint" "$tool" cosign "$work/wit.sec" "$work/cp.ours" 1679315147
cp "$work/out" "$work/cp.cosigned"
grep -c '^— witness.example/w1 ' "$work/cp.cosigned" | grep -qx 1 && pass "one cosignature line" \
    || fail "cosignature line missing"
expect "Go note.Open opens the cosigned checkpoint with the log key only" "$go" verify-note \
    "$work/go.pub" "$work/cp.cosigned"
cmp -s "$work/out" "$work/cp.txt" && pass "Go recovers the cosigned checkpoint text" \
    || fail "Go text of the cosigned checkpoint differs"
expect "Go verifies auditfs's cosignature" "$go" verify-cosig "$work/go.pub" "$work/wit.sec.pub" \
    "$work/cp.cosigned"
grep -qx 1679315147 "$work/out" && pass "Go reads the cosignature timestamp" \
    || fail "timestamp differs: $(cat "$work/out")"
expect "auditfs still verifies the log signature" "$tool" verify "$work/go.pub" "$work/cp.cosigned"
sed 's/^42$/43/' "$work/cp.cosigned" >"$work/cp.cosigned.bad"
refuse "Go refuses a cosigned checkpoint with a changed size" "$go" verify-cosig "$work/go.pub" \
    "$work/wit.sec.pub" "$work/cp.cosigned.bad"

if [ "$failures" -ne 0 ]; then
    echo "$failures interop check(s) failed"
    exit 1
fi
exit 0
