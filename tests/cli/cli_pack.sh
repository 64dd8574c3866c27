#!/usr/bin/env bash
# One pack per batch (issue 13): a writer leaves one pack and its .idx per batch and no loose
# objects, and merges batch packs by size tiers (ledger/packmerge.c); git (a tool we did not write) reads them: fsck, verify-pack, clone; a ledger repacked
# by git gc (deltas) still verifies; leftovers of a killed writer (tmp_pack_*) are harmless.
source "$(dirname "$0")/lib.sh"
A=$AUDITFS
L=$WORK/ledger
$A keygen pack.example -o key >/dev/null 2>&1
$A init --ledger $L --key key 2>/dev/null
loose0=$(find $L/objects -type f -path '*/objects/??/*' | wc -l)
records 3000 1 > r1
check "append in several batches" $A append --ledger $L --key key --stream api --batch-bytes 30000 r1
batches=$(git -C $L rev-list --count main)
packs=$(ls $L/objects/pack/pack-*.pack | wc -l)
idxs=$(ls $L/objects/pack/pack-*.idx | wc -l)
# each batch is written as one pack (tests/cli/cli_durability.sh traces it); the writer then
# merges them by size tiers of factor 16 (ledger/packmerge.c): never 16 packs in one tier
[ "$idxs" -eq "$packs" ] && [ "$packs" -ge 1 ] && [ "$packs" -lt $((batches - 1)) ] &&
    ok "$((batches - 1)) batch packs merged into $packs, each with its .idx" ||
    not_ok "$packs packs, $idxs idx for $((batches - 1)) batches"
tiers() { # the number of packs in the fullest size tier (0: < 1 MiB, then x16)
    for f in "$1"/objects/pack/pack-*.pack; do
        s=$(stat -c %s "$f"); t=0; lim=1048576
        while [ "$s" -ge "$lim" ]; do t=$((t + 1)); lim=$((lim * 16)); done; echo $t
    done | sort | uniq -c | sort -rn | head -1 | awk '{print $1}'
}
[ "$(tiers $L)" -lt 16 ] && ok "no size tier holds 16 packs" || not_ok "a tier holds $(tiers $L) packs"
[ -z "$(ls $L/objects/pack | grep '\.keep$')" ] && ok "no .keep left after the merges" || not_ok "keeps: $(ls $L/objects/pack | grep keep)"
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
# a pack kept by someone else (an operator's .keep) is never merged away, nor its .keep touched
kept=$(ls $L/objects/pack/pack-*.pack | head -1); kept=${kept%.pack}
echo "operator: keep" > $kept.keep
records 1500 3 > r3
check "append in more batches next to a kept pack" $A append --ledger $L --key key --stream api --batch-bytes 30000 r3
[ -f $kept.pack ] && [ -f $kept.idx ] && [ "$(cat $kept.keep)" = "operator: keep" ] &&
    ok "the kept pack and its .keep are left alone" || not_ok "the kept pack was merged or its .keep changed"
rm -f $kept.keep
# the same document published 17 times: each batch stores its own copy of the content blob, so
# merged packs must hold each object once (an .idx may not name an object twice)
printf 'the same content\n' > doc.md
for i in $(seq 1 17); do $A publish --ledger $L --key key --name sla/same doc.md >/dev/null 2>&1 || break; done
[ "$(git -C $L ls-tree -r --name-only main | grep -c '^doc/sla/same/')" = 17 ] && ok "17 versions published" ||
    not_ok "published $(git -C $L ls-tree -r --name-only main | grep -c '^doc/sla/same/') versions"
ok_all=1; for i in $L/objects/pack/pack-*.idx; do git verify-pack "$i" >/dev/null 2>&1 || ok_all=0; done
[ $ok_all = 1 ] && ok "git verify-pack accepts every merged pack" || not_ok "verify-pack after merging duplicates"
check "the ledger verifies after the merges" $A verify --ledger $L --key key.pub
check "git fsck --strict agrees" git -C $L fsck --strict
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
