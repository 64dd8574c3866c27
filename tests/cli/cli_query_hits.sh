#!/usr/bin/env bash
# CLI integration (issue 13, fourth pass): query hits read one frame each (ledger/hitread.c)
# from segments of several 64 KiB frames: the same answer as a full scan, hits in every frame
# of a segment, and a hit whose frame was altered in the pack fails naming the segment and
# its object, while a query that serves no entry of that frame still answers.
source "$(dirname "$0")/lib.sh"
A=$AUDITFS
L=$WORK/ledger

$A keygen provider.example -o key >/dev/null 2>&1
$A init --ledger $L --key key 2>/dev/null
# records of ~250 bytes that zstd cannot squeeze much (a hex digest each): 64 KiB frames hold a
# few hundred, a segment (256 KiB of leaves) several frames
awk 'BEGIN { srand(7); for (i = 0; i < 6000; i++) {
    h = ""; for (j = 0; j < 6; j++) h = h sprintf("%08x", int(rand() * 4294967295));
    printf "{\"actor\":\"ops-%d\",\"action\":\"s3:GetObject\",\"i\":%d,\"digest\":\"%s\",\"note\":\"%s\"}\n",
        (i * 7) % 41, i, h, substr(h, 1, 20 + i % 30) } }' >r.jsonl
check "append 6000 records" $A append --ledger $L --key key --stream api r.jsonl
check "index" $A index --ledger $L

# the segments and their frames, from the blobs' own indexes (docs/FORMAT.md section 7)
git -C $L ls-tree -r HEAD seg | awk '{ print $3, $4 }' >segs.txt
python3 - "$L" segs.txt >frames.txt <<'EOF'
import subprocess, struct, sys
L = sys.argv[1]
for line in open(sys.argv[2]):
    oid, path = line.split()
    b = subprocess.run(["git", "-C", L, "cat-file", "blob", oid], capture_output=True).stdout
    isize = struct.unpack("<I", b[4:8])[0]
    first, n = struct.unpack(">QI", b[16:28])
    coff, seq = 8 + isize, first
    for i in range(n):
        csize, usize, count = struct.unpack(">III", b[28 + 12 * i:40 + 12 * i])
        print(oid, path, i, seq, seq + count, coff, csize)  # oid path frame first end coff csize
        coff += csize
        seq += count
EOF
NSEG=$(wc -l <segs.txt)
MAXF=$(awk '{ n[$1]++ } END { m = 0; for (k in n) if (n[k] > m) m = n[k]; print m }' frames.txt)
[ "$NSEG" -ge 2 ] && [ "$MAXF" -ge 3 ] && ok "$NSEG segments, up to $MAXF frames each" ||
    not_ok "expected segments of several frames ($NSEG segments, at most $MAXF frames)"

# one actor: hits in every frame of the ledger, through the index (hitread) and a full scan
check "query actor=ops-5" $A query --ledger $L actor=ops-5 --entries
cp "$WORK/.out" hits.json
check "query actor=ops-5 --no-index" $A query --ledger $L actor=ops-5 --entries --no-index
cmp -s hits.json "$WORK/.out" && ok "indexed hits equal the full scan's" ||
    not_ok "indexed hits differ from the full scan's"
WANT=$(grep -c '"actor":"ops-5"' r.jsonl)
[ "$(wc -l <hits.json)" -eq "$WANT" ] && ok "$WANT hits, as grep counts" ||
    not_ok "$(wc -l <hits.json) hits, grep counts $WANT"
SEQS=$(grep -o '"seq":[0-9]*' hits.json | cut -d: -f2)
FR=$(for s in $SEQS; do awk -v s="$s" '$4 <= s && s < $5 { print $1, $3 }' frames.txt; done | sort -u | wc -l)
NFR=$(wc -l <frames.txt)
[ "$FR" -eq "$NFR" ] && ok "the hits lie in all $NFR frames" || not_ok "hits in $FR of $NFR frames"
check "query --prove" $A query --ledger $L actor=ops-5 --prove --limit 3
[ "$(grep -c '"proof"' "$WORK/.out")" -eq 3 ] && ok "proofs for hits" || not_ok "no proofs"

# a forged segment: the same entries but one hit's payload changed (its frame recompressed, the
# index rewritten), written as a new blob that a new commit's tree puts at the segment's path;
# the signed checkpoint and the tiles are unchanged, so the served leaf must fail its tile check
S=$(echo "$SEQS" | awk '{ a[NR] = $1 } END { print a[int(NR / 3)] }')
read -r OID SPATH FI F0 F1 COFF CSIZE <<<"$(awk -v s="$S" '$4 <= s && s < $5' frames.txt)"
git -C $L cat-file blob "$OID" >seg.bin
python3 - seg.bin "$FI" "$((S - F0))" forged.bin <<'EOF2'
import struct, subprocess, sys
b = open(sys.argv[1], "rb").read()
fi, k = int(sys.argv[2]), int(sys.argv[3])
isize = struct.unpack("<I", b[4:8])[0]
n = struct.unpack(">I", b[24:28])[0]
ents = [list(struct.unpack(">III", b[28 + 12 * i:40 + 12 * i])) for i in range(n)]
frames, coff = [], 8 + isize
for cs, us, cnt in ents:
    frames.append(b[coff:coff + cs])
    coff += cs
raw = subprocess.run(["zstd", "-dcq"], input=frames[fi], capture_output=True, check=True).stdout
off = 32 if b[8:15] == b"AFSSEG2" else 0  # AFSSEG2 frames start with the prev hash
for _ in range(k):
    off += 4 + struct.unpack(">I", raw[off:off + 4])[0]
rl = struct.unpack(">I", raw[off:off + 4])[0]
rec = raw[off + 4:off + 4 + rl]
at = rec.rindex(b'"digest":"') + 10
rec2 = rec[:at] + (b"0" if rec[at:at + 1] != b"0" else b"1") + rec[at + 1:]
raw2 = raw[:off + 4] + rec2 + raw[off + 4 + rl:]
open("frame.raw", "wb").write(raw2)  # a file: zstd records its size in the frame header
z = subprocess.run(["zstd", "-1", "-cq", "--no-check", "frame.raw"], capture_output=True,
                   check=True).stdout
z = z if struct.unpack("<I", z[:4])[0] == 0xFD2FB528 else None
frames[fi] = z
ents[fi][0] = len(z)
idx = b[8:28] + b"".join(struct.pack(">III", *e) for e in ents)
open(sys.argv[4], "wb").write(b[:8] + idx + b"".join(frames))
EOF2
FORGED=$(git -C $L hash-object -w "$WORK/forged.bin")
GIT_INDEX_FILE=$WORK/forge.idx git -C $L read-tree HEAD
GIT_INDEX_FILE=$WORK/forge.idx git -C $L update-index --cacheinfo "100644,$FORGED,$SPATH"
TREE=$(GIT_INDEX_FILE=$WORK/forge.idx git -C $L write-tree)
REF=$(git -C $L symbolic-ref HEAD)
GOOD=$(git -C $L rev-parse HEAD)
git -C $L update-ref "$REF" "$(git -C $L commit-tree "$TREE" -p HEAD -m forged)"
expect_exit 1 "a query serving the forged entry fails" $A query --ledger $L "_seq=$S"
expect_err "$SPATH \(blob $FORGED\): entry $S: leaf does not hash to its tile" \
    "the message names the entry, the segment and its object"
expect_exit 1 "so does the actor's query" $A query --ledger $L actor=ops-5
git -C $L update-ref "$REF" "$GOOD"
check "the ledger as it was answers again" $A query --ledger $L actor=ops-5

# alter the frame that holds a hit in the middle of the ledger: its first bytes (the zstd frame
# header; bytes inside the compressed data may change only entries no query here serves)
S=$(echo "$SEQS" | awk '{ a[NR] = $1 } END { print a[int(NR / 2)] }')
read -r OID SPATH FI F0 F1 COFF CSIZE <<<"$(awk -v s="$S" '$4 <= s && s < $5' frames.txt)"
read -r PACK OFF LEN <<<"$(obj_bytes $L $OID)"
POS=$(python3 - "$L" "$OID" "$PACK" "$OFF" "$LEN" "$COFF" "$CSIZE" <<'EOF'
import subprocess, sys
L, oid, pack, off, ln, coff, csize = sys.argv[1:3] + [sys.argv[3]] + [int(x) for x in sys.argv[4:]]
b = subprocess.run(["git", "-C", L, "cat-file", "blob", oid], capture_output=True).stdout
chunk = b[coff:coff + 32]  # stored deflate: the bytes lie in the pack as they are
p = open(pack, "rb").read()[off:off + ln]
at = p.find(chunk)
print(off + at + 1 if at >= 0 and p.find(chunk, at + 1) < 0 else -1)
EOF
)
if [ "$POS" -gt 0 ]; then
    chmod u+w "$PACK"
    printf '\x5a\x5a\x5a\x5a' | dd of="$PACK" bs=1 seek="$POS" conv=notrunc 2>/dev/null
    ok "frame $FI of $SPATH (entries $F0-$((F1 - 1))) altered in $(basename "$PACK")"
else
    not_ok "the frame's bytes were not found once in the pack"
fi
expect_exit 1 "a query serving an entry of the altered frame fails" $A query --ledger $L actor=ops-5
expect_err "$SPATH \(blob $OID\)" "the message names the segment and its object"
expect_exit 1 "the same without the index fails" $A query --ledger $L actor=ops-5 --no-index
expect_err "$SPATH" "the message names the segment"
# an entry outside the altered frame, in another segment, is still served (each hit is checked
# against the signed tree; verify reports the damage)
OTHER=$(awk -v o="$OID" '$1 != o { print $4; exit }' frames.txt)
check "a query serving no entry of the altered frame answers" $A query --ledger $L "_seq=$OTHER"
[ "$(wc -l <"$WORK/.out")" -eq 1 ] && ok "one hit" || not_ok "$(wc -l <"$WORK/.out") hits"
expect_exit 1 "verify reports the altered segment" $A verify --ledger $L

finish
