#!/usr/bin/env bash
# tests/cli/cli_status.sh - auditfs status: size, last commit, last entry, index freshness.
source "$(dirname "$0")/lib.sh"
export AUDITFS_STATE=$WORK/state
A=$AUDITFS
"$A" keygen example.com/status -o k >/dev/null 2>&1
"$A" init --ledger L --key k >/dev/null 2>&1
check "status of an empty ledger" "$A" status --ledger L
expect_out '^size: +0 entries' "  size 0"
expect_out '^last entry: +\(none' "  no last entry"
records 30 | "$A" append --ledger L --key k --stream api >/dev/null 2>&1
check "status after an append" "$A" status --ledger L
expect_out '^origin: +example.com/status$' "  origin"
expect_out '^size: +30 entries' "  size 30"
head=$(git --git-dir=L rev-parse HEAD)
expect_out "^last commit: +$head at 20[0-9-]{8}T" "  the head commit id and time"
expect_out '^index: +fresh \(covers all 30 entries\)' "  the index is fresh"
records 12 7 | "$A" append --ledger L --key k --stream api --no-index >/dev/null 2>&1
check "status after an append without indexing" "$A" status --ledger L
expect_out '^index: +12 entries behind' "  the index is 12 entries behind"
"$A" status --ledger L --json >"$WORK/s.json"
if jq -e --arg h "$head" '.tree_size == 42 and .origin == "example.com/status" and
        (.last_commit.id | length) == 40 and .last_commit.id != $h and .commits >= 3 and
        (.last_entry_time | test("^20..-..-..T..:..:..\\.[0-9]{6}Z$")) and
        .index.present == true and .index.entries == 30 and .index.behind == 12 and
        .index.fresh == false' "$WORK/s.json" >/dev/null; then
    ok "status --json: every field"
else
    not_ok "status --json: $(cat "$WORK/s.json")"
fi
"$A" index --ledger L >/dev/null
"$A" status --ledger L --json >"$WORK/s.json"
jq -e '.index.fresh == true and .index.behind == 0' "$WORK/s.json" >/dev/null && ok "fresh again after auditfs index" || not_ok "after index: $(cat "$WORK/s.json")"
rm -rf L/auditfs-index
check "status without an index" "$A" status --ledger L
expect_out '^index: +none' "  says there is none"
AUDITFS_LEDGER=L check "status takes \$AUDITFS_LEDGER" "$A" status
expect_exit 7 "status of a missing ledger" "$A" status --ledger nope
expect_exit 2 "status with an argument" "$A" status --ledger L extra
# this party's memory: init pinned the key, the writer remembered what it signed, a verify
# remembers what it verified and binds the directory
"$A" verify --ledger L >/dev/null 2>&1
"$A" status --ledger L --json >"$WORK/t.json"
kid=$("$A" trust list 2>/dev/null | grep -o 'example.com/status+[0-9a-f]\{8\}' | head -1)
if [ -n "$kid" ] && jq -e --arg s "$AUDITFS_STATE" --arg k "$kid" '.trust.state == $s and
        .trust.bound_origin == "example.com/status" and .trust.pinned_keys == [$k] and
        .trust.seen.tree_size == 42 and .trust.signed.tree_size == 42 and
        .trust.seen.root == .root' "$WORK/t.json" >/dev/null; then
    ok "status --json: the pinned key and remembered checkpoints"
else
    not_ok "status --json trust ($kid): $(jq -c .trust "$WORK/t.json")"
fi
check "status shows the pinned key" "$A" status --ledger L
expect_out "^pinned keys: +${kid/+/\\+}\$" "  the pinned key"
expect_out '^verified: +size 42 root ' "  the remembered verified checkpoint"
AUDITFS_STATE=$WORK/state-other check "status for a party with no memory" "$A" status --ledger L
expect_out '^pinned keys: +none' "  no pinned key"
expect_out '^bound to: +\(not bound yet\)' "  not bound"

# the last sync: recorded in the state directory by clone and sync, shown by status
check "status of a ledger never synced" "$A" status --ledger L
expect_out '^last sync: +never' "  says it was never synced"
"$A" status --ledger L --json >"$WORK/n.json"
jq -e '.last_sync == null and .cosignatures == []' "$WORK/n.json" >/dev/null && ok "  --json: last_sync null, cosignatures []" || not_ok "  --json: $(cat "$WORK/n.json")"
export AUDITFS_STATE=$WORK/customer
before=$(date -u +%s)
"$A" clone "$WORK/L" R --key k.pub >/dev/null 2>&1 || not_ok "clone failed"
"$A" status --ledger R --json >"$WORK/c.json"
if jq -e --arg l "$WORK/L" --argjson t "$before" '.last_sync.remote == "origin" and
        .last_sync.url == $l and .last_sync.tree_size == 42 and (.last_sync.commit | length) == 40 and
        (.last_sync.time | sub("\\.[0-9]+Z$"; "Z") | fromdateiso8601) >= $t' "$WORK/c.json" >/dev/null; then
    ok "status --json after clone: the time, remote, URL and size of the clone"
else
    not_ok "status after clone: $(jq -c .last_sync "$WORK/c.json")"
fi
ls "$AUDITFS_STATE"/syncs/* >/dev/null 2>&1 && ok "  recorded in the state directory (syncs/)" || not_ok "  no syncs/ record"
records 8 | AUDITFS_STATE=$WORK/state "$A" append --ledger L --key k --stream api >/dev/null 2>&1
"$A" sync --ledger R >/dev/null 2>&1 || not_ok "sync failed"
check "status after a sync" "$A" status --ledger R
expect_out "^last sync: +20[0-9-]{8}T[0-9:.]+Z \([0-9a-z]+ ago\) from origin \($WORK/L\), size 50, commit [0-9a-f]{12}\$" "  the sync's time, remote and new size"
AUDITFS_STATE=$WORK/other check "status with another state directory" "$A" status --ledger R
expect_out '^last sync: +never' "  knows of no sync (the record is per state directory)"
export AUDITFS_STATE=$WORK/state
# cosignatures: per witness key, the newest size cosigned and when
"$A" keygen w1.example -o w1 >/dev/null 2>&1
"$A" keygen w2.example -o w2 >/dev/null 2>&1
AUDITFS_STATE=$WORK/w1st "$A" cosign --ledger L --key w1 --log-key k.pub --time 1700000000 >/dev/null 2>&1 || not_ok "cosign w1"
records 3 | "$A" append --ledger L --key k --stream api >/dev/null 2>&1
AUDITFS_STATE=$WORK/w1st "$A" cosign --ledger L --key w1 --log-key k.pub --time 1800000000 >/dev/null 2>&1 || not_ok "cosign w1 again"
AUDITFS_STATE=$WORK/w2st "$A" cosign --ledger L --key w2 --log-key k.pub --time 1750000000 >/dev/null 2>&1 || not_ok "cosign w2"
"$A" status --ledger L --json >"$WORK/w.json"
if jq -e '.cosignatures | map(select(.witness | startswith("w1.example+")))[0] |
        .tree_size == 53 and .time == "2027-01-15T08:00:00.000000Z"' "$WORK/w.json" >/dev/null &&
   jq -e '.cosignatures | length == 2 and (map(select(.witness | startswith("w2.example+")))[0] |
        .tree_size == 53 and .time == "2025-06-15T15:06:40.000000Z")' "$WORK/w.json" >/dev/null; then
    ok "status --json: each witness's newest cosigned size and its time"
else
    not_ok "status --json cosignatures: $(jq -c .cosignatures "$WORK/w.json")"
fi
check "status shows the cosignatures" "$A" status --ledger L
expect_out '^cosigned: +w1\.example\+[0-9a-f]{8}: size 53 at 2027-01-15T08:00:00\.000000Z$' "  the first witness"
expect_out '^ +w2\.example\+[0-9a-f]{8}: size 53 at 2025-06-15T15:06:40\.000000Z$' "  the second witness on its own line"
finish
