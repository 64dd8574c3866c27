#!/usr/bin/env bash
# CLI integration: hostile repositories and names. Packed objects are read behind the same
# checks and size caps as loose ones; names from data are escaped in human output; document
# names that would collide with the mount's layout are refused at publish.
source "$(dirname "$0")/lib.sh"
A=$AUDITFS
export AUDITFS_STATE=$WORK/state
$A keygen o.example/l -o k >/dev/null 2>&1 && $A init --ledger P --key k 2>/dev/null
records 50 | $A append --ledger P --key k --stream s >/dev/null
git -C P repack -a -d -q
check "a fully packed ledger verifies" $A verify --ledger P --key k.pub
check "and archives" $A archive --ledger P -o p.bundle
# a commit that inflates to 17 MB from an 18 KB pack: over the 16 MiB cap of a commit
head -c 17000000 /dev/zero | tr '\0' 'x' > big.msg
C=$(git -C P commit-tree "$(git -C P rev-parse 'main^{tree}')" -p main -F "$WORK/big.msg")
git -C P update-ref refs/heads/main "$C" && git -C P repack -a -d -q && rm -f big.msg
expect_exit 1 "an oversized packed commit is refused" $A verify --ledger P --key k.pub
expect_err "over its size cap" "the error names the cap"
# names from data never reach the terminal raw (a CR and ESC could make FAILED read as ok)
# (E and E2 are other ledgers of the same origin and key: each is another party's, with its own
# verifier's memory, or the first one's remembered checkpoint would make them rollbacks)
export AUDITFS_STATE=$WORK/state-E
$A init --ledger E --key k 2>/dev/null
printf '{"a":1}\n' | $A append --ledger E --key k --stream s >/dev/null
B=$(echo hi | git -C E hash-object -w --stdin)
NT=$( (git -C E ls-tree main; printf '100644 blob %s\t%s\n' "$B" "$(printf 'evil\r\033[2Kok: all good')") | git -C E mktree)
git -C E update-ref refs/heads/main "$(git -C E commit-tree "$NT" -p main -m x)"
# commits are SSH-signed: re-sign the history as a writer holding the key would (the forger's
# --resign mode), so verify gets past the commit signatures to the tree and its names
FORGE=${BUILD_ROOT:-$(dirname "$A")/..}/tests/torture/forge
"$FORGE" E none --resign k >/dev/null && ok "the forged commit is signed like a writer's" \
    || not_ok "forge E none --resign k"
expect_exit 1 "a tree entry with CR and ESC fails verify" $A verify --ledger E --key k.pub
grep -q $'[\r\033]' "$WORK/.err" && not_ok "control characters reach the terminal" || ok "control characters from data are escaped"
expect_err 'evil\\x0d\\x1b' "the name is shown escaped"
expect_err 'unexpected file' "verify fails at the name (not at a missing commit signature)"
echo doc > d.md
export AUDITFS_STATE=$WORK/state-E2
$A init --ledger E2 --key k 2>/dev/null
check "publish sla/acme" $A publish --ledger E2 --key k --name sla/acme d.md
expect_exit 2 "sla/acme/v2.md/x (a path inside the mount's documents/sla/acme/v2.md) is refused" $A publish --ledger E2 --key k --name sla/acme/v2.md/x d.md
expect_exit 2 "other/current (the mount's symlink name) is refused" $A publish --ledger E2 --key k --name other/current d.md
check "sla/acme/notes is fine" $A publish --ledger E2 --key k --name sla/acme/notes d.md
finish
