#!/usr/bin/env bash
# Witnesses without HTTP: a customer and an assessor cosign their own copies of a provider's
# ledger (auditfs cosign), cosignatures travel on refs/auditfs/cosignatures without touching
# refs/heads/main, `auditfs checkpoint` shows them, `cosignatures add` takes mailed ones,
# a fork and a rollback are refused with exit 8 and evidence, verify enforces --quorum,
# --policy (C2SP tlog-policy) and --max-age, and `acks` reports receipts per notice/SLA version.
source "$(dirname "$0")/lib.sh"
A=$AUDITFS
export AUDITFS_STATE=$WORK/state-unused
P=$WORK/provider.git

$A keygen provider.example/acme -o p.key >/dev/null
$A keygen customer-a.example -o a.key >/dev/null
$A keygen assessor.example -o s.key >/dev/null
$A keygen customer-b.example -o b.key >/dev/null
$A init --ledger $P --key p.key >/dev/null
records 50 | $A append --ledger $P --key p.key --stream api --tenant acme >/dev/null
echo "SLA v1" > sla1.md
$A publish --ledger $P --key p.key --name sla/acme-compute --tenant acme sla1.md >/dev/null
echo "maintenance" > n1.md
$A notice --ledger $P --key p.key --title "Planned maintenance" --effective 2026-12-01 n1.md >/dev/null
size1=$($A checkpoint --ledger $P | sed -n 2p)
[ "$size1" = 52 ] && ok "provider ledger at size 52" || not_ok "size $size1"
main_before=$(git -C $P rev-parse refs/heads/main)

# 1. the customer cosigns its own clone; the first time is a full verify
git clone -q --mirror $P custA.git
expect_exit 2 "cosign needs --log-key" env AUDITFS_STATE=$WORK/stA $A cosign --ledger custA.git --key a.key
AUDITFS_STATE=$WORK/stA check "customer A cosigns its copy" $A cosign --ledger custA.git --key a.key --log-key p.key.pub
grep -q '^— customer-a.example ' $WORK/.out && ok "cosign prints the cosignature line" || not_ok "no line"
cp $WORK/.out lineA
ls $WORK/stA/witness/customer-a.example+*/logs/*.checkpoint >/dev/null 2>&1 && ok "witness state written under AUDITFS_STATE" \
    || not_ok "no witness state"
[ "$(stat -c %a $WORK/stA/witness)" = 700 ] && ok "state directory is private (0700)" || not_ok "state mode"
$A checkpoint --ledger custA.git > cpA
grep -c '^— ' cpA | grep -qx 2 && ok "checkpoint shows the log signature and the cosignature" || not_ok "checkpoint lines: $(cat cpA)"
git -C custA.git rev-parse -q --verify refs/auditfs/cosignatures >/dev/null && ok "stored on refs/auditfs/cosignatures" \
    || not_ok "side ref missing"
[ "$(git -C custA.git rev-parse refs/heads/main)" = "$main_before" ] && ok "refs/heads/main is untouched" \
    || not_ok "main moved"
check "the copy still verifies with the log key alone" $A verify --ledger custA.git --key p.key.pub
fsck_out=$(git -C custA.git fsck --strict 2>&1) && [ -z "$fsck_out" ] && ok "git fsck is clean (nothing dangling)" \
    || not_ok "git fsck: $fsck_out"

# 2. the cosignature reaches the provider by mail: cosignatures add checks it
check "provider stores the mailed cosigned checkpoint" $A cosignatures add --ledger $P --witness a.key.pub cpA
expect_out "stored" "reported as stored"
check "adding it again changes nothing" $A cosignatures add --ledger $P --witness a.key.pub cpA
expect_out "already stored" "reported as already stored"
sed 's/^52$/53/' cpA > cpA.bad
expect_exit 1 "a cosigned checkpoint this ledger never committed is refused" $A cosignatures add --ledger $P --witness a.key.pub cpA.bad
expect_exit 1 "a file without the given witness's cosignature is refused" $A cosignatures add --ledger $P --witness b.key.pub cpA
# a tampered cosignature line (same size and text): refused, nothing stored
python3 - cpA cpA.forged <<'EOF'
import sys, base64
lines = open(sys.argv[1], encoding='utf-8').read().split('\n')
for i, l in enumerate(lines):
    if l.startswith('— customer-a.example '):
        raw = bytearray(base64.b64decode(l.split(' ')[2]))
        raw[20] ^= 1
        lines[i] = '— customer-a.example ' + base64.b64encode(bytes(raw)).decode()
open(sys.argv[2], 'w', encoding='utf-8').write('\n'.join(lines))
EOF
before=$(git -C $P rev-parse refs/auditfs/cosignatures)
expect_exit 1 "a forged cosignature is refused" $A cosignatures add --ledger $P --witness a.key.pub cpA.forged
[ "$(git -C $P rev-parse refs/auditfs/cosignatures)" = "$before" ] && ok "nothing stored for the forgery" || not_ok "side ref moved"

# 3. quorum: one of two witnesses is not enough for K=2
check "verify --witness A --quorum 1 passes" $A verify --ledger $P --key p.key.pub --witness a.key.pub --quorum 1
expect_out "quorum: met" "quorum reported met"
check "verify --json reports the witnesses on a second line" $A verify --ledger $P --key p.key.pub --witness a.key.pub --quorum 1 --json
sed -n 2p $WORK/.out | jq -e '.witnessed == true and .tree_size == 52 and .witnesses[0].name == "customer-a.example" and .witnesses[0].fresh == true' >/dev/null \
    && ok "the JSON names the witness and the size" || not_ok "json: $(cat $WORK/.out)"
expect_exit 1 "verify --quorum 2 fails with one cosignature" $A verify --ledger $P --key p.key.pub --witness a.key.pub --witness s.key.pub --quorum 2
expect_err "lacks the witness quorum" "the failure names the quorum"
git clone -q --mirror $P asr.git
AUDITFS_STATE=$WORK/stS check "the assessor cosigns its own copy" $A cosign --ledger asr.git --key s.key --log-key p.key.pub
$A checkpoint --ledger asr.git > cpS
check "provider stores the assessor's cosignature" $A cosignatures add --ledger $P --witness s.key.pub cpS
check "verify --quorum 2 passes with both" $A verify --ledger $P --key p.key.pub --witness a.key.pub --witness s.key.pub --quorum 2
expect_exit 1 "three witnesses, quorum 3, one silent: fails" $A verify --ledger $P --key p.key.pub --witness a.key.pub --witness s.key.pub --witness b.key.pub --quorum 3
expect_exit 2 "quorum above the number of witnesses is a usage error" $A verify --ledger $P --key p.key.pub --witness a.key.pub --quorum 2
$A checkpoint --ledger $P | grep -c '^— ' | grep -qx 3 && ok "the provider's checkpoint shows both cosignatures" || not_ok "cosig count"

# archives carry the cosignatures: git clones them, verify counts them
check "archive a ledger with cosignatures" $A archive --ledger $P -o p.bundle
git bundle list-heads p.bundle | grep -q ' refs/auditfs/cosignatures$' && ok "the bundle lists refs/auditfs/cosignatures" \
    || not_ok "bundle heads: $(git bundle list-heads p.bundle)"
git clone -q --mirror p.bundle fromarchive.git 2>/dev/null && ok "git clone --mirror reads the bundle" || not_ok "clone bundle"
check "the archived copy verifies with quorum 2" $A verify --ledger fromarchive.git --key p.key.pub --witness a.key.pub --witness s.key.pub --quorum 2

# incident bundles carry the cosigned checkpoints (the receipts) and still verify offline
check "incident bundle" $A incident --since 2000-01-01 --until 2100-01-01 _stream=api --ledger $P --key p.key.pub -o bundle
[ "$(grep -c '^— ' bundle/ledgers/*/checkpoint)" = 3 ] && ok "the bundle's checkpoint carries the cosignatures" \
    || not_ok "bundle checkpoint: $(cat bundle/ledgers/*/checkpoint)"
ls bundle/ledgers/*/cosignatures/52.checkpoint >/dev/null 2>&1 && ok "the bundle holds the cosigned checkpoints by size" \
    || not_ok "no cosignatures in the bundle: $(find bundle -name '*.checkpoint')"
check "verify-bundle passes" $A verify-bundle bundle --key p.key.pub
check "incident --witness adds the receipts" $A incident --since 2000-01-01 --until 2100-01-01 _stream=api \
    --ledger $P --key p.key.pub --witness a.key.pub --witness b.key.pub -o bundle2
jq -s -e 'map(select(.type=="notice"))[0] | .title == "Planned maintenance" and .acks[0].witness == "customer-a.example" and .pending == ["customer-b.example"]' \
    bundle2/receipts.jsonl >/dev/null && ok "receipts.jsonl: the notice, acknowledged by A, pending for B" \
    || not_ok "receipts: $(cat bundle2/receipts.jsonl)"
grep -q 'customer-a.example *acknowledged' bundle2/receipts.md && ok "receipts.md says who acknowledged" || not_ok "receipts.md"
grep -q 'receipts.jsonl' bundle2/MANIFEST.sha256 && ok "the manifest covers the receipts" || not_ok "manifest"
check "verify-bundle passes with receipts" $A verify-bundle bundle2 --key p.key.pub
check "verify-bundle --witness checks the witnesses' lines" $A verify-bundle bundle2 --key p.key.pub --witness a.key.pub --witness b.key.pub --witness s.key.pub
expect_out "witness customer-a.example\+[0-9a-f]{8} cosigned [1-9]" "it says how many checkpoints each witness cosigned"
# the receipts are what `auditfs acks` prints (one library function computes both)
$A acks --ledger $P --witness a.key.pub --witness b.key.pub --key p.key.pub --json > acks.jsonl
[ "$(jq -c 'del(.ledger)' bundle2/receipts.jsonl)" = "$(jq -c . acks.jsonl)" ] && ok "receipts.jsonl equals acks --json" \
    || not_ok "receipts differ from acks: $(diff <(jq -c 'del(.ledger)' bundle2/receipts.jsonl) <(jq -c . acks.jsonl) | head -5)"
# a forger adds a cosigned checkpoint under a size it is not (and fixes the manifest): refused
remanifest() { (cd "$1" && find . -type f ! -name MANIFEST.sha256 | sed 's|^\./||' | LC_ALL=C sort | xargs sha256sum) > "$1.man" && mv "$1.man" "$1/MANIFEST.sha256"; }
cp -r bundle2 bundle3
cp bundle3/ledgers/ledger/cosignatures/52.checkpoint bundle3/ledgers/ledger/cosignatures/51.checkpoint
remanifest bundle3
expect_exit 1 "verify-bundle refuses a cosigned checkpoint under another size" $A verify-bundle bundle3 --key p.key.pub
expect_out "51.checkpoint: a checkpoint of another size" "the failure names the file and why"
rm bundle3/ledgers/ledger/cosignatures/51.checkpoint && echo x > bundle3/ledgers/ledger/cosignatures/README && remanifest bundle3
expect_exit 1 "verify-bundle refuses any other file in cosignatures/" $A verify-bundle bundle3 --key p.key.pub
rm bundle3/ledgers/ledger/cosignatures/README && remanifest bundle3
check "and passes again once it is gone" $A verify-bundle bundle3 --key p.key.pub

# 4. C2SP tlog-policy: groups and thresholds
cat > policy <<EOF
# customers and assessors, each group must agree
log $(cat p.key.pub)
witness A $(cat a.key.pub)
witness B $(cat b.key.pub)
witness S $(cat s.key.pub)
group customers any A B
group both all customers S
quorum both
EOF
check "policy: any customer and the assessor" $A verify --ledger $P --key p.key.pub --policy policy
sed 's/^group customers any A B$/group customers all A B/' policy > policy2
expect_exit 1 "policy: all customers (B silent) fails" $A verify --ledger $P --key p.key.pub --policy policy2
printf 'witness A %s\ngroup g 3 A\nquorum g\n' "$(cat a.key.pub)" > policy.bad
expect_exit 3 "policy: a threshold above the group size is bad input" $A verify --ledger $P --key p.key.pub --policy policy.bad
expect_err "line 2" "the error names the policy line"
printf 'quorum none\n' > policy.none
check "policy: quorum none" $A verify --ledger $P --key p.key.pub --policy policy.none

# 5. freshness
check "--max-age 1h passes for fresh cosignatures" $A verify --ledger $P --key p.key.pub --witness a.key.pub --max-age 1h
# a witness that cosigned long ago (its clock, --time) is stale for a reader wanting fresh ones
git clone -q --mirror $P old.git
AUDITFS_STATE=$WORK/stB check "customer B cosigns with an old timestamp" $A cosign --ledger old.git --key b.key --log-key p.key.pub --time 1700000000
expect_exit 1 "--max-age 1d refuses a stale quorum" $A verify --ledger old.git --key p.key.pub --witness b.key.pub --max-age 1d
expect_out "older than --max-age" "the report says which cosignature is stale"
check "without --max-age the same quorum passes" $A verify --ledger old.git --key p.key.pub --witness b.key.pub
AUDITFS_STATE=$WORK/stB check "cosigning the same size again refreshes it" $A cosign --ledger old.git --key b.key --log-key p.key.pub
check "--max-age 1d now passes" $A verify --ledger old.git --key p.key.pub --witness b.key.pub --max-age 1d
grep -c '^— customer-b.example ' <($A checkpoint --ledger old.git) | grep -qx 2 \
    && ok "the oldest (receipt) and newest (freshness) cosignatures are both kept" || not_ok "cosig lines"
expect_exit 2 "a malformed duration is a usage error" $A verify --ledger old.git --key p.key.pub --witness b.key.pub --max-age soon

# 6. the customer follows the ledger: a consistency proof, then a fork and a rollback
records 5 2 | $A append --ledger $P --key p.key --stream api --tenant acme >/dev/null
git -C custA.git fetch -q origin 'refs/heads/*:refs/heads/*'
AUDITFS_STATE=$WORK/stA check "customer A cosigns the extension" $A cosign --ledger custA.git --key a.key --log-key p.key.pub
# the provider rewrites history from size 52 in a copy and shows it to customer A (signed with
# a state of its own: the provider's writer memory refuses to sign a second history)
git clone -q --mirror $P fork.git
git -C fork.git update-ref refs/heads/main $(git -C $P rev-parse refs/heads/main~1)
records 7 9 | AUDITFS_STATE=$WORK/st-forger $A append --ledger fork.git --key p.key --stream api --tenant acme >/dev/null
statefile=$(ls $WORK/stA/witness/customer-a.example+*/logs/*.checkpoint)
sum_before=$(sha256sum < "$statefile")
AUDITFS_STATE=$WORK/stA expect_exit 8 "a fork is refused with exit 8" $A cosign --ledger fork.git --key a.key --log-key p.key.pub
expect_err "REFUSED: fork" "the refusal says fork"
ev=$(ls -d $WORK/stA/witness/customer-a.example+*/evidence/* | head -1)
[ -s "$ev/cosigned.checkpoint" ] && [ -s "$ev/offered.checkpoint" ] && ok "evidence holds both signed checkpoints" \
    || not_ok "evidence missing"
cmp -s "$ev/offered.checkpoint" <(AUDITFS_STATE=$WORK/st-forger $A checkpoint --ledger fork.git --key p.key.pub) && ok "offered = the fork's signed checkpoint" \
    || not_ok "offered differs"
cmp -s "$ev/cosigned.checkpoint" <(git -C $P show refs/heads/main:checkpoint) && ok "cosigned = the real signed checkpoint" \
    || not_ok "cosigned differs"
[ "$(sha256sum < "$statefile")" = "$sum_before" ] && ok "the refusal did not change the witness state" || not_ok "state changed"
# the same size with another root (the witness answers 409 and records evidence)
git clone -q --mirror $P fork2.git
git -C fork2.git update-ref refs/heads/main $(git -C $P rev-parse refs/heads/main~1)
records 5 11 | AUDITFS_STATE=$WORK/st-forger2 $A append --ledger fork2.git --key p.key --stream api --tenant acme >/dev/null
[ "$(git -C fork2.git show main:checkpoint | sed -n 2p)" = 57 ] && ok "a second fork of the same size 57" || not_ok "fork2 size"
AUDITFS_STATE=$WORK/stA expect_exit 8 "another root for the cosigned size is refused with exit 8" \
    $A cosign --ledger fork2.git --key a.key --log-key p.key.pub
ev2=$(grep -l "two checkpoints of size 57" $WORK/stA/witness/customer-a.example+*/evidence/*/reason.txt | head -1)
[ -n "$ev2" ] && cmp -s "$(dirname "$ev2")/offered.checkpoint" <(AUDITFS_STATE=$WORK/st-forger2 $A checkpoint --ledger fork2.git --key p.key.pub) \
    && ok "evidence names both checkpoints of size 57" || not_ok "same-size evidence"
[ "$(sha256sum < "$statefile")" = "$sum_before" ] && ok "still no change to the witness state" || not_ok "state changed"

# rollback: an older copy
git clone -q --mirror $P roll.git
git -C roll.git update-ref refs/heads/main $(git -C $P rev-parse refs/heads/main~2)
AUDITFS_STATE=$WORK/stA expect_exit 8 "a rollback is refused with exit 8" $A cosign --ledger roll.git --key a.key --log-key p.key.pub
expect_err "rollback" "the refusal says rollback"
# a forked checkpoint cosigned by someone cannot be attached to the real ledger
AUDITFS_STATE=$WORK/stB2 check "a fresh witness cosigns the fork" $A cosign --ledger fork.git --key b.key --log-key p.key.pub
AUDITFS_STATE=$WORK/st-forger $A checkpoint --ledger fork.git --key p.key.pub > cpFork
expect_exit 1 "the fork's cosigned checkpoint does not attach to the real ledger" $A cosignatures add --ledger $P --witness b.key.pub cpFork
expect_err "split view" "the refusal names a split view"

# 7. receipts
check "acks" $A acks --ledger $P --witness a.key.pub --witness s.key.pub --witness b.key.pub --key p.key.pub
expect_out '^notice 51 "Planned maintenance"' "acks lists the notice"
expect_out '^document 50 sla/acme-compute v1' "acks lists the SLA version"
grep -A3 '^notice 51' $WORK/.out | grep -q 'customer-a.example.*acknowledged' && ok "customer A acknowledged the notice" \
    || not_ok "A's ack missing"
grep -A3 '^notice 51' $WORK/.out | grep -q 'customer-b.example.*NOT YET' && ok "customer B has not" || not_ok "B pending"
check "acks --json" $A acks --ledger $P --witness a.key.pub --witness b.key.pub --json --tenant acme
jq -s -e 'map(select(.type=="notice"))[0] | (.acks | length) == 1 and .acks[0].witness == "customer-a.example" and .pending == ["customer-b.example"]' $WORK/.out >/dev/null \
    && ok "acks --json: one ack, one pending" || not_ok "acks json: $(head -c 400 $WORK/.out)"
jq -s -e 'map(select(.type=="document"))[0] | .name == "sla/acme-compute" and .version == 1 and (.acks[0].after_seconds >= 0)' $WORK/.out >/dev/null \
    && ok "acks --json: the SLA version with its lead time" || not_ok "acks json doc"
check "acks --tenant other hides acme's entries" $A acks --ledger $P --witness a.key.pub --tenant other
expect_out "^notice 51" "an untargeted notice applies to every tenant"
grep -q '^document' $WORK/.out && not_ok "acme's SLA shown for tenant other" || ok "acme's SLA is not shown for tenant other"

finish
