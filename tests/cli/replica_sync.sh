#!/usr/bin/env bash
# Replicas through git servers on 127.0.0.1: `git daemon` (git://, pushes) and smart HTTP
# (`git http-backend` behind lighttpd). A provider appends and pushes while a customer (git://)
# and an assessor (http://) sync; a fresh clone passes `git verify-commit` on every commit;
# sync verifies only what is new; attacks are refused with exit 8 and signed evidence: a
# rollback, a rewrite force-pushed and re-signed with the provider key, a squashed history, a
# split view (two servers fed different histories), a mirror that shows another history to a
# party that saw the real one; forged and stripped commits fail verification (exit 1); push is
# fast-forward only. Each party has its own AUDITFS_STATE.
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lib.sh"
source "$HERE/replicalib.sh"
A=$AUDITFS
export AUDITFS_STATE=$WORK/state-provider
start_git_daemon && ok "git daemon on 127.0.0.1:$GIT_PORT" || { not_ok "git daemon"; finish; exit; }
start_http && ok "lighttpd + git http-backend on 127.0.0.1:$HTTP_PORT" || { not_ok "http server"; finish; exit; }
GURL=git://127.0.0.1:$GIT_PORT/acme.git
HURL=http://127.0.0.1:$HTTP_PORT/git/acme.git
new_remote acme
cust() { AUDITFS_STATE=$WORK/state-customer "$@"; }
assr() { AUDITFS_STATE=$WORK/state-assessor "$@"; }
size_of() { git -C "$1" cat-file -p refs/heads/main:checkpoint | sed -n 2p; }

$A keygen provider.example/acme -o key >/dev/null
$A init --ledger P --key key >/dev/null
records 500 1 | $A append --ledger P --key key --stream api --batch-bytes 20000 >/dev/null
check "provider pushes over git://" $A push $GURL --ledger P
check "provider push again: up to date" $A push $GURL --ledger P
expect_out "^up to date" "push says up to date"

check "customer clones over git://" cust $A clone $GURL cust --key key.pub
expect_out "^cloned provider.example/acme: size 500" "clone reports the size"
check "assessor clones over http://" assr $A clone $HURL assr --key key.pub --origin provider.example/acme
[ -f $WORK/state-customer/origins/provider.example%2Facme/keys ] && cmp -s key.pub \
    $WORK/state-customer/origins/provider.example%2Facme/keys && ok "clone pins the key in AUDITFS_STATE" ||
    not_ok "no pinned key"
expect_exit 5 "clone with a malformed key file" assr $A clone $HURL x --key /dev/null
$A keygen provider.example/acme -o other >/dev/null
# (a party with no key pinned yet: the provider's own state has its key pinned by init, exit 5)
expect_exit 1 "clone with another key of the same name fails verification" env AUDITFS_STATE=$WORK/state-bad1 $A clone $GURL bad1 --key other.pub
[ ! -e bad1 ] && ok "a failed clone leaves no directory" || not_ok "bad1 left behind"
expect_exit 1 "clone expecting another origin fails" $A clone $GURL bad2 --key key.pub --origin provider.example/other
expect_exit 5 "a key other than the pinned one is refused" cust $A clone $GURL cust2 --key other.pub

(cd $SRV && AUDITFS_STATE=$WORK/state-local $A clone acme.git $WORK/bypath --key $WORK/key.pub >/dev/null) &&
    ok "clone from a relative path" || not_ok "clone from a relative path"
(cd / && AUDITFS_STATE=$WORK/state-local $A sync --ledger $WORK/bypath >/dev/null) &&
    ok "...and sync from another directory (the path was saved absolute)" || not_ok "sync by path"

# fresh clone: stock git accepts every commit's signature
$A allowed-signers --key key.pub > allowed
n=0; good=0
for c in $(git -C cust rev-list refs/heads/main); do
    n=$((n + 1))
    git -C cust -c gpg.format=ssh -c gpg.ssh.allowedSignersFile=$WORK/allowed verify-commit "$c" >/dev/null 2>&1 && good=$((good + 1))
done
[ $n -gt 2 ] && [ $good = $n ] && ok "git verify-commit accepts all $n commits of the fresh clone" || not_ok "verify-commit $good/$n"
git -C cust cat-file commit refs/heads/main > c.raw
sed -n '/^gpgsig /,/^ -----END SSH SIGNATURE-----$/p' c.raw | sed 's/^gpgsig //; s/^ //' > c.sig
sed '/^gpgsig /,/^ -----END SSH SIGNATURE-----$/d' c.raw > c.payload
ssh-keygen -Y verify -f allowed -I provider.example/acme -n git -s c.sig < c.payload >/dev/null 2>&1 &&
    ok "ssh-keygen -Y verify accepts the head commit's signature" || not_ok "ssh-keygen -Y verify"
git clone -q --bare $HURL stock.git 2>/dev/null && [ "$(git -C stock.git rev-parse main)" = "$(git -C cust rev-parse refs/heads/main)" ] &&
    ok "stock git clone over http gets the same head" || not_ok "stock git clone"

# smart HTTPS (lighttpd + mod_openssl, a self-signed certificate trusted via GIT_SSL_CAINFO)
if start_https; then
    HSURL=https://127.0.0.1:$HTTPS_PORT/git/acme.git
    expect_exit 4 "https with an untrusted certificate is refused" \
        env -u GIT_SSL_CAINFO -u SSL_CERT_FILE AUDITFS_STATE=$WORK/state-tls $A clone $HSURL tls0 --key key.pub
    check "clone over https:// (certificate trusted via GIT_SSL_CAINFO)" \
        env GIT_SSL_CAINFO=$WORK/tls/cert.pem AUDITFS_STATE=$WORK/state-tls $A clone $HSURL viatls --key key.pub
    [ "$(git -C viatls rev-parse refs/heads/main)" = "$(git -C cust rev-parse refs/heads/main)" ] &&
        ok "the https replica has the same head" || not_ok "https head"
else
    not_ok "lighttpd with mod_openssl could not start (lighttpd-mod-openssl, openssl)"
fi

# the provider appends and pushes while the customer and the assessor sync
(
    for i in 1 2 3 4 5 6; do
        records 40 $((i + 10)) | $A append --ledger P --key key --stream api >/dev/null || exit 1
        $A push $GURL --ledger P >/dev/null || exit 1
        sleep 0.2
    done
) & prov=$!
csyncs=0; asyncs=0; cfail=0; afail=0
for i in $(seq 1 60); do
    cust $A sync --ledger cust >/dev/null 2>>sync.err || cfail=$((cfail + 1)); csyncs=$((csyncs + 1))
    assr $A sync --ledger assr >/dev/null 2>>sync.err || afail=$((afail + 1)); asyncs=$((asyncs + 1))
    kill -0 $prov 2>/dev/null || break
done
wait $prov && ok "provider appended and pushed 6 batches" || not_ok "provider loop"
cust $A sync --ledger cust >/dev/null || cfail=$((cfail + 1))
assr $A sync --ledger assr >/dev/null || afail=$((afail + 1))
[ $cfail = 0 ] && [ $afail = 0 ] && ok "$csyncs customer and $asyncs assessor syncs during pushes, none failed" ||
    { not_ok "sync failures: customer $cfail assessor $afail"; head -5 sync.err; }
[ "$(size_of cust)" = 740 ] && [ "$(size_of assr)" = 740 ] && ok "both replicas reach size 740" ||
    not_ok "sizes $(size_of cust) $(size_of assr)"
[ "$(git -C cust rev-parse refs/heads/main)" = "$(git -C P rev-parse refs/heads/main)" ] &&
    ok "the customer's head is the provider's head" || not_ok "heads differ"
check "the customer's replica verifies in full" $A verify --ledger cust --key key.pub
check "the assessor's replica verifies in full" $A verify --ledger assr --key key.pub
check "sync with nothing new" cust $A sync --ledger cust
expect_out "^up to date provider.example/acme: size 740" "sync says up to date"
cmp -s <(sed -n 1,3p $WORK/state-customer/origins/provider.example%2Facme/seen) \
    <(git -C cust cat-file -p refs/heads/main:checkpoint | sed -n 1,3p) &&
    ok "the remembered checkpoint is the replica's head" || not_ok "remembered checkpoint"

# only what is new is verified
records 30 99 | $A append --ledger P --key key --stream api >/dev/null
$A push $GURL --ledger P >/dev/null
check "sync one new batch" cust $A sync --ledger cust
expect_out "size 740 -> 770.*verified 1 new commits, 1 segments" "sync verifies 1 commit and 1 segment, not the ledger"
AUDITFS_LEDGER=$WORK/assr check "sync takes AUDITFS_LEDGER and an explicit --remote" assr $A sync --remote origin
expect_out "size 740 -> 770" "the assessor got the batch"
expect_exit 7 "sync from a remote that does not exist" cust $A sync --ledger cust --remote nosuch
env -u AUDITFS_LEDGER AUDITFS_STATE=$WORK/state-nobody $A sync --ledger cust >/dev/null 2>&1
[ $? = 7 ] && ok "sync with no pinned key exits 7" || not_ok "sync without state"
AUDITFS_STATE=$WORK/state-nobody $A sync --ledger cust 2>&1 | grep -q "no verifier key is pinned for origin 'provider.example/acme'" &&
    ok "...naming the origin and how to pin one" || not_ok "message"

good_head=$(git -C cust rev-parse refs/heads/main)
restore() { git -C P push -q --force $GURL refs/heads/main:refs/heads/main; }
evidence_ok() { # DIR: both checkpoints signed by the provider key (a signature line for its name)
    [ -d "$1" ] && grep -q '^— provider.example/acme ' "$1/local.checkpoint" 2>/dev/null &&
        grep -q '^— provider.example/acme ' "$1/remote.checkpoint" && [ -s "$1/README" ]
}
last_evidence() { ls -dt $1/origins/*/evidence/*/ 2>/dev/null | head -1; }

# 1. rollback: someone with push access (no key) moves the server's main back two commits
old=$(git -C P rev-parse refs/heads/main~2)
git -C P push -q --force $GURL $old:refs/heads/main
expect_exit 8 "a rollback on the server: sync exits 8" cust $A sync --ledger cust
expect_err "rollback" "the message says rollback"
[ "$(git -C cust rev-parse refs/heads/main)" = $good_head ] && ok "the replica stayed where it was" || not_ok "moved"
ev=$(last_evidence $WORK/state-customer)
evidence_ok "$ev" && ok "evidence: both signed checkpoints in $(basename $ev)" || not_ok "evidence $ev"
grep -q "remote: commit $old" "$ev/README" && ok "the README names the remote commit" || not_ok "readme"
restore
check "after the server is restored, sync is fine again" cust $A sync --ledger cust

# 2. rewrite: the provider's key signs another history, force-pushed (signed elsewhere: the
# provider's own writer memory refuses to sign a second history of its origin, trust_memory.sh)
AUDITFS_STATE=$WORK/state-equivocator $A init --ledger P2 --key key >/dev/null 2>&1
records 800 7 | AUDITFS_STATE=$WORK/state-equivocator $A append --ledger P2 --key key --stream api >/dev/null
git -C P2 push -q --force $GURL refs/heads/main:refs/heads/main
expect_exit 8 "a re-signed history force-pushed: the customer's sync exits 8" cust $A sync --ledger cust
expect_err "split view" "it is reported as a split view (two roots signed by the key)"
ev=$(last_evidence $WORK/state-customer)
evidence_ok "$ev" && [ -s "$ev/consistency.json" ] && ok "evidence holds both checkpoints and the failing proof" ||
    not_ok "evidence $ev: $(ls $ev)"
[ "$(git -C cust rev-parse refs/heads/main)" = $good_head ] && ok "the replica stayed where it was" || not_ok "moved"
expect_exit 8 "the assessor (http) sees it too" assr $A sync --ledger assr
expect_exit 8 "provider push refuses to overwrite the rewritten server (not a fast-forward)" $A push $GURL --ledger P
expect_err "refusing anything but a fast-forward" "push says why"
restore

# 3. squash: same entries and checkpoints, history rewritten into other commits (git commit-tree)
tree=$(git -C P rev-parse refs/heads/main^{tree})
sq=$(git -C P commit-tree -m squashed $tree)
git -C P push -q --force $GURL $sq:refs/heads/main
expect_exit 8 "a squashed history (same checkpoint, other commits): sync exits 8" cust $A sync --ledger cust
expect_err "rewrite" "it is reported as a rewrite"
restore

# 4. split view: two servers fed different histories, each signed by the provider's key
new_remote acme-b
git -C P2 push -q git://127.0.0.1:$GIT_PORT/acme-b.git refs/heads/main:refs/heads/main
check "a second party clones the other server: on its own it verifies" \
    env AUDITFS_STATE=$WORK/state-x $A clone git://127.0.0.1:$GIT_PORT/acme-b.git x --key key.pub
expect_exit 8 "comparing the two replicas (sync from the other's server) exits 8" \
    cust $A sync --ledger cust --remote http://127.0.0.1:$HTTP_PORT/git/acme-b.git
ev=$(last_evidence $WORK/state-customer)
evidence_ok "$ev" && ok "evidence of the split view: two notes signed by the provider key" || not_ok "evidence"
# the same party cloning a mirror that shows the other history: its memory catches it
expect_exit 8 "a party that saw one history refuses a clone of the other (remembered checkpoint)" \
    cust $A clone git://127.0.0.1:$GIT_PORT/acme-b.git cust-mirror --key key.pub
ev=$(last_evidence $WORK/state-customer)
[ -s "$ev/remembered.checkpoint" ] && [ -s "$ev/presented.checkpoint" ] && ok "evidence: remembered and presented (remote) checkpoints" ||
    not_ok "evidence $ev"

# 5. forged and stripped commits on top of the real history (descendants): verification fails
$A keygen provider.example/acme -o mallory >/dev/null
cp -r P M && rm -f M/auditfs.lock
echo '{"forged":1}' | AUDITFS_STATE=$WORK/state-insider $A append --ledger M --key key --stream api >/dev/null
h=$(git -C M rev-parse refs/heads/main)
git -C M cat-file commit $h | sed '/^gpgsig /,/^ -----END SSH SIGNATURE-----$/d' > s.raw
stripped=$(git -C M hash-object -t commit -w --stdin < s.raw)
git -C M push -q --force $GURL $stripped:refs/heads/main
expect_exit 1 "a new commit with its signature stripped: sync exits 1" cust $A sync --ledger cust
expect_err "no commit signature after signed commits" "sync names the unsigned commit"
[ "$(git -C cust rev-parse refs/heads/main)" = "$(git -C P rev-parse refs/heads/main)" ] && ok "the replica did not move" || not_ok "moved"
git -C M push -q --force $GURL $h:refs/heads/main
check "the same commit with its signature syncs" cust $A sync --ledger cust
AUDITFS_STATE=$WORK/state-mallory $A init --ledger Q --key mallory >/dev/null 2>&1
records 900 5 | AUDITFS_STATE=$WORK/state-mallory $A append --ledger Q --key mallory --stream api >/dev/null
git -C Q push -q --force $GURL refs/heads/main:refs/heads/main
expect_exit 1 "a history signed by another key of the same name: sync exits 1" cust $A sync --ledger cust
expect_err "does not verify|signature" "the failure names the signature"
# another tenant's ledger, signed by the same key (init --origin), served in place of this one
$A init --ledger T --key key --origin provider.example/tenant-b >/dev/null
records 900 8 | $A append --ledger T --key key --stream api >/dev/null
before=$(git -C cust rev-parse refs/heads/main)
git -C T push -q --force $GURL refs/heads/main:refs/heads/main
expect_exit 1 "another tenant's ledger signed by the same key: sync exits 1" cust $A sync --ledger cust
expect_err "serves the ledger of origin 'provider.example/tenant-b', not 'provider.example/acme'" \
    "the failure names both origins"
[ "$(git -C cust rev-parse refs/heads/main)" = "$before" ] && ok "the replica did not move" || not_ok "moved"
finish
