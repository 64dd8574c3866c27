#!/usr/bin/env bash
# append --follow --route-by: a followed file whose saved file is gone is read from its start
# as a new byte lineage (docs/FORMAT.md 16.1). A tenant ledger's trailer may count further
# along the old lineage than the low-water mark (a crash between its commit and the low-water
# write), and trailers never go back: the new lineage must start past every ledger's count, or
# a later restart skips new lines as "already stored" that never were (issue 10). Deterministic:
# the crash is made by putting the first run's low-water mark back.
source "$(dirname "$0")/lib.sh"
A=$AUDITFS
$A keygen route.example -o key >/dev/null
R() { AUDITFS_STATE=$AUDITFS_STATE-reader $A "$@" --key $WORK/key.pub; }
D=$WORK/r
mkdir in
run() {
    $A append --key key --stream app --map tenant=t --route-by tenant --ledgers $D --follow --once \
        --no-index $WORK/in/a.log > /dev/null 2>> route.err
}
lines() { for i in $(seq $2 $3); do printf '{"t":"t%d","i":"%s-%d"}\n' $((i % 2)) $1 $i; done; }
ids() { for t in t0 t1; do R log --ledger $D/$t --json 2>/dev/null | jq -r .payload.i; done | sort; }
lines old 0 99 > in/a.log
check "first run" run
cp $D/.auditfs-route/pos-* lw.first
lines old 100 199 >> in/a.log
check "second run" run
# the crash between the ledgers' commits and the low-water write, then the file replaced
cp lw.first $D/.auditfs-route/$(basename $D/.auditfs-route/pos-*)
rm in/a.log
lines new 0 9 > in/a.log
check "a run after the file read last is gone" run
grep -q "is gone; reading" route.err && ok "it says the file is read from its start" || not_ok "no notice: $(cat route.err)"
lines new 10 19 >> in/a.log
check "a run on the new file's position" run
ids > got
{ lines old 0 199; lines new 0 19; } | jq -r .i | sort > want
cmp -s got want && ok "every line of the old and the new file exactly once (220)" \
    || not_ok "$(comm -13 got want | wc -l) missing: $(comm -13 got want | head -5 | tr '\n' ' '); $(comm -23 got want | wc -l) extra"
grep -q "already in their tenant" route.err && not_ok "lines of the new file skipped: $(grep already route.err)" \
    || ok "no line of the new file taken for one already stored"
# and the next restart of the same file stores nothing twice
lines new 20 29 >> in/a.log
check "a further run" run
[ "$(ids | grep -c '^new-')" = 30 ] && ok "the new lineage goes on exactly once (30)" || not_ok "$(ids | grep -c '^new-') new lines"

# ---- NAME rotated again while a restart reads the rotated files it queued ----
# a.log (X) read to its end; rotated to a.log.1 with a new a.log (Y); the restart resumes in
# a.log.1 and, before it moves to NAME, Y is rotated to a.log.2 and a new a.log (Z) created:
# Y must be read, not skipped for Z (AUDITFS_TEST_HOLD_QUEUE_END holds in that window)
export AUDITFS_STATE=$WORK/state2
D=$WORK/r2
rm -rf in && mkdir in
lines x 0 99 > in/a.log
check "a first run reads a.log" run
mv in/a.log in/a.log.1; lines y 0 99 > in/a.log
rm -f hold
AUDITFS_TEST_HOLD_QUEUE_END=$WORK/hold $A append --key key --stream app --map tenant=t --route-by tenant \
    --ledgers $D --follow --once --no-index $WORK/in/a.log > /dev/null 2>> route2.err & rp=$!
for _ in $(seq 1 300); do [ -e hold ] && break; sleep 0.1; done
[ -e hold ] && ok "the restart reached the end of its queue (a.log.1)" || not_ok "no hold: $(cat route2.err)"
mv in/a.log in/a.log.2; lines z 0 99 > in/a.log
rm -f hold
wait $rp && ok "the restart ran to its end" || not_ok "exit $?: $(cat route2.err)"
ids > got
{ lines x 0 99; lines y 0 99; lines z 0 99; } | jq -r .i | sort > want
cmp -s got want && ok "the file rotated during the queue is read: 300 lines exactly once" \
    || not_ok "$(comm -13 got want | wc -l) missing ($(comm -13 got want | head -3 | tr '\n' ' ')), $(comm -23 got want | wc -l) extra"
lines z 100 109 >> in/a.log
check "a further run" run
[ "$(ids | wc -l)" = 310 ] && ok "and the next restart goes on from Z (310)" || not_ok "$(ids | wc -l) entries"
finish
