#!/usr/bin/env bash
# Report format 3: incident --witness puts the receipts into report.md/report.html (who
# acknowledged each notice and SLA version, when, the delay, the lead time, who has not),
# verify-bundle regenerates the report in the version the bundle names (the committed v1, v2
# and v3 fixtures all verify), and a bundle whose receipts section was edited fails.
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lib.sh"
A=$AUDITFS
FX=${SOURCE_ROOT:-$HERE/../..}/tests/fixtures
export AUDITFS_STATE=$WORK/state-provider
P=$WORK/prov

$A keygen provider.example/acme -o p.key >/dev/null
$A keygen customer-a.example -o a.key >/dev/null
$A keygen customer-b.example -o b.key >/dev/null
$A init --ledger $P --key p.key >/dev/null 2>&1
echo "SLA v1" > sla1.md
$A publish --ledger $P --key p.key --name sla/acme --tenant acme sla1.md >/dev/null
records 3 | $A append --ledger $P --key p.key --stream api --tenant acme >/dev/null
git clone -q --mirror $P a.git
AUDITFS_STATE=$WORK/state-a check "customer A cosigns size 4" $A cosign --ledger a.git --key a.key --log-key p.key.pub
AUDITFS_STATE=$WORK/state-a $A checkpoint --ledger a.git > a.cp
check "the provider stores it" $A cosignatures add --ledger $P --witness a.key.pub a.cp
echo "maintenance" > n1.md
$A notice --ledger $P --key p.key --title "Planned maintenance" --tenant acme --effective 2031-02-03 n1.md >/dev/null

check "incident --witness A --witness B" $A incident --ledger $P --key p.key.pub --since 2020-01-01 \
    --until 2040-01-01 _tenant=acme --witness a.key.pub --witness b.key.pub -o B
grep -qx 'report 4' B/query.txt && ok "the bundle names the current report format (4, receipts since 3)" || not_ok "$(cat B/query.txt)"
[ "$(grep -c '^witness ' B/query.txt)" = 2 ] && ok "query.txt names both witnesses" || not_ok "$(cat B/query.txt)"
sed -n '/^## Receipts/,/^## Files/p' B/report.md > rc.md
grep -q '^### sla/acme v1 ' rc.md && grep -q '^### notice "Planned maintenance" ' rc.md && ok "a subsection per SLA version and notice" || not_ok "$(cat rc.md)"
awk '/^### sla\/acme v1/,/^### notice/' rc.md | grep -qE '^\| customer-a.example\+[0-9a-f]{8} \| 20[0-9-]+T[0-9:.]+Z \| [0-9dhms]+ \| 4 \|$' \
    && ok "SLA v1: acknowledged by A, when, after how long, at size 4" || not_ok "$(cat rc.md)"
awk '/^### notice/,0' rc.md | grep -qE '^\| customer-a.example\+[0-9a-f]{8} \| not acknowledged \| - \| - \|$' \
    && ok "the later notice: not acknowledged by A" || not_ok "$(cat rc.md)"
grep -q 'effective 2031-02-03T00:00:00.000000Z: lead time [0-9]*d' rc.md && ok "the notice's lead time" || not_ok "lead time"
grep -q 'Not acknowledged by 2 of 2 witnesses' rc.md && ok "who has not, per notice" || not_ok "pending"
grep -q '<h2>Receipts: who acknowledged each notice and document version</h2>' B/report.html && ok "report.html too" || not_ok "html"
check "verify-bundle regenerates the report (format 3)" $A verify-bundle B --key p.key.pub \
    --witness a.key.pub --witness b.key.pub
expect_out '^ok: query.txt witness customer-b.example \(key id [0-9a-f]{8}\) is one of your --witness keys' \
    "each of query.txt's witnesses is matched to a key the reader gave"
# the receipts' keys come from query.txt: each must be one the reader trusts
expect_exit 1 "verify-bundle --witness A fails: query.txt also names B, a key the reader did not give" \
    $A verify-bundle B --key p.key.pub --witness a.key.pub
expect_out '^FAIL: query.txt names witness customer-b.example \(key id [0-9a-f]{8}\), whose acknowledgements the report.s receipts list, but that key is not among your --witness keys' \
    "the failure names the witness and says why"
mkdir -p other && ( cd other && $A keygen customer-b.example -o b.key >/dev/null )
expect_exit 1 "another key under B's name does not stand in for B's" \
    $A verify-bundle B --key p.key.pub --witness a.key.pub --witness other/b.key.pub
check "verify-bundle without --witness still passes, with a note" $A verify-bundle B --key p.key.pub
expect_out "^note: the report's receipts use 2 witness key\(s\) named in query.txt; give --witness" \
    "the note says the receipts' keys were not checked"
cp -r B B2
sed -i 's/| not acknowledged | - | - |/| 2026-01-01T00:00:00.000000Z | 1s | 5 |/' B2/report.md
( cd B2 && grep -v '  report.md$' MANIFEST.sha256 > m && sha256sum report.md >> m && sort -k2 m > MANIFEST.sha256 && rm m )
expect_exit 1 "a forged receipt in report.md (manifest fixed up) fails verify-bundle" $A verify-bundle B2 --key p.key.pub
cat $WORK/.out $WORK/.err | grep -q 'report.md' && ok "the failure names report.md" || not_ok "$(cat $WORK/.out $WORK/.err | head -5)"

check "incident without --witness still writes format 3" $A incident --ledger $P --key p.key.pub --since 2020-01-01 --until 2040-01-01 -o C
grep -q 'No witness keys were named when this bundle was written' C/report.md && ok "and says no receipts" || not_ok "$(grep -A3 Receipts C/report.md)"

cp -r "$FX/bundle-v1" v1; cp -r "$FX/bundle-v2" v2; cp -r "$FX/bundle-v3" v3
check "the 0.1.0 bundle (report 1) still verifies" $A verify-bundle v1 --key "$FX/bundle-v1.key.pub"
check "the report-2 bundle still verifies" $A verify-bundle v2 --key provider="$FX/bundle-v2.provider.pub" --key acme="$FX/bundle-v2.acme.pub"
check "the report-3 fixture verifies with its witnesses" $A verify-bundle v3 --key provider="$FX/bundle-v3.provider.pub" \
    --witness "$FX/bundle-v3.customer-a.pub" --witness "$FX/bundle-v3.assessor.pub" \
    --witness "$FX/bundle-v3.customer-b.pub"
expect_exit 1 "the report-3 fixture without customer B's key: its receipts name B, so it fails" \
    $A verify-bundle v3 --key provider="$FX/bundle-v3.provider.pub" \
    --witness "$FX/bundle-v3.customer-a.pub" --witness "$FX/bundle-v3.assessor.pub"
expect_out "^FAIL: query.txt names witness customer-b.example" "the failure names customer B"
finish
