#!/usr/bin/env bash
# CLI: the query index is authenticated by a key in the reading party's state directory (issue
# 13). A forged index (rewritten so that a query returns nothing, its check value recomputed), a
# foreign index (another party's key) or an index whose key file is unsafe is never believed: the
# answer equals the full scan, `index --check` fails, and the next query that may write rebuilds it.
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lib.sh"
A=$AUDITFS
L=$WORK/ledger
IX=$L/auditfs-index
FORGE=$HERE/forge_index.py
command -v python3 >/dev/null || { echo "# SKIP: python3 is missing"; exit 77; }

$A keygen provider.example -o key >/dev/null 2>&1
$A init --ledger $L --key key 2>/dev/null
records 3000 1 > r.jsonl
check "append (builds the index)" $A append --ledger $L --key key --stream api --batch-bytes 40000 r.jsonl
[ -f "$AUDITFS_STATE/index.key" ] && ok "the index key is created in AUDITFS_STATE" || not_ok "no $AUDITFS_STATE/index.key"
[ "$(stat -c %a "$AUDITFS_STATE/index.key")" = 600 ] && [ "$(stat -c %s "$AUDITFS_STATE/index.key")" = 32 ] &&
    ok "the index key is 32 bytes, mode 0600" || not_ok "key file: $(stat -c '%a %s' "$AUDITFS_STATE/index.key")"
grep -q '^auditfs-index/3$' $IX/meta && grep -q '^mac [0-9a-f]\{64\}$' $IX/meta && ! grep -q '^check ' $IX/meta &&
    ok "the meta is format 3 with a mac line" || not_ok "meta: $(cat $IX/meta)"
expect_exit 0 "index --check passes on this party's index" $A index --ledger $L --check

# same_answer DESC ARGS...: the query (no index update) equals the full scan, and is not empty
same_answer() {
    local d=$1; shift
    $A query --ledger $L --no-index actor=ops-3 > want 2>/dev/null
    $A query --ledger $L "$@" actor=ops-3 > got 2>stats
    if [ -s want ] && cmp -s got want; then ok "$d ($(wc -l < got) hits)"; else not_ok "$d: $(wc -l < got) lines, want $(wc -l < want); $(cat stats)"; fi
}
same_answer "query with the genuine index" --no-update --stats
grep -q "index used" stats && ok "the genuine index is used" || not_ok "genuine index not used: $(cat stats)"
cp -a $IX good-index

# control: the same forgery sealed with the party's own key does hide the entries, so the tests
# below exercise a forgery that would work if the key did not protect the index
python3 "$FORGE" $IX "key=$AUDITFS_STATE/index.key"
n=$($A query --ledger $L --no-update actor=ops-3 2>/dev/null | wc -l)
[ "$n" = 0 ] && ok "control: a forged index sealed with the party's key hides every hit" || not_ok "control forgery returned $n lines"

for mode in check mac copymac; do
    rm -rf $IX && cp -a good-index $IX
    python3 "$FORGE" $IX $mode
    same_answer "forged index ($mode): the answer is still complete" --no-update --stats
    grep -q "index not used" stats && ok "forged index ($mode) is not used" || not_ok "forged ($mode): $(cat stats)"
    expect_exit 1 "index --check fails on a forged index ($mode)" $A index --ledger $L --check
    $A query --ledger $L --stats actor=ops-3 > got 2>stats
    cmp -s got want && grep -q "index used" stats && ok "a query that may write rebuilds over the forged index ($mode)" || not_ok "rebuild ($mode): $(cat stats)"
    expect_exit 0 "index --check passes after the rebuild ($mode)" $A index --ledger $L --check
done

# a stale index of this party (an older prefix): used, and the tail is scanned
rm -rf $IX && cp -a good-index $IX
records 500 2 > r2.jsonl
$A append --ledger $L --key key --stream api --no-index r2.jsonl >/dev/null
same_answer "a stale index of this party: complete" --no-update --stats
grep -q "index used" stats && ok "the stale index is used for its prefix" || not_ok "stale: $(cat stats)"

# another party (another state directory) does not trust this party's index
OTHER=$WORK/other-state
# a reader needs the provider's key pinned in its own memory (issue 8); pinning makes no index key
AUDITFS_STATE=$OTHER $A trust add key.pub --origin provider.example >/dev/null 2>&1
AUDITFS_STATE=$OTHER same_answer "another party: complete" --no-update --stats
grep -q "index not used: no index key" stats && ok "another party without a key ignores the index" || not_ok "other party: $(cat stats)"
AUDITFS_STATE=$OTHER check "another party builds its own index" $A index --ledger $L
AUDITFS_STATE=$OTHER expect_exit 0 "and it passes its own check" $A index --ledger $L --check
expect_exit 1 "the first party's check now fails (foreign index)" $A index --ledger $L --check
same_answer "first party over the foreign index: complete" --no-update --stats
grep -q "index not used" stats && ok "the first party ignores the foreign index" || not_ok "foreign: $(cat stats)"
cmp -s "$AUDITFS_STATE/index.key" "$OTHER/index.key" && not_ok "two parties got the same key" || ok "each party has its own key"

# an unsafe key file is refused: queries still answer (scan), updating the index fails clearly
$A index --ledger $L >/dev/null 2>&1
chmod 644 "$AUDITFS_STATE/index.key"
same_answer "key file 0644: complete" --no-update --stats
grep -q "too open" stats && ok "a 0644 key file is refused, and the note says why" || not_ok "0644: $(cat stats)"
expect_exit 1 "index --check fails with an unsafe key file" $A index --ledger $L --check
chmod 600 "$AUDITFS_STATE/index.key"
expect_exit 0 "index --check passes once the key is 0600 again" $A index --ledger $L --check
finish
