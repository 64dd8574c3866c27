#!/usr/bin/env bash
# tests/cli/cli_bundle_manifest.sh - verify-bundle and the files only MANIFEST.sha256 protects: a same-length change to one of them
# (the bundle's copy of the public key, its query) must fail, and so must a same-length change
# to the manifest itself. Length-only comparisons of the manifest pass every other bundle test
# (tests/mutation/ mutant bundle-manifest-length-only).
source "$(dirname "$0")/lib.sh"
export AUDITFS_STATE=$WORK/state
A=$AUDITFS
now() { date -u +%FT%T.%6NZ; }

$A keygen acme-ledger -o ak >/dev/null 2>&1
$A init --ledger acme --key ak 2>/dev/null
echo "# SLA acme v1: availability 99.9%" >sla.md
$A publish --ledger acme --key ak --name sla/acme sla.md >/dev/null
records 50 | $A append --ledger acme --key ak --stream api --tenant acme >/dev/null
sleep 0.05; T1=$(now); sleep 0.05
printf '{"actor":"ops-7","action":"ecs:StopInstance","resource":"i-1"}\n' |
    $A append --ledger acme --key ak --stream api --tenant acme >/dev/null
sleep 0.05; T2=$(now)
check "incident writes a bundle" $A incident --since $T1 --until $T2 resource=i-1 --tenant acme \
    --ledger acme=acme --key acme=ak.pub -o B
check "verify-bundle passes on the untouched bundle" $A verify-bundle B --key acme=ak.pub

# same_length FILE: changes one character of FILE (in a copy T of B) keeping its length
same_length() {
    rm -rf T && cp -r B T
    python3 - "T/$1" <<'EOF'
import sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
for i in range(len(b) // 2, len(b)):
    c = chr(b[i])
    if c.isalnum():
        b[i] = ord("B" if c == "A" else "A") if c.isalpha() else ord("1" if c == "0" else "0")
        break
else:
    sys.exit("no character to change")
open(p, "wb").write(bytes(b))
EOF
    [ "$(stat -c %s "T/$1")" = "$(stat -c %s "B/$1")" ] && ! cmp -s "T/$1" "B/$1"
}
for f in ledgers/acme/key.pub query.txt; do
    if [ -f "B/$f" ] && same_length "$f"; then
        expect_exit 1 "a same-length change to $f (protected only by the manifest) fails" \
            $A verify-bundle T --key acme=ak.pub
        expect_out "FAIL: manifest: $f" "the failure names $f"
    else
        not_ok "the bundle has no $f to change"
    fi
done
# the manifest changed in place (one hash digit): nothing else differs
same_length MANIFEST.sha256 && expect_exit 1 "a same-length change to MANIFEST.sha256 fails" \
    $A verify-bundle T --key acme=ak.pub

# Changes the manifest cannot see (it is rewritten to match): each is caught by its own check
fix_manifest() {
    (cd T && find . -type f ! -name MANIFEST.sha256 | sed 's|^\./||' | LC_ALL=C sort |
        xargs sha256sum >MANIFEST.sha256)
}
same_length report.md && fix_manifest
expect_exit 1 "a same-length change to report.md (manifest fixed) fails" $A verify-bundle T --key acme=ak.pub
expect_out "report.md is not what the bundle's entries produce" "the failure names report.md"
CONTENT=$(cd B && ls ledgers/acme/content/* | head -1)
same_length "$CONTENT" && fix_manifest
expect_exit 1 "a same-length change to a document in the bundle (manifest fixed) fails" \
    $A verify-bundle T --key acme=ak.pub
expect_out "content does not match the entry's hash" "the failure names the document's entry"
# a proof carrying another note of the same length (one signature character changed)
PROOF=$(cd B && ls ledgers/acme/entries/*.tlog-proof | tail -1)
rm -rf T && cp -r B T
python3 - "T/$PROOF" <<'PY'
import sys
p = sys.argv[1]
lines = open(p, "rb").read().split(b"\n")
i = max(k for k, l in enumerate(lines) if l.startswith("\u2014 ".encode()))
sig = bytearray(lines[i])
sig[-5] = ord("A") if sig[-5] != ord("A") else ord("B")
lines[i] = bytes(sig)
open(p, "wb").write(b"\n".join(lines))
PY
fix_manifest
expect_exit 1 "a proof against another checkpoint of the same length fails" $A verify-bundle T --key acme=ak.pub
expect_out "proof is against another checkpoint" "the failure says which check"

finish
