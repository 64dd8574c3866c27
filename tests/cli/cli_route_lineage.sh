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
finish
