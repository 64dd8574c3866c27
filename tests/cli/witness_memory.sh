#!/usr/bin/env bash
# `witness request` remembers each witness's last cosigned size in the provider's state
# directory (origins/<origin>/witnesses/<name>+<key id>), so the old size and consistency proof
# are right the first time; a lost or wrong memory costs one 409, which still teaches the size
# and corrects the memory. Real processes: two `witness serve` on 127.0.0.1, each with its own
# AUDITFS_STATE, killed at the end.
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lib.sh"
A=$AUDITFS
export AUDITFS_STATE=$WORK/state-provider
P=$WORK/provider.git
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done; for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done; rm -rf "$WORK"' EXIT
serve() {
    local name=$1 key=$2
    AUDITFS_STATE=$WORK/state-$name $A witness serve --key $key --listen 127.0.0.1:0 \
        --log provider.example/acme=p.key.pub --rate 100000 >$WORK/$name.out 2>$WORK/$name.log &
    PIDS+=($!)
    for _ in $(seq 100); do grep -q '^listening on ' $WORK/$name.out 2>/dev/null && break; sleep 0.1; done
    local addr
    addr=$(sed -n 's/^listening on //p' $WORK/$name.out)
    [ -n "$addr" ] && ok "witness $name listens on $addr" || not_ok "witness $name did not start"
    eval "URL_$name=http://$addr"
}
$A keygen provider.example/acme -o p.key >/dev/null
$A keygen customer-a.example -o a.key >/dev/null
$A keygen customer-b.example -o b.key >/dev/null
$A init --ledger $P --key p.key >/dev/null 2>&1
serve A a.key
serve B b.key
WIT=(--witness "$URL_A=a.key.pub" --witness "$URL_B=b.key.pub")
mem() { ls $WORK/state-provider/origins/*/witnesses/$1+* 2>/dev/null; }

records 10 | $A append --ledger $P --key p.key --stream api >/dev/null
check "round 1: both cosign size 10" $A witness request --ledger $P "${WIT[@]}"
grep -q 'old 0 size 10: 200' $WORK/A.log && ok "the first request is from size 0" || not_ok "A log: $(cat $WORK/A.log)"
[ -n "$(mem customer-a.example)" ] && [ "$(cat $(mem customer-a.example))" = 10 ] \
    && ok "the provider remembers A's size 10" || not_ok "memory: $(mem customer-a.example)"
[ "$(stat -c %a "$(mem customer-a.example)")" = 600 ] && ok "the memory file is private (0600)" || not_ok "mode"

records 5 2 | $A append --ledger $P --key p.key --stream api >/dev/null
check "round 2: both cosign size 15" $A witness request --ledger $P "${WIT[@]}"
grep -q 'old 10 size 15: 200' $WORK/A.log && ! grep -q 'size 15: 409' $WORK/A.log \
    && ok "A got the proof from 10 the first time (no 409)" || not_ok "A log: $(cat $WORK/A.log)"
grep -q 'old 10 size 15: 200' $WORK/B.log && ! grep -q 'size 15: 409' $WORK/B.log \
    && ok "B too" || not_ok "B log: $(cat $WORK/B.log)"

# the memory lost (B) or wrong (A): one 409 each, then the proof from the size it names
rm -f "$(mem customer-b.example)"
echo 3 > "$(mem customer-a.example)"
records 5 3 | $A append --ledger $P --key p.key --stream api >/dev/null
check "round 3: still both cosign size 20" $A witness request --ledger $P "${WIT[@]}"
grep -q 'old 0 size 20: 409' $WORK/B.log && grep -q 'old 15 size 20: 200' $WORK/B.log \
    && ok "B (memory lost): 409, then the proof from 15" || not_ok "B log: $(cat $WORK/B.log)"
grep -q 'old 3 size 20: 409' $WORK/A.log && grep -q 'old 15 size 20: 200' $WORK/A.log \
    && ok "A (memory wrong: 3): 409, then the proof from 15" || not_ok "A log: $(cat $WORK/A.log)"
[ "$(cat $(mem customer-a.example))" = 20 ] && [ "$(cat $(mem customer-b.example))" = 20 ] \
    && ok "both memories are 20 again" || not_ok "memories"
# a memory beyond the head (e.g. copied from elsewhere) is ignored, not sent
echo 999 > "$(mem customer-a.example)"
check "round 4 (same size): A is asked from 0 and refreshes" $A witness request --ledger $P --witness "$URL_A=a.key.pub"
grep -q 'old 999' $WORK/A.log && not_ok "a size beyond the head was sent" || ok "a remembered size beyond the head is not sent"
printf 'garbage' > "$(mem customer-b.example)"
check "a malformed memory is ignored" $A witness request --ledger $P --witness "$URL_B=b.key.pub"
finish
