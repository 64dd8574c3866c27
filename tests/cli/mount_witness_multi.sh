#!/usr/bin/env bash
# mount --witness with several ledgers: the quorum is per ledger. Unnamed witness options apply
# to every ledger; NAME= options to that ledger only (replacing the unnamed ones for it); a
# NAME= that is not a mounted ledger is a usage error. With --follow each ledger moves only to
# checkpoints that have its own quorum. Witnesses and the mounting customer each have their own
# AUDITFS_STATE; every mount is unmounted at the end.
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lib.sh"
source "$HERE/mountlib.sh"
A=$AUDITFS
export AUDITFS_STATE=$WORK/state-provider
LP=$WORK/prov
LC=$WORK/acme
M=$WORK/mnt
export AUDITFS_FOLLOW_MS=100

$A keygen provider.example/platform -o p.key >/dev/null
$A keygen provider.example/acme -o c.key >/dev/null
$A keygen customer-a.example -o a.key >/dev/null
$A keygen assessor.example -o s.key >/dev/null
$A init --ledger $LP --key p.key 2>/dev/null
$A init --ledger $LC --key c.key 2>/dev/null
records 20 | $A append --ledger $LP --key p.key --stream ops >/dev/null
records 30 2 | $A append --ledger $LC --key c.key --stream api --tenant acme >/dev/null
# the customer witnesses the platform ledger, the assessor the tenant's ledger
AUDITFS_STATE=$WORK/state-a check "customer A cosigns the platform ledger" $A cosign --ledger $LP --key a.key --log-key p.key.pub
AUDITFS_STATE=$WORK/state-s check "the assessor cosigns the acme ledger" $A cosign --ledger $LC --key s.key --log-key c.key.pub

export AUDITFS_STATE=$WORK/state-cust
TWO=(--ledger prov=$LP --key prov=p.key.pub --ledger acme=$LC --key acme=c.key.pub)
expect_exit 1 "one unnamed quorum for both: acme lacks A's cosignature, refused" \
    $A mount -f "${TWO[@]}" --witness a.key.pub --quorum 1 $M
expect_err "lacks the witness quorum" "the refusal names the quorum"
is_mounted $M && not_ok "something was mounted" || ok "nothing was mounted"
expect_exit 2 "witness options for a name that is not mounted" \
    $A mount -f "${TWO[@]}" --witness nosuch=a.key.pub $M
expect_err "no ledger of that name" "the usage error names the problem"
expect_exit 1 "a NAME= group replaces the unnamed one only for its ledger (prov still needs S)" \
    $A mount -f "${TWO[@]}" --witness s.key.pub --witness acme=s.key.pub --quorum acme=1 $M
printf 'witness S %s\nquorum S\n' "$(cat s.key.pub)" > acme.policy
if start_mount $M mount.log "${TWO[@]}" --witness prov=a.key.pub --quorum prov=1 --policy acme=acme.policy --follow; then
    ok "a quorum per ledger (prov: A by --witness, acme: S by --policy): mounted"
    $T grep -q '^— customer-a.example ' $M/prov/checkpoint && ok "prov/checkpoint carries A's cosignature" || not_ok "prov cp"
    $T grep -q '^— assessor.example ' $M/acme/checkpoint && ok "acme/checkpoint carries S's cosignature" || not_ok "acme cp"
    p0=$($T sed -n 2p $M/prov/checkpoint); c0=$($T sed -n 2p $M/acme/checkpoint)
    records 5 7 | AUDITFS_STATE=$WORK/state-provider $A append --ledger $LP --key p.key --stream ops >/dev/null
    records 5 9 | AUDITFS_STATE=$WORK/state-provider $A append --ledger $LC --key c.key --stream api --tenant acme >/dev/null
    # A cosigns the new platform head; nobody the new acme head (A's cosignature would not count there)
    AUDITFS_STATE=$WORK/state-a $A cosign --ledger $LP --key a.key --log-key p.key.pub >/dev/null
    AUDITFS_STATE=$WORK/state-a $A cosign --ledger $LC --key a.key --log-key c.key.pub >/dev/null
    wait_until 15 eval '[ "$($T sed -n 2p $M/prov/checkpoint)" = 25 ]' && ok "prov follows to its witnessed size 25" \
        || not_ok "prov at $($T sed -n 2p $M/prov/checkpoint)"
    sleep 1
    [ "$($T sed -n 2p $M/acme/checkpoint)" = "$c0" ] && ok "acme stays at $c0: its quorum (S) did not cosign 35" \
        || not_ok "acme moved to $($T sed -n 2p $M/acme/checkpoint)"
    AUDITFS_STATE=$WORK/state-s $A cosign --ledger $LC --key s.key --log-key c.key.pub >/dev/null
    wait_until 15 eval '[ "$($T sed -n 2p $M/acme/checkpoint)" = 35 ]' && ok "once S cosigns, acme follows to 35" \
        || not_ok "acme at $($T sed -n 2p $M/acme/checkpoint)"
    stop_mount $M $MOUNT_PID && ok "unmounted" || not_ok "unmount"
else
    not_ok "mount failed: $(cat mount.log)"
fi
finish
