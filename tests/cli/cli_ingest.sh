#!/usr/bin/env bash
# Ingestion that loses nothing (issue 10): refusals, signals, git maintenance on the same
# repository, several producers at once, field mapping with event time, routing per tenant.
source "$(dirname "$0")/lib.sh"
A=$AUDITFS
export AUDITFS_STATE=$WORK/state
L=$WORK/ledger
$A keygen ingest.example -o key >/dev/null
$A init --ledger $L --key key 2>/dev/null
payloads() { $A log --ledger "$1" --json | jq -c 'select(.type=="log") | .payload'; }
size() { $A checkpoint --ledger "$1" | sed -n 2p; }
# Every ledger below is independent but has the same origin, so each gets its own verifier's
# memory (issue 8): one shared memory would see another ledger's head as a rollback or fork.
own_state() { export AUDITFS_STATE=$WORK/state-$1; }

# ---- refused, never truncated ----
records 3 > r3
long67=$(printf 'a%.0s' $(seq 67))
expect_exit 2 "a 67-character --tenant is refused" $A append --ledger $L --key key --stream api --tenant "$long67" r3
expect_err "over the limit of 64" "the message says why"
expect_exit 2 "a 65-character --stream is refused" $A append --ledger $L --key key --stream "${long67:0:65}" r3
expect_exit 2 "an over-long --title is refused" $A notice --ledger $L --key key --title "$(printf 't%.0s' $(seq 300))" r3
expect_exit 2 "an over-long --name is refused" $A publish --ledger $L --key key --name "$(printf 'n%.0s' $(seq 250))" r3
[ "$(size $L)" = 0 ] && ok "nothing was stored by refused commands" || not_ok "size $(size $L)"
printf '{"a":1}\n{"a":"\xc2\x85"}\n{"a":3}\n' > c1.jsonl
expect_exit 3 "a C1 control character is refused" $A append --ledger $L --key key --stream api c1.jsonl
expect_err "^c1.jsonl:2: C1 control character U\+0085" "FILE:LINE: reason names the C1 character"
[ "$(size $L)" = 1 ] && ok "the line before it was committed" || not_ok "size $(size $L)"
printf '{"a":"\x1b[31m"}\n' > esc.jsonl
expect_exit 3 "an ESC control character is refused" $A append --ledger $L --key key --stream api esc.jsonl
expect_err "^esc.jsonl:1: control character 0x1B" "FILE:LINE names it"
check "--quarantine keeps the C1 line byte for byte" $A append --ledger $L --key key --stream api --quarantine c1.jsonl
n=$($A log --ledger $L --json | jq -r 'select(.type=="quarantine") | .payload_base64' | base64 -d | od -An -tx1 | tr -d ' \n')
[ "$n" = "7b2261223a22c285227d" ] && ok "the quarantined bytes are exact" || not_ok "quarantine holds $n"
check "the ledger verifies" $A verify --ledger $L --key key.pub

# ---- SIGTERM: commit what was read, acknowledge, exit 0 ----
L2=$WORK/sig
own_state sig
$A init --ledger $L2 --key key 2>/dev/null
mkfifo fifo
$A append --ledger $L2 --key key --stream api --flush-ms 600000 < fifo > sig.acks 2> sig.err & pid=$!
exec 7> fifo
records 500 >&7
sleep 1
kill -TERM $pid
wait $pid; rc=$?
exec 7>&-
[ $rc -eq 0 ] && ok "SIGTERM: exit 0" || not_ok "SIGTERM: exit $rc ($(cat sig.err))"
[ "$(tail -1 sig.acks)" = 500 ] && ok "SIGTERM: the 500 lines read were committed and acknowledged" || not_ok "acks: $(cat sig.acks)"
[ "$(size $L2)" = 500 ] && ok "SIGTERM: the ledger holds them" || not_ok "size $(size $L2)"

# ---- git maintenance on the same repository ----
L3=$WORK/gc
own_state gc
$A init --ledger $L3 --key key 2>/dev/null
records 20000 7 > big
( for i in $(seq 1 400); do
      git -C $L3 gc --quiet 2>/dev/null; git -C $L3 repack -adq 2>/dev/null
      git -C $L3 pack-refs --all 2>/dev/null; git -C $L3 prune-packed 2>/dev/null
  done ) & gcpid=$!
$A append --ledger $L3 --key key --stream api --batch-bytes 30000 --no-index big > gc.acks 2> gc.err; rc=$?
kill $gcpid 2>/dev/null; wait $gcpid 2>/dev/null
[ $rc -eq 0 ] && ok "append succeeds while git gc / repack -ad / pack-refs run in a loop" || not_ok "append under gc: exit $rc: $(head -3 gc.err)"
[ "$(size $L3)" = 20000 ] && ok "every line is there after gc" || not_ok "size $(size $L3)"
payloads $L3 > gc.out
cmp -s gc.out big && ok "in order, exactly once" || not_ok "ledger differs from input"
check "the ledger verifies after gc" $A verify --ledger $L3 --key key.pub
# a ref lock held by git for a moment: waited for, never removed
echo "$(git -C $L3 rev-parse main)" > $L3/refs/heads/main.lock
records 10 > ten
( sleep 2; rm -f $L3/refs/heads/main.lock ) & holder=$!
t0=$(date +%s)
$A append --ledger $L3 --key key --stream api ten > lk.out 2> lk.err; rc=$?
t1=$(date +%s)
wait $holder
[ $rc -eq 0 ] && ok "append waits for git's ref lock and then commits" || not_ok "exit $rc: $(cat lk.err)"
[ $((t1 - t0)) -ge 1 ] && ok "the lock git held was not removed (append waited $((t1 - t0)) s)" || not_ok "append did not wait for git's lock"
[ "$(size $L3)" = 20010 ] && ok "the batch read during the wait was committed" || not_ok "size $(size $L3)"

# ---- several producers at once ----
L4=$WORK/multi
own_state multi
$A init --ledger $L4 --key key 2>/dev/null
for p in 1 2 3 4 5; do
    awk -v p=$p 'BEGIN { for (i = 0; i < 3000; i++) printf "{\"p\":%d,\"i\":%d}\n", p, i }' > prod.$p
done
t0=$(date +%s%N)
pids=""
for p in 1 2 3 4 5; do
    # each producer trickles its lines, so all five are running at once for the whole test
    ( i=0; while read -r line; do echo "$line"; i=$((i + 1)); [ $((i % 200)) = 0 ] && sleep 0.05; done < prod.$p ) | \
        $A append --ledger $L4 --key key --stream p$p --flush-ms 50 --no-index > prod.$p.acks 2> prod.$p.err &
    pids="$pids $!"
done
rcs=0; for pid in $pids; do wait $pid || rcs=$((rcs + 1)); done
[ $rcs -eq 0 ] && ok "5 concurrent appenders all succeed" || not_ok "$rcs appenders failed: $(cat prod.*.err | head -3)"
$A log --ledger $L4 --json > multi.json
for p in 1 2 3 4 5; do
    jq -c "select(.stream==\"p$p\") | .payload" multi.json > got.$p
    cmp -s got.$p prod.$p || break
done
cmp -s got.$p prod.$p && ok "every producer's lines exactly once, in its order" || not_ok "producer $p differs"
commits=$(git -C $L4 rev-list --count main)
interleaved=$(jq -r .stream multi.json | uniq | wc -l)
[ "$interleaved" -gt 5 ] && ok "producers took turns ($interleaved runs over $commits commits): none waited for another to exit" || not_ok "no interleaving: $interleaved runs"
check "the ledger verifies" $A verify --ledger $L4 --key key.pub

# ---- field mapping and event time ----
L5=$WORK/map
own_state map
$A init --ledger $L5 --key key 2>/dev/null
cat > map.jsonl <<'EOF'
{"org":"acme","who":"aws","layer":"platform","ts":"2026-11-17T02:00:00Z","m":1}
{"org":"globex","who":"cust","ts":1795300000,"m":2}
{"who":"cust","m":3,"ts":"2026-11-17T03:00:00.5Z"}
{"org":"acme/evil","who":"aws","m":4}
{"org":"acme","who":"martian","m":5}
{"org":"acme","ts":"yesterday","m":6}
EOF
MAP="--map tenant=org,party=who,layer=layer,time=ts --value party:aws=provider --value party:cust=customer"
expect_exit 3 "an invalid mapped tenant is refused" $A append --ledger $L5 --key key --stream api --tenant dflt $MAP map.jsonl
expect_err "^map.jsonl:4: tenant 'acme/evil' from field 'org' is not valid" "FILE:LINE names the field and value"
$A log --ledger $L5 --json > map.json
[ "$(jq -r '[.tenant // "-", .party // "-", .layer // "-"] | join(" ")' map.json | tr '\n' ,)" = "acme provider platform,globex customer -,dflt customer -," ] \
    && ok "tenant/party/layer taken from each payload, value maps and defaults applied" || not_ok "headers: $(jq -c '[.tenant,.party,.layer]' map.json | tr '\n' ' ')"
[ "$(jq -r '.event_time // "-"' map.json | tr '\n' ,)" = "2026-11-17T02:00:00.000000Z,2026-11-21T22:26:40.000000Z,2026-11-17T03:00:00.500000Z," ] \
    && ok "event time kept next to ledger time (RFC 3339 and epoch seconds)" || not_ok "event times: $(jq -r .event_time map.json | tr '\n' ' ')"
check "--quarantine: invalid mapped values are quarantined, not reassigned" $A append --ledger $L5 --key key --stream api --tenant dflt $MAP --quarantine map.jsonl
$A log --ledger $L5 --json | jq -r 'select(.seq>=6) | .type + " " + (.tenant // "-") + " " + (.reason // "")' > q.txt
grep -q "^quarantine dflt map.jsonl:4: tenant 'acme/evil'" q.txt && grep -q "^quarantine dflt map.jsonl:5: party 'martian'" q.txt \
    && grep -q "^quarantine dflt map.jsonl:6: time 'yesterday'" q.txt && ok "each bad mapping is quarantined with its reason" || not_ok "$(cat q.txt)"
! grep -q "^log acme/evil\|^log .* martian" q.txt && ok "no record was filed under another tenant" || not_ok "reassigned"
check "a ledger with event times verifies" $A verify --ledger $L5 --key key.pub
[ "$($A query --ledger $L5 --time event --since 2026-11-17 --until 2026-11-18 | jq -r .m | tr '\n' ,)" = "1,3,1,3," ] \
    && ok "query --time event --since/--until selects by event time" || not_ok "query --time event: $($A query --ledger $L5 --time event --since 2026-11-17 --until 2026-11-18 2>&1 | head -3)"
[ "$($A query --ledger $L5 --since 2026-11-17 --until 2026-11-18 | wc -l)" = 0 ] && ok "query --since/--until still means ledger time" || not_ok "ledger-time query"
[ "$($A log --ledger $L5 --time event --since 2026-11-17 --until 2026-11-18 | awk '{print $2}' | tr '\n' ,)" = "2026-11-17T02:00:00.000000Z,2026-11-17T03:00:00.500000Z,2026-11-17T02:00:00.000000Z,2026-11-17T03:00:00.500000Z," ] \
    && ok "log --time event selects and shows the event time" || not_ok "log --time event: $($A log --ledger $L5 --time event --since 2026-11-17 --until 2026-11-18 2>&1 | head -3)"

# an event time is a whole value: a number followed by other text, or a negative one, is refused
L5b=$WORK/evtime
own_state evtime
$A init --ledger $L5b --key key 2>/dev/null
for bad in '"1795300000abc"' '"1795300000 "' '-5' '"1.5e3s"'; do
    printf '{"ts":%s,"m":1}\n' "$bad" > evbad.jsonl
    expect_exit 3 "event time $bad is refused" $A append --ledger $L5b --key key --stream api --map time=ts evbad.jsonl
    expect_err "^evbad.jsonl:1: time '.*' from field 'ts' is not valid" "FILE:LINE names the bad time $bad"
done
[ "$(size $L5b)" = 0 ] && ok "no record with a bad event time was stored" || not_ok "size $(size $L5b)"

# ---- --rsyslog protocol: a transaction cut by a kill is committed from the spool ----
L6=$WORK/rs
own_state rs
$A init --ledger $L6 --key key 2>/dev/null
mkfifo rin
$A append --ledger $L6 --key key --stream syslog --rsyslog < rin > rout 2> rerr & pid=$!
exec 8> rin
printf 'BEGIN TRANSACTION\n{"m":1}\n{"m":2}\nCOMMIT TRANSACTION\nBEGIN TRANSACTION\n{"m":3}\n{"m":4}\n' >&8
for _ in $(seq 1 100); do [ "$(wc -l < rout)" -ge 7 ] && break; sleep 0.1; done
[ "$(tr '\n' ' ' < rout)" = "OK OK DEFER_COMMIT DEFER_COMMIT OK OK DEFER_COMMIT DEFER_COMMIT " ] \
    && ok "--rsyslog: OK at start, DEFER_COMMIT per message, OK per durable transaction" || not_ok "replies: $(tr '\n' ' ' < rout)"
kill -9 $pid; wait $pid 2>/dev/null; exec 8>&-
[ "$(size $L6)" = 2 ] && ok "the killed instance committed only the transaction it confirmed" || not_ok "size $(size $L6)"
printf 'BEGIN TRANSACTION\n{"m":5}\nCOMMIT TRANSACTION\n' | $A append --ledger $L6 --key key --stream syslog --rsyslog > rout2 2> rerr2
[ "$(payloads $L6 | jq -c .m | tr '\n' ,)" = "1,2,3,4,5," ] && ok "the next instance commits the deferred messages rsyslog will not resend (spool)" \
    || not_ok "after restart: $(payloads $L6 | tr '\n' ' ') $(cat rerr2)"
grep -q "committed 2 message(s) of a transaction interrupted" rerr2 && ok "and says so" || not_ok "stderr: $(cat rerr2)"
# a spool whose transaction reached its commit mark is resent by rsyslog: not committed again
printf 'B\nM7:{"m":9}\nA\nC\n' > $L6/auditfs-rsyslog.spool/999999
printf 'BEGIN TRANSACTION\n{"m":6}\nCOMMIT TRANSACTION\n' | $A append --ledger $L6 --key key --stream syslog --rsyslog > /dev/null 2> rerr3
[ "$(payloads $L6 | jq -c .m | tr '\n' ,)" = "1,2,3,4,5,6," ] && ok "a transaction that reached its commit mark is left to rsyslog's resend" || not_ok "$(payloads $L6 | tr '\n' ' ')"
[ -z "$(ls $L6/auditfs-rsyslog.spool/)" ] && ok "spools are removed once handled" || not_ok "left: $(ls $L6/auditfs-rsyslog.spool/)"

# ---- routing: one ledger per tenant, created on first use ----
D=$WORK/tenants
own_state tenants
printf '{"org":"acme","i":1}\n{"org":"globex","i":2}\n{"org":"acme","i":3}\n' > route.jsonl
check "--route-by tenant feeds one ledger per tenant" $A append --ledgers $D --route-by tenant --key key --stream api --map tenant=org route.jsonl
[ -d $D/acme ] && [ -d $D/globex ] && ok "both ledgers were created" || not_ok "$(ls $D)"
[ "$(size $D/acme) $(size $D/globex)" = "2 1" ] && ok "each holds only its tenant's lines" || not_ok "sizes $(size $D/acme) $(size $D/globex)"
[ "$($A checkpoint --ledger $D/acme | head -1)" = "ingest.example/acme" ] && ok "each ledger has its own origin" || not_ok "origin $($A checkpoint --ledger $D/acme | head -1)"
check "a routed ledger verifies with the key" $A verify --ledger $D/globex --key key.pub
# like init, routing pins the provider's key for each new origin: reads need no --key
[ "$($A trust list 2>/dev/null | grep -c 'ingest.example/\(acme\|globex\)')" -ge 2 ] &&
    ok "routing pinned the key for each new tenant origin" || not_ok "pinned: $($A trust list 2>&1 | tr '\n' ' ')"
check "a routed ledger reads with the pinned key alone" $A log --ledger $D/acme
finish
