#!/usr/bin/env bash
# git gc / git repack -a -d in the window between a batch's pack and its ref move (the
# integration bug of perf + ingest: the batch's pack, not yet reachable, was deleted and the
# ledger's head named a missing commit). Deterministic: AUDITFS_TEST_HOLD_BEFORE_PUBLISH makes
# the writer wait, pack durable and ref not yet moved, while the test runs git's maintenance.
source "$(dirname "$0")/lib.sh"
A=$AUDITFS
export AUDITFS_STATE=$WORK/state
$A keygen race.example -o key >/dev/null
size() { $A checkpoint --ledger "$1" | sed -n 2p; }
payloads() { $A log --ledger "$1" --json | jq -c 'select(.type=="log") | .payload'; }
keeps() { ls "$1"/objects/pack/ 2>/dev/null | grep -c '\.keep$'; }
# held FILE CMD...: runs CMD in the background held before its ref move; returns when FILE exists
held() {
    local f=$1; shift
    rm -f "$f"
    AUDITFS_TEST_HOLD_BEFORE_PUBLISH=$f "$@" > held.out 2> held.err & hpid=$!
    for _ in $(seq 1 300); do [ -e "$f" ] && return 0; kill -0 $hpid 2>/dev/null || break; sleep 0.1; done
    return 1
}
release() { rm -f "$1"; wait $hpid; }
# `git repack -a -d` in git's own steps (builtin/repack.c, git 2.39), split where the race is:
# repack_look L: note the packs that have no .keep and write a pack of what refs reach now;
# repack_delete L: delete the noted packs (what -d does once pack-objects is done). A ref that
# moves between the two is what a long repack of a big ledger sees.
repack_look() {
    ( cd "$1/objects/pack" && for p in pack-*.pack; do [ -e "${p%.pack}.keep" ] || echo "${p%.pack}"; done ) > noted
    git -C "$1" pack-objects --all --reflog --indexed-objects --honor-pack-keep --non-empty \
        --keep-true-parents --delta-base-offset -q "$1/objects/pack/.tmp-repack" < /dev/null > new.sha
    for f in "$1"/objects/pack/.tmp-repack-*; do mv "$f" "$1/objects/pack/pack-${f##*.tmp-repack-}"; done
}
repack_delete() {
    while read -r p; do
        grep -q "${p#pack-}" new.sha || rm -f "$1/objects/pack/$p".{pack,idx,rev,bitmap}
    done < noted
}

for maint in "repack -a -d -q" "gc --quiet" "gc --quiet --prune=now"; do
    L=$WORK/l-${maint// /_}
    export AUDITFS_STATE=$WORK/state-${L##*/}  # one writer memory per ledger (all share one origin)
    $A init --ledger $L --key key 2>/dev/null
    records 300 3 > first
    $A append --ledger $L --key key --stream api first >/dev/null 2>&1
    records 50 4 > r50
    if held hold $A append --ledger $L --key key --stream api r50; then
        ok "$maint: the writer holds with its pack written, the ref not moved"
        k=$(cat $L/objects/pack/*.keep 2>/dev/null)
        [ "$k" = "auditfs: batch not yet published" ] && ok "$maint: the unpublished batch's pack is kept (.keep)" \
            || not_ok "$maint: no auditfs .keep while unpublished: '$k'"
        git -C $L $maint 2>/dev/null
        release hold; rc=$?
    else
        not_ok "$maint: the writer never reached the hold: $(head -3 held.err)"; release hold; rc=$?
    fi
    [ $rc -eq 0 ] && [ "$(tail -1 held.out)" = 350 ] && ok "$maint: append acknowledged 350" \
        || not_ok "$maint: append exit $rc, acks $(tail -1 held.out): $(head -3 held.err)"
    grep -q retrying held.err && not_ok "$maint: the commit had to be retried: $(head -2 held.err)" \
        || ok "$maint: published on the first attempt"
    [ "$(size $L)" = 350 ] && ok "$maint: the ledger holds 350" || not_ok "$maint: size $(size $L)"
    cat first r50 > want
    payloads $L > got 2>/dev/null
    cmp -s got want && ok "$maint: every acknowledged line is readable, in order" || not_ok "$maint: ledger differs from input"
    check "$maint: the ledger verifies" $A verify --ledger $L --key key.pub
    check "$maint: git fsck finds every object" git -C $L fsck --no-dangling
    [ "$(keeps $L)" = 0 ] && ok "$maint: no .keep is left once published" || not_ok "$maint: .keep left: $(ls $L/objects/pack)"
done

# git repack notes the packs and reads the refs before the ref moves, deletes after it: the
# batch's pack must not be among those it deletes (a .keep until the ref names the commit)
L=$WORK/split
export AUDITFS_STATE=$WORK/state-${L##*/}  # one writer memory per ledger (all share one origin)
$A init --ledger $L --key key 2>/dev/null
$A append --ledger $L --key key --stream api first >/dev/null 2>&1
if held hold1 $A append --ledger $L --key key --stream api r50; then
    repack_look $L
    release hold1; rc=$?
    repack_delete $L
else
    not_ok "split repack: the writer never reached the hold: $(head -3 held.err)"; release hold1; rc=$?
fi
[ $rc -eq 0 ] && [ "$(tail -1 held.out)" = 350 ] && ok "split repack: append acknowledged 350" \
    || not_ok "split repack: append exit $rc, acks $(tail -1 held.out): $(head -3 held.err)"
payloads $L > got 2>/dev/null
cmp -s got want && ok "split repack: every acknowledged line is still readable" || not_ok "split repack: ledger differs from input (acknowledged data lost)"
check "split repack: the ledger verifies" $A verify --ledger $L --key key.pub
check "split repack: git fsck finds every object" git -C $L fsck --no-dangling

# A writer killed between its pack and its ref move leaves an unreachable pack (kept). The next
# writer removes that stale .keep under the lock; publishing the same document content must not
# reuse the dead batch's copy of the blob, which git may delete before the new ref move.
L=$WORK/doc
export AUDITFS_STATE=$WORK/state-${L##*/}  # one writer memory per ledger (all share one origin)
$A init --ledger $L --key key 2>/dev/null
head -c 3000 /dev/urandom | base64 > doc.md
if held hold2 $A publish --ledger $L --key key --name sla/acme doc.md; then
    kill -9 $hpid; wait $hpid 2>/dev/null
    ok "a publishing writer killed before its ref move"
else
    not_ok "publish never reached the hold: $(head -3 held.err)"; release hold2
fi
[ "$(keeps $L)" = 1 ] && ok "its pack is still kept" || not_ok "keeps: $(keeps $L)"
echo "operator's keep" > $L/objects/pack/pack-0123456789012345678901234567890123456789.keep
if held hold3 $A publish --ledger $L --key key --name sla/acme doc.md; then
    repack_look $L
    release hold3; rc=$?
    repack_delete $L
else
    not_ok "the second publish never reached the hold: $(head -3 held.err)"; release hold3; rc=$?
fi
[ $rc -eq 0 ] && ok "the same document published again while git repack -a -d ran" || not_ok "publish exit $rc: $(head -3 held.err)"
check "git fsck finds every object (the document's content too)" git -C $L fsck --no-dangling
check "the ledger verifies" $A verify --ledger $L --key key.pub
$A log --ledger $L --json > doclog.json 2>&1
grep -q '"document"' doclog.json && ok "the document entry reads back" || not_ok "log: $(head -c 300 doclog.json)"
[ -e $L/objects/pack/pack-0123456789012345678901234567890123456789.keep ] && ok "a .keep that is not auditfs's is never removed" \
    || not_ok "the operator's .keep was removed"
[ "$(keeps $L)" = 1 ] && ok "the dead writer's stale .keep was removed" || not_ok "keeps: $(ls $L/objects/pack)"

# A writer killed after its batch was signed and remembered, before its ref move: the next
# writer publishes that saved commit (roll forward) and only then removes the dead writer's
# .keep. The hook holds the next writer just before its roll forward, while git gc --prune=now
# runs: the pack must still be kept then (removing the .keep first let gc delete it).
L=$WORK/roll
export AUDITFS_STATE=$WORK/state-${L##*/}
$A init --ledger $L --key key 2>/dev/null
$A append --ledger $L --key key --stream api first >/dev/null 2>&1
if held hold4 $A append --ledger $L --key key --stream api r50; then
    kill -9 $hpid; wait $hpid 2>/dev/null
    ok "roll forward: a writer killed with its batch signed and remembered, its ref not moved"
else
    not_ok "roll forward: the writer never reached the hold: $(head -3 held.err)"; release hold4
fi
records 10 6 > r10
rm -f hold5
AUDITFS_TEST_HOLD_BEFORE_ROLL_FORWARD=hold5 $A append --ledger $L --key key --stream api r10 > held.out 2> held.err & hpid=$!
for _ in $(seq 1 300); do [ -e hold5 ] && break; kill -0 $hpid 2>/dev/null || break; sleep 0.1; done
if [ -e hold5 ]; then
    [ "$(keeps $L)" = 1 ] && ok "roll forward: the dead writer's pack is still kept when the next writer is about to publish it" \
        || not_ok "roll forward: keeps before the roll forward: $(keeps $L)"
    git -C $L gc --quiet --prune=now 2>/dev/null
fi
release hold5; rc=$?
[ $rc -eq 0 ] && [ "$(tail -1 held.out)" = 360 ] && ok "roll forward: the saved batch published, the new one appended (360) across git gc --prune=now" \
    || not_ok "roll forward: append exit $rc, acks $(tail -1 held.out): $(head -3 held.err)"
cat first r50 r10 > want
payloads $L > got 2>/dev/null
cmp -s got want && ok "roll forward: every line readable, in order" || not_ok "roll forward: ledger differs from input"
check "roll forward: git fsck finds every object" git -C $L fsck --no-dangling
check "roll forward: the ledger verifies" $A verify --ledger $L --key key.pub
[ "$(keeps $L)" = 0 ] && ok "roll forward: the stale .keep is removed once the commit is published" || not_ok "roll forward: .keep left: $(ls $L/objects/pack)"

# Readers while git repack -a -d replaces the packs they loaded (a bounded loop, not timed): a
# pack deleted between loading its .idx and opening it is forgotten and the directory rescanned,
# never an error ("cannot open: No such file or directory" before)
L=$WORK/readers
export AUDITFS_STATE=$WORK/state-${L##*/}  # one writer memory per ledger (all share one origin)
$A init --ledger $L --key key 2>/dev/null
records 3000 5 > r3000
$A append --ledger $L --key key --stream api --batch-bytes 4000 --no-index r3000 >/dev/null 2>&1
( for i in $(seq 1 30); do git -C $L repack -a -d -q 2>/dev/null; done ) & rp=$!
bad=0
for i in $(seq 1 12); do
    payloads $L > rd.out 2> rd.err
    cmp -s rd.out r3000 || { bad=$((bad + 1)); head -2 rd.err; }
done
wait $rp
[ $bad -eq 0 ] && ok "12 full reads while git repack -a -d ran 30 times: all complete" || not_ok "$bad of 12 reads failed"
finish
