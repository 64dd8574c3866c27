#!/usr/bin/env bash
# Mount: query/<terms>.jsonl. Each file is compared byte for byte with `auditfs query TERMS`;
# stat sizes are exact; a malformed expression is ENOENT and logged; the listing; --follow moves
# query files to the new checkpoint; tampering turns a query that touches the damage into EIO.
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lib.sh"
source "$HERE/mountlib.sh"
A=$AUDITFS
L=$WORK/ledger
M=$WORK/mnt
export AUDITFS_FOLLOW_MS=200

# lines with several actors and results, and values holding ',' and '/'
qrecords() {
    awk -v n="$1" -v s="$2" 'BEGIN { for (i = 0; i < n; i++) printf "{\"i\":%d,\"actor\":\"ops-%d\",\"resource\":\"i-%06d\",\"result\":\"%s\",\"path\":\"a,b/%d\"}\n", i, (i * 7 + s) % 13, i * s, (i % 9 == 0 ? "denied" : "success"), i % 3 }'
}
$A keygen query.example -o key >/dev/null
$A init --ledger $L --key key 2>/dev/null
qrecords 2000 1 > api.jsonl
qrecords 500 2 > auth.jsonl
$A append --ledger $L --key key --stream api --tenant acme --batch-bytes 40000 api.jsonl >/dev/null
$A append --ledger $L --key key --stream auth auth.jsonl >/dev/null
printf '# SLA v1\n' > sla.md
$A publish --ledger $L --key key --name sla sla.md >/dev/null
echo "window" > n.txt
$A notice --ledger $L --key key --title "Maintenance" n.txt >/dev/null
SIZE=$($A checkpoint --ledger $L | sed -n 2p)
today=$(date -u +%Y-%m-%d)

start_mount $M mount.log --ledger $L --key key.pub || { not_ok "mount: $(cat mount.log)"; finish; exit 1; }
[ "$($T ls $M/query)" = README ] && ok "query/ lists only its README at first" || not_ok "query/: $($T ls $M/query)"
$T grep -q "%2C" $M/query/README && ok "query/README explains the syntax" || not_ok "query/README"

# same_as NAME TERMS...: query/NAME equals `auditfs query TERMS` and stat gives its exact size
same_as() {
    local name=$1; shift
    $A query --ledger $L --no-index "$@" > want 2>/dev/null
    if ! $T cat "$M/query/$name" > got 2>cat.err; then
        not_ok "query/$name: $(cat cat.err)"
    elif ! cmp -s got want; then
        not_ok "query/$name differs from auditfs query $* ($(wc -c < got) vs $(wc -c < want) bytes)"
    elif [ "$(stat -c %s "$M/query/$name")" != "$(wc -c < want)" ]; then
        not_ok "query/$name: stat size $(stat -c %s "$M/query/$name"), $(wc -c < want) bytes"
    else
        ok "query/$name = auditfs query $* ($(wc -l < want) lines)"
    fi
}
same_as 'actor=ops-7.jsonl' actor=ops-7
same_as "actor=ops-7,_time>=$today.jsonl" actor=ops-7 "_time>=$today"
same_as 'actor=ops-1&actor=ops-2,result=denied.jsonl' actor=ops-1 actor=ops-2 result=denied
same_as '_stream=auth,result!=success.jsonl' _stream=auth 'result!=success'
same_as 'resource~i-0001*.jsonl' 'resource~i-0001*'
same_as '_seq>=1990,_seq<2010.jsonl' '_seq>=1990' '_seq<2010'
same_as 'path=a%2Cb%2F1,_tenant=acme.jsonl' 'path=a,b/1' _tenant=acme
same_as '_type=document.jsonl' _type=document
same_as '_type=notice.jsonl' _type=notice
same_as "_time=$today,_stream=api.jsonl" "_time=$today" _stream=api
same_as 'actor=nobody.jsonl' actor=nobody
[ "$($T wc -l < "$M/query/_stream=api.jsonl")" = 2000 ] && $T cmp -s "$M/query/_stream=api.jsonl" api.jsonl && ok "a query over one stream is its input, byte for byte" || not_ok "_stream=api"
$T grep -c '"result":"denied"' "$M/query/_stream=api.jsonl" | grep -qx "$(grep -c '"result":"denied"' api.jsonl)" && ok "grep through a query file" || not_ok "grep"
if command -v jq >/dev/null; then
    [ "$($T jq -r .actor "$M/query/actor=ops-7.jsonl" | sort -u)" = ops-7 ] && ok "jq through a query file" || not_ok "jq"
fi
okr=1
for off in 0 1000 4095 4096 20000 50001; do
    [ "$($T dd if="$M/query/_stream=api.jsonl" bs=1 skip=$off count=3333 2>/dev/null | md5sum)" = "$(dd if=api.jsonl bs=1 skip=$off count=3333 2>/dev/null | md5sum)" ] || okr=0
done
[ $okr = 1 ] && ok "reads at arbitrary offsets of a query file" || not_ok "offset reads"
[ "$(getfattr -n user.auditfs.first_seq --only-values "$M/query/_seq>=1990,_seq<2010.jsonl" 2>/dev/null)" = 1990 ] &&
    [ "$(getfattr -n user.auditfs.checkpoint_size --only-values "$M/query/actor=ops-7.jsonl" 2>/dev/null)" = "$SIZE" ] &&
    ok "query files carry the xattrs (first_seq, checkpoint_size)" || not_ok "query xattrs"
$T ls $M/query | grep -qx 'actor=ops-7.jsonl' && $T ls $M/query | grep -qx README && ok "query/ lists the queries used" || not_ok "listing: $($T ls $M/query | tr '\n' ' ')"

# malformed expressions: ENOENT, and the log names the bad term
expect_fail_with "No such file" "a malformed expression is ENOENT" $T cat "$M/query/actor=ops-7,_bogus=1.jsonl"
grep -q "term 2 '_bogus=1'" mount.log && ok "the log names the bad term" || not_ok "log: $(tail -3 mount.log)"
expect_fail_with "No such file" "a term without an operator is ENOENT" $T cat "$M/query/actor.jsonl"
expect_fail_with "No such file" "a name without .jsonl is ENOENT" $T cat "$M/query/actor=ops-7"
[ ! -e "$M/query/_time>=yesterday.jsonl" ] && ok "a bad time is ENOENT" || not_ok "bad time exists"
expect_fail_with "Read-only" "query/ is read-only" $T touch "$M/query/x=1.jsonl"
stop_mount $M $MOUNT_PID && ok "unmounts" || not_ok "umount"

# --follow: a query file stands for the newly pinned checkpoint
start_mount $M follow.log --ledger $L --key key.pub --follow || { not_ok "follow mount: $(cat follow.log)"; finish; exit 1; }
same_as 'actor=ops-3.jsonl' actor=ops-3
qrecords 300 5 > more.jsonl
$A append --ledger $L --key key --stream api --tenant acme more.jsonl >/dev/null
$A query --ledger $L --no-index actor=ops-3 > want2
moved() { [ "$(stat -c %s "$M/query/actor=ops-3.jsonl" 2>/dev/null)" = "$(wc -c < want2)" ]; }
wait_until 15 moved && $T cmp -s "$M/query/actor=ops-3.jsonl" want2 && ok "after --follow pins a new checkpoint, the query file is its result" || not_ok "query did not follow: $(stat -c %s "$M/query/actor=ops-3.jsonl") vs $(wc -c < want2)"
same_as '_seq>=2500.jsonl' '_seq>=2500'
stop_mount $M $MOUNT_PID && ok "unmounts" || not_ok "umount"

# several ledgers: each has its own query/
$A keygen other.example -o okey >/dev/null
$A init --ledger $WORK/other --key okey 2>/dev/null
qrecords 300 7 > other.jsonl
$A append --ledger $WORK/other --key okey --stream api other.jsonl >/dev/null
start_mount $M multi.log --ledger main=$L --key main=key.pub --ledger other=$WORK/other --key other=okey.pub || { not_ok "multi mount: $(cat multi.log)"; finish; exit 1; }
$A query --ledger $L --no-index actor=ops-2 > want.main
$A query --ledger $WORK/other --no-index actor=ops-2 > want.other
$T cmp -s "$M/main/query/actor=ops-2.jsonl" want.main && $T cmp -s "$M/other/query/actor=ops-2.jsonl" want.other &&
    ok "with several ledgers, each ledger's query/ answers over that ledger" || not_ok "multi-ledger query files"
expect_fail_with "No such file" "a malformed name under a ledger's query/ is ENOENT" $T cat "$M/other/query/actor.jsonl"
grep -q "other: query/actor.jsonl: term 1" multi.log && ok "and the log names the ledger and the term" || not_ok "multi log: $(tail -2 multi.log)"
stop_mount $M $MOUNT_PID && ok "unmounts" || not_ok "umount"

# tampering under a live mount: queries touching the damaged segment are EIO, others still work
flip() {
    local f=$1 size off byte
    chmod u+w "$f"
    size=$(stat -c %s "$f"); off=$((size / 2))
    byte=$(od -An -tu1 -j $off -N1 "$f" | tr -d ' ')
    printf "$(printf '\\%03o' $(( (byte ^ 0x55) & 255 )))" | dd of="$f" bs=1 seek=$off conv=notrunc 2>/dev/null
}
start_mount $M tamper.log --ledger $L --key key.pub || { not_ok "mount: $(cat tamper.log)"; finish; exit 1; }
id=$(git -C $L rev-parse main:seg/000/000/000/000)
flip_obj $L $id
expect_fail_with "Input/output error" "a query over the damaged segment is EIO" $T cat "$M/query/actor=ops-5.jsonl"
expect_fail_with "Input/output error" "and stays EIO" $T cat "$M/query/actor=ops-5.jsonl"
grep -q "EIO: query/actor=ops-5.jsonl" tamper.log && grep -q "seg/000/000/000/000" tamper.log && ok "the log names the query and the damaged segment" || not_ok "tamper log: $(tail -3 tamper.log)"
# with this party's authenticated index, a query reads only its candidates: the damaged segment
# holds no entry of stream auth, so the answer is complete without it (as `auditfs query` says)
$A query --ledger $L --no-update _stream=auth > want.auth 2>/dev/null
$T cmp -s "$M/query/_stream=auth.jsonl" want.auth && ok "an indexed query whose candidates avoid the damage reads" || not_ok "indexed query over damage"
# without a usable index a query must evaluate every entry in its _seq/_time range, so it cannot
# prove the damaged entries do not match: EIO, even when all its hits are elsewhere
mv $L/auditfs-index $WORK/ix.saved
expect_fail_with "Input/output error" "an unbounded query crossing the damage is EIO" $T cat "$M/query/_stream=auth,result=success.jsonl"
mv $WORK/ix.saved $L/auditfs-index
$T cat "$M/query/_seq>=2400.jsonl" >/dev/null && ok "a query bounded by _seq away from the damage still reads" || not_ok "bounded query"
$T cat $M/README >/dev/null && $T cmp -s $M/streams/auth/all.jsonl auth.jsonl && ok "README and undamaged files still read" || not_ok "undamaged"
stop_mount $M $MOUNT_PID && ok "unmounts after tampering" || not_ok "umount"
finish
