#!/usr/bin/env bash
# CLI integration: ledger format 2 (docs/FORMAT.md section 17). New ledgers store no level-0
# tiles; readers rebuild them from the segments and check them against the level-1 tiles and
# the signed root. A format-1 ledger (AUDITFS_TEST_LEDGER_FORMAT=1, as every ledger made before
# format 2) keeps storing them. The same entries in both formats give the same proofs, leaves
# and exported tiles; a changed segment is caught by verify, proofs, leaf reads and the mount;
# a stray tile/0 in a format-2 tree is refused by name.
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lib.sh"
A=$AUDITFS
export GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@example GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@example
# each ledger has its own verifier's memory (the same origin twice in one would be a fork)
on() { local s=$1; shift; AUDITFS_STATE=$WORK/state-$s "$@"; }
tile0_count() { # tile0_count LEDGER: tile/0 entries over every commit's tree
    local c n=0
    for c in $(git -C "$1" rev-list main); do
        n=$((n + $(git -C "$1" ls-tree -r --name-only "$c" | grep -c '^tile/0/')))
    done
    echo $n
}

$A keygen fmt.example -o key >/dev/null
on f1 env AUDITFS_TEST_LEDGER_FORMAT=1 $A init --ledger F1 --key key 2>/dev/null
on n2 $A init --ledger N2 --key key 2>/dev/null
[ "$(git -C F1 cat-file blob main:format)" = auditfs-ledger/1 ] && ok "the test hook makes a format-1 ledger" ||
    not_ok "F1 format: $(git -C F1 cat-file blob main:format)"
[ "$(git -C N2 cat-file blob main:format)" = auditfs-ledger/2 ] && ok "init makes a format-2 ledger" ||
    not_ok "N2 format: $(git -C N2 cat-file blob main:format)"
# batches ending on a tile boundary (256, 768) and inside tiles; a tile spanning segments
records 256 1 >r1
records 300 2 >r2
records 212 3 >r3
records 500 4 >r4
for L in F1 N2; do
    s=$([ $L = F1 ] && echo f1 || echo n2)
    on $s $A append --ledger $L --key key --stream api --no-index r1 >/dev/null &&
        on $s $A append --ledger $L --key key --stream api --no-index r2 >/dev/null &&
        on $s $A append --ledger $L --key key --stream audit --no-index r3 >/dev/null &&
        on $s $A append --ledger $L --key key --stream audit --no-index --batch-bytes 20000 r4 >/dev/null ||
        not_ok "append to $L"
done
check "the format-2 ledger verifies" on n2 $A verify --ledger N2 --key key.pub
expect_out "1268 entries" "with all 1268 entries"
[ "$(tile0_count N2)" = 0 ] && ok "no commit of the format-2 ledger holds a tile/0 entry" ||
    not_ok "N2 has $(tile0_count N2) tile/0 entries"
[ "$(tile0_count F1)" -gt 0 ] && git -C F1 cat-file -e main:tile/0/004.p/244 &&
    ok "the format-1 ledger stores its level-0 tiles (full and partial)" || not_ok "F1 tile/0"
git -C N2 cat-file -e main:tile/1/000.p/4 && ok "level-1 tiles are stored as before" ||
    not_ok "N2 tile/1: $(git -C N2 ls-tree -r --name-only main tile)"
check "the format-1 ledger verifies" on f1 $A verify --ledger F1 --key key.pub
for i in 0 255 256 700 1267; do
    on n2 $A leaf --ledger N2 $i >leaf.$i || not_ok "leaf $i of the format-2 ledger"
done
grep -q '^seq 1267$' leaf.1267 && ok "leaf N reads from the format-2 ledger (checked against rebuilt tiles)" ||
    not_ok "leaf 1267: $(head -c 200 leaf.1267)"

# The same entries in format 2: F2 is F1 with tile/0 removed and the format file changed in
# every commit (rewritten with git alone, so its commits are unsigned, legacy-style; the
# checkpoints are F1's, signed, valid: the roots do not depend on the format).
cp -a F1 F2
fmt2=$(printf 'auditfs-ledger/2\n' | git -C F2 hash-object -w --stdin)
parent=
for c in $(git -C F2 rev-list --reverse main); do
    GIT_INDEX_FILE=$WORK/idx git -C F2 read-tree "$c"
    GIT_INDEX_FILE=$WORK/idx git -C F2 rm -r -q --cached --ignore-unmatch tile/0 >/dev/null
    GIT_INDEX_FILE=$WORK/idx git -C F2 update-index --cacheinfo "100644,$fmt2,format"
    t=$(GIT_INDEX_FILE=$WORK/idx git -C F2 write-tree)
    rm -f "$WORK/idx"
    parent=$(git -C F2 commit-tree "$t" ${parent:+-p $parent} -m "format 2")
done
git -C F2 update-ref refs/heads/main "$parent"
check "the format-2 copy of the format-1 ledger verifies" on f2 $A verify --ledger F2 --key key.pub
[ "$(tile0_count F2)" = 0 ] && ok "and holds no tile/0" || not_ok "F2 tile/0"
same=1
for i in 0 1 100 255 256 257 511 512 555 556 767 768 1000 1267; do
    on f1 $A prove --ledger F1 --key key.pub --index $i >p1 2>&1 &&
        on f2 $A prove --ledger F2 --key key.pub --index $i >p2 2>&1 && cmp -s p1 p2 || { same=0; echo "# prove $i differs: $(head -c 200 p2)"; }
    on f1 $A prove --ledger F1 --key key.pub --index $i --size 556 >p1 2>&1
    on f2 $A prove --ledger F2 --key key.pub --index $i --size 556 >p2 2>&1
    cmp -s p1 p2 || { same=0; echo "# prove $i --size 556 differs"; }
done
[ $same = 1 ] && ok "inclusion proofs from both formats are identical (head and an older size)" ||
    not_ok "inclusion proofs differ"
same=1
for m in 1 255 256 300 556 768 1000 1267; do
    on f1 $A consistency --ledger F1 --key key.pub --from $m >c1 2>&1 &&
        on f2 $A consistency --ledger F2 --key key.pub --from $m >c2 2>&1 && cmp -s c1 c2 || { same=0; echo "# consistency $m: $(head -c 200 c2)"; }
done
[ $same = 1 ] && ok "consistency proofs from both formats are identical" || not_ok "consistency proofs differ"
# The derived cache of rebuilt tiles (state directory, tile0/*.cache) is never trusted: filled
# with garbage, or with another ledger's tiles, it changes no proof and no leaf read
C=$(ls "$WORK"/state-f2/tile0/*.cache 2>/dev/null | head -n 1)
[ -n "$C" ] && [ "$(stat -c %s "$C")" -ge 8192 ] && ok "readers keep rebuilt tiles in the state directory's tile0/" ||
    not_ok "no tile cache: $(ls -R "$WORK/state-f2" | head -20)"
head -c "$(stat -c %s "$C")" /dev/urandom >"$C.x" && mv "$C.x" "$C"
same=1
for i in 0 300 700 1000; do
    on f1 $A prove --ledger F1 --key key.pub --index $i >p1 2>&1
    on f2 $A prove --ledger F2 --key key.pub --index $i >p2 2>&1
    cmp -s p1 p2 || { same=0; echo "# prove $i with a garbage cache: $(head -c 200 p2)"; }
done
[ $same = 1 ] && ok "a cache of garbage changes no proof (each slot is checked against the level-1 tile)" ||
    not_ok "proofs differ with a garbage cache"
# a slot holding a tile that is genuine for another position (tile 1's bytes at tile 0's slot)
git -C F1 cat-file blob main:tile/0/001 >t1 && dd if=t1 of="$C" bs=8192 seek=0 conv=notrunc 2>/dev/null
on f1 $A prove --ledger F1 --key key.pub --index 5 >p1 2>&1
on f2 $A prove --ledger F2 --key key.pub --index 5 >p2 2>&1
on f2 $A leaf --ledger F2 --key key.pub 5 >leaf5 2>&1
cmp -s p1 p2 && grep -q '^seq 5$' leaf5 && ok "nor does another position's genuine tile in a slot" ||
    not_ok "a moved tile was used: $(head -c 200 p2) $(head -c 100 leaf5)"
on f1 $A leaves --ledger F1 --key key.pub --from 0 --to 1268 >l1 2>/dev/null
on f2 $A leaves --ledger F2 --key key.pub --from 0 --to 1268 >l2 2>/dev/null
[ -s l1 ] && cmp -s l1 l2 && ok "leaves reads the same bytes from both" || not_ok "leaves differ"
check "export --tlog-tiles of the format-1 ledger" on f1 $A export --ledger F1 --key key.pub --tlog-tiles w1
check "export --tlog-tiles of the format-2 ledger" on f2 $A export --ledger F2 --key key.pub --tlog-tiles w2
[ -f w2/tile/0/004.p/244 ] && [ -f w2/tile/0/000 ] && diff -r w1 w2 >/dev/null &&
    ok "the exported trees are byte-identical (level-0 tiles rebuilt as format 1 stores them)" ||
    not_ok "exports differ: $(diff -rq w1 w2 | head -3)"

# A stray level-0 tile in a format-2 tree is refused by name (on a copy of F2 while its
# commits are all unsigned, so that the rewritten head is no defect of its own)
T=$(git -C F1 rev-parse main:tile/0/000)
git -C F1 cat-file blob "$T" >tile0
cp -a F2 S && blob=$(git -C S hash-object -w "$WORK/tile0")
GIT_INDEX_FILE=$WORK/idx git -C S read-tree main
GIT_INDEX_FILE=$WORK/idx git -C S update-index --add --cacheinfo "100644,$blob,tile/0/000"
t=$(GIT_INDEX_FILE=$WORK/idx git -C S write-tree); rm -f "$WORK/idx"
git -C S update-ref refs/heads/main "$(git -C S commit-tree "$t" -p main~1 -m stray)"
expect_exit 1 "verify refuses a format-2 ledger with a tile/0 entry (the genuine tile)" on s $A verify --ledger S --key key.pub
expect_err 'tile/0 is in the tree, but format auditfs-ledger/2 stores no level-0 tiles' \
    "the message names tile/0 and the format"

# Appending continues each ledger in its own format
records 12 5 >r5
records 20 6 >r6
on f2 $A append --ledger F2 --key key --stream api --no-index r5 >/dev/null || not_ok "append to F2"
on f1 $A append --ledger F1 --key key --stream api --no-index r5 >/dev/null || not_ok "append to F1"
git -C F1 cat-file -e main:tile/0/004 && [ "$(git -C F1 cat-file blob main:format)" = auditfs-ledger/1 ] &&
    ok "a format-1 ledger stays format 1 and keeps storing level-0 tiles" || not_ok "F1 after append"
[ "$(tile0_count F2)" = 0 ] && ok "a format-2 ledger stays without tile/0 after an append" || not_ok "F2 after append"
# incremental verify (the memory of the last verified commit): from a size inside a tile (1268)
# and then from a size on a tile boundary (1280), where the chain's last hash is a full tile's
check "verify after appending to 1280 (incremental from 1268)" on f2 $A verify --ledger F2 --key key.pub
on f2 $A append --ledger F2 --key key --stream api --no-index r6 >/dev/null || not_ok "append to F2"
check "verify after appending to 1300 (incremental from 1280)" on f2 $A verify --ledger F2 --key key.pub
expect_out "1300 entries" "with all 1300 entries"
check "a full verify of it from a fresh memory" on f2b $A verify --ledger F2 --key key.pub

# A segment that holds another leaf, well formed (recompressed, index updated): entry 10 says
# "failure". Every commit holding it is rewritten with git (unsigned): only the hashes can tell.
SEG=seg/000/000/000/000
git -C N2 cat-file blob main:$SEG >seg0
python3 "$HERE/seg_tamper.py" seg0 10 seg0.bad || not_ok "seg_tamper.py"
rm -rf T && cp -a N2 T && blob=$(git -C T hash-object -w "$WORK/seg0.bad")
parent=
for c in $(git -C T rev-list --reverse main); do
    GIT_INDEX_FILE=$WORK/idx git -C T read-tree "$c"
    git -C T cat-file -e "$c:$SEG" 2>/dev/null &&
        GIT_INDEX_FILE=$WORK/idx git -C T update-index --cacheinfo "100644,$blob,$SEG"
    t=$(GIT_INDEX_FILE=$WORK/idx git -C T write-tree); rm -f "$WORK/idx"
    parent=$(git -C T commit-tree "$t" ${parent:+-p $parent} -m tampered)
done
git -C T update-ref refs/heads/main "$parent"
expect_exit 1 "verify catches a changed leaf in a format-2 segment" on t1 $A verify --ledger T --key key.pub
expect_err 'tile/1/000.p/4 does not match|partial tile at level 1|root for size .* does not match' \
    "through the level-1 tile or the root"
expect_exit 1 "prove refuses to prove an entry of the changed tile" on t2 $A prove --ledger T --key key.pub --index 3
expect_err 'tile/0/000 does not hash to its entry in the tile above' "naming the rebuilt tile that does not match"
expect_exit 1 "leaf N refuses the changed leaf" on t3 $A leaf --ledger T --key key.pub 10
expect_exit 1 "consistency refuses proofs through the changed tile" on t4 $A consistency --ledger T --key key.pub --from 100
check "entries of other tiles still read" on t5 $A leaf --ledger T --key key.pub 300
if [ -e /dev/fuse ] && command -v fusermount3 >/dev/null 2>&1 && (exec 3<>/dev/fuse) 2>/dev/null; then
    mkdir -p mnt
    timeout 20 env AUDITFS_STATE=$WORK/state-t6 $A mount -f --ledger T --key key.pub mnt >/dev/null 2>mount.err
    rc=$?
    mountpoint -q mnt && fusermount3 -uz mnt
    [ $rc -eq 1 ] && ok "the mount refuses the format-2 ledger with a changed leaf" ||
        not_ok "mount of T (exit $rc: $(head -c 300 mount.err))"
else
    echo "ok - mount check # SKIP FUSE is not available"
fi
finish
