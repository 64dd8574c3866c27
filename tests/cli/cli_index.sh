#!/usr/bin/env bash
# The query index's own checks, one at a time: a same-length change to the meta, a changed byte in
# a run's (unused) header padding, changed bytes in posting lists. `index --check` must report
# each, and every query must still equal the full scan (a damaged run costs time, never results).
# tests/mutation/ mutants index-meta-check, index-header-hash, index-posting-hash.
source "$(dirname "$0")/lib.sh"
export AUDITFS_STATE=$WORK/state
A=$AUDITFS
L=$WORK/ledger
IX=$L/auditfs-index
$A keygen index.example -o key >/dev/null 2>&1
$A init --ledger $L --key key 2>/dev/null
awk 'BEGIN { for (i = 0; i < 3000; i++) printf "{\"actor\":\"ops-%d\",\"resource\":\"i-%04d\",\"result\":\"%s\"}\n", i % 11, (i * 7) % 97, (i % 5) ? "success" : "denied" }' >r
$A append --ledger $L --key key --stream api --batch-bytes 50000 r >/dev/null
check "index --check passes on a fresh index" $A index --ledger $L --check
cp -a $IX pristine

TODAY=$(date -u +%F)
QUERIES=($(seq 0 10 | sed 's/^/actor=ops-/') $(seq 0 96 | awk '{ printf "resource=i-%04d\n", $1 }')
    result=denied result=success _stream=api _type=log "_time=$TODAY" "_time>=$TODAY")
mkdir -p want
for i in "${!QUERIES[@]}"; do # the full scan's answers, once
    $A query --ledger $L --no-index --entries "${QUERIES[$i]}" >want/$i 2>/dev/null
done
queries() { # every actor, resource and result, and by stream, type and day: equal to the full scan
    local i bad=0
    for i in "${!QUERIES[@]}"; do
        $A query --ledger $L --no-update --entries "${QUERIES[$i]}" >got 2>/dev/null
        cmp -s got want/$i || { bad=$((bad + 1)); echo "# differs: ${QUERIES[$i]} ($(wc -l <got) vs $(wc -l <want/$i))"; }
    done
    local n=${#QUERIES[@]}
    [ $bad -eq 0 ] && ok "$1: $n queries equal the full scan" || not_ok "$1: $bad of $n queries differ"
}
restore() { rm -rf $IX && cp -a pristine $IX; }

# the meta: same length, one field name changed
restore
sed -i 's/^fields actor/fields bctor/' $IX/meta
grep -q '^fields bctor' $IX/meta || not_ok "meta has no fields line starting with actor"
expect_exit 1 "index --check finds a same-length change to the meta" $A index --ledger $L --check
queries "meta changed"

# the meta's mac line: its last hex digit changed (the whole 32-byte HMAC is compared, not a prefix)
restore
python3 - $IX/meta <<'PY'
import re, sys
t = open(sys.argv[1]).read()
m = re.search(r"\nmac ([0-9a-f]{64})\n", t)
assert m, "no mac line"
d = m.group(1)
d = d[:-1] + ("0" if d[-1] != "0" else "1")
open(sys.argv[1], "w").write(t[:m.start(1)] + d + t[m.end(1):])
PY
[ $? -eq 0 ] || not_ok "meta has no mac line of 64 hex digits"
expect_exit 1 "index --check finds a changed last byte of the meta's HMAC" $A index --ledger $L --check
queries "meta mac changed"

# a run's header: one byte of its zero padding (bytes 56..79) changed
restore
run=$(ls $IX/r*.ix | head -1)
printf '\x01' | dd of="$run" bs=1 seek=70 conv=notrunc 2>/dev/null
expect_exit 1 "index --check finds a changed byte in a run header" $A index --ledger $L --check
queries "run header changed"
# ... and in its day table (which only the header hash protects): first entry of day 0 moved
restore
python3 - "$run" <<'PY'
import sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
nparts, ndays = int.from_bytes(b[24:28], "big"), int.from_bytes(b[28:32], "big")
assert ndays >= 1
off = 80 + nparts * 48 + 8  # day 0: day(8) first(8) end(8) count(8)
first = int.from_bytes(b[off:off + 8], "big")
b[off:off + 8] = (first + 5).to_bytes(8, "big")
open(p, "wb").write(bytes(b))
PY
expect_exit 1 "index --check finds a changed day table" $A index --ledger $L --check
queries "day table changed"

# posting lists: bytes changed to other valid varints, at several places
for k in 7 101 333 1001; do
    restore
    run=$(ls $IX/r*.ix | head -1)
    python3 - "$run" "$k" <<'PY'
import sys
p, k = sys.argv[1], int(sys.argv[2])
b = bytearray(open(p, "rb").read())
base = int.from_bytes(b[40:48], "big")
i = base + k
if i >= len(b):
    sys.exit("no posting byte %d" % k)
b[i] = (b[i] & 0x80) | ((b[i] + 1) & 0x7f)  # another value, same continuation bit
open(p, "wb").write(bytes(b))
PY
    expect_exit 1 "index --check finds a changed posting byte ($k)" $A index --ledger $L --check
    queries "posting byte $k changed"
done
finish
