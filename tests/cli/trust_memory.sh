#!/usr/bin/env bash
# The verifier's memory (issue 8): pinned keys, remembered checkpoints, writers that remember
# what they signed, and the attacks of the issue, each against every reading command. Every
# party has its own state directory (AUDITFS_STATE); lib.sh gives this test its own.
source "$(dirname "$0")/lib.sh"
A=$AUDITFS
L=$WORK/ledger
T1=2000-01-01
T2=2100-01-01

# readers EXIT DESC [ARGS]: every reading command on $L must exit EXIT
readers() {
    local want=$1 d=$2; shift 2
    expect_exit $want "$d: checkpoint" $A checkpoint --ledger $L "$@"
    expect_exit $want "$d: leaf" $A leaf --ledger $L "$@" 0
    expect_exit $want "$d: leaves" $A leaves --ledger $L "$@"
    expect_exit $want "$d: log" $A log --ledger $L "$@"
    expect_exit $want "$d: query" $A query --ledger $L "$@" actor=ops-1
    expect_exit $want "$d: prove" $A prove --ledger $L "$@" --index 0 --tlog-proof
    expect_exit $want "$d: consistency" $A consistency --ledger $L "$@" --from 1
    expect_exit $want "$d: index" $A index --ledger $L "$@"
    expect_exit $want "$d: verify" $A verify --ledger $L "$@"
    rm -rf $WORK/bundle
    expect_exit $want "$d: incident" $A incident --since $T1 --until $T2 --ledger $L --key key.pub "$@" -o $WORK/bundle
    expect_exit $want "$d: archive" $A archive --ledger $L -o $WORK/a.bundle
    rm -rf $WORK/tiles
    expect_exit $want "$d: export" $A export --ledger $L "$@" --tlog-tiles $WORK/tiles
    expect_exit $want "$d: acks" $A acks --ledger $L --witness $WORK/wit.key.pub
    expect_exit $want "$d: cosignatures list" $A cosignatures list --ledger $L
    expect_exit $want "$d: cosign" $A cosign --ledger $L --key $WORK/wit.key --log-key key.pub --no-store
    if [ -e /dev/fuse ] && command -v fusermount3 >/dev/null; then
        mkdir -p $WORK/mnt
        timeout 60 $A mount --ledger $L "$@" $WORK/mnt >"$WORK/.out" 2>"$WORK/.err"
        local got=$?
        mountpoint -q $WORK/mnt && fusermount3 -uz $WORK/mnt
        [ $got -eq $want ] && ok "$d: mount" || not_ok "$d: mount (exit $got, wanted $want)"
    fi
}

# ---- pinning ----
$A keygen provider.example/acme -o key >/dev/null
$A keygen witness.example/w -o $WORK/wit.key >/dev/null  # each party's witness key (cosign, acks)
check "init pins the provider's own key" $A init --ledger $L --key key
check "trust list shows it" $A trust list
expect_out "key provider.example/acme\+" "the pinned key is listed"
records 300 > r1; records 300 2 > r2; records 300 3 > r3; records 300 4 > r4
for r in r1 r2 r3; do $A append --ledger $L --key key --stream api --batch-bytes 20000 $r >/dev/null; done
readers 0 "a provider reads its own ledger"

# a new party: no key known -> exit 5 naming the origin and how to pin one
export AUDITFS_STATE=$WORK/customer
expect_exit 5 "no pinned key: leaf refuses" $A leaf --ledger $L 0
expect_err 'origin "provider.example/acme"' "the error names the origin"
expect_err "auditfs trust add" "the error says how to pin a key"
expect_exit 5 "no pinned key: checkpoint refuses" $A checkpoint --ledger $L
check "--key on first use" $A leaf --ledger $L --key key.pub 0
expect_err "pinned key provider.example/acme\+[0-9a-f]{8} for origin" "first use says it pinned the key"
check "later reads need no key" $A log --ledger $L
$A keygen provider.example/acme -o other >/dev/null
expect_exit 5 "another key of the same name is refused once one is pinned" $A leaf --ledger $L --key other.pub 0
check "trust remove" $A trust remove key.pub
expect_exit 5 "after remove, nothing is pinned" $A leaf --ledger $L 0
check "trust add" $A trust add key.pub --origin provider.example/acme
check "reads work again" $A leaf --ledger $L 0
readers 0 "a customer with the pinned key"
expect_exit 2 "a state directory inside the ledger is refused" env AUDITFS_STATE=$L/state $A leaf --ledger $L 0
expect_err "inside" "the refusal says why"
check "trust list shows the remembered checkpoint" $A trust list --origin provider.example/acme
expect_out "seen +size 900 " "the customer remembers size 900"
export AUDITFS_STATE=$WORK/state

# ---- the issue's scenario: roll refs/heads/main back two commits, then append ----
GOOD=$(git -C $L rev-parse main)
size_at() { git -C $1 show $2:checkpoint | sed -n 2p; }
OLD=$(size_at $L main~2)
git -C $L update-ref refs/heads/main $(git -C $L rev-parse main~2)
expect_exit 8 "append to a rolled-back ledger is refused (fork or rollback)" $A append --ledger $L --key key --stream api r4
expect_err "rollback: the ledger's head has $OLD entries but this party (signed|verified) a checkpoint of 900" "append names the rollback"
expect_err "evidence written to .*/evidence/" "append says where the evidence is"
[ "$(git -C $L rev-parse main)" = "$(git -C $L rev-parse $GOOD~2)" ] && ok "the refused append signed and committed nothing" || not_ok "the ref moved"
expect_exit 8 "publish is refused too" $A publish --ledger $L --key key --name sla/x r4
expect_exit 8 "notice is refused too" $A notice --ledger $L --key key --title t r4
readers 8 "a rolled-back ledger"
ev=$(ls -d $WORK/state/origins/*/evidence/* | tail -1)
[ -f $ev/remembered.checkpoint ] && [ -f $ev/presented.checkpoint ] && [ -f $ev/README ] && ok "evidence holds both checkpoints and a README" || not_ok "evidence: $(ls $ev)"
check "trust check-evidence with only the key" $A trust check-evidence $ev --key key.pub
expect_out "^rollback" "check-evidence classifies a rollback"
AUDITFS_STATE=$WORK/customer expect_exit 8 "the customer (who saw 900) also refuses" $A leaf --ledger $L 0
git -C $L update-ref refs/heads/main $GOOD
readers 0 "the restored ledger reads again"
check "append to the restored ledger" $A append --ledger $L --key key --stream api r4

# ---- force-push re-signed with the provider's key (a party without this memory signed it) ----
F=$WORK/forked
git clone -q --bare $L $F
git -C $F update-ref refs/heads/main $(git -C $F rev-parse main~2)
FORK_SIZE=$(( $(size_at $F main) + 700 ))
records 700 9 > forged
AUDITFS_STATE=$WORK/elsewhere $A append --ledger $F --key key --stream api forged >/dev/null 2>&1
AUDITFS_STATE=$WORK/elsewhere check "the forked history is a valid ledger signed by the provider's key" $A verify --ledger $F --key key.pub
cp -a $L $WORK/good-copy
git -C $F push -q --force $L main:main 2>/dev/null
[ "$(git -C $L rev-parse main)" != "$GOOD" ] && ok "the live ledger now holds the forked history" || not_ok "push"
readers 8 "a force-pushed, re-signed history"
expect_err "fork: the ledger's head \(size $FORK_SIZE\) does not extend the checkpoint of size (900|1200)" "the message says fork and both sizes"
ev=$(ls -td $WORK/state/origins/*/evidence/* | head -1)
[ -f $ev/consistency.json ] && ok "fork evidence holds the consistency proof" || not_ok "no consistency.json in $ev"
grep -q "^presented-root-at-remembered-size " $ev/README && ok "and the presented tree's root at the remembered size" || not_ok "README: $(cat $ev/README)"
check "check-evidence proves the fork with only the key" $A trust check-evidence $ev --key key.pub
expect_out "^fork: key provider.example/acme" "check-evidence: the provider's key signed two incompatible trees"
cp $ev/README readme.bak
sed -i 's/^\(presented-root-at-remembered-size \)./\1A/' $ev/README
cmp -s readme.bak $ev/README && sed -i 's/^\(presented-root-at-remembered-size \)./\1B/' $ev/README
expect_exit 1 "check-evidence refuses a doctored root" $A trust check-evidence $ev --key key.pub
cp readme.bak $ev/README
expect_exit 1 "check-evidence needs the provider's key" $A trust check-evidence $ev --key other.pub
if bash "$(dirname "$AUDITFS")/../../tests/interop/build.sh" $WORK/gonote 2>/dev/null ||
    bash "${SOURCE_ROOT:-/nonexistent}/tests/interop/build.sh" $WORK/gonote 2>/dev/null; then
    check "Go's note.Open accepts the remembered checkpoint" $WORK/gonote verify-note key.pub $ev/remembered.checkpoint
    check "Go's note.Open accepts the presented checkpoint" $WORK/gonote verify-note key.pub $ev/presented.checkpoint
    expect_exit 1 "Go's tlog.CheckTree: the presented tree does not extend the remembered one" $WORK/gonote check-consistency key.pub $ev/remembered.checkpoint $ev/presented.checkpoint $ev/consistency.json
else
    echo "# Go interop tool unavailable: skipping the note.Open checks"
fi
rm -rf $L && cp -a $WORK/good-copy $L
readers 0 "the good history reads again"

# ---- the same size, another root ----
S=$WORK/same
git clone -q --bare $L $S
git -C $S update-ref refs/heads/main $(git -C $S rev-parse main~1)
AUDITFS_STATE=$WORK/elsewhere2 $A append --ledger $S --key key --stream api r1 >/dev/null 2>&1
[ "$($A checkpoint --ledger $L | sed -n 2p)" = "$(AUDITFS_STATE=$WORK/elsewhere2 $A checkpoint --ledger $S --key key.pub | sed -n 2p)" ] && ok "a second history of the same size" || not_ok "sizes differ"
rm -rf $L && cp -a $S $L
expect_exit 8 "two roots for one size are refused" $A checkpoint --ledger $L
ev=$(ls -td $WORK/state/origins/*/evidence/* | head -1)
check "check-evidence: equivocation" $A trust check-evidence $ev --key key.pub
expect_out "^equivocation: key provider.example/acme\+[0-9a-f]+ signed two roots for size 1200" "the evidence proves two roots for one size"
rm -rf $L && cp -a $WORK/good-copy $L

# ---- history replaced: another key of the same name, or no signature at all ----
X=$WORK/replaced
AUDITFS_STATE=$WORK/forger $A init --ledger $X --key other 2>/dev/null
AUDITFS_STATE=$WORK/forger $A append --ledger $X --key other --stream api r1 r2 r3 r4 forged >/dev/null
rm -rf $L && cp -a $X $L
readers 1 "a history signed by another key of the same name"
expect_err "not signed by the key|pinned" "the refusal blames the signature"
rm -rf $L && cp -a $WORK/good-copy $L
U=$WORK/unsigned
git clone -q --bare $L $U
w=$WORK/uwork; git clone -q $U $w 2>/dev/null
printf 'provider.example/acme\n1900\n%s\n' "$(head -c 32 /dev/urandom | base64)" > $w/checkpoint
git -C $w -c user.name=x -c user.email=x@x commit -qam unsigned && git -C $w push -q origin HEAD:main 2>/dev/null
rm -rf $L && cp -a $U $L
readers 1 "an unsigned head checkpoint"
rm -rf $L && cp -a $WORK/good-copy $L
readers 0 "the good history reads again"

# ---- tenant ledgers signed by one key: copying one over the other is refused ----
$A init --ledger $WORK/tenantA --key key --origin provider.example/tenant-a 2>/dev/null
$A init --ledger $WORK/tenantB --key key --origin provider.example/tenant-b 2>/dev/null
$A append --ledger $WORK/tenantA --key key --stream api r1 >/dev/null
$A append --ledger $WORK/tenantB --key key --stream api r2 >/dev/null
export AUDITFS_STATE=$WORK/tenant-b-reader
check "tenant B's reader pins the key for its origin" $A trust add key.pub --origin provider.example/tenant-b
check "and reads B" $A leaf --ledger $WORK/tenantB 0
rm -rf $WORK/tenantB.orig && mv $WORK/tenantB $WORK/tenantB.orig && cp -a $WORK/tenantA $WORK/tenantB
expect_exit 1 "tenant A's ledger copied over B's is refused" $A leaf --ledger $WORK/tenantB 0
expect_err 'provider.example/tenant-b' "the refusal names the expected origin"
export AUDITFS_STATE=$WORK/tenant-fresh
expect_exit 1 "--origin on first use refuses the swapped ledger" $A verify --ledger $WORK/tenantB --key key.pub --origin provider.example/tenant-b
check "--origin accepts the right one" $A verify --ledger $WORK/tenantA --key key.pub --origin provider.example/tenant-a
export AUDITFS_STATE=$WORK/state
finish
