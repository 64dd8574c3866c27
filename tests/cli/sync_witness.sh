#!/usr/bin/env bash
# sync with a witness quorum, real processes on 127.0.0.1: a provider whose repository is served
# by `git daemon`, two witnesses (`auditfs witness serve`, each with its own AUDITFS_STATE) that
# the provider asks over HTTP (`witness request`), and a customer replica (its own AUDITFS_STATE)
# that fast-forwards only to checkpoints that carry the quorum: not at all (exit 1, NOT
# WITNESSED, the replica unchanged), partly (to the newest witnessed size below the remote head),
# fully, not with stale cosignatures (--max-age), and with the witnesses' lines brought along.
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lib.sh"
source "$HERE/replicalib.sh"
A=$AUDITFS
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done; for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done; stop_servers; rm -rf "$WORK"' EXIT
export AUDITFS_STATE=$WORK/state-provider
P=$SRV/acme.git

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
# size_of DIR: its head size, read with the state of the party that owns DIR
size_of() {
    local st=$WORK/state-provider
    [ "$1" = "$WORK/cust.git" ] && st=$WORK/state-cust
    AUDITFS_STATE=$st $A checkpoint --ledger "$1" | sed -n 2p
}
main_of() { git -C "$1" rev-parse refs/heads/main; }
csync() { AUDITFS_STATE=$WORK/state-cust $A sync --ledger $WORK/cust.git "$@"; }

$A keygen provider.example/acme -o p.key >/dev/null
$A keygen customer-a.example -o a.key >/dev/null
$A keygen assessor.example -o s.key >/dev/null
$A init --ledger $P --key p.key >/dev/null 2>&1
start_git_daemon || { not_ok "git daemon"; finish; exit 1; }
serve A a.key
serve S s.key
WA="$URL_A=a.key.pub"
WS="$URL_S=s.key.pub"
Q2=(--witness a.key.pub --witness s.key.pub --quorum 2)

# round 1: both witnesses cosign; the customer clones over git://
records 10 | $A append --ledger $P --key p.key --stream api --tenant acme >/dev/null
check "round 1: both witnesses cosign" $A witness request --ledger $P --witness "$WA" --witness "$WS"
AUDITFS_STATE=$WORK/state-cust check "the customer clones over git://" \
    $A clone git://127.0.0.1:$GIT_PORT/acme.git $WORK/cust.git --key p.key.pub
n1=$(size_of $WORK/cust.git)
check "sync --quorum 2 when up to date" csync "${Q2[@]}"
expect_out "up to date" "reported up to date"

# round 2: only A cosigns the new head: nothing new carries the quorum of 2
records 5 7 | $A append --ledger $P --key p.key --stream api --tenant acme >/dev/null
n2=$(size_of $P)
check "round 2: only witness A cosigns size $n2" $A witness request --ledger $P --witness "$WA"
before=$(main_of $WORK/cust.git)
expect_exit 1 "sync --quorum 2 refuses a head only one witness cosigned (exit 1, as verify)" csync "${Q2[@]}"
expect_err "NOT WITNESSED" "the message says NOT WITNESSED"
expect_err "size $n2" "the message names the remote head's size"
[ "$(main_of $WORK/cust.git)" = "$before" ] && ok "the replica stays where it was" || not_ok "main moved"
[ "$(size_of $WORK/cust.git)" = "$n1" ] && ok "still at size $n1" || not_ok "size $(size_of $WORK/cust.git)"
expect_exit 2 "--quorum without witnesses is a usage error" csync --quorum 1
expect_exit 2 "--quorum larger than the witnesses is a usage error" csync --witness a.key.pub --quorum 3
expect_exit 2 "--policy and --witness together is a usage error" csync --witness a.key.pub --policy x
expect_exit 1 "a policy naming only the assessor (quorum S) refuses too" \
    csync --policy <(printf 'witness S %s\nquorum S\n' "$(cat s.key.pub)")

# round 3: the assessor cosigns a later head; A's size n2 now carries both (S's later one counts)
records 5 9 | $A append --ledger $P --key p.key --stream api --tenant acme >/dev/null
n3=$(size_of $P)
check "round 3: only the assessor cosigns size $n3" $A witness request --ledger $P --witness "$WS"
check "sync --quorum 2 moves to the newest witnessed checkpoint" csync "${Q2[@]}"
[ "$(size_of $WORK/cust.git)" = "$n2" ] && ok "the replica is at size $n2 (witnessed), not $n3" \
    || not_ok "size $(size_of $WORK/cust.git), wanted $n2"
expect_out "size $n1 -> $n2" "the sync line names the sizes"
expect_out "witnessed: size $n2 carries the quorum; the remote's head \(size $n3\) does not yet" \
    "says the remote head is not witnessed yet"
AUDITFS_STATE=$WORK/state-cust $A checkpoint --ledger $WORK/cust.git > cust.cp
grep -q '^— customer-a.example ' cust.cp && ok "witness A's cosignature came along into the replica" \
    || not_ok "no A line: $(cat cust.cp)"
AUDITFS_STATE=$WORK/state-cust check "the replica verifies with A's imported line (quorum 1)" \
    $A verify --ledger $WORK/cust.git --key p.key.pub --witness a.key.pub --quorum 1
AUDITFS_STATE=$WORK/state-cust check "the replica verifies in full" $A verify --ledger $WORK/cust.git --key p.key.pub
# one rule: what sync counted (S through its later size n3), verify counts on the replica too
AUDITFS_STATE=$WORK/state-cust check "after the partial sync, verify --quorum 2 agrees with sync" \
    $A verify --ledger $WORK/cust.git --key p.key.pub "${Q2[@]}"
expect_out "cosigned size $n3 .*a later checkpoint of this history" \
    "verify counts the assessor through the later checkpoint sync kept"
expect_out "quorum: met \(2 of 2" "verify: quorum met, 2 of 2"
[ "$(git -C $WORK/cust.git rev-parse refs/auditfs/witnessed-tail)" != "$(main_of $WORK/cust.git)" ] \
    && ok "the verified tail beyond the witnessed head is kept (refs/auditfs/witnessed-tail)" \
    || not_ok "no tail ref"
# clone with witnesses (each new party its own state): it starts at the witnessed checkpoint
AUDITFS_STATE=$WORK/state-c2 check "clone --quorum 2 starts at the witnessed checkpoint" \
    $A clone git://127.0.0.1:$GIT_PORT/acme.git $WORK/c2.git --key p.key.pub "${Q2[@]}"
expect_out "witnessed: size $n2 carries the quorum; the remote's head \(size $n3\) does not yet" \
    "clone says the remote head is not witnessed yet"
[ "$(AUDITFS_STATE=$WORK/state-c2 $A checkpoint --ledger $WORK/c2.git | sed -n 2p)" = "$n2" ] \
    && ok "the clone is at size $n2, not $n3" || not_ok "clone at the wrong size"
AUDITFS_STATE=$WORK/state-c2 check "the witnessed clone verifies with --quorum 2 (same rule)" \
    $A verify --ledger $WORK/c2.git --key p.key.pub "${Q2[@]}"
$A keygen nobody.example -o x.key >/dev/null
printf 'witness X %s\nquorum X\n' "$(cat x.key.pub)" > x.policy
AUDITFS_STATE=$WORK/state-c3 expect_exit 1 "clone --policy naming a witness that never cosigned: exit 1" \
    $A clone git://127.0.0.1:$GIT_PORT/acme.git $WORK/c3.git --key p.key.pub --policy x.policy
expect_err "NOT WITNESSED" "the clone's message says NOT WITNESSED"
[ ! -e $WORK/c3.git ] && ok "nothing is left behind" || not_ok "$WORK/c3.git exists"
AUDITFS_STATE=$WORK/state-c3 expect_exit 2 "clone --quorum without witnesses is a usage error" \
    $A clone git://127.0.0.1:$GIT_PORT/acme.git $WORK/c4.git --key p.key.pub --quorum 1
AUDITFS_STATE=$WORK/state-c3 expect_exit 2 "clone --policy with --witness is a usage error" \
    $A clone git://127.0.0.1:$GIT_PORT/acme.git $WORK/c4.git --key p.key.pub --policy x.policy --witness a.key.pub
AUDITFS_STATE=$WORK/state-cust expect_exit 1 "verify --quorum 2 --max-age 1s fails once the lines are old" \
    bash -c "sleep 2; $A verify --ledger $WORK/cust.git --key p.key.pub ${Q2[*]} --max-age 1s"

# round 4: A catches up; the replica reaches the head
check "round 4: witness A cosigns size $n3" $A witness request --ledger $P --witness "$WA"
check "sync --quorum 2 reaches the head" csync "${Q2[@]}"
[ "$(size_of $WORK/cust.git)" = "$n3" ] && ok "the replica is at size $n3" || not_ok "size $(size_of $WORK/cust.git)"
AUDITFS_STATE=$WORK/state-cust check "the replica's head carries both cosignatures" \
    $A verify --ledger $WORK/cust.git --key p.key.pub "${Q2[@]}"
check "again: up to date" csync "${Q2[@]}"
expect_out "up to date" "up to date"

# round 5: freshness; cosignatures older than --max-age do not count
records 3 11 | $A append --ledger $P --key p.key --stream api --tenant acme >/dev/null
n4=$(size_of $P)
check "round 5: both cosign size $n4" $A witness request --ledger $P --witness "$WA" --witness "$WS"
sleep 2
expect_exit 1 "sync --max-age 1s refuses cosignatures 2 s old" csync "${Q2[@]}" --max-age 1s
expect_err "within --max-age" "the message names --max-age"
[ "$(size_of $WORK/cust.git)" = "$n3" ] && ok "the replica stays at $n3" || not_ok "size moved"
check "sync --max-age 1h takes them" csync "${Q2[@]}" --max-age 1h
[ "$(size_of $WORK/cust.git)" = "$n4" ] && ok "the replica is at size $n4" || not_ok "size $(size_of $WORK/cust.git)"

# a policy file with quorum none behaves like a plain sync
records 2 13 | $A append --ledger $P --key p.key --stream api --tenant acme >/dev/null
n5=$(size_of $P)
printf 'witness A %s\nquorum none\n' "$(cat a.key.pub)" > none.policy
check "--policy with 'quorum none' takes the unwitnessed head" csync --policy none.policy
[ "$(size_of $WORK/cust.git)" = "$n5" ] && ok "the replica is at size $n5" || not_ok "size $(size_of $WORK/cust.git)"

# a cosignature line forged on the server's side ref is not counted and never stored
records 2 17 | $A append --ledger $P --key p.key --stream api --tenant acme >/dev/null
n6=$(size_of $P)
check "both cosign size $n6" $A witness request --ledger $P --witness "$WA" --witness "$WS"
# rewrite the provider's stored note for n6 with A's line flipped (a new side-ref commit)
note=$(git -C $P ls-tree -r refs/auditfs/cosignatures | awk -v s=$(printf '%012d' $n6) '{ p=$4; gsub("[^0-9]","",p); if (p==s) print $3 }')
git -C $P cat-file blob "$note" > good.note
python3 - good.note bad.note <<'PY'
import sys, base64
lines = open(sys.argv[1], encoding='utf-8').read().split('\n')
for i, l in enumerate(lines):
    if l.startswith('— customer-a.example '):
        raw = bytearray(base64.b64decode(l.split(' ')[2])); raw[30] ^= 1
        lines[i] = '— customer-a.example ' + base64.b64encode(bytes(raw)).decode()
open(sys.argv[2], 'w', encoding='utf-8').write('\n'.join(lines))
PY
path=$(git -C $P ls-tree -r --name-only refs/auditfs/cosignatures | grep "$(printf '%012d' $n6 | sed 's/\(...\)\(...\)\(...\)\(...\)/\1\/\2\/\3\/\4/')")
badblob=$(git -C $P hash-object -w --stdin < bad.note)
export GIT_INDEX_FILE=$WORK/idx
git -C $P read-tree refs/auditfs/cosignatures
git -C $P update-index --cacheinfo 100644,$badblob,$path
tree=$(git -C $P write-tree)
unset GIT_INDEX_FILE
commit=$(git -C $P commit-tree $tree -p refs/auditfs/cosignatures -m forged)
git -C $P update-ref refs/auditfs/cosignatures $commit
expect_exit 1 "a forged cosignature line on the server does not count" csync "${Q2[@]}"
expect_err "NOT WITNESSED" "NOT WITNESSED"
[ "$(size_of $WORK/cust.git)" = "$n5" ] && ok "the replica stays at $n5" || not_ok "size moved"
check "with quorum 1 (the assessor's valid line) it moves" csync --witness a.key.pub --witness s.key.pub --quorum 1
[ "$(size_of $WORK/cust.git)" = "$n6" ] && ok "the replica is at size $n6" || not_ok "size $(size_of $WORK/cust.git)"
AUDITFS_STATE=$WORK/state-cust $A checkpoint --ledger $WORK/cust.git > cust6.cp
grep -q '^— customer-a.example ' cust6.cp && not_ok "the forged line was stored" || ok "the forged line was not stored"
grep -q '^— assessor.example ' cust6.cp && ok "the assessor's line was stored" || not_ok "no assessor line"

# the cosignatures reach a git server through `auditfs push`, so replicas of the mirror can
# require the quorum too
new_remote mirror
MIR=git://127.0.0.1:$GIT_PORT/mirror.git
check "push to a mirror" $A push $MIR --ledger $P
expect_out "pushed the cosignatures" "push carries refs/auditfs/cosignatures"
[ "$(git -C $SRV/mirror.git rev-parse refs/auditfs/cosignatures)" = "$(git -C $P rev-parse refs/auditfs/cosignatures)" ] \
    && ok "the mirror's side ref is the provider's" || not_ok "mirror side ref"
check "push again: up to date" $A push $MIR --ledger $P
grep -q "cosignatures" $WORK/.out && not_ok "pushed again: $(cat $WORK/.out)" || ok "nothing pushed twice"
AUDITFS_STATE=$WORK/state-cust2 check "a second customer clones the mirror" $A clone $MIR $WORK/cust2.git --key p.key.pub
records 2 19 | $A append --ledger $P --key p.key --stream api --tenant acme >/dev/null
n7=$(size_of $P)
check "both cosign size $n7" $A witness request --ledger $P --witness "$WA" --witness "$WS"
check "push main and cosignatures" $A push $MIR --ledger $P
expect_out "^pushed provider.example/acme: size $n7" "main pushed"
expect_out "pushed the cosignatures" "cosignatures pushed"
AUDITFS_STATE=$WORK/state-cust2 check "the second customer syncs from the mirror with quorum 2" \
    $A sync --ledger $WORK/cust2.git "${Q2[@]}"
expect_out "-> $n7" "it reached size $n7"
finish
