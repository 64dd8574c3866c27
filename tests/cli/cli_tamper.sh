#!/usr/bin/env bash
# Tampering: flip one byte in every reachable object of a small ledger, one at a time; verify
# must fail every time (and pass again once the byte is restored). Then forgeries made with
# valid git but without the key, and a rollback caught by --trusted.
source "$(dirname "$0")/lib.sh"
A=$AUDITFS
L=$WORK/ledger
$A keygen tamper.example -o key >/dev/null
$A init --ledger $L --key key 2>/dev/null
records 600 > r1
records 300 7 > r2
$A append --ledger $L --key key --stream api --batch-bytes 30000 r1 >/dev/null
echo "sla" > sla.md
$A publish --ledger $L --key key --name sla/x sla.md >/dev/null
$A checkpoint --ledger $L > trusted.cp
$A notice --ledger $L --key key --title "n" sla.md >/dev/null
$A append --ledger $L --key key --stream api r2 >/dev/null
check "the untouched ledger verifies" $A verify --ledger $L --key key.pub

# every object, loose or in a batch's pack: one byte flipped in its stored bytes, in every
# copy (a batch stores its own copy of content another pack has, e.g. the notice below with the
# document's bytes: a copy of an abandoned batch could be deleted by git gc before the ref
# moves, FORMAT.md Durability; a redundant copy that is never read changes nothing)
copies() {
    local idx off next
    [ -f "$1/objects/${2:0:2}/${2:2}" ] && echo "$1/objects/${2:0:2}/${2:2} 0 $(stat -c %s "$1/objects/${2:0:2}/${2:2}")"
    for idx in "$1"/objects/pack/pack-*.idx; do
        off=$(git show-index <"$idx" | awk -v o="$2" '$2 == o { print $1 }')
        [ -n "$off" ] || continue
        next=$(git show-index <"$idx" | awk -v o="$off" '$1 > o + 0 { print $1 }' | sort -n | head -n 1)
        [ -n "$next" ] || next=$(( $(stat -c %s "${idx%.idx}.pack") - 20 ))
        echo "${idx%.idx}.pack $off $((next - off))"
    done
}
objects=$(all_objects $L | sort -u)
n=0; detected=0; missed=""
for oid in $objects; do
    copies $L $oid > "$WORK/copies"
    i=0
    while read -r f off len; do
        cp -p "$f" "$WORK/orig.$i"
        o=$((off + len * (37 + n % 5) / 100))
        chmod u+w "$f"
        byte=$(od -An -tu1 -j "$o" -N1 "$f" | tr -d ' ')
        printf "$(printf '\\%03o' $(( (byte ^ 0x20) & 255 )))" | dd of="$f" bs=1 seek="$o" conv=notrunc 2>/dev/null
        i=$((i + 1))
    done < "$WORK/copies"
    n=$((n + 1))
    if $A verify --ledger $L --key key.pub >/dev/null 2>"$WORK/verr"; then
        missed="$missed $oid"
    else
        detected=$((detected + 1))
    fi
    i=0
    while read -r f _ _; do cp -p "$WORK/orig.$i" "$f"; i=$((i + 1)); done < "$WORK/copies"
done
echo "# $detected of $n single-byte changes detected"
[ $n -gt 20 ] && [ $detected -eq $n ] && ok "every single-byte change to a reachable object is detected ($n objects)" || not_ok "missed:$missed"
check "the restored ledger verifies again (no false alarm)" $A verify --ledger $L --key key.pub

# Forgery with valid git objects: change one payload byte in a segment, rebuild the blob.
work=$WORK/clone
git clone -q --bare $L $work
seg=$(git -C $work ls-tree -r main --name-only | grep '^seg/' | head -1)
git -C $work cat-file blob main:$seg > $WORK/seg.bin
# decompress the zstd frames (the index frame is skipped), edit, and re-store as a single frame
# whose index no longer matches: the verifier must reject the structure or the hashes
zstd -dc -q $WORK/seg.bin > $WORK/seg.raw 2>/dev/null
sed -i 's/ops-3/ops-4/' $WORK/seg.raw
isize=$(( $(od -An -tu4 -j4 -N4 $WORK/seg.bin) + 8 ))
head -c $isize $WORK/seg.bin > $WORK/forged.bin  # keep the index frame
zstd -q -c $WORK/seg.raw >> $WORK/forged.bin
blob=$(git -C $work hash-object -w $WORK/forged.bin)
tree=$(git -C $work ls-tree -r main | sed "s|[0-9a-f]\{40\}\t$seg\$|$blob\t$seg|" | git -C $work mktree --missing 2>/dev/null)
if [ -z "$tree" ]; then
    # mktree does not take recursive listings: rebuild via an index instead
    export GIT_INDEX_FILE=$WORK/idx
    git -C $work read-tree main
    git -C $work update-index --cacheinfo 100644,$blob,$seg
    tree=$(git -C $work write-tree)
    unset GIT_INDEX_FILE
fi
commit=$(git -C $work commit-tree $tree -p main -m forged)
git -C $work update-ref refs/heads/main $commit
expect_exit 1 "a segment rewritten with valid git but without the key is detected" $A verify --ledger $work --key key.pub
expect_err "commit|entry|seg/" "the failure names the commit, entry or segment"

# History rewritten: drop the last commit (rollback / truncation), caught by --trusted of a later one
rb=$WORK/rollback
git clone -q --bare $L $rb
$A checkpoint --ledger $L > latest.cp
git -C $rb update-ref refs/heads/main $(git -C $rb rev-parse main~1)
# a party with no memory of this ledger (a fresh state directory) only has --trusted ...
AUDITFS_STATE=$WORK/fresh-state check "a rolled-back ledger still verifies on its own" $A verify --ledger $rb --key key.pub
AUDITFS_STATE=$WORK/fresh-state2 expect_exit 1 "--trusted with a later checkpoint detects the rollback" $A verify --ledger $rb --key key.pub --trusted latest.cp
expect_err "rollback|removed" "the message says entries were removed"
# ... a party that saw the later checkpoint remembers it (tests/cli/trust_*.sh for the rest)
expect_exit 8 "the verifier's memory detects the rollback without --trusted" $A verify --ledger $rb --key key.pub
expect_err "rollback" "the message says rollback"

# The same entries and origin, signed by someone else's key (a re-signed forgery)
$A keygen tamper.example -o evil.key >/dev/null
ev=$WORK/evil.ledger
# (the forger is another party, with its own state directory)
AUDITFS_STATE=$WORK/forger $A init --ledger $ev --key evil.key 2>/dev/null
AUDITFS_STATE=$WORK/forger $A append --ledger $ev --key evil.key --stream api r1 >/dev/null
AUDITFS_STATE=$WORK/forger check "the forger's ledger verifies with the forger's key" $A verify --ledger $ev --key evil.key.pub
expect_exit 1 "the provider's key rejects a ledger re-signed with another key" $A verify --ledger $ev --key key.pub
expect_err "signature|no signature" "the message blames the signature"
finish
