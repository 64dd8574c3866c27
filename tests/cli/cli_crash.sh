#!/usr/bin/env bash
# Crash safety: kill -9 `auditfs append` at random moments while it ingests. After every kill the
# ledger must verify, hold every acknowledged record (each printed tree size), and hold a prefix
# of the input in order: nothing unacknowledged half there, nothing reordered.
source "$(dirname "$0")/lib.sh"
A=$AUDITFS
L=$WORK/ledger
ROUNDS=${CRASH_ROUNDS:-20}
$A keygen crash.example -o key >/dev/null
$A init --ledger $L --key key 2>/dev/null
expected=0      # entries in the ledger before this round
lost=0; bad=0; unverified=0
declare -a taken # lines of each round's input in the ledger
RANDOM=42
for r in $(seq 1 $ROUNDS); do
    awk -v r=$r 'BEGIN { for (i = 0; i < 4000; i++) printf "{\"round\":%d,\"line\":%d,\"pad\":\"%s\"}\n", r, i, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx" }' > in.$r
    $A append --ledger $L --key key --stream api --batch-bytes 20000 --flush-ms 20 < in.$r > acks.$r 2>/dev/null &
    pid=$!
    sleep 0.$(( RANDOM % 30 ))
    kill -9 $pid 2>/dev/null
    wait $pid 2>/dev/null
    ack=$(tail -1 acks.$r 2>/dev/null); ack=${ack:-$expected}
    if ! $A verify --ledger $L --key key.pub >/dev/null 2>verr.$r; then
        unverified=$((unverified + 1)); echo "# round $r: verify failed: $(cat verr.$r)"
    fi
    size=$($A checkpoint --ledger $L | sed -n 2p)
    [ "$size" -lt "$ack" ] && { lost=$((lost + 1)); echo "# round $r: acked $ack but size $size"; }
    # the round's entries must be the next input lines of each round, in order: the first
    # (size - expected) lines of this round's input, after (when an earlier writer was killed
    # between remembering its signed batch and publishing it) that batch, which the next append
    # publishes instead of signing another root for its size (auditfs/state.h, writers)
    n=$((size - expected))
    if [ $n -gt 0 ]; then
        $A log --ledger $L --json --from $expected --to $size | sed 's/.*"payload"://; s/}$//' > got.$r
        : > want.$r
        for q in $(sed 's/^{"round":\([0-9]*\),.*/\1/' got.$r | uniq); do
            c=$(grep -c "^{\"round\":$q," got.$r)
            sed -n "$(( ${taken[$q]:-0} + 1 )),$(( ${taken[$q]:-0} + c ))p" in.$q >> want.$r
            taken[$q]=$(( ${taken[$q]:-0} + c ))
        done
        cmp -s want.$r got.$r || { bad=$((bad + 1)); echo "# round $r: ledger content is not a prefix of the input"; }
    fi
    expected=$size
done
[ $unverified -eq 0 ] && ok "the ledger verified after each of $ROUNDS kill -9" || not_ok "$unverified rounds left a ledger that does not verify"
[ $lost -eq 0 ] && ok "no acknowledged record was lost" || not_ok "$lost rounds lost acknowledged records"
[ $bad -eq 0 ] && ok "the ledger holds exactly a prefix of each input" || not_ok "$bad rounds hold other content"
[ $expected -gt 0 ] && ok "appends made progress between kills ($expected entries)" || not_ok "nothing was ever committed"
check "append resumes after the crashes" $A append --ledger $L --key key --stream api in.1
# a writer killed while moving the ref leaves refs/heads/main.lock (seen in this test, 1 run in
# ~10): the next writer, holding the ledger lock, knows it is stale
# ~10): the next writer recognises it as its own by the intent recorded in auditfs.lock (a lock
# git holds is never removed: tests/cli/cli_ingest.sh)
printf 'moving 0123456789abcdef0123456789abcdef01234567\n' > $L/auditfs.lock
printf '0123456789abcdef01' > $L/refs/heads/main.lock
check "append recovers from a stale ref lock of a killed writer" $A append --ledger $L --key key --stream api in.1
check "the ledger verifies after that" $A verify --ledger $L --key key.pub

# two appenders at once: one waits for the other, neither corrupts nor forks the ledger
before=$($A checkpoint --ledger $L | sed -n 2p)
$A append --ledger $L --key key --stream a --batch-bytes 10000 in.2 >/dev/null 2>&1 & p1=$!
$A append --ledger $L --key key --stream b --batch-bytes 10000 in.3 >/dev/null 2>&1 & p2=$!
wait $p1; r1=$?; wait $p2; r2=$?
[ $r1 -eq 0 ] && [ $r2 -eq 0 ] && ok "two concurrent appenders both succeed" || not_ok "concurrent appenders: $r1 $r2"
after=$($A checkpoint --ledger $L | sed -n 2p)
[ $((after - before)) -eq 8000 ] && ok "both appenders' entries are all there" || not_ok "size went $before -> $after"
check "the ledger verifies after concurrent appends" $A verify --ledger $L --key key.pub
[ "$(git -C $L rev-list --count --merges main)" = 0 ] && ok "history stays linear" || not_ok "merges in history"
# --no-wait fails cleanly while another appender holds the lock
# (an appender holds it only while it commits: hold it the way a committing writer does)
flock $L/auditfs.lock sleep 2 & holder=$!
sleep 0.5
expect_exit 6 "--no-wait exits 6 while another appender holds the ledger" $A append --ledger $L --key key --stream b --no-wait in.4
wait $holder
finish
