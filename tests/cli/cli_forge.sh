#!/usr/bin/env bash
# Forgeries whose signatures and roots are all valid: tests/torture/forge rewrites a clone of the
# ledger with the ledger's own key (or places a genuinely signed checkpoint of a second ledger on
# an old commit), so each forged ledger breaks exactly one rule of docs/FORMAT.md and nothing
# else. `verify` must fail on every one with exit 1, naming the entry or commit and the rule.
# These are the checks mutation testing (tests/mutation/) found unobserved: without this file,
# verify could stop checking the prev chain or historical roots and every suite would pass.
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lib.sh"
export AUDITFS_STATE=$WORK/state
A=$AUDITFS
FORGE=${BUILD_ROOT:+$BUILD_ROOT/tests/torture/forge}
if [ -z "$FORGE" ] || [ ! -x "$FORGE" ]; then
    echo "# SKIP: the forge tool is not built (BUILD_ROOT=${BUILD_ROOT:-unset})"
    exit 77
fi

$A keygen forge.example -o key >/dev/null
$A init --ledger L --key key 2>/dev/null
records 100 1 >r1
$A append --ledger L --key key --stream api r1 >/dev/null # commit 1: size 100, one batch
records 400 2 >r2
$A append --ledger L --key key --stream api --batch-bytes 20000 r2 >/dev/null
records 100 3 >r3
$A append --ledger L --key key --stream audit r3 >/dev/null
records 10 4 >r4
$A append --ledger L --key key --stream audit r4 >/dev/null # 600 -> 610: no tile completed
# L1: the same appends to a format-1 ledger (stored level-0 tiles, docs/FORMAT.md section 17),
# for the forgeries of level-0 tiles; L is format 2, as every new ledger
export AUDITFS_STATE=$WORK/state-L1
AUDITFS_TEST_LEDGER_FORMAT=1 $A init --ledger L1 --key key 2>/dev/null
$A append --ledger L1 --key key --stream api r1 >/dev/null
$A append --ledger L1 --key key --stream api --batch-bytes 20000 r2 >/dev/null
$A append --ledger L1 --key key --stream audit r3 >/dev/null
$A append --ledger L1 --key key --stream audit r4 >/dev/null
export AUDITFS_STATE=$WORK/state
[ "$(git -C L1 cat-file blob main:format)" = auditfs-ledger/1 ] && [ "$(git -C L cat-file blob main:format)" = auditfs-ledger/2 ] &&
    ok "L1 is format 1, L format 2" || not_ok "formats of L1 and L"
N=$($A checkpoint --ledger L | sed -n 2p)
C=$(git -C L rev-list --count main)
[ "$N" = 610 ] && [ "$C" -ge 6 ] && ok "test ledger: $N entries in $C commits" ||
    not_ok "test ledger: $N entries in $C commits"

# flip_last FILE: changes the last byte of FILE (xor 1: always a change)
flip_last() { python3 -c 'import sys; b = bytearray(open(sys.argv[1], "rb").read()); b[-1] ^= 1; open(sys.argv[1], "wb").write(bytes(b))' "$1"; }
# Each forged copy is judged by a fresh verifier (issue 8): a party that pinned the provider's
# key but never saw L. Otherwise the memory of L's genuine head (same origin) would refuse every
# copy as a fork or rollback (exit 8) before the rule under test is reached.
FSTATE=$WORK/state-F
fresh_reader() { rm -rf "$FSTATE" && AUDITFS_STATE=$FSTATE $A trust add key.pub --origin forge.example >/dev/null 2>&1; }
onF() { AUDITFS_STATE=$FSTATE "$@"; }
# forged NAME ARGS...: NAME is a copy of L rewritten by `forge NAME ARGS...`
forged() {
    local d=$1; shift
    fresh_reader
    rm -rf "$d" && cp -a L "$d" && "$FORGE" "$d" "$@" >/dev/null 2>"$WORK/.forge"
}
# verify_fails NAME PATTERN DESCRIPTION: verify exits 1 and its message matches PATTERN
verify_fails() {
    onF $A verify --ledger "$1" --key key.pub >"$WORK/.out" 2>"$WORK/.err"
    local rc=$?
    if [ $rc -eq 1 ] && grep -qE -- "$2" "$WORK/.err"; then
        ok "$3"
    else
        not_ok "$3 (exit $rc: $(head -c 300 "$WORK/.err"))"
    fi
}

# The control: rebuilt and re-signed without a defect, the forgery verifies - so each failure
# below comes from its one defect, not from the forging.
if forged F none --resign key; then
    check "a re-signed rebuild with no defect verifies" onF $A verify --ledger F --key key.pub
else
    not_ok "forge none --resign: $(cat "$WORK/.forge")"
fi

forged F none --resign key --break-prev 250 || not_ok "forge --break-prev: $(cat "$WORK/.forge")"
verify_fails F 'entry 250: prev does not match' \
    "a broken prev chain under valid signatures and roots fails, naming the entry"

forged F none --resign key --back-time 333 || not_ok "forge --back-time: $(cat "$WORK/.forge")"
verify_fails F 'entry 333: time goes backwards' \
    "time going backwards under valid signatures and roots fails, naming the entry"

forged F none --resign key --bad-seq 420 || not_ok "forge --bad-seq: $(cat "$WORK/.forge")"
verify_fails F 'entry 420: leaf says seq 421' \
    "a leaf whose seq is not its position fails, naming the entry"

forged F none --resign key --origin-at 2 forge.other.example ||
    not_ok "forge --origin-at: $(cat "$WORK/.forge")"
verify_fails F 'commit [0-9a-f]{7,}.*origin "forge.other.example"' \
    "one commit signed by the same key for another origin fails, naming the commit"

# A historical checkpoint with another root: a second ledger, same key and origin, signs a
# checkpoint of the same size (100) over other entries; placed on L's commit 1 it is a valid
# signature by the right key - only the recomputed root at that old commit can tell.
# L2 is another ledger of the same origin: its writer has its own memory (issue 8)
export AUDITFS_STATE=$WORK/state-L2
$A init --ledger L2 --key key 2>/dev/null
records 100 9 >r9
$A append --ledger L2 --key key --stream api r9 >/dev/null
$A checkpoint --ledger L2 >other.cp
C1=$(git -C L rev-list --reverse main | sed -n 2p) # commit 1 (0 = init)
[ "$(sed -n 2p other.cp)" = 100 ] && [ "$(git -C L cat-file blob "$C1:checkpoint" | sed -n 2p)" = 100 ] &&
    ! cmp -s other.cp <(git -C L cat-file blob "$C1:checkpoint") &&
    ok "the second ledger has another signed checkpoint of size 100, like L's commit 1" ||
    not_ok "second ledger or commit 1"
forged F none --cp-file 1 other.cp || not_ok "forge --cp-file: $(cat "$WORK/.forge")"
check "the placed checkpoint is validly signed by the ledger's key" \
    $A verify --ledger L2 --key key.pub --trusted other.cp
export AUDITFS_STATE=$WORK/state
verify_fails F 'commit [0-9a-f]{7,}: checkpoint root for size 100 does not match' \
    "an old commit whose signed checkpoint carries another root fails, naming the commit"
# and the head alone does not give it away: the head checkpoint is the genuine one
cmp -s <(git -C F cat-file blob main:checkpoint) <(git -C L cat-file blob main:checkpoint) &&
    ok "the forged ledger's head checkpoint is the genuine one" || not_ok "head checkpoint changed"

# A checkpoint size that shrinks: commit 3 carries commit 1's genuine checkpoint (size 100)
git -C L cat-file blob "$C1:checkpoint" >c1.cp
forged F none --cp-file 3 c1.cp || not_ok "forge --cp-file: $(cat "$WORK/.forge")"
verify_fails F 'commit [0-9a-f]{7,}: checkpoint size 100 is smaller than [0-9]+ before it' \
    "a commit whose genuine but older checkpoint shrinks the size fails, naming the commit"

# History rewritten with git alone (no key needed): commit K's tree changed, every later commit
# re-created on top of it with its own tree, so every checkpoint stays genuine.
export GIT_AUTHOR_NAME=forger GIT_AUTHOR_EMAIL=forger@example GIT_COMMITTER_NAME=forger \
    GIT_COMMITTER_EMAIL=forger@example
# rewrite_at K PATH CONTENT: copy L to F; in commit K (0 = init, "all", or "head") PATH holds
# CONTENT (- removes it, @FILE is FILE's bytes). "all" means every commit that has PATH: the first
# commit must hold only the empty ledger (a rule of its own), so a path added later is not put there
rewrite_at() {
    local k=$1 path=$2 content=$3 i=0 parent= c tree blob last
    fresh_reader
    rm -rf F && cp -a "${SRC:-L}" F
    last=$(($(git -C F rev-list --count main) - 1))
    [ "$k" = head ] && k=$last
    for c in $(git -C F rev-list --reverse main); do
        tree=$(git -C F rev-parse "$c^{tree}")
        if { [ "$k" = all ] && git -C F cat-file -e "$c:$path" 2>/dev/null; } || [ $i -eq "$k" ]; then
            GIT_INDEX_FILE=$WORK/idx git -C F read-tree "$tree"
            if [ "$content" = - ]; then
                GIT_INDEX_FILE=$WORK/idx git -C F update-index --force-remove "$path"
            else
                case $content in
                @*) blob=$(git -C F hash-object -w "$(realpath "${content#@}")") ;;
                *) blob=$(printf '%s' "$content" | git -C F hash-object -w --stdin) ;;
                esac
                GIT_INDEX_FILE=$WORK/idx git -C F update-index --add --cacheinfo "100644,$blob,$path"
            fi
            tree=$(GIT_INDEX_FILE=$WORK/idx git -C F write-tree)
            rm -f "$WORK/idx"
        fi
        parent=$(git -C F commit-tree "$tree" ${parent:+-p $parent} -m "rewritten $i")
        i=$((i + 1))
    done
    git -C F update-ref refs/heads/main "$parent"
}
rewrite_at 2 seg/000/000/000/000 "not the segment"
verify_fails F 'commit [0-9a-f]{7,}: seg/000/000/000/000 was changed \(history rewritten\)' \
    "an old commit whose segment differs from its successor's fails (history only appends)"
rewrite_at 2 seg/000/000/000/999 "a segment that later vanished"
verify_fails F 'commit [0-9a-f]{7,}: seg/000/000/000/999 was removed \(history rewritten\)' \
    "a file of an old commit that is gone in its successor fails (history only appends)"
# The head's tree holds nothing but what its entries imply
rewrite_at head junk "x"
verify_fails F "unexpected file 'junk' in the ledger tree" "an unexpected top-level file fails"
# ... and a name from the data with a control character is escaped in verify --json
rewrite_at head "$(printf 'j\033k')" "x"
onF $A verify --ledger F --key key.pub --json >v.json 2>/dev/null
# (the library escapes control bytes in every error message, so the name arrives as the text
# \x1b; a JSON writer that kept the byte would carry it as \u001b: either is faithful, a raw
# ESC byte in the output is not)
python3 -c 'import json, sys; d = json.load(open("v.json")); sys.exit(d["ok"] or not ("\x1b" in d["error"] or "j\\x1bk" in d["error"]))' &&
    ! grep -q "$(printf '\033')" v.json && ok "verify --json escapes a control character from the data" ||
    not_ok "verify --json with ESC in a file name: $(od -c v.json | grep -m1 033)"
# the plain report on stderr has no second layer: the library's own escaping is what keeps the
# byte out (tests/mutation: error-escape-controls)
onF $A verify --ledger F --key key.pub >/dev/null 2>v.err
grep -q 'j\\x1bk' v.err && ! grep -q "$(printf '\033')" v.err &&
    ok "verify's message on stderr escapes a control character from the data" ||
    not_ok "verify's stderr with ESC in a file name: $(od -c v.err | grep -m1 033)"
rewrite_at head tile/1/999 "an extra tile"
verify_fails F 'commit [0-9a-f]{7,}: tile/ holds [0-9]+ files, expected [0-9]+' "an extra file under tile/ fails"
SRC=L1 rewrite_at head tile/0/999 "an extra tile"
verify_fails F 'commit [0-9a-f]{7,}: tile/ holds [0-9]+ files, expected [0-9]+' "an extra file under tile/ fails (format 1)"
git -C L1 cat-file blob main:tile/0/000 >tile0.genuine
rewrite_at head tile/0/000 @tile0.genuine
verify_fails F "commit [0-9a-f]{7,}: tile/0 is in the tree, but format auditfs-ledger/2 stores no level-0 tiles" \
    "a genuine level-0 tile in a format-2 tree fails, naming tile/0 and the format"
rewrite_at head doc/ghost/v1 "content no entry references"
verify_fails F 'doc/ and notice/ hold 1 files but 0 entries reference content' \
    "a document no entry references fails"
# segments holding more entries than the head's checkpoint: the head keeps its 610 entries'
# segments but carries its parent's genuine checkpoint (600) and tiles, in place of both (on
# main~2, so it still adds entries: a commit adding none is a defect of its own). It is made with
# git (unsigned), so the history under it is first rebuilt unchanged without commit signatures
# (legacy commits): an unsigned commit after signed ones is a defect of its own too.
forged F none || not_ok "forge none: $(cat "$WORK/.forge")"
T=$({ git -C F ls-tree main | grep -vE "$(printf '\t')(tile|checkpoint)\$"
      git -C F ls-tree main~1 | grep -E "$(printf '\t')(tile|checkpoint)\$"; } | git -C F mktree) &&
    git -C F update-ref refs/heads/main "$(git -C F commit-tree "$T" -p main~2 -m extra)"
verify_fails F 'the segments hold 610 entries but the checkpoint says 600' \
    "segments holding entries beyond the head's checkpoint fail"
# the format file changed in every commit, same length (so only its bytes tell)
git -C L cat-file blob main:format | tr 'a-z' 'b-za' >format.other
[ "$(stat -c %s format.other)" = "$(git -C L cat-file -s main:format)" ] || not_ok "format.other length"
rewrite_at all format @format.other
verify_fails F 'format is not' "a format file of the right length but other bytes fails"
# An old commit's partial tile with its last hash changed (partial tiles may change from commit
# to commit, so only the recomputed hashes at that commit's size can tell)
C1L1=$(git -C L1 rev-list --reverse main | sed -n 2p)
git -C L1 cat-file blob "$C1L1:tile/0/000.p/100" >tile.p && [ "$(stat -c %s tile.p)" = 3200 ] &&
    flip_last tile.p ||
    not_ok "commit 1 has no partial tile tile/0/000.p/100"
SRC=L1 rewrite_at 1 tile/0/000.p/100 @tile.p
verify_fails F 'commit [0-9a-f]{7,}: partial tile at level 0 does not match' \
    "an old commit's partial tile differing in its last hash fails, naming the commit"
# the same at level 1 (format 2): the commit of size 600 (number K) has tile/1/000.p/2
K=0
for c in $(git -C L rev-list --reverse main); do
    [ "$(git -C L cat-file blob "$c:checkpoint" | sed -n 2p)" = 600 ] && break
    K=$((K + 1))
done
C600=$(git -C L rev-list --reverse main | sed -n "$((K + 1))p")
git -C L cat-file blob "$C600:tile/1/000.p/2" >tile1.p && [ "$(stat -c %s tile1.p)" = 64 ] &&
    flip_last tile1.p || not_ok "the commit of size 600 has no partial tile tile/1/000.p/2"
rewrite_at $K tile/1/000.p/2 @tile1.p
verify_fails F 'commit [0-9a-f]{7,}: partial tile at level 1 does not match' \
    "an old commit's level-1 partial tile differing in its last hash fails (format 2)"
# A segment whose index says it starts at another entry than its path (the readers refuse it,
# so verify must too): first_seq is the big-endian u64 at byte 16 of the segment
git -C L cat-file blob main:seg/000/000/000/000 >seg0
python3 -c 'import sys; b = bytearray(open("seg0", "rb").read()); b[23] ^= 1; open("seg0", "wb").write(bytes(b))'
rewrite_at all seg/000/000/000/000 @seg0
verify_fails F 'seg/000/000/000/000: index starts at 1' "a segment index whose first seq differs from its path fails"
expect_exit 1 "a reader refuses it too" onF $A leaf --ledger F 0

# A full tile whose last hash differs, in every commit that has it (full tiles never change)
git -C L1 cat-file blob main:tile/0/000 >tile.full && [ "$(stat -c %s tile.full)" = 8192 ] &&
    flip_last tile.full || not_ok "no tile/0/000"
SRC=L1 rewrite_at all tile/0/000 @tile.full
verify_fails F 'tile/0/000 does not match the recomputed hashes' \
    "a full tile differing only in its last hash fails"

# Readers without verify: every leaf read (leaf N, leaves, log) is checked against the tiles,
# and the tiles against the signed root. Original tiles and checkpoints, one leaf changed:
# Format 2 (L): the level-0 tiles are rebuilt from the changed segments. The forger rewrites the
# prev of every entry after 300 too, so the head's partial level-0 tile (entries 512-609) is
# rebuilt from changed leaves and no longer hashes to the signed root; reads refuse at the root
# or, for the full tile holding 300, at its entry in the (genuine) level-1 tile
# (tests/cli/cli_format2.sh changes one leaf alone and checks the level-1 refusal by name).
forged F modify 300 --stale-tiles || not_ok "forge modify: $(cat "$WORK/.forge")"
F2REFUSE="tile/0/001 does not hash to its entry in the tile above|the head's tiles do not hash to the checkpoint's root"
expect_exit 1 "leaf N refuses a leaf whose rebuilt tiles do not hash to the signed root" onF $A leaf --ledger F 300
expect_err "$F2REFUSE" "the refusal names the tiles"
expect_exit 1 "leaves refuses it too, reading in sequence" onF $A leaves --ledger F --from 290 --to 310
expect_err "$F2REFUSE" "the refusal names the tiles"
expect_exit 1 "prove refuses to prove an entry of that tile" onF $A prove --ledger F --key key.pub --index 260
expect_err "$F2REFUSE" "the refusal names the tiles"
# Format 1 (L1): the stored level-0 tile no longer matches the leaf
forged() { # as above, from L1
    local d=$1; shift
    fresh_reader
    rm -rf "$d" && cp -a L1 "$d" && "$FORGE" "$d" "$@" >/dev/null 2>"$WORK/.forge"
}
forged F modify 300 --stale-tiles || not_ok "forge modify: $(cat "$WORK/.forge")"
expect_exit 1 "leaf N refuses a leaf that does not hash to its tile (format 1)" onF $A leaf --ledger F 300
expect_err 'entry 300: leaf does not hash to its tile' "the refusal names the entry"
expect_exit 1 "leaves refuses it too, reading in sequence" onF $A leaves --ledger F --from 290 --to 310
expect_err 'entry 300: leaf does not hash to its tile' "the refusal names the entry"
forged() {
    local d=$1; shift
    fresh_reader
    rm -rf "$d" && cp -a L "$d" && "$FORGE" "$d" "$@" >/dev/null 2>"$WORK/.forge"
}
# tiles rebuilt from the changed leaf (so leaf and tile agree), original checkpoints: the head's
# partial tile no longer hashes to the signed root
forged F modify 605 || not_ok "forge modify: $(cat "$WORK/.forge")"
expect_exit 1 "leaf N refuses a leaf whose tile does not hash to the signed root" onF $A leaf --ledger F 605
expect_err "tiles do not hash to the checkpoint's root" "the refusal names the root"

# Document content: same length, other bytes, in every commit
# D (and D2 below) are other ledgers of the same origin: each writer has its own memory (issue 8)
export AUDITFS_STATE=$WORK/state-D
$A init --ledger D --key key 2>/dev/null
printf '# SLA v1: availability 99.9%%\n' >sla.md
$A publish --ledger D --key key --name sla sla.md >/dev/null
records 5 5 | $A append --ledger D --key key --stream api >/dev/null
export AUDITFS_STATE=$WORK/state
DOC=$(git -C D ls-tree -r --name-only main doc | head -1)
printf '# SLA v1: availability 90.0%%\n' >sla.forged
SRC=D rewrite_at all "$DOC" @sla.forged
verify_fails F "$DOC: content does not match entry 0's hash" "a document of the same length but other bytes fails"

# a merge commit whose first parent is the genuine history
fresh_reader; rm -rf F && cp -a L F
M=$(git -C F commit-tree "main^{tree}" -p main -p main~1 -m merge) &&
    git -C F update-ref refs/heads/main "$M"
verify_fails F 'commit [0-9a-f]{7,}: a merge commit' "a merge commit fails: history must be linear"

# The mount pins only a ledger that verifies: a broken chain under valid signatures and roots,
# and entries that no longer hash to the (genuine) signed root, are both refused at pin time.
if [ -e /dev/fuse ] && command -v fusermount3 >/dev/null 2>&1 && (exec 3<>/dev/fuse) 2>/dev/null; then
    mount_refused() { # mount_refused LEDGER PATTERN DESCRIPTION
        mkdir -p "$WORK/mnt"
        timeout 20 env AUDITFS_STATE=$FSTATE $A mount -f --ledger "$1" --key key.pub "$WORK/mnt" >/dev/null 2>"$WORK/.err"
        local rc=$?
        mountpoint -q "$WORK/mnt" && fusermount3 -uz "$WORK/mnt"
        if [ $rc -eq 1 ] && grep -qE -- "$2" "$WORK/.err"; then ok "$3"; else
            not_ok "$3 (exit $rc: $(head -c 300 "$WORK/.err"))"; fi
    }
    # a document changed to other bytes of the same length: served as EIO, never as its bytes
    SRC=D rewrite_at all "$DOC" @sla.forged
    mkdir -p "$WORK/mnt2"
    trap 'mountpoint -q "$WORK/mnt2" && fusermount3 -uz "$WORK/mnt2"; rm -rf "$WORK"' EXIT
    if timeout 20 env AUDITFS_STATE=$FSTATE $A mount --ledger F --key key.pub "$WORK/mnt2" >/dev/null 2>"$WORK/.err"; then
        ! timeout 10 cat "$WORK/mnt2/documents/sla/v1.md" >doc.out 2>doc.err &&
            grep -q "Input/output error" doc.err && ok "the mount serves a changed document as EIO" ||
            not_ok "the mount served a changed document: $(head -c 100 doc.out)"
        timeout 10 fusermount3 -u "$WORK/mnt2" || fusermount3 -uz "$WORK/mnt2"
    else
        not_ok "mount of the document ledger: $(head -c 300 "$WORK/.err")"
    fi
    # a trusted checkpoint of the same size with another root (a second ledger, same key): a fork
    AUDITFS_STATE=$WORK/state-D2 $A init --ledger D2 --key key 2>/dev/null
    AUDITFS_STATE=$WORK/state-D2 $A publish --ledger D2 --key key --name sla sla.md >/dev/null
    records 5 6 | AUDITFS_STATE=$WORK/state-D2 $A append --ledger D2 --key key --stream api >/dev/null
    AUDITFS_STATE=$WORK/state-D2 $A checkpoint --ledger D2 >d2.cp
    [ "$(sed -n 2p d2.cp)" = "$(AUDITFS_STATE=$WORK/state-D $A checkpoint --ledger D | sed -n 2p)" ] || not_ok "D2 has another size"
    mkdir -p "$WORK/mnt"
    timeout 20 env AUDITFS_STATE=$WORK/state-D $A mount -f --ledger D --key key.pub --trusted d2.cp "$WORK/mnt" >/dev/null 2>"$WORK/.err"
    rc=$?
    mountpoint -q "$WORK/mnt" && fusermount3 -uz "$WORK/mnt"
    [ $rc -eq 1 ] && grep -q "same size but different roots" "$WORK/.err" &&
        ok "the mount refuses a trusted checkpoint of the same size with another root" ||
        not_ok "trusted fork (exit $rc: $(head -c 300 "$WORK/.err"))"
    forged F none --resign key --break-prev 250 || not_ok "forge --break-prev: $(cat "$WORK/.forge")"
    mount_refused F 'entry 250.*chain broken' "the mount refuses a broken prev chain, naming the entry"
    # original tiles and checkpoints (they agree with each other), modified leaves
    forged F modify 300 --stale-tiles || not_ok "forge modify: $(cat "$WORK/.forge")"
    mount_refused F 'root|checkpoint' "the mount refuses entries that do not hash to the signed root"
else
    echo "ok - mount checks # SKIP FUSE is not available"
fi

finish
