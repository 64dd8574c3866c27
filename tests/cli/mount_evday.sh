#!/usr/bin/env bash
# Mount: by-event-day/streams/<stream>/YYYY/MM/DD.jsonl and by-event-day/tenants/ (issue 10).
# Each day file holds, in ledger order, the payloads whose event time (or ledger time, without one) falls on that UTC day: it is
# compared with `auditfs log --time event` for the day, and with `log --json` for the day that
# also holds the entries without an event time. Sizes are exact, xattrs name the first and last
# entry, --follow grows a day file that was read (and cached) before, the README says how entries
# without an event time are filed, and a tampered frame reads as EIO. With scattered event days,
# day files read after a jumping read, one after the other, or in parallel are exact. Every mount
# is unmounted.
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lib.sh"
source "$HERE/mountlib.sh"
A=$AUDITFS
L=$WORK/ledger
M=$WORK/mnt
export AUDITFS_FOLLOW_MS=200

# event days out of order (event time need not increase), some lines without a time
records() {
    awk -v n="$1" -v b="$2" 'BEGIN {
        split("2026-01-05T10:00:00Z 2025-12-31T23:59:59Z 2026-01-05T00:00:00Z 2026-02-28T12:30:00Z 2025-12-31T00:00:01Z", d, " ")
        for (i = b; i < b + n; i++) {
            if (i % 7 == 3) printf "{\"i\":%d,\"x\":\"no-time\"}\n", i
            else printf "{\"i\":%d,\"ts\":\"%s\"}\n", i, d[(i * 3) % 5 + 1]
        } }'
}
$A keygen evday.example -o key >/dev/null
$A init --ledger $L --key key 2>/dev/null
records 400 0 > a.jsonl
records 90 1000 > b.jsonl
check "append with event times (--map time=ts)" $A append --ledger $L --key key --stream api --tenant acme --map time=ts --batch-bytes 3000 a.jsonl
check "a second stream" $A append --ledger $L --key key --stream auth --map time=ts b.jsonl
today=$(date -u +%Y-%m-%d)

# want STREAM DAY [TENANT]: the expected day file, from log --json (event time, else ledger time)
want() {
    $A log --ledger $L --key key.pub --stream "$1" --json |
        jq -c --arg d "$2" --arg t "${3:-}" 'select(.type == "log" and ((.event_time // .time)[0:10]) == $d and ($t == "" or .tenant == $t)) | .payload'
}
next_day() { date -u -d "$1 + 1 day" +%Y-%m-%d; }

start_mount $M mount.log --ledger $L --key key.pub --follow || { not_ok "mount: $(cat mount.log)"; finish; exit 1; }

days=$($T find $M/by-event-day/streams/api -name '*.jsonl' | sed -E 's|.*/by-event-day/streams/api/([0-9]{4})/([0-9]{2})/([0-9]{2})\.jsonl|\1-\2-\3|' | sort | tr '\n' ' ')
[ "$days" = "2025-12-31 2026-01-05 2026-02-28 $today " ] && ok "by-event-day/ lists the event days and the ledger day of entries without one" || not_ok "days: $days"

for d in 2025-12-31 2026-01-05 2026-02-28; do
    f=$M/by-event-day/streams/api/${d:0:4}/${d:5:2}/${d:8:2}.jsonl
    $A log --ledger $L --key key.pub --stream api --time event --since $d --until "$(next_day $d)" | awk '{ print $5 }' > log.$d
    if ! $T cat "$f" > got.$d; then
        not_ok "read $d"
    elif [ -s got.$d ] && cmp -s got.$d log.$d; then
        ok "by-event-day $d equals auditfs log --time event for the day ($(wc -l < got.$d) lines)"
    else
        not_ok "by-event-day $d differs from log --time event: $(diff got.$d log.$d | head -3)"
    fi
    [ "$(stat -c %s "$f")" = "$(wc -c < got.$d)" ] && ok "stat size of $d is exact" || not_ok "size $d: $(stat -c %s "$f") vs $(wc -c < got.$d)"
done
f=$M/by-event-day/streams/api/${today:0:4}/${today:5:2}/${today:8:2}.jsonl
want api "$today" > want.today
$T cat "$f" > got.today && [ -s got.today ] && cmp -s got.today want.today && ok "entries without an event time are under their ledger day ($(wc -l < got.today) lines)" || not_ok "ledger-time fallback: $(diff got.today want.today | head -3)"
# every api log entry is in exactly one event day file
[ "$($T cat $M/by-event-day/streams/api/*/*/*.jsonl | sort | cmp - <(sort $M/streams/api/all.jsonl) && echo same)" = same ] && ok "the day files partition all.jsonl" || not_ok "partition"

# the same under tenants/, and the other stream is separate
want api 2026-01-05 acme > want.t
$T cmp -s $M/by-event-day/tenants/acme/api/2026/01/05.jsonl want.t && ok "by-event-day/tenants/<tenant>/<stream>/ too" || not_ok "tenant tree"
want auth 2026-02-28 > want.auth
$T cmp -s $M/by-event-day/streams/auth/2026/02/28.jsonl want.auth && ok "each stream has its own by-event-day/" || not_ok "auth stream"
[ ! -e $M/by-event-day/tenants/acme/auth ] && ok "no tenant tree for an entry without a tenant" || not_ok "tenant auth exists"
# streams/ is unchanged: its day files still concatenate to all.jsonl
$T find $M/streams/api -name '??.jsonl' | sort | xargs cat | cmp -s - $M/streams/api/all.jsonl && ok "streams/ day files unchanged" || not_ok "streams/ day files"

# reads at odd offsets return the same bytes as a whole read
f=$M/by-event-day/streams/api/2026/01/05.jsonl
$T dd if="$f" bs=7 skip=13 2>/dev/null > part; tail -c +92 got.2026-01-05 > wantpart
cmp -s part wantpart && ok "a read at an offset in the middle of a line" || not_ok "offset read"

first=$(getfattr --only-values -n user.auditfs.first_seq "$f" 2>/dev/null)
last=$(getfattr --only-values -n user.auditfs.last_seq "$f" 2>/dev/null)
wf=$($A log --ledger $L --key key.pub --stream api --time event --since 2026-01-05 --until 2026-01-06 | awk 'NR == 1 { print $1 }')
wl=$($A log --ledger $L --key key.pub --stream api --time event --since 2026-01-05 --until 2026-01-06 | awk 'END { print $1 }')
[ "$first/$last" = "$wf/$wl" ] && ok "xattrs give the first and last entry ($first/$last)" || not_ok "xattrs $first/$last, wanted $wf/$wl"

$T grep -q "by-event-day" $M/README && $T grep -q "under its ledger time" $M/README && ok "README explains by-event-day/ and the ledger-time fallback" || not_ok "README"

# --follow: a day file read before (its positions cached) grows with a new entry of that day
printf '{"i":5000,"ts":"2026-01-05T23:59:59.999Z"}\n' > c.jsonl
check "append one more 2026-01-05 entry" $A append --ledger $L --key key --stream api --tenant acme --map time=ts c.jsonl
grown() { $T grep -q '"i":5000' "$f"; }
wait_until 15 grown && want api 2026-01-05 > want.f && $T cmp -s "$f" want.f && ok "--follow grows a cached event-day file" || not_ok "follow: $(tail -3 mount.log)"
stop_mount $M $MOUNT_PID && ok "unmounted" || not_ok "unmount"

# Scattered event days over a stream of about 30 frames (every frame holds lines of every day):
# the first day file read keeps the lines of the others (docs/MOUNT.md). Each day file must equal
# the input's lines of that day, whether read after one that was read in jumps, one after the
# other, or all at once in parallel on a fresh mount.
L2=$WORK/ledger2
$A keygen scatter.example -o key2 >/dev/null
$A init --ledger $L2 --key key2 2>/dev/null
awk 'BEGIN { srand(7); for (i = 0; i < 30000; i++)
    printf "{\"i\":%d,\"ts\":\"2026-03-%02dT%02d:%02d:00Z\",\"actor\":\"ops-%d\",\"resource\":\"arn:aws:ecs:eu-west-1:%012d:task/%d\"}\n",
        i, int(rand() * 6) + 1, int(rand() * 24), int(rand() * 60), int(rand() * 97), int(rand() * 1000000), int(rand() * 100000) }' > s.jsonl
check "append 30000 lines whose event days are scattered" $A append --ledger $L2 --key key2 --stream s --map time=ts s.jsonl
for d in 1 2 3 4 5 6; do grep "\"ts\":\"2026-03-0$d" s.jsonl > want.s$d; done
start_mount $M mount3.log --ledger $L2 --key key2.pub || { not_ok "mount scattered: $(cat mount3.log)"; finish; exit 1; }
S=$M/by-event-day/streams/s/2026/03
$T cmp -s $M/streams/s/all.jsonl s.jsonl && ok "the scattered stream is stored as given" || not_ok "all.jsonl of the scattered stream"
# day 1: a read at its start, then one at its end (far apart in the stream), then the others
$T dd if=$S/01.jsonl bs=4096 count=1 2>/dev/null | cmp -s - <(head -c 4096 want.s1) && ok "the start of a scattered day file" || not_ok "start of day 1"
sz=$(stat -c %s $S/01.jsonl)
$T dd if=$S/01.jsonl bs=4096 skip=$((sz / 4096 - 1)) 2>/dev/null | cmp -s - <(tail -c +$(( (sz / 4096 - 1) * 4096 + 1 )) want.s1) && ok "the end of a scattered day file" || not_ok "end of day 1"
same=0
for d in 2 3 4 5 6 1; do $T cmp -s $S/0$d.jsonl want.s$d && same=$((same + 1)); done
[ $same = 6 ] && ok "after reads that jumped, every scattered day file is exact (read one after the other)" || not_ok "scattered day files: $same of 6 exact"
stop_mount $M $MOUNT_PID && ok "unmounted the scattered ledger" || not_ok "unmount 3"
start_mount $M mount4.log --ledger $L2 --key key2.pub || { not_ok "mount scattered again: $(cat mount4.log)"; finish; exit 1; }
pids=()
for d in 1 2 3 4 5 6; do $T cat $S/0$d.jsonl > par.$d & pids+=($!); done
wait "${pids[@]}" # not a bare wait: the mount daemon is a background job too
same=0
for d in 1 2 3 4 5 6; do cmp -s par.$d want.s$d && same=$((same + 1)); done
[ $same = 6 ] && ok "six scattered day files read in parallel on a fresh mount are exact" || not_ok "parallel: $same of 6 exact"
stop_mount $M $MOUNT_PID && ok "unmounted the scattered ledger again" || not_ok "unmount 4"

# tampering under a live mount: the first segment changed, so event-day reads that touch it are
# EIO (nothing unverified is served), while a day file of the untouched stream still reads
start_mount $M mount2.log --ledger $L --key key.pub || { not_ok "mount again: $(cat mount2.log)"; finish; exit 1; }
flip_obj $L "$(git -C $L rev-parse main:seg/000/000/000/000)"
expect_fail_with "Input/output error" "an event-day file over the damaged segment is EIO" $T cat $M/by-event-day/streams/api/2025/12/31.jsonl
stop_mount $M $MOUNT_PID && ok "unmounted the tampered ledger" || not_ok "unmount 2"
finish
