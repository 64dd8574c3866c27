#!/usr/bin/env bash
# tests/interop/tlog_tiles.sh AUDITFS - `auditfs export --tlog-tiles` served by a real HTTP
# server (python3 -m http.server on 127.0.0.1) and read by a client built only on Go's
# golang.org/x/mod/sumdb/note and tlog (tlogclient/main.go): signature, tiles against the signed
# root, every entry of every bundle proved into the tree; after more appends and an
# incremental export, consistency with the old checkpoint; tampering is caught; an entry too
# long for a bundle stops the export with the previous one intact.
# Exit 0 pass, 1 fail, 77 skip (no Go toolchain/sources or no python3).
set -u
A=$(realpath "${1:?usage: $0 AUDITFS}")
here=$(cd "$(dirname "$0")" && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/auditfs-tlog.XXXXXX") || exit 1
HTTP_PID=
cleanup() {
    [ -n "$HTTP_PID" ] && kill "$HTTP_PID" 2>/dev/null && wait "$HTTP_PID" 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT
export AUDITFS_STATE=$WORK/state
cd "$WORK" || exit 1
PASS=0
FAIL=0
ok() { PASS=$((PASS + 1)); echo "ok - $*"; }
not_ok() { FAIL=$((FAIL + 1)); echo "not ok - $*"; }
command -v python3 >/dev/null || { echo "# SKIP: no python3"; exit 77; }
bash "$here/build.sh" "$WORK/tlogclient" "$here/tlogclient/main.go"
rc=$?
[ $rc -eq 77 ] && exit 77
[ $rc -ne 0 ] && { echo "tlogclient failed to build"; exit 1; }

"$A" keygen tlog.example/acme -o k >/dev/null 2>&1
"$A" init --ledger L --key k >/dev/null 2>&1
seq 1 1000 | awk '{printf "{\"actor\":\"ops-%d\",\"n\":%d}\n", $1 % 7, $1}' |
    "$A" append --ledger L --key k --stream api >/dev/null 2>&1
echo "# SLA v1" >sla.md
"$A" publish --ledger L --key k --name sla/acme sla.md >/dev/null 2>&1
mkdir www

# serve www on an ephemeral loopback port; the server prints the port it got
python3 -u -m http.server 0 --bind 127.0.0.1 --directory www >http.log 2>&1 &
HTTP_PID=$!
port=
for _ in $(seq 1 100); do
    port=$(sed -n 's/.*port \([0-9][0-9]*\).*/\1/p' http.log | head -1)
    [ -n "$port" ] && break
    sleep 0.1
done
[ -n "$port" ] || { echo "http server did not start: $(cat http.log)"; exit 1; }
URL=http://127.0.0.1:$port/acme
client() { timeout 60 "$WORK/tlogclient" "$@" >client.out 2>client.err; }

"$A" export --ledger L --key k.pub --tlog-tiles www/acme --json >e1.json 2>e1.err
if jq -e '.checkpoint.tree_size == 1001 and .bundles_written == 4 and .entries_written == 1001 and .tiles_written >= 4' e1.json >/dev/null; then
    ok "export writes the tree ($(jq -c . e1.json))"
else
    not_ok "export: $(cat e1.json e1.err)"
fi
for f in checkpoint tile/0/000 tile/0/003.p/233 tile/1/000.p/3 tile/entries/000 tile/entries/003.p/233; do
    [ -f "www/acme/$f" ] && ok "C2SP path $f" || not_ok "missing $f"
done
cmp -s www/acme/checkpoint <("$A" checkpoint --ledger L) && ok "checkpoint is the ledger's, verbatim" || not_ok "checkpoint differs"
curl -sf "$URL/checkpoint" >cp.http 2>/dev/null && cmp -s cp.http www/acme/checkpoint &&
    ok "served over HTTP (curl)" || echo "# curl not available or failed"
if client "$URL" k.pub; then ok "Go tlog client: $(cat client.out)"; else not_ok "Go client: $(cat client.err)"; fi
cp www/acme/checkpoint old.cp

# incremental: append, export again, only the new files are written
seq 1001 1700 | awk '{printf "{\"actor\":\"ops-%d\",\"n\":%d}\n", $1 % 7, $1}' |
    "$A" append --ledger L --key k --stream api >/dev/null 2>&1
touch -d '2000-01-01' www/acme/tile/entries/000 www/acme/tile/0/000
"$A" export --ledger L --key k.pub --tlog-tiles www/acme --json >e2.json 2>e2.err
if jq -e '.checkpoint.tree_size == 1701 and .bundles_written == 4 and .entries_written == 933' e2.json >/dev/null; then
    ok "incremental export writes only bundles 3..6 ($(jq -c . e2.json))"
else
    not_ok "incremental export: $(cat e2.json e2.err)"
fi
[ "$(stat -c %Y www/acme/tile/entries/000)" = "$(date -d 2000-01-01 +%s)" ] &&
    [ "$(stat -c %Y www/acme/tile/0/000)" = "$(date -d 2000-01-01 +%s)" ] &&
    ok "full tiles and bundles already exported are not rewritten" || not_ok "old files rewritten"
if client "$URL" k.pub old.cp; then ok "Go: the new tree, and it extends the old checkpoint: $(cat client.out)"; else not_ok "Go after append: $(cat client.err)"; fi
"$A" export --ledger L --key k.pub --tlog-tiles www/acme --json >e3.json 2>/dev/null
jq -e '.tiles_written == 0 and .bundles_written == 0' e3.json >/dev/null && ok "nothing new: nothing written" || not_ok "re-export: $(cat e3.json)"

# --full re-creates a file deleted from before the last checkpoint; a plain export does not look
rm www/acme/tile/entries/001
"$A" export --ledger L --key k.pub --tlog-tiles www/acme --json >e6.json 2>/dev/null
[ ! -f www/acme/tile/entries/001 ] && ok "a plain export starts after the exported checkpoint" || not_ok "plain export rewrote 001"
"$A" export --ledger L --key k.pub --tlog-tiles www/acme --full --json >e6.json 2>/dev/null
[ -f www/acme/tile/entries/001 ] && jq -e '.bundles_written == 1' e6.json >/dev/null &&
    ok "--full re-creates the missing bundle" || not_ok "--full: $(cat e6.json)"

# a directory holding another ledger's log (or a fork) is refused, never overwritten
# (the fork is signed with a state of its own: the provider's writer memory refuses to sign a
# second history of an origin)
AUDITFS_STATE=$WORK/state-L2 "$A" init --ledger L2 --key k --origin tlog.example/acme >/dev/null 2>&1
seq 1 1800 | awk '{printf "{\"fork\":%d}\n", $1}' | AUDITFS_STATE=$WORK/state-L2 "$A" append --ledger L2 --key k --stream api >/dev/null 2>&1
AUDITFS_STATE=$WORK/state-L2 "$A" export --ledger L2 --key k.pub --tlog-tiles www/acme >/dev/null 2>e7.err
rc=$?
[ $rc -eq 1 ] && grep -q "not a prefix of this ledger" e7.err && cmp -s www/acme/checkpoint <("$A" checkpoint --ledger L) &&
    ok "exporting a fork over an export is refused (exit 1), the export untouched" || not_ok "fork export (exit $rc): $(cat e7.err)"

# append --tlog-tiles: the tree follows every commit
"$A" init --ledger L3 --key k --origin tlog.example/live >/dev/null 2>&1
seq 1 600 | awk '{printf "{\"n\":%d}\n", $1}' |
    "$A" append --ledger L3 --key k --stream api --batch-bytes 20000 --tlog-tiles www/live >acks 2>app.err
commits=$(wc -l <acks)
[ "$(sed -n 2p www/live/checkpoint)" = 600 ] && [ "$commits" -ge 3 ] &&
    ok "append --tlog-tiles exported after each of $commits commits" || not_ok "append --tlog-tiles: $(cat app.err)"
if client "http://127.0.0.1:$port/live" k.pub; then ok "Go reads the tree append kept up to date: $(cat client.out)"; else not_ok "Go live: $(cat client.err)"; fi

# tampering on the server side is caught by the standard client
"$A" keygen tlog.example/other -o o >/dev/null 2>&1
if client "$URL" o.pub; then not_ok "Go accepted another key"; else ok "Go refuses the log under another key"; fi
cp -a www/acme www/bad
printf 'X' | dd of=www/bad/tile/entries/001 bs=1 seek=500 conv=notrunc 2>/dev/null
if client "http://127.0.0.1:$port/bad" k.pub; then not_ok "Go accepted a tampered bundle"; else ok "Go catches a tampered entry bundle: $(head -c 150 client.err)"; fi
rm -rf www/bad; cp -a www/acme www/bad
printf 'X' | dd of=www/bad/tile/0/002 bs=1 seek=100 conv=notrunc 2>/dev/null
if client "http://127.0.0.1:$port/bad" k.pub; then not_ok "Go accepted a tampered tile"; else ok "Go catches a tampered hash tile: $(head -c 150 client.err)"; fi

# a leaf longer than 65535 bytes cannot go into a bundle: export stops, nothing replaced
python3 -c 'print("{\"big\":\"" + "x" * 66000 + "\"}")' |
    "$A" append --ledger L --key k --stream big --max-record 70000 >/dev/null 2>&1
"$A" export --ledger L --key k.pub --tlog-tiles www/acme >e4.out 2>e4.err
rc=$?
[ $rc -eq 3 ] && grep -q "entry 1701 is .* bytes; C2SP tlog-tiles entry bundles hold entries of at most 65535 bytes" e4.err &&
    ok "a 66 KB entry: exit 3 naming it and the limit" || not_ok "big entry (exit $rc): $(cat e4.err)"
[ "$(sed -n 2p www/acme/checkpoint)" = 1701 ] && ok "the previous export is left intact" || not_ok "checkpoint replaced"
if client "$URL" k.pub; then ok "Go still reads the previous export"; else not_ok "previous export broken: $(cat client.err)"; fi
"$A" export --ledger L --key k --tlog-tiles www/x >/dev/null 2>e5.err
[ $? -eq 5 ] && ok "export with the signer key: exit 5" || not_ok "export --key signer: $(cat e5.err)"

echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
