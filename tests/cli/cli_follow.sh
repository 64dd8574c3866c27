#!/usr/bin/env bash
# append --follow: reads growing files from their start, survives rename-and-create and
# copytruncate rotation, and resumes exactly after SIGTERM, restarts and kill -9 (the position
# is stored in the commit that holds the lines). The soak part runs producers that rotate their
# files while the follower is killed -9 again and again and git gc runs in a loop: at the end
# the ledger must hold every input line exactly once, in each producer's order.
# FOLLOW_PRODUCERS (default 4) and FOLLOW_LINES (per producer, default 2000) size the soak.
source "$(dirname "$0")/lib.sh"
A=$AUDITFS
export AUDITFS_STATE=$WORK/state
P=${FOLLOW_PRODUCERS:-4}
N=${FOLLOW_LINES:-2000}
$A keygen follow.example -o key >/dev/null
size() { $A checkpoint --ledger "$1" | sed -n 2p; }
payloads() { $A log --ledger "$1" --json | jq -c "select(.type==\"log\") | .payload"; }
# wait_size LEDGER N: until the ledger holds N entries (bounded: 60 s)
wait_size() {
    for _ in $(seq 1 600); do [ "$(size $1)" -ge "$2" ] && return 0; sleep 0.1; done
    return 1
}
follow() { # follow LEDGER FILE... (in the background; sets fpid)
    local l=$1; shift
    $A append --ledger $l --key key --stream app --follow --flush-ms 100 --poll-ms 20 --no-index "$@" >> follow.acks 2>> follow.err &
    fpid=$!
}
stop() { kill -TERM $fpid 2>/dev/null; wait $fpid 2>/dev/null; }
gen() { awk -v a=$1 -v b=$2 -v t=${3:-x} 'BEGIN { for (i = a; i < b; i++) printf "{\"f\":\"%s\",\"i\":%d}\n", t, i }'; }

# ---- from the start of an existing file, then what is appended ----
L=$WORK/l1
$A init --ledger $L --key key 2>/dev/null
gen 0 1000 > app.log
follow $L $WORK/app.log
wait_size $L 1000 && ok "an existing file is read from its start (1000 lines, not the last 10)" || not_ok "size $(size $L)"
gen 1000 1500 >> app.log
wait_size $L 1500 && ok "lines appended later follow" || not_ok "size $(size $L)"
stop
# ---- resume exactly after a restart ----
gen 1500 1700 >> app.log
follow $L $WORK/app.log
wait_size $L 1700; sleep 0.3
stop
[ "$(size $L)" = 1700 ] && ok "a restart resumes at the stored position: nothing twice, nothing skipped" || not_ok "size $(size $L)"
# ---- rename-and-create rotation while following ----
follow $L $WORK/app.log
gen 1700 1800 >> app.log
wait_size $L 1800
gen 1800 1850 >> app.log; mv app.log app.log.1; gen 1850 1900 >> app.log.1
gen 1900 2000 > app.log
wait_size $L 2000 && ok "rename-and-create: the old file is drained, the new one read" || not_ok "size $(size $L)"
# ---- copytruncate rotation while following ----
gen 2000 2100 >> app.log
wait_size $L 2100
cp app.log app.log.2; : > app.log
gen 2100 2200 >> app.log
wait_size $L 2200 && ok "copytruncate: the new content is read from the start" || not_ok "size $(size $L)"
kill -HUP $fpid; sleep 0.2
gen 2200 2300 >> app.log
wait_size $L 2300 && ok "SIGHUP reopens and goes on" || not_ok "size $(size $L)"
stop
# ---- rotated while auditfs was down: found by its identity in the directory ----
gen 2300 2350 >> app.log
mv app.log app.log.3; gen 2350 2400 > app.log
follow $L $WORK/app.log
wait_size $L 2400; sleep 0.3
stop
[ "$(size $L)" = 2400 ] && ok "restart after a rotation: the rest of the rotated file, then the new one" || not_ok "size $(size $L)"
# ---- copytruncate whose new content outgrows the old before the next check ----
follow $L $WORK/app.log
sleep 0.3
cp app.log app.log.4; gen 2400 3400 > app.log
wait_size $L 3400; sleep 0.3
stop
[ "$(size $L)" = 3400 ] && ok "copytruncate regrown past the old size: recognised by the file's first bytes" || not_ok "size $(size $L)"
gen 0 3400 > want
payloads $L > got
cmp -s got want && ok "the ledger holds every line exactly once, in order" || not_ok "ledger differs from the input: $(diff got want | head -3)"
git -C $L log -1 --format=%B | grep -q "^Auditfs-Position: $WORK/app.log [0-9]*:[0-9]* [0-9]*:[0-9a-f]\{64\} [0-9]*$" \
    && ok "the position is a trailer of the commit holding the lines" || not_ok "no trailer: $(git -C $L log -1 --format=%B)"
check "the ledger verifies" $A verify --ledger $L --key key.pub

# ---- soak: producers rotating, the follower killed -9, git gc in a loop ----
S=$WORK/soak
mkdir -p $WORK/in
# the soak ledger is another ledger of origin follow.example: its own verifier's memory (issue 8)
export AUDITFS_STATE=$WORK/state-soak
$A init --ledger $S --key key 2>/dev/null
files=""
for p in $(seq 1 $P); do files="$files $WORK/in/p$p.log"; : > $WORK/in/p$p.log; done
producer() { # producer P: N lines, renamed away every 400 lines (the newest rotation keeps .k)
    local p=$1 k=0
    for i in $(seq 0 $((N - 1))); do
        printf '{"p":%d,"i":%d}\n' $p $i >> $WORK/in/p$p.log
        if [ $((i % 400)) = 399 ]; then k=$((k + 1)); mv $WORK/in/p$p.log $WORK/in/p$p.log.$k; : > $WORK/in/p$p.log; fi
        [ $((i % 20)) = 0 ] && sleep 0.05
    done
}
ppids=""
for p in $(seq 1 $P); do producer $p & ppids="$ppids $!"; done
( while :; do git -C $S gc --quiet 2>/dev/null; git -C $S pack-refs --all 2>/dev/null; sleep 0.2; done ) & gcpid=$!
kills=0
RANDOM=7
end=$((SECONDS + 120))
while [ $SECONDS -lt $end ]; do
    follow $S $files
    sleep 0.$((3 + RANDOM % 7))
    kill -9 $fpid 2>/dev/null; wait $fpid 2>/dev/null
    kills=$((kills + 1))
    alive=0; for pp in $ppids; do kill -0 $pp 2>/dev/null && alive=1; done
    [ $alive = 0 ] && break
done
for pp in $ppids; do wait $pp; done
follow $S $files
wait_size $S $((P * N)); sleep 0.5
stop
kill $gcpid 2>/dev/null; wait $gcpid 2>/dev/null
[ $kills -ge 5 ] && ok "the follower was killed -9 $kills times while $P producers rotated their files" || not_ok "only $kills kills"
total=$(size $S)
[ "$total" = $((P * N)) ] && ok "input lines = ledger entries: $total" || not_ok "ledger holds $total entries for $((P * N)) input lines"
payloads $S > soak.got
bad=0
for p in $(seq 1 $P); do
    awk -v p=$p -v n=$N 'BEGIN { for (i = 0; i < n; i++) printf "{\"p\":%d,\"i\":%d}\n", p, i }' > soak.want.$p
    grep "^{\"p\":$p," soak.got > soak.got.$p
    cmp -s soak.got.$p soak.want.$p || { bad=$((bad + 1)); echo "# producer $p: $(diff soak.got.$p soak.want.$p | head -4 | tr '\n' ' ')"; }
done
[ $bad = 0 ] && ok "each producer's lines exactly once and in its order" || not_ok "$bad producers differ"
check "the soaked ledger verifies" $A verify --ledger $S --key key.pub
finish
