#!/usr/bin/env bash
# append --journal: journal files written by this test (journal export format turned into a
# journal file by systemd-journal-remote, offline: no journald involved), read through
# sd-journal, the cursor stored in each batch's commit. Exactly once across restarts and
# kill -9; --match filters; fields with control characters stay one valid line.
# Skips (77) without systemd-journal-remote or an auditfs built with libsystemd.
source "$(dirname "$0")/lib.sh"
A=$AUDITFS
export AUDITFS_STATE=$WORK/state
JR=$(command -v systemd-journal-remote || echo /lib/systemd/systemd-journal-remote)
[ -x "$JR" ] || { echo "# SKIP: no systemd-journal-remote"; exit 77; }
$A append --help | grep -q -- --journal || { echo "# SKIP: built without libsystemd"; exit 77; }
$A keygen journal.example -o key >/dev/null
size() { $A checkpoint --ledger "$1" | sed -n 2p; }
# export FROM TO: entries FROM..TO-1 in journal export format (one with a binary MESSAGE that
# holds a newline and an ESC, every 50th)
export_entries() {
    python3 - "$1" "$2" <<'PY'
import struct, sys
a, b = int(sys.argv[1]), int(sys.argv[2])
out = sys.stdout.buffer
for i in range(a, b):
    out.write(b"__CURSOR=s=0;i=%x\n__REALTIME_TIMESTAMP=%d\n__MONOTONIC_TIMESTAMP=%d\n" % (i, 1795300000000000 + i * 1000, 1000 + i))
    out.write(b"_BOOT_ID=0123456789abcdef0123456789abcdef\n")
    out.write(b"_SYSTEMD_UNIT=%s\n" % (b"sshd.service" if i % 3 == 0 else b"cron.service"))
    out.write(b"SEQ=%d\n" % i)
    if i % 50 == 7:
        msg = b"two\nlines \x1b[1m %d" % i
        out.write(b"MESSAGE\n" + struct.pack("<Q", len(msg)) + msg + b"\n")
    else:
        out.write(b"MESSAGE=entry %d\n" % i)
    out.write(b"\n")
PY
}
add() { export_entries $1 $2 > exp.$1; "$JR" --output=$WORK/test.journal exp.$1 2>/dev/null; }
seqs() { $A log --ledger $1 --json | jq -r '.payload.SEQ'; }

L=$WORK/l1
$A init --ledger $L --key key 2>/dev/null
add 0 400
[ -s test.journal ] && ok "a journal file written offline by systemd-journal-remote" || not_ok "no journal file"
check "append --journal reads it" $A append --ledger $L --key key --stream journal --journal --journal-file test.journal --map time=__REALTIME_TIMESTAMP
[ "$(size $L)" = 400 ] && ok "every journal entry is an entry" || not_ok "size $(size $L)"
check "a second run" $A append --ledger $L --key key --stream journal --journal --journal-file test.journal
[ "$(size $L)" = 400 ] && ok "the stored cursor: nothing stored twice" || not_ok "size $(size $L)"
add 400 500
check "after the journal grew" $A append --ledger $L --key key --stream journal --journal --journal-file test.journal
[ "$(size $L)" = 500 ] && ok "only the new entries are added" || not_ok "size $(size $L)"
[ "$(seqs $L | tr '\n' ' ')" = "$(seq 0 499 | tr '\n' ' ')" ] && ok "in journal order, exactly once" || not_ok "order"
$A log --ledger $L --json | jq -r 'select(.payload.SEQ=="7") | .payload.MESSAGE' > m7
printf 'two\nlines \033[1m 7\n' | cmp -s - m7 && ok "a field with a newline and ESC is stored escaped on one line, value intact" || not_ok "MESSAGE 7: $(od -c m7 | head -2)"
[ "$($A log --ledger $L --json | jq -r 'select(.seq==1) | .event_time')" = "2026-11-21T22:26:40.001000Z" ] \
    && ok "the entry's realtime timestamp becomes event-time (--map time=__REALTIME_TIMESTAMP)" || not_ok "event time"
git -C $L log -1 --format=%B | grep -q '^Auditfs-Cursor: journal s=' && ok "the cursor is a trailer of the commit holding the entries" || not_ok "no cursor trailer"
check "the ledger verifies" $A verify --ledger $L --key key.pub

# --match
L2=$WORK/l2
# l1, l2 and l3 are independent ledgers of one origin: each its own verifier's memory (issue 8)
export AUDITFS_STATE=$WORK/state-l2
$A init --ledger $L2 --key key 2>/dev/null
check "--match _SYSTEMD_UNIT=sshd.service" $A append --ledger $L2 --key key --stream ssh --journal --journal-file test.journal --match _SYSTEMD_UNIT=sshd.service --cursor-key ssh
[ "$(size $L2)" = 167 ] && [ "$($A log --ledger $L2 --json | jq -r .payload._SYSTEMD_UNIT | sort -u)" = sshd.service ] \
    && ok "only matching entries" || not_ok "size $(size $L2)"

# kill -9 while ingesting: exactly once at the end
L3=$WORK/l3
export AUDITFS_STATE=$WORK/state-l3
$A init --ledger $L3 --key key 2>/dev/null
add 500 3000
kills=0
for r in $(seq 1 8); do
    $A append --ledger $L3 --key key --stream journal --journal --journal-file test.journal --batch-bytes 4000 --flush-ms 10 --no-index > /dev/null 2>&1 & pid=$!
    sleep 0.$((1 + r % 4))
    kill -9 $pid 2>/dev/null && kills=$((kills + 1)); wait $pid 2>/dev/null
done
check "a final run" $A append --ledger $L3 --key key --stream journal --journal --journal-file test.journal
[ "$(size $L3)" = 3000 ] && ok "after $kills kills -9: journal entries = ledger entries (3000)" || not_ok "size $(size $L3) after $kills kills"
[ "$(seqs $L3 | tr '\n' ' ')" = "$(seq 0 2999 | tr '\n' ' ')" ] && ok "exactly once, in order" || not_ok "order or duplicates"
check "the ledger verifies" $A verify --ledger $L3 --key key.pub
finish
