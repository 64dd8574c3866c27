#!/usr/bin/env bash
# Forgeries whose signatures and roots are all valid: tests/torture/forge rewrites a clone of the
# ledger with the ledger's own key (or places a genuinely signed checkpoint of a second ledger on
# an old commit), so each forged ledger breaks exactly one rule of docs/FORMAT.md and nothing
# else. `verify` must fail on every one with exit 1, naming the entry or commit and the rule.
# These are the checks mutation testing (tests/mutation/) found unobserved: without this file,
# verify could stop checking the prev chain or historical roots and every suite would pass.
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lib.sh"
export AUDITFS_STATE=$WORK/state
A=$AUDITFS
FORGE=${BUILD_ROOT:+$BUILD_ROOT/tests/torture/forge}
if [ -z "$FORGE" ] || [ ! -x "$FORGE" ]; then
    echo "# SKIP: the forge tool is not built (BUILD_ROOT=${BUILD_ROOT:-unset})"
    exit 77
fi

$A keygen forge.example -o key >/dev/null
$A init --ledger L --key key 2>/dev/null
records 100 1 >r1
$A append --ledger L --key key --stream api r1 >/dev/null # commit 1: size 100, one batch
records 400 2 >r2
$A append --ledger L --key key --stream api --batch-bytes 20000 r2 >/dev/null
records 100 3 >r3
$A append --ledger L --key key --stream audit r3 >/dev/null
N=$($A checkpoint --ledger L | sed -n 2p)
C=$(git -C L rev-list --count main)
[ "$N" = 600 ] && [ "$C" -ge 5 ] && ok "test ledger: $N entries in $C commits" ||
    not_ok "test ledger: $N entries in $C commits"

# forged NAME ARGS...: NAME is a copy of L rewritten by `forge NAME ARGS...`
forged() {
    local d=$1; shift
    rm -rf "$d" && cp -a L "$d" && "$FORGE" "$d" "$@" >/dev/null 2>"$WORK/.forge"
}
# verify_fails NAME PATTERN DESCRIPTION: verify exits 1 and its message matches PATTERN
verify_fails() {
    $A verify --ledger "$1" --key key.pub >"$WORK/.out" 2>"$WORK/.err"
    local rc=$?
    if [ $rc -eq 1 ] && grep -qE -- "$2" "$WORK/.err"; then
        ok "$3"
    else
        not_ok "$3 (exit $rc: $(head -c 300 "$WORK/.err"))"
    fi
}

# The control: rebuilt and re-signed without a defect, the forgery verifies - so each failure
# below comes from its one defect, not from the forging.
if forged F none --resign key; then
    check "a re-signed rebuild with no defect verifies" $A verify --ledger F --key key.pub
else
    not_ok "forge none --resign: $(cat "$WORK/.forge")"
fi

forged F none --resign key --break-prev 250 || not_ok "forge --break-prev: $(cat "$WORK/.forge")"
verify_fails F 'entry 250: prev does not match' \
    "a broken prev chain under valid signatures and roots fails, naming the entry"

forged F none --resign key --back-time 333 || not_ok "forge --back-time: $(cat "$WORK/.forge")"
verify_fails F 'entry 333: time goes backwards' \
    "time going backwards under valid signatures and roots fails, naming the entry"

forged F none --resign key --bad-seq 420 || not_ok "forge --bad-seq: $(cat "$WORK/.forge")"
verify_fails F 'entry 420: leaf says seq 421' \
    "a leaf whose seq is not its position fails, naming the entry"

forged F none --resign key --origin-at 2 forge.other.example ||
    not_ok "forge --origin-at: $(cat "$WORK/.forge")"
verify_fails F 'commit [0-9a-f]{7,}.*origin "forge.other.example"' \
    "one commit signed by the same key for another origin fails, naming the commit"

# A historical checkpoint with another root: a second ledger, same key and origin, signs a
# checkpoint of the same size (100) over other entries; placed on L's commit 1 it is a valid
# signature by the right key - only the recomputed root at that old commit can tell.
$A init --ledger L2 --key key 2>/dev/null
records 100 9 >r9
$A append --ledger L2 --key key --stream api r9 >/dev/null
$A checkpoint --ledger L2 >other.cp
C1=$(git -C L rev-list --reverse main | sed -n 2p) # commit 1 (0 = init)
[ "$(sed -n 2p other.cp)" = 100 ] && [ "$(git -C L cat-file blob "$C1:checkpoint" | sed -n 2p)" = 100 ] &&
    ! cmp -s other.cp <(git -C L cat-file blob "$C1:checkpoint") &&
    ok "the second ledger has another signed checkpoint of size 100, like L's commit 1" ||
    not_ok "second ledger or commit 1"
forged F none --cp-file 1 other.cp || not_ok "forge --cp-file: $(cat "$WORK/.forge")"
check "the placed checkpoint is validly signed by the ledger's key" \
    $A verify --ledger L2 --key key.pub --trusted other.cp
verify_fails F 'commit [0-9a-f]{7,}: checkpoint root for size 100 does not match' \
    "an old commit whose signed checkpoint carries another root fails, naming the commit"
# and the head alone does not give it away: the head checkpoint is the genuine one
cmp -s <(git -C F cat-file blob main:checkpoint) <(git -C L cat-file blob main:checkpoint) &&
    ok "the forged ledger's head checkpoint is the genuine one" || not_ok "head checkpoint changed"

# The mount pins only a ledger that verifies: a broken chain under valid signatures and roots,
# and entries that no longer hash to the (genuine) signed root, are both refused at pin time.
if [ -e /dev/fuse ] && command -v fusermount3 >/dev/null 2>&1 && (exec 3<>/dev/fuse) 2>/dev/null; then
    mount_refused() { # mount_refused LEDGER PATTERN DESCRIPTION
        mkdir -p "$WORK/mnt"
        timeout 20 $A mount -f --ledger "$1" --key key.pub "$WORK/mnt" >/dev/null 2>"$WORK/.err"
        local rc=$?
        mountpoint -q "$WORK/mnt" && fusermount3 -uz "$WORK/mnt"
        if [ $rc -eq 1 ] && grep -qE -- "$2" "$WORK/.err"; then ok "$3"; else
            not_ok "$3 (exit $rc: $(head -c 300 "$WORK/.err"))"; fi
    }
    forged F none --resign key --break-prev 250 || not_ok "forge --break-prev: $(cat "$WORK/.forge")"
    mount_refused F 'entry 250.*chain broken' "the mount refuses a broken prev chain, naming the entry"
    # original tiles and checkpoints (they agree with each other), modified leaves
    forged F modify 300 --stale-tiles || not_ok "forge modify: $(cat "$WORK/.forge")"
    mount_refused F 'root|checkpoint' "the mount refuses entries that do not hash to the signed root"
else
    echo "ok - mount checks # SKIP FUSE is not available"
fi

finish
