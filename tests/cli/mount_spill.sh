#!/usr/bin/env bash
# Mount: the per-entry arrays live in a private unlinked file, coded in blocks of 128 entries
# (ledger/view_spill.h, issue 13). A ledger big enough for several blocks per list is mounted
# with a tiny frame cache (--cache 1) and its own --cache-dir; every file under streams/,
# tenants/ and by-event-day/ must equal, byte for byte and in size, what `auditfs log --json`
# gives for it: a stream list and tenant lists of many blocks, ledger-time and event-time day
# files that start and end inside blocks, event-day files that are slices of their list and
# ones that are scattered through it. Reads at offsets that cross block boundaries and reads in
# parallel are exact, the private file is invisible in the directory and mode 0600, a bad
# --cache is a usage error and a missing --cache-dir an I/O error naming it. Every mount is
# unmounted.
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lib.sh"
source "$HERE/mountlib.sh"
A=$AUDITFS
L=$WORK/ledger
M=$WORK/mnt
CD=$WORK/cachedir
mkdir -p $CD

# api: 1500 lines; tenants acme (most), beta, and none; event days: the first 400 lines on
# 2026-01-02, the next 300 on 2026-01-03 (slices of the stream's list), then scattered over
# 2026-01-01..04, every 9th without an event time (its ledger day)
awk 'BEGIN { srand(11); split("acme acme acme beta -", tn, " ")
    for (i = 0; i < 1500; i++) {
        t = tn[(i * 7) % 5 + 1]; tf = t == "-" ? "" : ",\"t\":\"" t "\""
        if (i < 400) d = 2; else if (i < 700) d = 3; else d = int(rand() * 4) + 1
        ts = (i >= 700 && i % 9 == 0) ? "" : sprintf(",\"ts\":\"2026-01-%02dT%02d:00:00Z\"", d, i % 24)
        printf "{\"i\":%d%s%s,\"pad\":\"%s\"}\n", i, tf, ts, substr("xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", 1, i % 37)
    } }' > api.jsonl
$A keygen spill.example -o key >/dev/null
$A init --ledger $L --key key 2>/dev/null
check "append 1500 lines to api (tenants, event times)" $A append --ledger $L --key key --stream api --map tenant=t,time=ts --batch-bytes 20000 api.jsonl
records 300 3 > auth.jsonl
check "append 300 lines to auth (no event time)" $A append --ledger $L --key key --stream auth auth.jsonl
$A log --ledger $L --key key.pub --json > log.json

expect_exit 2 "--cache 0 is a usage error" $A mount --cache 0 --ledger $L --key key.pub $M
expect_exit 2 "--cache with a unit is a usage error" $A mount --cache 1x --ledger $L --key key.pub $M
expect_exit 4 "a --cache-dir that does not exist refuses the mount (exit 4)" $A mount --cache-dir $WORK/nonexistent --ledger $L --key key.pub $M
expect_err "nonexistent: cannot make the view's private index file" "and names the directory"

start_mount $M mount.log --ledger $L --key key.pub --cache 1 --cache-dir $CD || { not_ok "mount: $(cat mount.log)"; finish; exit 1; }

[ -z "$(ls -A $CD)" ] && ok "the private file is not visible in --cache-dir" || not_ok "cache dir holds: $(ls -A $CD)"
modes=""
for fd in /proc/$MOUNT_PID/fd/*; do
    case "$(readlink "$fd")" in "$CD"/*) modes="$modes $(stat -L -c %a "$fd")" ;; esac
done
[ -n "$modes" ] && [ -z "$(tr -d ' 6' <<<"$modes" | tr -d 0)" ] && [ "$(tr ' ' '\n' <<<"$modes" | grep -vc '^600$')" = 1 ] &&
    ok "the daemon's private files are open, unlinked, in --cache-dir, mode 0600 ($modes)" || not_ok "private file modes: '$modes'"

# want PATH: the lines of the mounted file PATH (relative to the mount), from log --json
want() {
    local p=$1 ten="" st day="" ev=0
    case "$p" in
    by-event-day/*) ev=1; p=${p#by-event-day/} ;;
    esac
    case "$p" in
    streams/*) p=${p#streams/}; st=${p%%/*}; p=${p#*/} ;;
    tenants/*) p=${p#tenants/}; ten=${p%%/*}; p=${p#*/}; st=${p%%/*}; p=${p#*/} ;;
    esac
    [ "$p" != all.jsonl ] && day=$(sed -E 's|^([0-9]{4})/([0-9]{2})/([0-9]{2})\.jsonl$|\1-\2-\3|' <<<"$p")
    jq -r --arg s "$st" --arg t "$ten" --arg d "$day" --argjson ev $ev '
        select(.type == "log" and .stream == $s and ($t == "" or .tenant == $t) and
               ($d == "" or ((if $ev == 1 then (.event_time // .time) else .time end)[0:10]) == $d))
        | .payload | if type == "string" then . else tojson end' log.json
}

files=$(cd $M && $T find streams tenants by-event-day -name '*.jsonl' | sort)
nfiles=0
bad=""
for f in $files; do
    nfiles=$((nfiles + 1))
    want "$f" > want.tmp
    if ! $T cat "$M/$f" > got.tmp; then
        bad="$bad $f(read)"
    elif ! cmp -s got.tmp want.tmp; then
        bad="$bad $f($(wc -l < got.tmp)/$(wc -l < want.tmp) lines)"
    elif [ "$(stat -c %s "$M/$f")" != "$(wc -c < want.tmp)" ]; then
        bad="$bad $f(size)"
    fi
done
[ $nfiles -ge 20 ] && [ -z "$bad" ] && ok "all $nfiles files equal auditfs log --json's lines for them, and their sizes" ||
    not_ok "$nfiles files; differing:$bad"
grep -q 'tenants/acme/api/all.jsonl' <<<"$files" && [ "$(wc -l < $M/tenants/acme/api/all.jsonl)" -gt 512 ] &&
    ok "a tenant list of several blocks" || not_ok "tenant list: $(wc -l < $M/tenants/acme/api/all.jsonl 2>&1)"
sc=$(want by-event-day/tenants/acme/api/2026/01/02.jsonl | wc -l) # a slice, then scattered lines
[ "$sc" -gt 128 ] && ok "a tenant event-day file of $sc lines, part slice part scattered (positions over several blocks)" || not_ok "scattered: $sc lines"

# reads at offsets inside and across blocks: 1000 bytes at 40 positions of all.jsonl
F=$M/streams/api/all.jsonl
sz=$(stat -c %s $F)
cmp -s $F api.jsonl && ok "streams/api/all.jsonl is the input" || not_ok "all.jsonl differs from the input"
badoff=0
for k in $(seq 0 39); do
    off=$(( (sz / 40) * k + k * 13 ))
    $T dd if=$F bs=1 skip=$off count=1000 iflag=skip_bytes,count_bytes 2>/dev/null > part.tmp
    tail -c +$((off + 1)) api.jsonl | head -c 1000 | cmp -s - part.tmp || badoff=$((badoff + 1))
done
[ $badoff = 0 ] && ok "reads at 40 offsets across all.jsonl are exact" || not_ok "$badoff of 40 offset reads differ"

# parallel reads of the event-day files of one list on a fresh mount (shared private file)
stop_mount $M $MOUNT_PID && ok "unmounted" || not_ok "unmount"
start_mount $M mount2.log --ledger $L --key key.pub --cache 1 || { not_ok "mount again: $(cat mount2.log)"; finish; exit 1; }
evs=$(cd $M && $T find by-event-day -name '*.jsonl' | sort)
pids=()
n=0
for f in $evs; do n=$((n + 1)); $T cat "$M/$f" > par.$n & pids+=($!); done
wait "${pids[@]}" # not a bare wait: the mount daemon is a background job too
n=0
same=0
for f in $evs; do n=$((n + 1)); want "$f" | cmp -s - par.$n && same=$((same + 1)); done
[ $n -ge 8 ] && [ $same = $n ] && ok "$n event-day files read in parallel (default --cache-dir) are exact" || not_ok "parallel: $same of $n exact"
stop_mount $M $MOUNT_PID && ok "unmounted again" || not_ok "unmount 2"
finish
