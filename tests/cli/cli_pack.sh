#!/usr/bin/env bash
# One pack per batch (issue 13): a writer leaves one pack and its .idx per batch and no loose
# objects; git (a tool we did not write) reads them: fsck, verify-pack, clone; a ledger repacked
# by git gc (deltas) still verifies; leftovers of a killed writer (tmp_pack_*) are harmless.
source "$(dirname "$0")/lib.sh"
A=$AUDITFS
L=$WORK/ledger
$A keygen pack.example -o key >/dev/null 2>&1
$A init --ledger $L --key key 2>/dev/null
loose0=$(find $L/objects -type f -path '*/objects/??/*' | wc -l)
records 3000 1 > r1
check "append in several batches" $A append --ledger $L --key key --stream api --batch-bytes 60000 r1
batches=$(git -C $L rev-list --count main)
packs=$(ls $L/objects/pack/pack-*.pack | wc -l)
idxs=$(ls $L/objects/pack/pack-*.idx | wc -l)
[ "$packs" -eq $((batches - 1)) ] && [ "$idxs" -eq "$packs" ] && ok "one pack and one .idx per batch ($packs batches)" || not_ok "$packs packs, $idxs idx for $((batches - 1)) batches"
[ "$(find $L/objects -type f -path '*/objects/??/*' | wc -l)" -eq "$loose0" ] && ok "no loose objects beyond init's" || not_ok "loose objects: $(find $L/objects -type f -path '*/objects/??/*' | wc -l)"
[ -z "$(ls $L/objects/pack | grep -v '^pack-')" ] && ok "no temporary files left" || not_ok "leftovers: $(ls $L/objects/pack)"
check "git fsck --strict reads every pack" git -C $L fsck --strict
ok_all=1; for i in $L/objects/pack/pack-*.idx; do git verify-pack "$i" >/dev/null 2>&1 || ok_all=0; done
[ $ok_all = 1 ] && ok "git verify-pack accepts every pack" || not_ok "verify-pack"
check "the ledger verifies" $A verify --ledger $L --key key.pub
git clone -q --bare --no-hardlinks $L $WORK/clone
check "a git clone verifies" $A verify --ledger $WORK/clone --key key.pub
git clone -q --bare --no-hardlinks $L $WORK/gced && git -C $WORK/gced gc -q --aggressive --prune=now
# the writer's memory as it was when the copy was taken: the gc'd copy's own from here on
cp -a $AUDITFS_STATE $WORK/state-gced
check "after git gc (one pack with deltas) it verifies" $A verify --ledger $WORK/gced --key key.pub
$A query --ledger $L --no-index actor=ops-3 > want
$A query --ledger $WORK/gced --no-index actor=ops-3 > got
cmp -s got want && ok "and reads the same entries" || not_ok "gc'd ledger reads differently"
# a writer killed before the rename leaves tmp_pack_* / tmp_idx_*: ignored, appends continue
head -c 5000 /dev/urandom > $L/objects/pack/tmp_pack_killed
head -c 100 /dev/urandom > $L/objects/pack/tmp_idx_killed
records 500 2 > r2
check "append after a killed writer's leftovers" $A append --ledger $L --key key --stream api r2
check "and the ledger verifies" $A verify --ledger $L --key key.pub
# appending to a gc'd ledger adds batch packs next to git's pack. The gc'd clone is a copy taken
# before r2 was appended to $L, so it is another ledger of the same origin: its writer has its own
# verifier's memory holding what it last signed for that copy (issue 8)
export AUDITFS_STATE=$WORK/state-gced
check "append to the gc'd ledger" $A append --ledger $WORK/gced --key key --stream api r2
check "which verifies" $A verify --ledger $WORK/gced --key key.pub
check "and git fsck agrees" git -C $WORK/gced fsck --strict
finish
