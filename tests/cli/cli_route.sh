#!/usr/bin/env bash
# append --route-by tenant --ledgers DIR with --follow, --journal and --rsyslog: one ledger per
# tenant fed from one stream, exactly once across kill -9 (docs/FORMAT.md section 16.1: each
# ledger's trailer says how far its routed lines are in it, the router's low-water mark in
# DIR/.auditfs-route/ moves only after every ledger of a flush committed, and a restart skips
# what a ledger already holds). The crash between two ledgers' commits is also made on
# purpose: an old low-water mark is put back, and nothing may be stored twice.
# ROUTE_PRODUCERS (3), ROUTE_LINES (1500 per producer) and ROUTE_SECS (40) size the soak.
source "$(dirname "$0")/lib.sh"
A=$AUDITFS
P=${ROUTE_PRODUCERS:-3}
N=${ROUTE_LINES:-1500}
SECS=${ROUTE_SECS:-40}
T=4 # tenants
$A keygen route.example -o key >/dev/null
# the test reads as another party (its own memory, the key pinned on first use): a reader sharing
# the writer's memory can see the head it read overtaken by the writer's commit meanwhile and
# report that as a rollback (a race of the verifier's memory, not of routing)
R() { AUDITFS_STATE=$AUDITFS_STATE-reader $A "$@" --key $WORK/key.pub; }  # one per section: same origins
size() { local n=; [ -d "$1" ] && n=$(R checkpoint --ledger "$1" 2>/dev/null | sed -n 2p); echo ${n:-0}; }
total() { local s=0; for t in $(seq 0 $((T - 1))); do s=$((s + $(size $1/t$t))); done; echo $s; }
payloads() { R log --ledger "$1" --json | jq -c "select(.type==\"log\") | .payload"; }
wait_total() { # DIR N: bounded, 90 s
    for _ in $(seq 1 900); do [ "$(total $1)" -ge "$2" ] && return 0; sleep 0.1; done; return 1
}
router() { # DIR FILE... in the background, sets rpid
    local d=$1; shift
    $A append --key key --stream app --map tenant=t --route-by tenant --ledgers $d --follow \
        --flush-ms 50 --poll-ms 20 --no-index "$@" >> route.acks 2>> route.err &
    rpid=$!
}
line() { printf '{"t":"t%d","p":%d,"i":%d}\n' $(( ($1 * 7 + $2) % T )) $1 $2; }

# ---- one file, SIGTERM and restart: the low-water mark and each ledger's trailer ----
export AUDITFS_STATE=$WORK/state1
D=$WORK/r1
mkdir -p in1
for i in $(seq 0 399); do line 0 $i; done > in1/a.log
router $D $WORK/in1/a.log
wait_total $D 400; kill -TERM $rpid; wait $rpid
[ "$(total $D)" = 400 ] && ok "--follow --route-by: 400 lines into $T tenant ledgers" || not_ok "total $(total $D)"
ls $D/.auditfs-route/pos-* >/dev/null 2>&1 && grep -q "^Auditfs-Routed: $WORK/in1/a.log [0-9]*$" $D/.auditfs-route/pos-* \
    && ok "the low-water mark is in DIR/.auditfs-route/" || not_ok "no low-water file: $(ls -a $D)"
git -C $D/t0 log -1 --format=%B | grep -q "^Auditfs-Routed: $WORK/in1/a.log [0-9]*$" \
    && ok "each tenant ledger's commit says how far its routed lines are in it" || not_ok "no Auditfs-Routed trailer"
# the crash between two ledgers' commits: the ledgers hold lines the low-water mark does not cover
cp $D/.auditfs-route/pos-* lw.old
router $D $WORK/in1/a.log
for i in $(seq 400 799); do line 0 $i; done >> in1/a.log
wait_total $D 800; kill -TERM $rpid; wait $rpid
cp lw.old $D/.auditfs-route/$(basename $D/.auditfs-route/pos-*)
router $D $WORK/in1/a.log
for i in $(seq 800 899); do line 0 $i; done >> in1/a.log
wait_total $D 900; sleep 0.5; kill -TERM $rpid; wait $rpid
[ "$(total $D)" = 900 ] && ok "a low-water mark behind the ledgers (a crash between their commits): nothing stored twice" || not_ok "total $(total $D), wanted 900"
grep -q "400 line(s) were already in their tenant's ledger" route.err && ok "the lines found already stored are counted (400)" || not_ok "skip count: $(grep already route.err)"
bad=0
for t in $(seq 0 $((T - 1))); do
    payloads $D/t$t | jq -r .i > got.$t
    for i in $(seq 0 899); do [ $(( (0 * 7 + i) % T )) = $t ] && echo $i; done > want.$t
    cmp -s got.$t want.$t || bad=$((bad + 1))
done
[ $bad = 0 ] && ok "each tenant ledger holds its lines exactly once, in order" || not_ok "$bad tenants differ"
for t in $(seq 0 $((T - 1))); do R verify --ledger $D/t$t >/dev/null 2>&1 || bad=$((bad + 1)); done
[ $bad = 0 ] && ok "every tenant ledger verifies" || not_ok "$bad ledgers do not verify"

# ---- soak: producers rotating, the router killed -9 again and again ----
export AUDITFS_STATE=$WORK/state2
D=$WORK/r2
mkdir -p in2
files=""
for p in $(seq 1 $P); do files="$files $WORK/in2/p$p.log"; : > in2/p$p.log; done
producer() { # lines 10..N-1 (0..9 are written first), renamed away every 300
    local p=$1 k=0
    for i in $(seq 10 $((N - 1))); do
        line $p $i >> in2/p$p.log
        if [ $((i % 300)) = 299 ]; then k=$((k + 1)); mv in2/p$p.log in2/p$p.log.$k; : > in2/p$p.log; fi
        [ $((i % 20)) = 0 ] && sleep 0.05
    done
}
# a file rotated away before the router ever stored a position for it is not looked for (there
# is nothing to recognise it by): the first lines are read, and their positions stored, first
for p in $(seq 1 $P); do for i in $(seq 0 9); do line $p $i; done >> in2/p$p.log; done
router $D $files
wait_total $D $((P * 10)); kill -TERM $rpid; wait $rpid
ppids=""
for p in $(seq 1 $P); do producer $p & ppids="$ppids $!"; done
kills=0
RANDOM=11
end=$((SECONDS + SECS))
while [ $SECONDS -lt $end ]; do
    router $D $files
    sleep 0.$((2 + RANDOM % 7))
    kill -9 $rpid 2>/dev/null; wait $rpid 2>/dev/null
    kills=$((kills + 1))
    alive=0; for pp in $ppids; do kill -0 $pp 2>/dev/null && alive=1; done
    [ $alive = 0 ] && break
done
for pp in $ppids; do wait $pp; done
router $D $files
wait_total $D $((P * N)); sleep 0.5
kill -TERM $rpid; wait $rpid
[ $kills -ge 5 ] && ok "the router was killed -9 $kills times while $P producers rotated their files" || not_ok "only $kills kills"
[ "$(total $D)" = $((P * N)) ] && ok "input lines = entries over the tenant ledgers: $((P * N))" || not_ok "$(total $D) entries for $((P * N)) lines"
bad=0
for t in $(seq 0 $((T - 1))); do
    payloads $D/t$t > soak.$t
    for p in $(seq 1 $P); do
        grep "\"p\":$p," soak.$t | jq -r .i > got
        for i in $(seq 0 $((N - 1))); do [ $(( (p * 7 + i) % T )) = $t ] && echo $i; done > want
        cmp -s got want || { bad=$((bad + 1)); echo "# tenant $t producer $p: $(diff got want | head -3 | tr '\n' ' ')"; }
    done
done
[ $bad = 0 ] && ok "each tenant: each producer's lines exactly once, in order" || not_ok "$bad (tenant, producer) pairs differ"
echo "# soak: $((P * N)) lines, $kills kills -9, $(grep -c 'already in their tenant' route.err) restarts skipped lines already stored"

# ---- the journal, routed by a field, with kill -9 ----
JR=$(command -v systemd-journal-remote || echo /lib/systemd/systemd-journal-remote)
if [ -x "$JR" ] && $A append --help | grep -q -- --journal; then
    export AUDITFS_STATE=$WORK/state3
    D=$WORK/r3
    python3 - 3000 <<'PY' > exp.j
import sys
for i in range(int(sys.argv[1])):
    sys.stdout.write("__CURSOR=s=0;i=%x\n__REALTIME_TIMESTAMP=%d\n__MONOTONIC_TIMESTAMP=%d\n" % (i, 1795300000000000 + i * 1000, 1000 + i))
    sys.stdout.write("_BOOT_ID=0123456789abcdef0123456789abcdef\nTENANT=t%d\nSEQ=%d\nMESSAGE=entry %d\n\n" % (i % 3, i, i))
PY
    "$JR" --output=$WORK/route.journal exp.j 2>/dev/null
    jr=($A append --key key --stream journal --map tenant=TENANT --route-by tenant --ledgers $D
        --journal --journal-file route.journal --batch-bytes 40000 --flush-ms 10 --no-index)
    jr() { "${jr[@]}"; }
    jkills=0
    for r in $(seq 1 8); do
        "${jr[@]}" > /dev/null 2>> journal.err & pid=$!
        sleep 0.$((1 + r % 4))
        kill -9 $pid 2>/dev/null && jkills=$((jkills + 1)); wait $pid 2>/dev/null
    done
    check "a final journal run" jr
    jt=0; bad=0
    for t in 0 1 2; do
        jt=$((jt + $(size $D/t$t)))
        R log --ledger $D/t$t --json | jq -r .payload.SEQ > got
        seq $t 3 2999 > want
        cmp -s got want || bad=$((bad + 1))
    done
    [ $jt = 3000 ] && ok "--journal --route-by after $jkills kills -9: 3000 entries over 3 ledgers" || not_ok "$jt entries after $jkills kills"
    [ $bad = 0 ] && ok "each tenant's journal entries exactly once, in journal order" || not_ok "$bad tenants differ"
    git -C $D/t1 log -1 --format=%B | grep -q '^Auditfs-Cursor: journal s=' && ok "each tenant ledger's commit holds the journal cursor" || not_ok "no cursor trailer"
    # a low-water mark behind the ledgers: nothing twice
    printf 'Auditfs-Cursor: journal %s\n' "$(git -C $D/t0 log --format=%B | grep '^Auditfs-Cursor' | tail -1 | cut -d' ' -f3-)" > $D/.auditfs-route/cursor-journal
    jr 2> j2.err
    jt=0; for t in 0 1 2; do jt=$((jt + $(size $D/t$t))); done
    [ $jt = 3000 ] && grep -q "already in their tenant" j2.err && ok "journal: a low-water mark put back to the first batch stores nothing twice" || not_ok "$jt entries; $(cat j2.err)"
else
    echo "# no systemd-journal-remote or no libsystemd: journal routing not tested"
fi

# ---- rsyslog, routed: a transaction is confirmed once every ledger it touched committed ----
if command -v rsyslogd >/dev/null && command -v logger >/dev/null; then
    export AUDITFS_STATE=$WORK/state4
    D=$WORK/r4
    M=${RSYSLOG_MESSAGES:-1500}
    mkdir -p rs-work
    cat > rsyslog.conf <<EOC
global(workDirectory="$WORK/rs-work" processInternalMessages="off")
module(load="imuxsock" SysSock.Use="off")
module(load="omprog")
module(load="impstats" interval="1" log.file="$WORK/impstats.log" log.syslog="off" format="json")
input(type="imuxsock" Socket="$WORK/log.sock" CreatePath="on" RateLimit.Interval="0")
template(name="j" type="list" option.jsonf="on") {
    property(outname="msg" name="msg" format="jsonf")
    property(outname="tenant" name="programname" format="jsonf")
}
if \$syslogfacility-text == "local0" then {
    action(type="omprog" name="auditfs" template="j" output="$WORK/auditfs.stderr"
        binary="$A append --rsyslog --key $WORK/key --stream syslog --map tenant=tenant --route-by tenant --ledgers $D --no-index"
        confirmMessages="on" useTransactions="on" confirmTimeout="30000" reportFailures="on"
        queue.type="LinkedList" queue.filename="auditfs" queue.saveOnShutdown="on"
        queue.size="100000" queue.timeoutEnqueue="60000"
        queue.dequeueBatchSize="256" action.resumeRetryCount="-1" action.resumeInterval="1")
}
EOC
    rsyslogd -N1 -f rsyslog.conf > rs-check.txt 2>&1 || not_ok "rsyslogd -N1: $(head -3 rs-check.txt)"
    rsyslogd -n -f rsyslog.conf -i $WORK/rsyslogd.pid > rsyslogd.log 2>&1 & rspid=$!
    trap 'kill $rspid 2>/dev/null; wait $rspid 2>/dev/null; [ -n "${KEEP:-}" ] || rm -rf "$WORK"' EXIT
    for _ in $(seq 1 100); do [ -S log.sock ] && break; sleep 0.1; done
    rkills=0
    ( for c in $(seq 0 100 $((M - 1))); do
          for t in 0 1 2; do seq $((c + 1)) $((c + 100 < M ? c + 100 : M)) | awk -v t=$t '$1 % 3 == t' | sed 's/^/msg-/' | logger -u $WORK/log.sock -p local0.info -t ten$t; done
          sleep 0.05
      done ) & lpid=$!
    for k in 1 2 3; do
        sleep 0.7
        p=$(pgrep -P $rspid -f "append --rsyslog" | head -1)
        [ -n "$p" ] && kill -9 $p && rkills=$((rkills + 1))
    done
    wait $lpid
    sleep 1
    logger -u $WORK/log.sock -p local0.info -t ten0 "final"
    rmsgs() { for t in 0 1 2; do [ -d $D/ten$t ] && R log --ledger $D/ten$t --json | jq -r '.payload.msg | ltrimstr(" ")'; done; }
    for _ in $(seq 1 600); do # bounded: 2 minutes (rsyslog's retry interval is 1 s)
        [ "$(rmsgs 2>/dev/null | grep '^msg-' | sort -u | wc -l)" -ge $M ] && break
        sleep 0.2
    done
    rmsgs | grep '^msg-' | sort | uniq -c > counts
    distinct=$(wc -l < counts)
    dups=$(awk '$1 > 1 { d += $1 - 1 } END { print d + 0 }' counts)
    # rsyslog's own account: a message its action queue discarded never reached auditfs (an
    # action queue holds 1000 messages by default and drops what does not fit after 2 s while
    # auditfs restarts: the queue settings are those of contrib/rsyslog/)
    qstat=$(grep '"name": "auditfs queue"' impstats.log | tail -1)
    disc=$(echo "${qstat#*: }" | jq '."discarded.full" + ."discarded.nf"' 2>/dev/null)
    [ "${disc:-x}" = 0 ] && ok "rsyslog's action queue discarded nothing" || not_ok "rsyslog discarded: $qstat"
    [ "$distinct" = $M ] && ok "rsyslog --route-by: every one of $M messages in its tenant's ledger after $rkills kills -9" \
        || not_ok "$distinct of $M; missing: $(seq 1 $M | sed 's/^/msg-/' | sort | comm -23 - <(awk '{print $2}' counts | sort) | head -20 | tr '\n' ' ')"
    echo "# rsyslog routing: duplicates (committed but not confirmed before a kill): $dups"
    [ "$dups" -le $((rkills * 1024)) ] && ok "duplicates only from unconfirmed transactions: $dups" || not_ok "$dups duplicates"
    wrong=$(for t in 0 1 2; do [ -d $D/ten$t ] && R log --ledger $D/ten$t --json | jq -r '.payload.msg | ltrimstr(" ")' | grep '^msg-' | sed 's/msg-//' | awk -v t=$t '$1 % 3 != t'; done | wc -l)
    [ "$wrong" = 0 ] && ok "each message is in its own tenant's ledger only" || not_ok "$wrong misrouted"
    kill $rspid; wait $rspid 2>/dev/null
else
    echo "# no rsyslogd: rsyslog routing not tested"
fi
finish
