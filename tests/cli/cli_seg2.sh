#!/usr/bin/env bash
# CLI integration: segment format AFSSEG2 (docs/FORMAT.md section 7, issue 13). New segments
# store leaves without their seq, prev and length lines; readers rebuild the canonical leaves,
# so ledgers written with AFSSEG1 (tests/fixtures/ledger-seg1, written by an older binary) verify
# unchanged, and a ledger mixing both formats verifies and reads the same entries.
source "$(dirname "$0")/lib.sh"
A=$AUDITFS
export AUDITFS_STATE=$WORK/state
FX=${SOURCE_ROOT:?SOURCE_ROOT must point at the source tree}/tests/fixtures
magic() { git -C "$1" cat-file blob "HEAD:$2" | head -c 15 | tail -c 7; }

cp -r "$FX/ledger-seg1" old && cp "$FX/ledger-seg1.key.pub" old.pub && cp "$FX/ledger-seg1.key" old.key
chmod -R u+w old && chmod 600 old.key
mkdir -p old/refs/tags old/objects/info # empty directories git does not track
root=$(git -C old cat-file blob HEAD:checkpoint | sed -n 3p)
check "an AFSSEG1 ledger written by an older binary verifies" $A verify --ledger old --key old.pub
grep -qF "root $root" "$WORK/.out" && ok "with the root its signed checkpoint names ($root)" ||
    not_ok "root: $(cat "$WORK/.out")"
[ "$(magic old seg/000/000/000/000)" = AFSSEG1 ] && ok "its segments are AFSSEG1" ||
    not_ok "fixture segment magic: $(magic old seg/000/000/000/000)"
$A log --ledger old --key old.pub > log.before 2>/dev/null
[ "$(wc -l < log.before)" = 405 ] && ok "log reads its 405 entries" || not_ok "log read $(wc -l < log.before) entries"

# the current binary appends AFSSEG2 segments to (a copy of) the old ledger
printf '{"actor":"ops-%s","n":%s}\n' 1 1 2 2 3 3 > more
check "a batch is appended to the old ledger" $A append --ledger old --key old.key --stream api --no-index more
[ "$(magic old seg/000/000/000/405)" = AFSSEG2 ] && ok "the new segment is AFSSEG2" ||
    not_ok "new segment magic: $(magic old seg/000/000/000/405)"
check "the mixed ledger verifies" $A verify --ledger old --key old.pub
expect_out "408 entries" "all 408 entries"
$A log --ledger old --key old.pub > log.after 2>/dev/null
head -n 405 log.after | cmp -s - log.before && ok "the old entries read the same after the append" ||
    not_ok "the old entries read differently"
tail -n 1 log.after | grep -q '"actor":"ops-3"' && ok "the new entries read back" || not_ok "last entry: $(tail -n 1 log.after)"
check "git fsck accepts the mixed ledger" git -C old fsck --strict --no-dangling

# a new ledger: every segment AFSSEG2, stored without seq/prev/length lines, and the leaves the
# library hands out are canonical (their hashes make the signed root)
$A keygen seg2.example -o k >/dev/null 2>&1
$A init --ledger new --key k >/dev/null 2>&1
for i in $(seq 1 700); do printf '{"actor":"user-%d","action":"read","resource":"doc-%d","pad":"%0300d"}\n' $((i % 9)) $i $i; done > recs
check "append 700 records" $A append --ledger new --key k --stream audit --tenant acme --no-index recs
$A publish --ledger new --key k --name sla/x "$FX/make-ledger-seg1.sh" >/dev/null 2>&1
check "the new ledger verifies" $A verify --ledger new --key k.pub
segs=$(git -C new ls-tree -r --name-only HEAD | grep -c '^seg/')
v2=0
for s in $(git -C new ls-tree -r --name-only HEAD | grep '^seg/'); do [ "$(magic new "$s")" = AFSSEG2 ] && v2=$((v2 + 1)); done
[ "$segs" -ge 2 ] && [ "$v2" = "$segs" ] && ok "all $segs segments are AFSSEG2" || not_ok "$v2 of $segs segments are AFSSEG2"
git -C new cat-file blob HEAD:seg/000/000/000/000 | zstd -dcq > stored 2>/dev/null
grep -qa 'stream audit' stored && ! grep -qa '^seq \|^prev \|^length ' stored &&
    ok "stored leaves keep their other header lines but not seq, prev, length" ||
    not_ok "stored form: $(head -c 200 stored | tr -d '\000-\011')"
$A log --ledger new --key k.pub --json 2>/dev/null | head -n 1 > first.json
grep -q '"seq":0' first.json && ok "entry 0 reads back" || not_ok "entry 0: $(head -c 200 first.json)"

# point reads: a query through the index seeks to every 9th entry inside one frame; each leaf
# is rebuilt with the tile entry before it as prev and checked against its own tile
want=$(grep -c '"actor":"user-1"' recs)
check "the query index is built" $A index --ledger new
$A query --ledger new actor=user-1 > hits 2>qerr
[ "$(wc -l < hits)" = "$want" ] && ok "an indexed query finds all $want hits" ||
    not_ok "query found $(wc -l < hits) of $want: $(head -c 300 qerr)"
$A query --ledger new actor=user-1 --entries 2>/dev/null | grep -c '"seq"' > nj
[ "$(cat nj)" = "$want" ] && ok "and reads each one back as an entry (seq, header, payload)" || not_ok "entries: $(cat nj) of $want"

# (tampering: tests/cli/cli_tamper.sh flips one byte in every reachable object, AFSSEG2
# segments included, and expects verify to catch each; tests/unit/test_segment2.c forges the
# stored form itself: wrong prev, seq, length, records and counts)
finish
