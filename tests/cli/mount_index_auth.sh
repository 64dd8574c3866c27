#!/usr/bin/env bash
# Mount: query/ files use this party's authenticated index (issue 13) and stay complete when the
# index is forged (rewritten to hide every entry, its check value recomputed) or another party's.
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lib.sh"
source "$HERE/mountlib.sh"
A=$AUDITFS
L=$WORK/ledger
M=$WORK/mnt
IX=$L/auditfs-index
FORGE=$HERE/forge_index.py
command -v python3 >/dev/null || { echo "# SKIP: python3 is missing"; exit 77; }

$A keygen provider.example -o key >/dev/null 2>&1
$A init --ledger $L --key key 2>/dev/null
records 3000 1 > r.jsonl
$A append --ledger $L --key key --stream api --batch-bytes 40000 r.jsonl >/dev/null
cp -a $IX good-index

# same_as NAME TERMS...: query/NAME equals the full scan `auditfs query --no-index TERMS`
same_as() {
    local d=$1 name=$2; shift 2
    $A query --ledger $L --no-index "$@" > want 2>/dev/null
    if ! $T cat "$M/query/$name" > got 2>cat.err; then
        not_ok "$d: query/$name: $(cat cat.err)"
    elif [ -s want ] && cmp -s got want; then
        ok "$d: query/$name is complete ($(wc -l < got) lines)"
    else
        not_ok "$d: query/$name has $(wc -l < got) lines, the scan $(wc -l < want)"
    fi
}

start_mount $M m1.log --ledger $L --key key.pub || { not_ok "mount: $(cat m1.log)"; finish; exit 1; }
same_as "genuine index" 'actor=ops-3.jsonl' actor=ops-3
same_as "genuine index" 'actor=ops-4,_seq<2000.jsonl' actor=ops-4 '_seq<2000'
# the index is opened for each new query file: forge it under the live mount
for ma in check:ops-5 mac:ops-8 copymac:ops-9; do
    mode=${ma%%:*} actor=${ma#*:}
    rm -rf $IX && cp -a good-index $IX
    python3 "$FORGE" $IX $mode
    same_as "forged index ($mode)" "actor=$actor.jsonl" actor=$actor
done
rm -rf $IX && cp -a good-index $IX
python3 "$FORGE" $IX "key=$AUDITFS_STATE/index.key"
$T cat "$M/query/actor=ops-6.jsonl" > got
[ ! -s got ] && ok "control: sealed with the party's own key, the forgery would hide every hit" || not_ok "control: $(wc -l < got) lines"
stop_mount $M $MOUNT_PID && ok "unmounts" || not_ok "umount"

# another party mounting over this party's index
rm -rf $IX && cp -a good-index $IX
AUDITFS_STATE=$WORK/other-state start_mount $M m2.log --ledger $L --key key.pub || { not_ok "mount: $(cat m2.log)"; finish; exit 1; }
same_as "another party's mount" 'actor=ops-7.jsonl' actor=ops-7
stop_mount $M $MOUNT_PID && ok "unmounts" || not_ok "umount"
finish
