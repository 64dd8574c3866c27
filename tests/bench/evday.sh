#!/usr/bin/env bash
# tests/bench/evday.sh - the cost of reading every by-event-day/ file when event times are
# scattered (docs/MOUNT.md, "Day files by event time").
#
#   tests/bench/evday.sh [--records N] [--days D] [--build DIR]
#
# Generates N records (contrib/gen-records, seed 42; default 300,000), gives each an event time
# (`ts`) on one of D UTC days (default 30) drawn at random, so that every frame of the ledger
# holds lines of every day, appends them with --map time=ts, mounts the ledger and reports:
# the daemon's resident memory after mounting (VmRSS and VmHWM), the time to `cat` every
# event-day file of the stream once, the same again (warm), and the daemon's peak resident memory
# (VmHWM of /proc/PID/status) after the reads. It checks that the day files partition all.jsonl.
# Everything lives in a scratch directory that is removed at the end; the mount is always
# unmounted. Wall-clock figures: run it on an otherwise idle machine.
set -euo pipefail
export LC_ALL=C

N=300000
DAYS=30
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=$SRC/build
while [ $# -gt 0 ]; do
    case $1 in
    --records) N=${2:?}; shift 2 ;;
    --days) DAYS=${2:?}; shift 2 ;;
    --build) BUILD=${2:?}; shift 2 ;;
    *) sed -n '2,14s/^# \{0,1\}//p' "$0"; exit 2 ;;
    esac
done
A=$BUILD/cli/auditfs
[ -x "$A" ] || A=$BUILD/auditfs
GEN=$BUILD/contrib/gen-records
[ -x "$A" ] && [ -x "$GEN" ] || { echo "evday.sh: build first ($A, $GEN)" >&2; exit 1; }

WORK=$(mktemp -d)
export AUDITFS_STATE=$WORK/state
M=$WORK/mnt
PID=
cleanup() {
    if [ -n "$PID" ]; then
        fusermount3 -uz "$M" 2>/dev/null || true
        kill "$PID" 2>/dev/null || true
        wait "$PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT
now() { date +%s.%N; }
since() { echo "$(now) - $1" | bc; }
kb() { awk -v k="$1" '$1 == k":" { print $2 }' "/proc/$PID/status"; }

"$GEN" "$N" 42 | awk -v days="$DAYS" 'BEGIN { srand(42) } # days from 2026-10-01
    { d = int(rand() * days); s = int(rand() * 86400)
      ts = sprintf("2026-%02d-%02dT%02d:%02d:%02dZ", 10 + int(d / 31), d % 31 + 1, int(s / 3600), int(s / 60) % 60, s % 60)
      print "{\"ts\":\"" ts "\"," substr($0, 2) }' > "$WORK/in.jsonl"
"$A" keygen bench.evday -o "$WORK/key" >/dev/null
"$A" init --ledger "$WORK/l" --key "$WORK/key" >/dev/null 2>&1
"$A" append --ledger "$WORK/l" --key "$WORK/key" --stream api --map time=ts --no-index \
    "$WORK/in.jsonl" >/dev/null
mkdir -p "$M"
t0=$(now)
"$A" mount -f --ledger "$WORK/l" --key "$WORK/key.pub" "$M" \
    2>"$WORK/mount.log" &
PID=$!
for _ in $(seq 1 600); do
    [ -e "$M/by-event-day" ] && break
    kill -0 "$PID" 2>/dev/null || { cat "$WORK/mount.log" >&2; exit 1; }
    sleep 0.1
done
open_t=$(since "$t0")
rss0=$(kb VmRSS) hwm0=$(kb VmHWM)
mapfile -t files < <(find "$M/by-event-day/streams/api" -name '*.jsonl' | sort)
t1=$(now)
cat "${files[@]}" > /dev/null
cold=$(since "$t1")
hwm1=$(kb VmHWM)
t2=$(now)
cat "${files[@]}" > /dev/null
warm=$(since "$t2")
if cat "${files[@]}" | sort | cmp -s - <(sort "$M/streams/api/all.jsonl"); then part=yes; else part=NO; fi
hwm2=$(kb VmHWM) rss2=$(kb VmRSS)
printf 'records %s, event days %s, day files %s, ledger %s\n' "$N" "$DAYS" "${#files[@]}" \
    "$(du -sh "$WORK/l" | cut -f1)"
printf 'mount ready: %.2f s, VmRSS %s kB, VmHWM %s kB\n' "$open_t" "$rss0" "$hwm0"
printf 'cat of every event-day file, first: %.2f s (VmHWM after: %s kB)\n' "$cold" "$hwm1"
printf 'cat of every event-day file, again: %.2f s\n' "$warm"
printf 'day files partition all.jsonl: %s; end: VmRSS %s kB, VmHWM %s kB\n' "$part" "$rss2" "$hwm2"
