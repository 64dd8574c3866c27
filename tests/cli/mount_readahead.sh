#!/usr/bin/env bash
# Sequential read-ahead of the mount (ledger/view_ahead.c): a multi-frame all.jsonl read forward
# and at random offsets is byte for byte what `auditfs query` prints and what was appended; a
# segment damaged ahead of a forward reader reads as EIO exactly where it starts, the mount logs
# which object once, and the bytes before and after it keep reading.
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lib.sh"
source "$HERE/mountlib.sh"
A=$AUDITFS
L=$WORK/ledger
M=$WORK/mnt

$A keygen ahead.example -o key >/dev/null
$A init --ledger $L --key key 2>/dev/null
records 30000 3 > api.jsonl
$A append --ledger $L --key key --stream api --batch-bytes 200000 api.jsonl >/dev/null
nseg=$(git -C $L ls-tree -r --name-only main seg/ | wc -l)
[ "$nseg" -ge 8 ] && ok "the stream spans $nseg segments" || not_ok "segments: $nseg"
$A query --ledger $L _stream=api --no-index > query.out 2>/dev/null
cmp -s query.out api.jsonl && ok "query prints the payloads appended" || not_ok "query output"

start_mount $M mount.log --ledger $L --key key.pub || { not_ok "mount: $(cat mount.log)"; finish; exit 1; }
F=$M/streams/api/all.jsonl
$T cmp -s $F query.out && ok "a forward read (cat) of all.jsonl equals the query output" || not_ok "cat differs"
$T dd if=$F bs=4096 2>/dev/null | cmp -s - query.out && ok "and in 4 KiB reads" || not_ok "dd 4k differs"
# random offsets and lengths (pread), half of them while a forward reader runs beside them
cat > pread.py <<'EOF'
import os, random, sys
path, ref, n = sys.argv[1], open(sys.argv[2], 'rb').read(), int(sys.argv[3])
fd = os.open(path, os.O_RDONLY)
r = random.Random(7)
for i in range(n):
    off = r.randrange(len(ref)); ln = r.randrange(1, 300000)
    got = os.pread(fd, ln, off)
    if got != ref[off:off + ln]:
        print("differs at", off, ln); sys.exit(1)
print("ok")
EOF
$T python3 pread.py $F query.out 300 | grep -q '^ok$' && ok "random preads equal the query output" || not_ok "random preads"
( $T cat $F > fwd.out ) &
fwd=$!
$T python3 pread.py $F query.out 300 | grep -q '^ok$' && ok "random preads beside a forward reader" || not_ok "preads beside cat"
wait $fwd
cmp -s fwd.out query.out && ok "the forward reader beside them got every byte" || not_ok "forward reader"
stop_mount $M $MOUNT_PID || not_ok "umount"

# a segment in the middle is damaged before a fresh mount reads forward toward it
seg=$(git -C $L ls-tree -r --name-only main seg/ | sed -n "$((nseg / 2))p")
first=$(echo "$seg" | tr -d '/' | sed 's/^seg0*//')
[ -n "$first" ] && [ "$first" -gt 0 ] || not_ok "segment path $seg"
bad_off=$(head -n "$first" api.jsonl | wc -c)
start_mount $M mount2.log --ledger $L --key key.pub || { not_ok "mount: $(cat mount2.log)"; finish; exit 1; }
oid=$(git -C $L rev-parse "main:$seg")
flip_obj $L "$oid"
$T dd if=$F bs=4096 count=$((bad_off / 4096)) 2>/dev/null | cmp -s - <(head -c $((bad_off / 4096 * 4096)) api.jsonl) &&
    ok "forward reads up to the damaged segment are served" || not_ok "reads before the damage"
expect_fail_with "Input/output error" "reading on into the damaged segment is EIO" $T cat $F
expect_fail_with "Input/output error" "a read at its first byte is EIO" $T dd if=$F bs=1 skip=$bad_off count=1
n=$(grep -c "EIO: entries $first\.\." mount2.log)
[ "$n" = 1 ] && ok "the mount logs the damage once" || not_ok "logged $n times: $(cat mount2.log)"
grep -E "EIO: entries $first\.\.[0-9]+ \($seg, frame 0\)" mount2.log | grep -q "$oid" &&
    ok "naming the entries, the segment and its object" || not_ok "log: $(cat mount2.log)"
next=$(git -C $L ls-tree -r --name-only main seg/ | sed -n "$((nseg / 2 + 1))p" | tr -d '/' | sed 's/^seg0*//')
after=$(head -n "$next" api.jsonl | wc -c)
$T dd if=$F bs=4096 skip=$(( (after + 4095) / 4096 )) 2>/dev/null | cmp -s - <(tail -c +$(( (after + 4095) / 4096 * 4096 + 1 )) api.jsonl) &&
    ok "the segments after it still read" || not_ok "reads after the damage"
$T head -c 100000 $F | cmp -s - <(head -c 100000 api.jsonl) && ok "and the ones before it" || not_ok "head"
stop_mount $M $MOUNT_PID && ok "unmounts" || not_ok "umount"
finish
