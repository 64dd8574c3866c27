#!/usr/bin/env bash
# A reader that shares the writer's memory (AUDITFS_STATE) and whose head is overtaken by commits
# between reading it and checking it against that memory is not shown a rollback (exit 8): the
# ledger's ref moved, so the reader reads the new head and checks that (ledger/trust.c,
# check_extends). A ref that really went back is still a rollback. Deterministic part: the
# reader holds after reading the head (AUDITFS_TEST_HOLD_BEFORE_TRUST) while two batches are
# committed; then a bounded writer/reader loop on the same memory.
source "$(dirname "$0")/lib.sh"
A=$AUDITFS
$A keygen overtaken.example -o key >/dev/null
$A init --ledger L --key key >/dev/null 2>&1
echo a0 | $A append --ledger L --key key --stream s --no-index >/dev/null
# (1) the head read, then overtaken by two commits before the memory check
for cmd in verify log checkpoint; do
    rm -f hold
    AUDITFS_TEST_HOLD_BEFORE_TRUST=$WORK/hold $A $cmd --ledger L > r.out 2> r.err & rp=$!
    for _ in $(seq 1 300); do [ -e hold ] && break; sleep 0.1; done
    [ -e hold ] || not_ok "$cmd never reached the hold"
    echo "b-$cmd" | $A append --ledger L --key key --stream s --no-index >/dev/null
    echo "c-$cmd" | $A append --ledger L --key key --stream s --no-index >/dev/null
    rm -f hold
    wait $rp; rc=$?
    [ $rc = 0 ] && ok "$cmd: a head overtaken by two commits during the check is not a rollback" \
        || not_ok "$cmd exit $rc: $(head -c 300 r.err)"
done
n=$($A checkpoint --ledger L | sed -n 2p)
ls state/origins/overtaken.example/evidence 2>/dev/null | grep -q . && not_ok "evidence written" || ok "no rollback evidence written"
[ "$n" = 7 ] && ok "all 7 entries are in the ledger" || not_ok "size $n"

# (2) a really rolled back ref is still refused with exit 8, the hold or not
cp -a L L.new
git -C L update-ref refs/heads/main "$(git -C L rev-parse refs/heads/main~2)"
expect_exit 8 "a ref moved back is still a rollback" $A verify --ledger L
rm -rf L && mv L.new L

# (3) a writer appending in a loop, a reader on the same memory verifying in a loop (bounded)
( for i in $(seq 1 1500); do echo "line $i"; [ $((i % 5)) = 0 ] && sleep 0.01; done ) |
    $A append --ledger L --key key --stream s --no-index --flush-ms 1 > /dev/null 2> w.err & wp=$!
reads=0 bad=0
for _ in $(seq 1 2000); do
    kill -0 $wp 2>/dev/null || break
    for cmd in verify log checkpoint; do
        $A $cmd --ledger L > /dev/null 2> r.err; rc=$?; reads=$((reads + 1))
        [ $rc = 0 ] || { bad=$((bad + 1)); echo "# $cmd exit $rc: $(head -c 200 r.err)"; }
    done
done
wait $wp && ok "the writer committed everything" || not_ok "writer: $(head -3 w.err)"
[ $bad = 0 ] && ok "$reads reads sharing the writer's memory during its commits: none failed" \
    || not_ok "$bad of $reads reads failed"
check "the ledger verifies at the end" $A verify --ledger L
finish
