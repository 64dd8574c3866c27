#!/usr/bin/env bash
# --follow: honest appends appear (files grow as with tail -f) once verified; a forged history
# signed with the right key, a rollback and a checkpoint signed by another key are refused while
# the mount keeps serving the last good view, and it follows honest appends again afterwards.
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lib.sh"
source "$HERE/mountlib.sh"
A=$AUDITFS
L=$WORK/ledger
M=$WORK/mnt
export AUDITFS_FOLLOW_MS=200

$A keygen follow.example -o key >/dev/null
$A init --ledger $L --key key 2>/dev/null
records 1000 1 > r1.jsonl
records 500 2 > r2.jsonl
records 300 3 > r3.jsonl
records 200 4 > r4.jsonl
$A append --ledger $L --key key --stream api --tenant acme r1.jsonl >/dev/null
echo "SLA v1" > sla1.txt; echo "SLA v2" > sla2.txt
$A publish --ledger $L --key key --name sla sla1.txt >/dev/null
start_mount $M mount.log --ledger $L --key key.pub --follow || { not_ok "mount: $(cat mount.log)"; finish; exit 1; }
$T cmp -s $M/streams/api/all.jsonl r1.jsonl && ok "initial view" || not_ok "initial view"

# tail -f a stream while the provider appends
timeout 30 tail -n +1 -s 0.2 -f $M/streams/api/all.jsonl > tailed 2>/dev/null &
TAIL=$!
sleep 0.5
$A append --ledger $L --key key --stream api --tenant acme r2.jsonl >/dev/null
$A append --ledger $L --key key --stream api --tenant newco r3.jsonl >/dev/null
$A publish --ledger $L --key key --name sla sla2.txt >/dev/null
SIZE=$($A checkpoint --ledger $L | sed -n 2p)
cat r1.jsonl r2.jsonl r3.jsonl > api.jsonl
grown() { [ "$(stat -c %s $M/streams/api/all.jsonl 2>/dev/null)" = "$(wc -c < api.jsonl)" ]; }
wait_until 15 grown && ok "all.jsonl grows once the new checkpoint is verified" || not_ok "did not grow: $(stat -c %s $M/streams/api/all.jsonl) (log: $(tail -3 mount.log))"
$T cmp -s $M/streams/api/all.jsonl api.jsonl && ok "and reads as every payload, byte for byte" || not_ok "grown content"
tailed_ok() { cmp -s tailed api.jsonl; }
wait_until 15 tailed_ok && ok "tail -f sees the appended lines" || not_ok "tail -f: $(wc -c < tailed) of $(wc -c < api.jsonl) bytes"
kill $TAIL 2>/dev/null; wait $TAIL 2>/dev/null
# the api lines can all be visible one --follow step before the last commit (the publish) is
# pinned: wait for that step too rather than race it
wait_until 15 grep -q "now pinned to checkpoint $SIZE" mount.log && ok "the mount logs the newly pinned checkpoint" || not_ok "log: $(cat mount.log)"
$A checkpoint --ledger $L | $T cmp -s - $M/checkpoint && ok "checkpoint is the new one" || not_ok "checkpoint not updated"
$T cmp -s $M/tenants/newco/api/all.jsonl r3.jsonl && ok "a new tenant's directory appears" || not_ok "new tenant"
cat r1.jsonl r2.jsonl | $T cmp -s - $M/tenants/acme/api/all.jsonl && ok "an existing tenant's file grows" || not_ok "acme grows"
[ "$(readlink $M/documents/sla/current)" = v2.txt ] && $T cmp -s $M/documents/sla/current sla2.txt && ok "current follows a new document version" || not_ok "current: $(readlink $M/documents/sla/current)"
$A leaf --ledger $L $((SIZE - 2)) | $T cmp -s - $M/entries/$((SIZE - 2)) && ok "new entries/<seq>" || not_ok "new entry"
$A prove --ledger $L --index 1200 | $T cmp -s - $M/proofs/1200.json && ok "proofs are against the new checkpoint" || not_ok "new proof"
[ "$(getfattr -n user.auditfs.checkpoint_size --only-values $M/streams/api/all.jsonl 2>/dev/null)" = "$SIZE" ] && ok "xattrs name the new checkpoint" || not_ok "xattr size"
GOOD=$(git -C $L rev-parse main)
GOODCP=$($A checkpoint --ledger $L)

# a forked history, signed with the ledger's own key: refused
F=$WORK/fork
git clone -q --bare $L $F
git -C $F update-ref refs/heads/main $(git -C $F rev-parse main~2)
records 900 9 > forged.jsonl
# (signed elsewhere, with another state directory: this party's writer refuses, trust_*.sh)
AUDITFS_STATE=$WORK/forker $A append --ledger $F --key key --stream api forged.jsonl >/dev/null
AUDITFS_STATE=$WORK/forker $A verify --ledger $F --key key.pub >/dev/null 2>&1 && ok "the fork is a valid, signed ledger on its own" || not_ok "fork does not verify"
git -C $F push -q --force $L main:main 2>/dev/null
[ "$(git -C $L rev-parse main)" != "$GOOD" ] && ok "the live ledger now points at the forked history" || not_ok "push"
refused() { grep -q "refusing the ledger's new head" mount.log; }
wait_until 10 refused && ok "the mount refuses a history that does not extend the pinned one" || not_ok "not refused: $(tail -5 mount.log)"
grep -q "consistency" mount.log && ok "it says there is no consistency proof" || not_ok "reason: $(tail -5 mount.log)"
grep -q -- "--- pinned checkpoint" mount.log && grep -q -- "--- new checkpoint" mount.log && [ "$(grep -c '^— follow.example' mount.log)" -ge 2 ] && ok "it reports both signed checkpoints" || not_ok "conflict report: $(tail -12 mount.log)"
sleep 0.6
$T cmp -s $M/streams/api/all.jsonl api.jsonl && ok "the mount stays on the last good view" || not_ok "view changed"
echo "$GOODCP" | $T cmp -s - $M/checkpoint && ok "checkpoint is still the last good one" || not_ok "checkpoint changed"
n=$(grep -c "refusing the ledger's new head" mount.log)
sleep 0.6
[ "$(grep -c "refusing the ledger's new head" mount.log)" = "$n" ] && ok "a refused head is reported once" || not_ok "reported repeatedly"

# a rollback: refused
git -C $L update-ref refs/heads/main $(git -C $L rev-parse $GOOD~1)
rolled() { grep -q "rollback" mount.log; }
wait_until 10 rolled && ok "a rollback is refused" || not_ok "rollback: $(tail -3 mount.log)"

# a ledger signed by another key with the same name: refused
$A keygen follow.example -o evil.key >/dev/null
$A init --ledger $WORK/evil --key evil.key 2>/dev/null
records 3000 8 > big.jsonl
$A append --ledger $WORK/evil --key evil.key --stream api big.jsonl >/dev/null
git -C $WORK/evil push -q --force $L main:main 2>/dev/null
badsig() { grep -q "not signed by the key" mount.log; }
wait_until 10 badsig && ok "a checkpoint signed by another key is refused" || not_ok "bad signature: $(tail -3 mount.log)"
$T cmp -s $M/streams/api/all.jsonl api.jsonl && ok "still the last good view" || not_ok "view changed after forgery"

# back to the honest history, and an honest append: followed again
git -C $L update-ref refs/heads/main $GOOD
$A append --ledger $L --key key --stream api r4.jsonl >/dev/null
cat api.jsonl r4.jsonl > api2.jsonl
grown2() { [ "$(stat -c %s $M/streams/api/all.jsonl 2>/dev/null)" = "$(wc -c < api2.jsonl)" ]; }
wait_until 15 grown2 && $T cmp -s $M/streams/api/all.jsonl api2.jsonl && ok "an honest append after the refusals is followed" || not_ok "not followed after refusal: $(tail -3 mount.log)"
stop_mount $M $MOUNT_PID && ok "unmounts" || not_ok "umount"
finish
