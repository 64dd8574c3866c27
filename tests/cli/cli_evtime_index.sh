#!/usr/bin/env bash
# CLI integration: the query index narrows event-time windows (index format 3, `_event_day`;
# docs/QUERY.md). `query --time event --since --until` and `incident --time event` read only
# candidates from the window's days, and their results equal those of a full scan: with
# --no-index, with `incident --check` (which never uses the index), and with a damaged index.
source "$(dirname "$0")/lib.sh"
A=$AUDITFS

$A keygen evix.example -o key >/dev/null
$A init --ledger L --key key 2>/dev/null
# 3000 lines whose event days are scattered over 30 days of 2026-03; every 10th has no time
awk 'BEGIN { srand(11); for (i = 0; i < 3000; i++) {
    d = int(rand() * 30)
    if (i % 10 == 3) printf "{\"i\":%d,\"actor\":\"u%d\"}\n", i, i % 17
    else printf "{\"i\":%d,\"ts\":\"2026-03-%02dT%02d:%02d:00Z\",\"actor\":\"u%d\"}\n", i, d + 1, int(rand() * 24), int(rand() * 60), i % 17 } }' > in.jsonl
check "append 3000 lines with scattered event times" $A append --ledger L --key key --stream api --map time=ts in.jsonl
check "index the ledger" $A index --ledger L
grep -q '^auditfs-index/3$' "$(git -C L rev-parse --absolute-git-dir)/auditfs-index/meta" && ok "the index is format 3" || not_ok "index meta format"

# query --time event: identical with and without the index, and fewer entries read with it
q() { $A query --ledger L --key key.pub --time event --since 2026-03-05 --until 2026-03-07 "$@"; }
q --no-index > want 2>/dev/null
q --stats > got 2>stats
n=$(wc -l < want)
[ "$n" -gt 100 ] && cmp -s got want && ok "query --time event with the index equals --no-index ($n hits)" || not_ok "query differs: $(wc -l < got) vs $n"
read_n=$(sed -nE 's/.* ([0-9]+) entries read of ([0-9]+).*/\1/p' stats)
grep -q "index used" stats && [ -n "$read_n" ] && [ "$read_n" -lt 1000 ] && ok "the index narrows the event-time window ($read_n entries read of 3000)" || not_ok "stats: $(cat stats)"
# with other terms, and a one-day window given as _event_time=DAY
$A query --ledger L --key key.pub --no-index _event_time=2026-03-20 actor=u3 > want2
$A query --ledger L --key key.pub _event_time=2026-03-20 actor=u3 > got2
[ -s want2 ] && cmp -s got2 want2 && ok "_event_time=DAY with another term: same hits with the index" || not_ok "event day term: $(wc -l < got2) vs $(wc -l < want2)"

# incident --time event: its selection (made with the index) equals the full scan of --check
check "incident --time event" $A incident --ledger L --key key.pub --since 2026-03-10 --until 2026-03-12T12:00:00Z --time event -o B
check "incident --check (a full scan, no index) finds the same selection" $A incident --check B --ledger L
hits=$(grep -c 'log (match)' B/report.md)
want_hits=$(jq -c --arg a "2026-03-10" --arg b "2026-03-12T12:00:00Z" 'select(.ts != null and .ts >= $a and .ts < $b)' in.jsonl | wc -l)
[ "$hits" = "$want_hits" ] && ok "the bundle has every line of the event-time window ($hits)" || not_ok "bundle hits $hits, wanted $want_hits"

# entries without an event time fall under their ledger day: today's window holds all of them
today=$(date -u +%Y-%m-%d); tomorrow=$(date -u -d tomorrow +%Y-%m-%d)
check "incident --time event over today" $A incident --ledger L --key key.pub --since $today --until $tomorrow --time event -o C
[ "$(grep -c 'log (match)' C/report.md)" = 300 ] && ok "the 300 lines without an event time are found through the index by ledger day" || not_ok "today: $(grep -c 'log (match)' C/report.md)"
check "and --check agrees" $A incident --check C --ledger L

# a damaged run file: the answer is unchanged (the index only ever narrows)
IX=$(git -C L rev-parse --absolute-git-dir)/auditfs-index
for f in "$IX"/r*.ix; do
    chmod u+w "$f"
    printf 'garbage-garbage-garbage-garbage' | dd of="$f" bs=1 seek=200 conv=notrunc 2>/dev/null
done
q --no-update > got3 2>/dev/null
cmp -s got3 want && ok "a damaged index gives the same event-time answer" || not_ok "damaged index: $(wc -l < got3) vs $n"
finish
