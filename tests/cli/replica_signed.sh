#!/usr/bin/env bash
# Signed ledger commits (docs/FORMAT.md section 10): stock `git verify-commit`, `git log
# --show-signature` and `ssh-keygen -Y verify` accept every commit with the allowed-signers line
# `auditfs allowed-signers` prints; `verify` checks the signatures with the given key only;
# ledgers written before commits were signed still verify (unsigned commits only come first).
source "$(dirname "$0")/lib.sh"
A=$AUDITFS
export AUDITFS_STATE=$WORK/state
L=$WORK/ledger
$A keygen provider.example/acme -o key >/dev/null
$A keygen provider.example/acme -o other >/dev/null   # same name, another key
$A init --ledger $L --key key >/dev/null
records 600 > recs
$A append --ledger $L --key key --stream api --batch-bytes 30000 recs >/dev/null
echo "sla v1" > sla.md
$A publish --ledger $L --key key --name sla/acme sla.md >/dev/null

check "allowed-signers prints a line" $A allowed-signers --key key.pub
cp "$WORK/.out" allowed
grep -qE '^provider\.example/acme namespaces="git" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5[A-Za-z0-9+/=]+$' allowed &&
    ok "the line is principal, namespaces=\"git\", ssh-ed25519 key" || not_ok "line: $(cat allowed)"
$A allowed-signers --key key.pub --public-key > pk
[ "$(cut -d' ' -f3- allowed)" = "$(cat pk)" ] && ok "--public-key prints the same key" || not_ok "pk"
expect_exit 2 "allowed-signers without --key is a usage error" $A allowed-signers

n=$(git -C $L rev-list --count refs/heads/main)
[ "$n" -ge 4 ] && ok "the ledger has $n commits" || not_ok "only $n commits"
good=0
for c in $(git -C $L rev-list refs/heads/main); do
    git -C $L -c gpg.format=ssh -c gpg.ssh.allowedSignersFile=$WORK/allowed verify-commit "$c" \
        >/dev/null 2>&1 && good=$((good + 1))
done
[ "$good" = "$n" ] && ok "git verify-commit accepts all $n commits" || not_ok "git verify-commit: $good of $n"
git -C $L -c gpg.format=ssh -c gpg.ssh.allowedSignersFile=$WORK/allowed log --show-signature \
    refs/heads/main > shown 2>&1
[ "$(grep -c '^Good "git" signature for provider.example/acme with ED25519 key' shown)" = "$n" ] &&
    ok "git log --show-signature: a good signature on every commit" || not_ok "log: $(head -3 shown)"
$A allowed-signers --key other.pub > allowed-other
git -C $L -c gpg.format=ssh -c gpg.ssh.allowedSignersFile=$WORK/allowed-other verify-commit \
    refs/heads/main >/dev/null 2>&1 && not_ok "git accepts the commit with another key" ||
    ok "git verify-commit refuses another key of the same name"

# ssh-keygen on one signature, over the commit without its gpgsig header
head=$(git -C $L rev-parse refs/heads/main)
git -C $L cat-file commit $head > commit.raw
sed -n '/^gpgsig /,/^ -----END SSH SIGNATURE-----$/p' commit.raw | sed 's/^gpgsig //; s/^ //' > sig
# what git signs: the commit without its gpgsig header lines
sed '/^gpgsig /,/^ -----END SSH SIGNATURE-----$/d' commit.raw > payload
grep -q 'BEGIN SSH SIGNATURE' sig && ok "the commit carries an SSH signature in gpgsig" || not_ok "no gpgsig"
ssh-keygen -Y verify -f allowed -I provider.example/acme -n git -s sig < payload >/dev/null 2>&1 &&
    ok "ssh-keygen -Y verify accepts the commit signature" || not_ok "ssh-keygen -Y verify"
ssh-keygen -Y verify -f allowed -I provider.example/acme -n file -s sig < payload >/dev/null 2>&1 &&
    not_ok "ssh-keygen accepts it in namespace file" || ok "ssh-keygen refuses it in namespace file"

check "verify checks the commit signatures" $A verify --ledger $L --key key.pub --json
grep -q "\"signed_commits\":$n,\"unsigned_commits\":0" $WORK/.out && ok "verify counts $n signed commits" ||
    not_ok "verify json: $(cat $WORK/.out)"

# a commit re-signed with another key of the same name: same checkpoints, other gpgsig
cp -r $L forged
git -C forged cat-file commit $head > c.raw
sed '/^gpgsig /,/^ -----END SSH SIGNATURE-----$/d' c.raw > c.payload
# ssh-keygen signs with an OpenSSH private key: another Ed25519 key than the ledger's
ssh-keygen -q -t ed25519 -N '' -f sshkey >/dev/null
ssh-keygen -Y sign -f sshkey -n git c.payload >/dev/null 2>&1
{ sed -n '1,/^committer /p' c.payload
  sed '1s/^/gpgsig /; 2,$s/^/ /' c.payload.sig
  sed '1,/^committer /d' c.payload; } > c.forged
fid=$(git -C forged hash-object -t commit -w --stdin < c.forged)
git -C forged update-ref refs/heads/main $fid
expect_exit 1 "verify refuses a commit signed by another SSH key" $A verify --ledger forged --key key.pub
expect_err "gpgsig: SSH signature: made by another key" "the failure names the signature"

# the ledger's own key, but a signature made for the namespace "file", not "git": the signed
# data names its namespace, so a verifier that took the namespace from the signature would accept
# it. The auditfs key is written as an OpenSSH private key (openssh-key-v1, unencrypted) so that
# ssh-keygen can sign with it.
python3 - key key.pub ledger_ssh <<'EOF'
import base64, os, struct, sys
seed = base64.b64decode(open(sys.argv[1]).read().strip().split("+", 4)[4])[1:]  # PRIVATE+KEY+name+id+b64
pk = base64.b64decode(open(sys.argv[2]).read().strip().split("+", 2)[2])[1:]  # name+id+b64
assert len(seed) == 32 and len(pk) == 32
s = lambda b: struct.pack(">I", len(b)) + b
blob = s(b"ssh-ed25519") + s(pk)
chk = os.urandom(4)
priv = chk + chk + s(b"ssh-ed25519") + s(pk) + s(seed + pk) + s(b"ledger")
priv += bytes(range(1, 9 - len(priv) % 8)) if len(priv) % 8 else b""
raw = b"openssh-key-v1\0" + s(b"none") + s(b"none") + s(b"") + struct.pack(">I", 1) + s(blob) + s(priv)
b64 = base64.b64encode(raw).decode()
with open(sys.argv[3], "w") as f:
    f.write("-----BEGIN OPENSSH PRIVATE KEY-----\n")
    f.write("".join(b64[i:i + 70] + "\n" for i in range(0, len(b64), 70)))
    f.write("-----END OPENSSH PRIVATE KEY-----\n")
os.chmod(sys.argv[3], 0o600)
EOF
rm -rf nsforged && cp -r $L nsforged && rm -f c.payload.sig
ssh-keygen -Y sign -f ledger_ssh -n file c.payload >/dev/null 2>&1
{ sed -n '1,/^committer /p' c.payload
  sed '1s/^/gpgsig /; 2,$s/^/ /' c.payload.sig
  sed '1,/^committer /d' c.payload; } > c.nsforged
ssh-keygen -Y check-novalidate -n file -s c.payload.sig < c.payload >/dev/null 2>&1 &&
    ok "ssh-keygen signs the head commit with the ledger's key in namespace file" ||
    not_ok "ssh-keygen -Y sign with the converted ledger key"
fid=$(git -C nsforged hash-object -t commit -w --stdin < c.nsforged)
git -C nsforged update-ref refs/heads/main $fid
expect_exit 1 "verify refuses a commit signed by the ledger's key in namespace file" \
    $A verify --ledger nsforged --key key.pub
expect_err 'namespace is not "git"' "the failure names the namespace"

# legacy: a ledger written before commits were signed (signatures stripped, history re-linked)
mkdir -p legacy && git init -q --bare legacy/l && cp -r $L/objects legacy/l/ 2>/dev/null
parent=""
for c in $(git -C $L rev-list --reverse refs/heads/main | head -3); do
    git -C $L cat-file commit $c | sed '/^gpgsig /,/^ -----END SSH SIGNATURE-----$/d' > raw
    [ -n "$parent" ] && sed -i "s/^parent .*/parent $parent/" raw
    parent=$(git -C legacy/l hash-object -t commit -w --stdin < raw)
done
git -C legacy/l update-ref refs/heads/main $parent
git -C legacy/l symbolic-ref HEAD refs/heads/main
# (another ledger of the same origin, older than the one this party saw: its own party)
export AUDITFS_STATE=$WORK/state-legacy
check "a legacy ledger (no commit signatures) verifies" $A verify --ledger legacy/l --key key.pub
expect_out "unsigned legacy commits" "verify reports the unsigned legacy commits"
echo '{"after":"upgrade"}' | $A append --ledger legacy/l --key key --stream api >/dev/null
check "appending to a legacy ledger signs the new commit; it verifies" $A verify --ledger legacy/l --key key.pub --json
grep -q '"signed_commits":1,"unsigned_commits":3' $WORK/.out && ok "3 legacy commits, then 1 signed" ||
    not_ok "counts: $(cat $WORK/.out)"
# an unsigned commit after a signed one: the signature was stripped by someone
h=$(git -C legacy/l rev-parse refs/heads/main)
git -C legacy/l cat-file commit $h | sed '/^gpgsig /,/^ -----END SSH SIGNATURE-----$/d' > raw
git -C legacy/l hash-object -t commit -w --stdin < raw > /dev/null
echo '{"x":1}' | $A append --ledger legacy/l --key key --stream api >/dev/null
h2=$(git -C legacy/l rev-parse refs/heads/main)
git -C legacy/l cat-file commit $h2 | sed '/^gpgsig /,/^ -----END SSH SIGNATURE-----$/d' > raw
git -C legacy/l update-ref refs/heads/main $(git -C legacy/l hash-object -t commit -w --stdin < raw)
expect_exit 1 "an unsigned commit after signed ones is refused" $A verify --ledger legacy/l --key key.pub
expect_err "no commit signature after signed commits" "the failure says why"
finish
