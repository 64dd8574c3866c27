#!/usr/bin/env bash
# CLI integration: `auditfs incident --time event` (issue 10). The window [T1, T2) selects by
# event time (ledger time for entries without one), the report's timeline is ordered by it and
# shows both times, query.txt records `time event` (report format 4), verify-bundle and
# incident --check regenerate the same selection, and an edited or missing `time` line fails.
source "$(dirname "$0")/lib.sh"
A=$AUDITFS
FX=${SOURCE_ROOT:?SOURCE_ROOT must point at the source tree}/tests/fixtures

$A keygen ev.example -o key >/dev/null
$A init --ledger L --key key 2>/dev/null
# ledger time is today for all of them; event times out of order, two without one
cat > in.jsonl <<'EOF'
{"i":0,"ts":"2025-03-02T10:00:00Z","actor":"a"}
{"i":1,"ts":"2025-03-01T09:00:00Z","actor":"b"}
{"i":2,"actor":"c"}
{"i":3,"ts":"2025-04-01T00:00:00Z","actor":"d"}
{"i":4,"ts":"2025-03-01T08:00:00Z","actor":"e"}
{"i":5,"actor":"f"}
{"i":6,"ts":"2025-03-03T00:00:00Z","actor":"g"}
{"i":7,"ts":"2025-03-01T00:00:00Z","actor":"h"}
EOF
check "append with event times" $A append --ledger L --key key --stream api --map time=ts in.jsonl
today=$(date -u +%Y-%m-%d); tomorrow=$(date -u -d tomorrow +%Y-%m-%d)

expect_exit 2 "--time takes ledger or event" $A incident --ledger L --key key.pub --since 2025-03-01 --until 2025-03-03 --time wall -o X
expect_err "'ledger' or 'event'" "it says which values"

check "incident --time event" $A incident --ledger L --key key.pub --since 2025-03-01 --until 2025-03-03 --time event -o B
grep -qx 'time event' B/query.txt && grep -qx 'report 4' B/query.txt && ok "query.txt records time event (report 4)" || not_ok "query.txt: $(cat B/query.txt)"
hits=$(grep -o '\[ledger#[0-9]*\]([^)]*) | log (match)' B/report.md | sed -E 's/\[ledger#([0-9]+)\].*/\1/' | tr '\n' ' ')
[ "$hits" = "7 4 1 0 " ] && ok "the window [T1, T2) is by event time and the timeline is in event-time order ($hits)" || not_ok "hits: $hits"
grep -q '^## Timeline (by event time; ledger time for entries without one)' B/report.md && ok "the timeline says which time orders it" || not_ok "timeline heading"
row=$(grep '\[ledger#4\]' B/report.md | grep 'log (match)')
echo "$row" | grep -q "| $today" && echo "$row" | grep -q '2025-03-01T08:00:00.000000Z' && ok "a timeline row shows both times" || not_ok "row: $row"
check "the event-time bundle verifies" $A verify-bundle B --key key.pub
expect_out "report format 4" "it is regenerated in format 4"
check "incident --check finds the same selection in the full ledger" $A incident --check B --ledger L

# entries without an event time fall under their ledger time
check "a window over today by event time" $A incident --ledger L --key key.pub --since $today --until $tomorrow --time event -o C
hits=$(grep -o '\[ledger#[0-9]*\]([^)]*) | log (match)' C/report.md | sed -E 's/\[ledger#([0-9]+)\].*/\1/' | tr '\n' ' ')
[ "$hits" = "2 5 " ] && ok "entries without an event time are selected by their ledger time ($hits)" || not_ok "fallback hits: $hits"
check "it verifies" $A verify-bundle C --key key.pub

# the default stays ledger time, recorded as such
check "incident (default --time ledger)" $A incident --ledger L --key key.pub --since 2025-03-01 --until 2025-03-03 -o D
grep -qx 'time ledger' D/query.txt && ok "query.txt records time ledger" || not_ok "D query.txt: $(cat D/query.txt)"
grep -q 'FINDING: no entry matches' D/report.md && ok "by ledger time the 2025 window is empty" || not_ok "D report"
check "the ledger-time bundle verifies" $A verify-bundle D --key key.pub

# an edited or removed time line fails, even with a recomputed manifest
relist() { (cd "$1" && find . -type f ! -name MANIFEST.sha256 | sed 's|^\./||' | LC_ALL=C sort | xargs sha256sum > MANIFEST.sha256); }
rm -rf T && cp -r B T && sed -i 's/^time event$/time ledger/' T/query.txt && relist T
expect_exit 1 "a bundle whose time line was edited fails verify-bundle" $A verify-bundle T --key key.pub
rm -rf T && cp -r B T && sed -i '/^time /d' T/query.txt && relist T
expect_exit 1 "a report-4 bundle without a time line fails" $A verify-bundle T --key key.pub
expect_out "needs a time line" "it says why"
rm -rf T && cp -r B T && printf 'time event\n' >> T/query.txt && relist T
expect_exit 1 "two time lines fail" $A verify-bundle T --key key.pub
rm -rf T && cp -r "$FX/bundle-v1" T && printf 'time event\n' >> T/query.txt && relist T
expect_exit 1 "a time line in a report-1 bundle fails" $A verify-bundle T --key "$FX/bundle-v1.key.pub"

# bundles of formats 1 and 3 keep verifying byte for byte
cp -r "$FX/bundle-v1" v1 && cp -r "$FX/bundle-v3" v3
check "the report-1 fixture still verifies" $A verify-bundle v1 --key "$FX/bundle-v1.key.pub"
check "the report-3 fixture still verifies" $A verify-bundle v3 --key provider="$FX/bundle-v3.provider.pub" \
    --witness "$FX/bundle-v3.customer-a.pub" --witness "$FX/bundle-v3.assessor.pub" \
    --witness "$FX/bundle-v3.customer-b.pub"
finish
