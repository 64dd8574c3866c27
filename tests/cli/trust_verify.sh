#!/usr/bin/env bash
# verify checks every repository rule of docs/FORMAT.md section 6 (issue 8): trees that stock git
# reads differently from libgit2 (duplicate, unsorted entries, other modes), the first commit, one
# batch per commit (no squashed history, no padding commits), and alternates (git clone --shared).
# Each variant keeps the genuine signed checkpoint, so only these rules can catch it.
source "$(dirname "$0")/lib.sh"
A=$AUDITFS
L=$WORK/ledger
$A keygen rules.example -o key >/dev/null
$A init --ledger $L --key key 2>/dev/null
records 400 > r1; records 50 2 > r2; records 50 3 > r3
$A append --ledger $L --key key --stream api --batch-bytes 20000 r1 >/dev/null
$A append --ledger $L --key key --stream api r2 >/dev/null
$A append --ledger $L --key key --stream api r3 >/dev/null
check "the untouched ledger verifies" $A verify --ledger $L
# Commits are signed (SSHSIG, FORMAT.md section 10) and the variants below are made with git
# commit-tree, unsigned; so the ledger first becomes a legacy one (signatures stripped, history
# re-linked, trees and checkpoints unchanged), where unsigned commits are allowed: only the
# rules under test can then refuse a variant.
parent=""
for c in $(git -C $L rev-list --reverse main); do
    git -C $L cat-file commit $c | sed '/^gpgsig /,/^ -----END SSH SIGNATURE-----$/d' > raw
    [ -n "$parent" ] && sed -i "s/^parent .*/parent $parent/" raw
    parent=$(git -C $L hash-object -t commit -w --stdin < raw)
done
git -C $L update-ref refs/heads/main $parent
check "the legacy (unsigned) form verifies" $A verify --ledger $L

# variant NAME COMMIT: a copy of the ledger whose main is COMMIT (made in $L's object store)
variant() {
    rm -rf $WORK/$1
    cp -a $L $WORK/$1
    git -C $WORK/$1 update-ref refs/heads/main $2
}
# retree PY: the head tree rewritten by the Python expression PY over `e`, a list of
# [mode, name, raw id] entries, as a raw tree object; prints its id
retree() {
    git -C $L cat-file tree main^{tree} >tree.raw
    python3 - "$1" >tree.new <<'EOF'
import sys
data = open('tree.raw', 'rb').read()
e, i = [], 0
while i < len(data):
    sp = data.index(b' ', i); nul = data.index(b'\0', sp)
    e.append([data[i:sp], data[sp + 1:nul], data[nul + 1:nul + 21]]); i = nul + 21
exec(sys.argv[1])
sys.stdout.buffer.write(b''.join(m + b' ' + n + b'\0' + h for m, n, h in e))
EOF
    git -C $L hash-object -t tree -w --literally --stdin <tree.new
}
# the head commit again, with the rewritten tree and the same parent
recommit() { git -C $L commit-tree "$1" -p main~1 -m "$(git -C $L log -1 --format=%B main)"; }

dup=$(retree 'k = [x[1] for x in e].index(b"format"); e.insert(k + 1, list(e[k]))')
variant dup $(recommit $dup)
expect_exit 1 "a tree with a duplicate entry does not verify" $A verify --ledger $WORK/dup
expect_err "repeated|twice" "the failure names the duplicate"
git -C $WORK/dup fsck --no-dangling >/dev/null 2>fsck.err; grep -q -i "duplicate" fsck.err && ok "git fsck flags the same tree" || not_ok "git fsck: $(head -3 fsck.err)"

# a file and a directory of one name sort apart in git's order: still one name twice
twin=$(retree 'k = [x[1] for x in e].index(b"seg"); e.insert(k, [b"100644", b"seg", e[[x[1] for x in e].index(b"format")][2]])')
variant twin $(recommit $twin)
expect_exit 1 "a file and a directory of the same name do not verify" $A verify --ledger $WORK/twin
expect_err "twice" "the failure says the name appears twice"

uns=$(retree 'a = [x[1] for x in e].index(b"checkpoint"); b = [x[1] for x in e].index(b"format"); e[a], e[b] = e[b], e[a]')
variant unsorted $(recommit $uns)
expect_exit 1 "a tree with unsorted entries does not verify" $A verify --ledger $WORK/unsorted
expect_err "order" "the failure says the order is wrong"

exe=$(retree 'k = [x[1] for x in e].index(b"format"); e[k][0] = b"100755"')
variant exec $(recommit $exe)
expect_exit 1 "an executable file mode does not verify" $A verify --ledger $WORK/exec
expect_err "mode '100755'" "the failure names the mode"

pad=$(retree 'k = [x[1] for x in e].index(b"seg"); e[k][0] = b"040000"')
variant padded $(recommit $pad)
expect_exit 1 "a zero-padded directory mode does not verify" $A verify --ledger $WORK/padded
expect_err "mode '040000'" "the failure names the mode"

# history: squashed, padded with no-op commits, a first commit that is not the empty ledger
root=$(git -C $L rev-list --max-parents=0 main)
variant squash $(git -C $L commit-tree main^{tree} -p $root -m "squashed")
expect_exit 1 "every batch squashed into one commit does not verify" $A verify --ledger $WORK/squash
expect_err "squashed|spans" "the failure says batches were squashed"
variant squash2 $(git -C $L commit-tree main^{tree} -p main~2 -m "two batches")
expect_exit 1 "the last two batches squashed into one commit do not verify" $A verify --ledger $WORK/squash2
variant rootsquash $(git -C $L commit-tree main^{tree} -m "everything")
expect_exit 1 "a history squashed into its first commit does not verify" $A verify --ledger $WORK/rootsquash
expect_err "first commit" "the failure names the first commit rule"
variant padding $(git -C $L commit-tree main^{tree} -p main -m "nothing")
expect_exit 1 "a no-op padding commit does not verify" $A verify --ledger $WORK/padding
expect_err "adds no entries" "the failure says the commit adds nothing"
check "the original still verifies" $A verify --ledger $L

# alternates: an untouched shared clone verifies and reads; its objects are all in $L
git clone -q --bare --shared $L $WORK/shared
[ -z "$(find $WORK/shared/objects -type f -path '*/objects/??/*')" ] && ok "the shared clone has no objects of its own" || not_ok "objects copied"
check "verify of an untouched git clone --shared passes" $A verify --ledger $WORK/shared
check "and it reads" $A leaf --ledger $WORK/shared 3
# ...and an object damaged in the alternate is still caught by the checked reader
# (a loose object verify must read: the re-linked commit before the head; the first loose file
# find met could be an unreferenced one, e.g. a variant's commit, and then nothing was read)
obj=$(git -C $L rev-parse main~1); obj=$L/objects/${obj:0:2}/${obj:2}
chmod u+w $obj; cp -p $obj obj.bak
printf 'x' | dd of=$obj bs=1 seek=10 conv=notrunc 2>/dev/null
expect_exit 1 "a damaged object in the alternate is detected" $A verify --ledger $WORK/shared
cp -p obj.bak $obj
# ...and so is a segment damaged in one of the alternate's packs (writers pack every batch)
seg=$(git -C $L rev-parse main:seg/000/000/000/000)
pk=$(obj_bytes $L $seg | cut -d' ' -f1)
cp -p $pk pack.bak
flip_obj $L $seg
expect_exit 1 "a damaged packed segment in the alternate is detected" $A verify --ledger $WORK/shared
cp -p pack.bak $pk
check "the shared clone verifies again once the alternate is restored" $A verify --ledger $WORK/shared
# a shared clone is a ledger too: a batch appended to it goes to its own pack, never the alternate
before=$(ls $L/objects/pack | wc -l)
records 20 4 > r4
check "a batch appends to a shared clone" $A append --ledger $WORK/shared --key key --stream api r4
[ "$(ls $L/objects/pack | wc -l)" = "$before" ] && ls $WORK/shared/objects/pack/pack-*.pack >/dev/null 2>&1 &&
    ok "the batch's pack is in the clone, the alternate is unchanged" || not_ok "the alternate was written"
check "the shared clone with its own batch verifies" $A verify --ledger $WORK/shared
finish
