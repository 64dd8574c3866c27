#!/usr/bin/env bash
# Tampering under a live mount: reads that touch a changed segment or document fail with EIO, the
# mount names the entries on stderr, and every undamaged file keeps serving verified data. Then
# two ledgers with different keys in one mount, one of them tampered.
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lib.sh"
source "$HERE/mountlib.sh"
A=$AUDITFS
L=$WORK/ledger
M=$WORK/mnt

# flip OBJECT-FILE: changes one byte in the middle of a loose git object
flip() {
    local f=$1 size off byte
    chmod u+w "$f"
    size=$(stat -c %s "$f"); off=$((size / 2))
    byte=$(od -An -tu1 -j $off -N1 "$f" | tr -d ' ')
    printf "$(printf '\\%03o' $(( (byte ^ 0x55) & 255 )))" | dd of="$f" bs=1 seek=$off conv=notrunc 2>/dev/null
}
objfile() { local id; id=$(git -C "$1" rev-parse "main:$2") && echo "$1/objects/${id:0:2}/${id:2}"; }

$A keygen tamper.example -o key >/dev/null
$A init --ledger $L --key key 2>/dev/null
records 3000 1 > api.jsonl
records 500 2 > auth.jsonl
$A append --ledger $L --key key --stream api --batch-bytes 60000 api.jsonl >/dev/null
$A append --ledger $L --key key --stream auth auth.jsonl >/dev/null
printf '# SLA v1\n' > sla.md
printf '{"matrix":1}\n' > matrix.json
$A publish --ledger $L --key key --name sla sla.md >/dev/null
$A publish --ledger $L --key key --name matrix matrix.json >/dev/null
first_seg_end=$(git -C $L ls-tree -r --name-only main seg/ | sed -n 2p | tr -d '/' | sed 's/^seg0*//')
[ -n "$first_seg_end" ] && [ "$first_seg_end" -lt 3000 ] && ok "the api stream spans several segments" || not_ok "segments: $(git -C $L ls-tree -r --name-only main seg/)"

start_mount $M mount.log --ledger $L --key key.pub || { not_ok "mount: $(cat mount.log)"; finish; exit 1; }
api_size=$(stat -c %s $M/streams/api/all.jsonl)
$T cmp -s $M/streams/auth/all.jsonl auth.jsonl && ok "before: auth reads" || not_ok "before: auth"

# tamper underneath the live mount: the first api segment and one document
flip_obj $L "$(git -C $L rev-parse main:seg/000/000/000/000)"
flip_obj $L "$(git -C $L rev-parse main:doc/sla/v1)"

expect_fail_with "Input/output error" "reading a damaged stream is EIO" $T cat $M/streams/api/all.jsonl
expect_fail_with "Input/output error" "the day file over the damaged part is EIO" $T sh -c "cat $M/streams/api/*/*/*.jsonl"
expect_fail_with "Input/output error" "entries/0 (in the damaged segment) is EIO" $T cat $M/entries/0
expect_fail_with "Input/output error" "proofs/0.json is EIO" $T cat $M/proofs/0.json
expect_fail_with "Input/output error" "a damaged document is EIO" $T cat $M/documents/sla/v1.md
$T tail -c 5000 $M/streams/api/all.jsonl | cmp -s - <(tail -c 5000 api.jsonl) && ok "the undamaged tail of the same stream still reads (seek by index)" || not_ok "api tail"
$T cmp -s $M/streams/auth/all.jsonl auth.jsonl && ok "an undamaged stream keeps working" || not_ok "auth after tamper"
$A leaf --ledger $L 2999 2>/dev/null | $T cmp -s - $M/entries/2999 && ok "entries outside the damage keep working" || not_ok "entries/2999"
$T cmp -s $M/documents/matrix/v1.json matrix.json && ok "an undamaged document keeps working" || not_ok "matrix"
$T cat $M/proofs/3100.json | grep -q '"leaf_index":3100' && ok "proofs of undamaged entries keep working" || not_ok "proof 3100"
[ "$(stat -c %s $M/streams/api/all.jsonl)" = "$api_size" ] && ok "stat still works (no decompression)" || not_ok "stat"
grep -qE "EIO: entries 0\.\.[0-9]+ \(seg/000/000/000/000, frame 0\)" mount.log && ok "the mount names the damaged entries and segment" || not_ok "log: $(cat mount.log)"
grep -q "content of entry" mount.log && ok "the mount names the damaged document's entry" || not_ok "doc log"
n1=$(grep -c "seg/000/000/000/000, frame 0" mount.log)
$T cat $M/entries/1 >/dev/null 2>&1; $T cat $M/entries/2 >/dev/null 2>&1
[ "$(grep -c "seg/000/000/000/000, frame 0" mount.log)" = "$n1" ] && ok "each damaged frame is reported once" || not_ok "repeated reports"
getfattr -n user.auditfs.verified --only-values $M/streams/api/all.jsonl 2>/dev/null | grep -q '^no' && ok "xattr verified says no after a failed read" || not_ok "verified xattr"
[ "$(getfattr -n user.auditfs.verified --only-values $M/streams/auth/all.jsonl 2>/dev/null)" = yes ] && ok "and yes for an intact file" || not_ok "auth verified xattr"
stop_mount $M $MOUNT_PID && ok "unmounts after tampering" || not_ok "umount"

expect_exit 1 "a fresh mount of the tampered ledger is refused" $T $A mount -f --ledger $L --key key.pub $WORK/mnt2
expect_err "seg/000/000/000/000|entry 0" "and the refusal names the segment"

# two ledgers, two keys, one mount; tamper one of them
$A keygen acme.example -o acme.key >/dev/null
$A keygen globex.example -o globex.key >/dev/null
$A init --ledger $WORK/acme --key acme.key 2>/dev/null
$A init --ledger $WORK/globex --key globex.key 2>/dev/null
records 800 5 > a.jsonl
records 800 6 > g.jsonl
$A append --ledger $WORK/acme --key acme.key --stream api a.jsonl >/dev/null
$A append --ledger $WORK/globex --key globex.key --stream api g.jsonl >/dev/null
M3=$WORK/mnt3
expect_exit 5 "keys are matched by name: swapped keys are refused" $T $A mount -f --ledger acme=$WORK/acme --key acme=globex.key.pub --ledger globex=$WORK/globex --key globex=acme.key.pub $M3
start_mount $M3 multi.log --ledger acme=$WORK/acme --key acme=acme.key.pub --ledger globex=$WORK/globex --key globex=globex.key.pub || { not_ok "multi mount: $(cat multi.log)"; finish; exit 1; }
[ "$($T ls $M3 | tr '\n' ' ')" = "acme globex " ] && ok "each ledger under its own top-level directory" || not_ok "multi top: $($T ls $M3)"
# read acme's data only after the tamper below: what was verified and cached before keeps being
# served (it is the pinned, verified content); damage shows on reads that reach the repository
$T cmp -s $M3/globex/streams/api/all.jsonl g.jsonl && [ "$(stat -c %s $M3/acme/streams/api/all.jsonl)" = "$(wc -c < a.jsonl)" ] && ok "both ledgers serve their own tree" || not_ok "multi data"
$T cmp -s $M3/acme/key.pub acme.key.pub && $T cmp -s $M3/globex/key.pub globex.key.pub && ok "each with its own key" || not_ok "multi keys"
flip_obj $WORK/acme "$(git -C $WORK/acme rev-parse main:seg/000/000/000/000)"
expect_fail_with "Input/output error" "the tampered ledger's stream is EIO" $T cat $M3/acme/entries/5
$T cmp -s $M3/globex/streams/api/all.jsonl g.jsonl && ok "the other ledger is undisturbed" || not_ok "globex disturbed"
grep -q "acme: EIO: entries" multi.log && ok "the report names the ledger" || not_ok "multi log: $(cat multi.log)"
stop_mount $M3 $MOUNT_PID && ok "multi-ledger mount unmounts" || not_ok "multi umount"
finish
