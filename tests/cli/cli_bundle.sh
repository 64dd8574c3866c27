#!/usr/bin/env bash
# CLI integration: bundles that stay true. Bundles written by earlier releases (committed under
# tests/fixtures/) keep verifying; hostile bundles (files not listed, special files, forged
# defaults, huge files) fail cleanly and fast; an empty result is reported as a finding.
source "$(dirname "$0")/lib.sh"
A=$AUDITFS
export AUDITFS_STATE=$WORK/state
FX=${SOURCE_ROOT:?SOURCE_ROOT must point at the source tree}/tests/fixtures

cp -r "$FX/bundle-v1" v1 && cp "$FX/bundle-v1.key.pub" v1.pub
cp -r "$FX/bundle-v2" v2 && cp "$FX/bundle-v2.provider.pub" "$FX/bundle-v2.acme.pub" .
check "a bundle written by auditfs 0.1.0 still verifies" $A verify-bundle v1 --key v1.pub
expect_out "report format 1" "it is regenerated in the format it names"
check "a report-format-2 bundle verifies" $A verify-bundle v2 --key provider=bundle-v2.provider.pub --key acme=bundle-v2.acme.pub
expect_exit 1 "the wrong key still fails an old bundle" $A verify-bundle v1 --key bundle-v2.provider.pub

vb() { timeout 60 $A verify-bundle T --key v1.pub; }
fresh() { rm -rf T && cp -r v1 T; }
relist() { (cd T && find . -type f ! -name MANIFEST.sha256 | sed 's|^\./||' | LC_ALL=C sort | xargs sha256sum > MANIFEST.sha256); }

fresh; cp T/ledgers/provider/entries/5.leaf T/ledgers/provider/entries/05.leaf; relist
expect_exit 1 "a forged 05.leaf beside 5.leaf fails even when the manifest lists it" vb
expect_out "05.leaf: not part of a bundle" "the failure names the file"
fresh; mkdir -p T/ledgers/ghost && cp T/ledgers/provider/checkpoint T/ledgers/ghost/; relist
expect_exit 1 "an unlisted ledger directory fails" vb
fresh; echo "content" > T/ledgers/provider/content/3; relist
expect_exit 1 "a content file for a log entry fails" vb
fresh; rm T/ledgers/provider/content/0; ln -s /dev/zero T/ledgers/provider/content/0
expect_exit 1 "a symlink to a device fails without being read" vb
expect_out "not a regular file" "it says why"
fresh; mkfifo T/fifo
expect_exit 1 "a FIFO fails (and does not block)" vb
fresh; truncate -s 2G T/ledgers/provider/content/0
expect_exit 1 "an oversized (sparse) file fails without being read" vb
expect_out "larger than 1 GiB" "it says why"
fresh; printf '\033[2K\rok: everything is fine\n' > "T/$(printf 'evil\033[2K\rname')"
expect_exit 1 "a file name with control characters fails" vb
grep -q $'\033' "$WORK/.out" && not_ok "control characters reach the terminal" || ok "control characters in names are escaped"

# key.pub is named in the report: it must be the key that signed
fresh; cp bundle-v2.acme.pub T/ledgers/provider/key.pub; relist
expect_exit 1 "a key.pub that did not sign the checkpoint fails" vb
expect_out "key.pub is not the key that signed" "it names key.pub"

# everything in a bundle is data: a pathological grep in query.txt is refused, not run
fresh; printf 'grep (a|aa)*\\1\\1b\n' >> T/query.txt; relist
start=$(date +%s)
expect_exit 1 "a back-reference grep in query.txt is refused" vb
expect_out "back-references are not supported" "it says why"
[ $(( $(date +%s) - start )) -lt 30 ] && ok "and fast" || not_ok "verify-bundle took $(( $(date +%s) - start )) s"
P=$(printf '%*s' 30000 '' | tr ' ' '('); P="${P}a$(printf '%*s' 30000 '' | tr ' ' ')')"

# a bundle that claims the built-in default matrix must carry exactly it
$A keygen t.example/l -o k >/dev/null 2>&1 && $A init --ledger L --key k 2>/dev/null
printf '{"actor":"a","resource":"r"}\n' | $A append --ledger L --key k --stream s --tenant acme --party provider --layer data >/dev/null
check "a bundle without a published matrix" $A incident --since 2000-01-01 --until 2100-01-01 --ledger L --key k.pub -o D
check "it verifies" $A verify-bundle D --key k.pub
rm -rf T && cp -r D T && sed -i 's/"data":"customer"/"data":"provider"/g' T/responsibility-default.json && relist
expect_exit 1 "a doctored default matrix fails" $A verify-bundle T --key k.pub
expect_out "responsibility-default.json is not the built-in default" "it names the matrix"

# --format tar: one file that any tar unpacks into a bundle that verifies
LONG=ledger-with-a-name-of-sixty-four-bytes-so-that-paths-are-long0
X=incident-2026-11-17-acme-provider-evidence
check "incident --format tar" $A incident --since 2000-01-01 --until 2100-01-01 --ledger $LONG=L --key $LONG=k.pub -o $X.tar --format tar
[ -f $X.tar ] && [ ! -e $X.tar.d.tmp ] && ok "one file, no directory left behind" || not_ok "tar output: $(ls)"
mkdir -p untar && tar -C untar -xf $X.tar && ok "tar unpacks it" || not_ok "tar xf"
check "the unpacked bundle verifies" $A verify-bundle untar/$X --key $LONG=k.pub
expect_exit 4 "--format tar refuses an existing file" $A incident --since 2000-01-01 --until 2100-01-01 --ledger L --key k.pub -o $X.tar --format tar
expect_exit 2 "--format zip is a usage error" $A incident --since 2000-01-01 --until 2100-01-01 --ledger L --key k.pub -o Y --format zip

# an empty result is a finding, not a success
check "a bundle whose query matches nothing" $A incident --since 2000-01-01 --until 2100-01-01 actor=nobody --ledger L --key k.pub -o E
grep -q 'FINDING: no entry matches the query' E/report.md && ok "the report flags the empty result" || not_ok "empty result not flagged"
grep -q 'undetermined' D/report.md && ok "an unknown service type is undetermined, not zero mismatches" || not_ok "undetermined"

expect_exit 3 "query --grep with 30,000 nested parentheses is refused, not a crash" $A query --ledger L --grep "$P"

finish
