#!/usr/bin/env bash
# append's two-core pipeline (issue 13, ledger/ingest.c): a closed segment is compressed by a
# helper thread while the next one is built. The result is the same ledger as compressing
# inline (it verifies, every entry reads back in order), and an error in the helper thread
# fails the batch: nothing of it is acknowledged or published, and the next append continues
# from the last acknowledged size. Since the fourth pass, a full batch of a plain input is
# committed by a committer thread while the next one is read (cli/cmd_ingest.c, commit_async):
# acknowledgments stay in order, each counts only its own batch's quarantined lines, and a
# refused line still leaves exactly the lines before it committed.
source "$(dirname "$0")/lib.sh"
A=$AUDITFS
L=$WORK/ledger
$A keygen pipe.example -o key >/dev/null 2>&1
$A init --ledger $L --key key 2>/dev/null
# ~370 leaf bytes per record: one batch of 6000 records is ~9 segments of 256 KiB
records 6000 1 > r1
check "append one batch of several segments" $A append --ledger $L --key key --stream api --no-index r1
[ "$(tail -n 1 .out)" = 6000 ] && ok "acknowledged 6000" || not_ok "acknowledged: $(cat .out)"
nseg=$(git -C $L ls-tree -r --name-only main seg | wc -l)
[ "$nseg" -ge 4 ] && ok "the batch holds $nseg segments" || not_ok "only $nseg segments"
check "the ledger verifies" $A verify --ledger $L --key key.pub
$A query --ledger $L --no-index 'actor=ops-3' > got 2>/dev/null
want=$(grep -c '"actor":"ops-3"' r1)
[ "$(grep -c '"actor":"ops-3"' got)" = "$want" ] && ok "every entry reads back ($want hits for ops-3)" ||
    not_ok "query found $(grep -c '"actor":"ops-3"' got) of $want"

# the helper thread fails on the frame holding entry 7000: that segment is collected while
# the batch's later segments are built (not at the commit), and the batch fails
records 3000 2 > r2
AUDITFS_TEST_FAIL_COMPRESS=7000 $A append --ledger $L --key key --stream api --no-index \
    --retry-secs 1 r2 >.out 2>.err
rc=$?
[ $rc -ne 0 ] && ok "a compression error fails append (exit $rc)" || not_ok "append succeeded"
expect_err "zstd" "the error names zstd"
[ ! -s .out ] && ok "nothing acknowledged" || not_ok "acknowledged: $(cat .out)"
$A status --ledger $L --json >st 2>/dev/null
grep -q '"tree_size":6000,' st && ok "the ledger is still at 6000" || not_ok "status: $(head -c 300 st)"
check "and verifies" $A verify --ledger $L --key key.pub
# smaller batches: those before entry 7000 are acknowledged, the one holding it is not
AUDITFS_TEST_FAIL_COMPRESS=7000 $A append --ledger $L --key key --stream api --no-index \
    --retry-secs 1 --batch-bytes 100000 r2 >.out 2>.err
rc=$?
last=$(tail -n 1 .out)
[ $rc -ne 0 ] && [ -n "$last" ] && [ "$last" -gt 6000 ] && [ "$last" -le 7000 ] &&
    ok "batches before entry 7000 acknowledged (last $last), then exit $rc" ||
    not_ok "exit $rc, acknowledged: $(tr '\n' ' ' <.out)"
$A status --ledger $L --json >st 2>/dev/null
grep -q "\"tree_size\":$last," st && ok "the ledger is at the last acknowledged size" || not_ok "status: $(head -c 300 st), last ack $last"
check "and verifies" $A verify --ledger $L --key key.pub
check "append without the fault continues" $A append --ledger $L --key key --stream api --no-index r2
[ "$(tail -n 1 .out)" = $((last + 3000)) ] && ok "acknowledged $((last + 3000))" || not_ok "acknowledged: $(cat .out)"
check "the ledger verifies" $A verify --ledger $L --key key.pub

# the committer thread: many small batches, acknowledged in order, each after its commit
$A keygen pipe2.example -o key2 >/dev/null 2>&1
L2=$WORK/ledger2
$A init --ledger $L2 --key key2 2>/dev/null
records 5000 3 | awk 'NR == 2500 || NR == 4000 { printf "\377bad line %d\n", NR; next } { print }' > r3
check "append --json --quarantine of 5000 lines in small batches" $A append --ledger $L2 --key key2 \
    --stream api --no-index --quarantine --json --batch-bytes 100000 r3
n=$(wc -l <.out)
[ "$n" -ge 10 ] && ok "$n batches acknowledged" || not_ok "only $n acknowledgments"
awk -F'[:,}]' '{ size = $2; entries = $4; q = $6
        if (size != prev + entries) { print "ack " NR ": tree_size " size " after " prev " + " entries; bad = 1 }
        want = (size >= 2500) + (size >= 4000)
        if (q != want) { print "ack " NR ": quarantined " q " at size " size ", want " want; bad = 1 }
        prev = size }
    END { if (prev != 5000) { print "last size " prev; bad = 1 }; exit bad }' .out >ackcheck &&
    ok "sizes in order, each the last plus its entries; quarantined counts only lines committed" ||
    not_ok "$(head -n 3 ackcheck)"
check "the ledger verifies" $A verify --ledger $L2 --key key2.pub
$A query --ledger $L2 --no-index _stream=quarantine >got 2>/dev/null
[ "$(grep -c 'bad line' got)" = 2 ] && ok "the two bad lines are in the quarantine stream" ||
    not_ok "quarantine: $(head -c 300 got)"
# a refused line (no --quarantine): every line before it is committed and acknowledged, in order
$A append --ledger $L2 --key key2 --stream api --no-index --batch-bytes 100000 r3 >.out 2>.err
rc=$?
[ $rc -ne 0 ] && ok "a bad line fails append (exit $rc)" || not_ok "append succeeded"
expect_err "r3:2500:" "the error names the file and line"
[ "$(tail -n 1 .out)" = 7499 ] && ok "acknowledged up to the line before it (7499)" ||
    not_ok "acknowledged: $(tr '\n' ' ' <.out)"
sort -n -c .out 2>/dev/null && ok "acknowledgments in order" || not_ok "out of order: $(tr '\n' ' ' <.out)"
$A status --ledger $L2 --json >st 2>/dev/null
grep -q '"tree_size":7499,' st && ok "the ledger holds exactly those" || not_ok "status: $(head -c 300 st)"
check "and verifies" $A verify --ledger $L2 --key key2.pub
finish
