#!/usr/bin/env bash
# rsyslog -> auditfs with a real rsyslogd (its own config, pid file, work directory, and an
# imuxsock socket of its own): contrib/rsyslog/auditfs.conf as shipped, with paths replaced.
# `logger` lines in, ledger entries out; auditfs is killed -9 mid-stream, rsyslog restarts it,
# nothing is lost, and duplicates (a batch committed but killed before its OK) are counted.
# Without auditfs's spool this test lost the deferred messages of a transaction cut by the kill
# (rsyslog 8.2302 resends only the message in flight: rsyslog issue #2420).
# Skips (77) without rsyslogd or logger.
source "$(dirname "$0")/lib.sh"
A=$AUDITFS
export AUDITFS_STATE=$WORK/state
command -v rsyslogd >/dev/null && command -v logger >/dev/null || { echo "# SKIP: no rsyslogd/logger"; exit 77; }
ROOT=${SOURCE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
M=${RSYSLOG_MESSAGES:-3000}
L=$WORK/ledger
$A keygen syslog.example -o key >/dev/null
$A init --ledger $L --key key 2>/dev/null
mkdir -p rs-work
# the shipped configuration, with this test's paths
sed -e "s|/usr/local/bin/auditfs|$A|" -e "s|/srv/ledgers/syslog|$L|" -e "s|/etc/auditfs/provider.key|$WORK/key|" \
    -e "s|^\( *\)name=\"auditfs\"\$|\1name=\"auditfs\" output=\"$WORK/auditfs.stderr\"|" \
    "$ROOT/contrib/rsyslog/auditfs.conf" > auditfs.conf
grep -q "$WORK/key" auditfs.conf && ok "the contrib configuration has the paths to edit" || not_ok "sed did not apply"
cat > rsyslog.conf <<EOF
global(workDirectory="$WORK/rs-work" processInternalMessages="off")
module(load="imuxsock" SysSock.Use="off")
input(type="imuxsock" Socket="$WORK/log.sock" CreatePath="on" RateLimit.Interval="0")
\$IncludeConfig $WORK/auditfs.conf
EOF
rsyslogd -N1 -f rsyslog.conf > rs-check.txt 2>&1 && ok "rsyslogd accepts the configuration" || { not_ok "rsyslogd -N1: $(head -5 rs-check.txt)"; finish; exit 1; }
rsyslogd -n -f rsyslog.conf -i $WORK/rsyslogd.pid > rsyslogd.log 2>&1 & rspid=$!
trap 'kill $rspid 2>/dev/null; wait $rspid 2>/dev/null; [ -n "${KEEP:-}" ] || rm -rf "$WORK"' EXIT
for _ in $(seq 1 100); do [ -S log.sock ] && break; sleep 0.1; done
[ -S log.sock ] && ok "rsyslogd listens on its private socket" || not_ok "no socket"
size() { $A checkpoint --ledger $L | sed -n 2p; }
msgs() { $A log --ledger $L --json | jq -r '.payload.msg | ltrimstr(" ")'; }
auditfs_pid() { pgrep -P $rspid -f "append --rsyslog" | head -1; }
# send M messages; kill auditfs -9 a few times while they flow
kills=0
( for c in $(seq 0 100 $((M - 1))); do
      seq $((c + 1)) $((c + 100 < M ? c + 100 : M)) | sed 's/^/msg-/' | logger -u $WORK/log.sock -p local0.info -t audit
      sleep 0.05
  done ) & lpid=$!
for k in 1 2 3 4; do
    sleep 0.7
    p=$(auditfs_pid)
    [ -n "$p" ] && kill -9 $p && kills=$((kills + 1))
done
wait $lpid
# rsyslog restarts a killed auditfs only when it has a message for it: one more message makes
# sure the last killed instance's spool (a transaction cut by the kill) is picked up
sleep 1
logger -u $WORK/log.sock -p local0.info -t audit "final"
# every message must arrive: wait (bounded) until the ledger has them all
for _ in $(seq 1 300); do
    n=$(msgs | sort -u | grep -c '^msg-')
    [ "$n" -ge $M ] && break
    sleep 0.2
done
msgs | grep '^msg-' | sort | uniq -c > counts
distinct=$(wc -l < counts)
dups=$(awk '$1 > 1 { d += $1 - 1 } END { print d + 0 }' counts)
[ $kills -ge 2 ] && ok "auditfs was killed -9 $kills times mid-stream (rsyslog restarted it)" || not_ok "only $kills kills"
[ "$distinct" = $M ] && ok "every one of the $M logger lines is in the ledger" || not_ok "$distinct of $M distinct messages: $(tail -3 rsyslogd.log) $(tail -3 auditfs.stderr 2>/dev/null)"
rec=$(grep -o 'committed [0-9]* message(s) of a transaction interrupted' auditfs.stderr 2>/dev/null | awk '{ s += $2 } END { print s + 0 }')
echo "# messages of interrupted transactions committed from the spool at restart: $rec"
grep '^auditfs:' auditfs.stderr 2>/dev/null | grep -v 'committed [0-9]* message' | sort | uniq -c | head -5 | sed 's/^/# /'
echo "# duplicates (batches committed but not confirmed before a kill): $dups entries"
[ "$dups" -le $((kills * 1024)) ] && ok "duplicates only from unconfirmed batches: $dups (at most one batch per kill)" || not_ok "$dups duplicates for $kills kills"
$A log --ledger $L --json | jq -c 'select(.payload.msg==" msg-1") | [(.event_time|type), .party, .stream]' | grep -q '^\["string","provider","syslog"\]$' \
    && ok "entries carry the sender's time as event-time and the configured headers" || not_ok "headers: $($A log --ledger $L --json | head -1)"
order_ok=$(msgs | sed 's/msg-//' | awk 'BEGIN { m = 0; ok = 1 } { if ($1 > m) m = $1; else if ($1 < m - 2048) ok = 0 } END { print ok }')
[ "$order_ok" = 1 ] && ok "messages stay in order (up to a resent batch)" || not_ok "order"
check "the ledger verifies" $A verify --ledger $L --key key.pub
commits=$(git -C $L rev-list --count main)
[ $commits -lt $((M / 2)) ] && ok "transactions batch the commits ($commits commits for $M messages)" || not_ok "$commits commits: one per message?"
kill $rspid; wait $rspid 2>/dev/null
finish
