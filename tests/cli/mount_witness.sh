#!/usr/bin/env bash
# Mount with witnesses: ./checkpoint carries the stored cosignature lines, and --witness/--quorum
# refuse to mount a ledger whose head lacks its witness quorum (nothing is mounted then).
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lib.sh"
source "$HERE/mountlib.sh"
A=$AUDITFS
export AUDITFS_STATE=$WORK/state
L=$WORK/ledger
M=$WORK/mnt

$A keygen provider.example/acme -o p.key >/dev/null
$A keygen customer-a.example -o a.key >/dev/null
$A keygen customer-b.example -o b.key >/dev/null
$A init --ledger $L --key p.key 2>/dev/null
records 200 | $A append --ledger $L --key p.key --stream api >/dev/null
$A cosign --ledger $L --key a.key --log-key p.key.pub >/dev/null

expect_exit 1 "quorum 2 (B silent): the mount is refused" $A mount -f --ledger $L --key p.key.pub \
    --witness a.key.pub --witness b.key.pub --quorum 2 $M
expect_err "lacks the witness quorum" "the refusal names the quorum"
is_mounted $M && not_ok "something was mounted" || ok "nothing was mounted"
# without --key: the key pinned for the origin (init pinned it) checks the head and the quorum
expect_exit 1 "quorum 2 with the pinned key (no --key): the mount is refused" $A mount -f --ledger $L \
    --witness a.key.pub --witness b.key.pub --quorum 2 $M
expect_err "lacks the witness quorum" "  the refusal names the quorum"
is_mounted $M && not_ok "something was mounted" || ok "nothing was mounted"
if start_mount $M $WORK/mount.log --ledger $L --key p.key.pub --witness a.key.pub --witness b.key.pub --quorum 1; then
    ok "quorum 1: mounted"
    $T cat $M/checkpoint > shown
    cmp -s shown <($A checkpoint --ledger $L) && ok "./checkpoint equals auditfs checkpoint" || not_ok "checkpoint differs"
    grep -q '^— customer-a.example ' shown && ok "./checkpoint carries the cosignature line" || not_ok "no cosignature: $(cat shown)"
    stop_mount $M $MOUNT_PID && ok "unmounted" || not_ok "unmount"
else
    not_ok "quorum 1: mount failed: $(cat $WORK/mount.log)"
fi
if start_mount $M $WORK/mount2.log --ledger $L --witness a.key.pub --quorum 1; then
    ok "quorum 1 with the pinned key (no --key): mounted"
    stop_mount $M $MOUNT_PID && ok "unmounted" || not_ok "unmount"
else
    not_ok "quorum 1, pinned key: mount failed: $(cat $WORK/mount2.log)"
fi

# --follow moves only to checkpoints that have their quorum
export AUDITFS_FOLLOW_MS=100
if start_mount $M $WORK/follow.log --follow --ledger $L --key p.key.pub --witness a.key.pub --quorum 1; then
    ok "mounted with --follow and a quorum of 1"
    size0=$($T sed -n 2p $M/checkpoint)
    records 10 5 | $A append --ledger $L --key p.key --stream api >/dev/null
    new=$($A checkpoint --ledger $L | sed -n 2p)
    sleep 1.5 # fifteen follow polls: none may move to the unwitnessed checkpoint
    [ "$($T sed -n 2p $M/checkpoint)" = "$size0" ] && ok "an unwitnessed checkpoint ($new) is not followed" \
        || not_ok "moved without a quorum"
    $A cosign --ledger $L --key a.key --log-key p.key.pub >/dev/null
    wait_until 15 eval '[ "$($T sed -n 2p $M/checkpoint)" = "$new" ]' && ok "once cosigned, the mount follows to $new" \
        || not_ok "did not follow: $($T cat $M/checkpoint)"
    $T grep -q '^— customer-a.example ' $M/checkpoint && ok "./checkpoint shows the new cosignature" || not_ok "no cosig"
    stop_mount $M $MOUNT_PID && ok "unmounted" || not_ok "unmount"
else
    not_ok "mount --follow failed: $(cat $WORK/follow.log)"
fi
finish
