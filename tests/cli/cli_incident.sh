#!/usr/bin/env bash
# CLI integration: incident bundles over two ledgers (a tenant's and the provider-wide one),
# offline verification, tampering, the completeness check, and git-bundle archives.
source "$(dirname "$0")/lib.sh"
A=$AUDITFS
now() { date -u +%FT%T.%6NZ; }

$A keygen acme-ledger -o ak >/dev/null 2>&1
$A keygen provider-ledger -o pk >/dev/null 2>&1
$A init --ledger acme --key ak 2>/dev/null
$A init --ledger prov --key pk 2>/dev/null
echo "# SLA acme v1: availability 99.9%" > sla1.md
echo "# SLA acme v2: availability 99.95%" > sla2.md
echo "# SLA acme v3: after the window" > sla3.md
cat > matrix.json <<'EOF'
{"format":"auditfs-responsibility/1","service_types":{"IaaS":{"facility":"provider","hardware":"provider","virtualization":"provider","platform":"customer","application":"customer","data":"customer"}},"tenants":{"acme":"IaaS"}}
EOF
echo "hypervisor maintenance" > n1.txt
echo "for beta only" > n2.txt
echo "security bulletin" > n3.txt
$A publish --ledger acme --key ak --name sla/acme sla1.md >/dev/null
$A publish --ledger prov --key pk --name matrix/responsibility matrix.json >/dev/null
$A notice --ledger prov --key pk --title "Hypervisor maintenance" --tenant acme --effective 2026-12-01 n1.txt >/dev/null
$A notice --ledger prov --key pk --title "Beta notice" --tenant beta n2.txt >/dev/null
records 300 | $A append --ledger prov --key pk --stream ops --tenant beta --party provider --layer platform >/dev/null
sleep 0.05; T1=$(now); sleep 0.05
printf '{"actor":"ops-7","action":"ecs:StopInstance","resource":"i-1"}\n{"actor":"ops-7","action":"disk:Snapshot","resource":"vol-9"}\n' |
    $A append --ledger prov --key pk --stream ops --tenant acme --party provider --layer data >/dev/null
records 200 | $A append --ledger prov --key pk --stream ops --tenant acme --party provider --layer virtualization >/dev/null
printf '{"actor":"ops-7","action":"ecs:StopInstance","resource":"i-1"}\n' |
    $A append --ledger prov --key pk --stream ops --tenant acme --party provider --layer virtualization >/dev/null
$A notice --ledger prov --key pk --title "Security bulletin" n3.txt >/dev/null
printf '{"actor":"alice","action":"ecs:StartInstance","resource":"i-1"}\n' |
    $A append --ledger acme --key ak --stream api --tenant acme --party customer --layer platform >/dev/null
$A publish --ledger acme --key ak --name sla/acme sla2.md >/dev/null
sleep 0.05; T2=$(now); sleep 0.05
printf '{"actor":"ops-7","action":"late","resource":"i-1"}\n' |
    $A append --ledger prov --key pk --stream ops --tenant acme --party provider --layer data >/dev/null
$A publish --ledger acme --key ak --name sla/acme sla3.md >/dev/null

check "incident writes a bundle" $A incident --since $T1 --until $T2 resource=i-1 --tenant acme \
    --ledger acme=acme --key acme=ak.pub --ledger provider=prov --key provider=pk.pub -o B
for f in query.txt report.md report.html MANIFEST.sha256 ledgers/acme/checkpoint ledgers/acme/key.pub \
         ledgers/provider/checkpoint ledgers/provider/key.pub; do
    [ -f B/$f ] && ok "bundle has $f" || not_ok "bundle lacks $f"
done
n_hits=$(grep -c '(match)' B/report.md)
[ "$n_hits" = 3 ] && ok "three matching entries (two provider, one customer)" || not_ok "hits: $n_hits"
ls B/ledgers/*/entries/*.leaf | while read -r f; do [ -f "${f%.leaf}.tlog-proof" ] || echo "$f"; done > noproof
[ ! -s noproof ] && ok "every entry has a tlog-proof" || not_ok "entries without proof: $(cat noproof)"
head -1 B/ledgers/acme/entries/1.tlog-proof | grep -q '^c2sp.org/tlog-proof@v1$' && ok "proofs are tlog-proof files" || not_ok "proof format"
grep -q 'sla/acme v1' B/report.md && grep -q 'in force when the window opened' B/report.md && ok "the SLA in force at T1 is included" || not_ok "SLA v1"
grep -q 'sla/acme v2' B/report.md && ok "the SLA version published inside the window is included" || not_ok "SLA v2"
grep -q 'sla/acme v3' B/report.md && not_ok "a version after the window is excluded" || ok "a version after the window is excluded"
grep -q 'availability 99.9%' B/report.md && ok "the SLA terms are quoted" || not_ok "SLA terms"
grep -q 'Hypervisor maintenance.*BEFORE the first matching entry' B/report.md && ok "a notice given before the first entry is called out" || not_ok "notice before"
grep -q 'Security bulletin.*after the first matching entry' B/report.md && ok "a later notice for all tenants is included" || not_ok "bulletin"
grep -q 'Beta notice' B/report.md && not_ok "another tenant's notice is excluded" || ok "another tenant's notice is excluded"
grep -q 'MISMATCH' B/report.md && grep -q 'a provider action on the data layer of IaaS tenant acme' B/report.md && ok "the provider action on the data layer is a mismatch" || not_ok "mismatch"
[ "$(grep -c 'MISMATCH' B/report.md)" = 1 ] && ok "exactly one mismatch" || not_ok "mismatches: $(grep -c MISMATCH B/report.md)"
grep -q '"late"' B/ledgers/provider/entries/*.leaf && not_ok "an entry after T2 is excluded" || ok "an entry after T2 is excluded"
grep -q '<table>' B/report.html && ! grep -qE '(src|href)="https?:' B/report.html && ok "report.html is self-contained" || not_ok "html"
(cd B && sha256sum -c --quiet MANIFEST.sha256) && ok "sha256sum -c checks the manifest" || not_ok "sha256sum -c"
expect_exit 4 "incident refuses an existing directory" $A incident --since $T1 --until $T2 --ledger acme=acme --key acme=ak.pub -o B

# offline verification with only the bundle and the keys
mkdir -p offline && cp -r B offline/ && cp ak.pub pk.pub offline/
(cd offline && "$A" verify-bundle B --key acme=ak.pub --key provider=pk.pub) > vb.out 2>&1
[ $? -eq 0 ] && ok "verify-bundle passes offline" || not_ok "verify-bundle: $(cat vb.out)"
grep -q "VERIFIED" vb.out && grep -q "Not shown by this check" vb.out && ok "it says what it proves and what it cannot" || not_ok "wording"
expect_exit 1 "verify-bundle with the wrong key fails" $A verify-bundle B --key acme=pk.pub --key provider=pk.pub
expect_exit 2 "verify-bundle without a key is a usage error" $A verify-bundle B
check "verify-bundle --help" $A verify-bundle --help

tamper() { # tamper LABEL FILE SED-EXPR
    rm -rf T && cp -r B T
    sed -i "$3" "T/$2"
    expect_exit 1 "$1" $A verify-bundle T --key acme=ak.pub --key provider=pk.pub
}
leaf=$(grep -l ops-7 B/ledgers/provider/entries/*.leaf | head -1); leaf=${leaf#B/}
tamper "a tampered leaf fails" "$leaf" 's/ops-7/ops-8/'
tamper "a tampered report fails" report.md 's/MISMATCH/ok/'
tamper "a tampered html report fails" report.html 's/MISMATCH/ok/'
# rewriting the report and fixing the manifest is still caught: the report is regenerated
rm -rf T && cp -r B T && sed -i 's/MISMATCH/ok/' T/report.md && (cd T && find . -type f ! -name MANIFEST.sha256 | sed 's|^\./||' | LC_ALL=C sort | xargs sha256sum > MANIFEST.sha256)
expect_exit 1 "a rewritten report with a fixed manifest fails" $A verify-bundle T --key acme=ak.pub --key provider=pk.pub
expect_out "report.md is not what the bundle's entries produce" "the failure names the report"
# a leaf changed consistently everywhere still fails its proof
rm -rf T && cp -r B T && sed -i 's/ops-7/ops-8/' T/$leaf && (cd T && find . -type f ! -name MANIFEST.sha256 | sed 's|^\./||' | LC_ALL=C sort | xargs sha256sum > MANIFEST.sha256)
expect_exit 1 "a forged leaf with a fixed manifest fails its proof" $A verify-bundle T --key acme=ak.pub --key provider=pk.pub
rm -rf T && cp -r B T && echo extra > T/extra.txt
expect_exit 1 "an added file fails" $A verify-bundle T --key acme=ak.pub --key provider=pk.pub
rm -rf T && cp -r B T && rm T/ledgers/acme/content/0
expect_exit 1 "a removed file fails" $A verify-bundle T --key acme=ak.pub --key provider=pk.pub

# completeness against the full ledgers
check "incident --check passes on a complete bundle" $A incident --check B --ledger acme=acme --ledger provider=prov
expect_out "holds exactly" "--check reports the match"
rm -rf T && cp -r B T
hit=$(grep -l 'StopInstance' T/ledgers/provider/entries/*.leaf | tail -1)
rm "$hit" "${hit%.leaf}.tlog-proof"
(cd T && find . -type f ! -name MANIFEST.sha256 | sed 's|^\./||' | LC_ALL=C sort | xargs sha256sum > MANIFEST.sha256)
expect_exit 1 "an entry left out (manifest fixed) no longer matches the report" $A verify-bundle T --key acme=ak.pub --key provider=pk.pub
expect_exit 1 "but incident --check finds the entry left out" $A incident --check T --ledger acme=acme --ledger provider=prov
expect_out "missing: provider entry" "--check names the missing entry"

# the default matrix is the shipped contrib file
if [ -n "${SOURCE_ROOT:-}" ] && [ -f "$SOURCE_ROOT/contrib/responsibility-default.json" ]; then
    $A incident --default-matrix | cmp -s - "$SOURCE_ROOT/contrib/responsibility-default.json" && ok "the built-in matrix is contrib/responsibility-default.json" || not_ok "default matrix differs"
fi
check "single-ledger bundle without a published matrix" $A incident --since 2000-01-01 --until 2100-01-01 _stream=api --ledger acme --key ak.pub -o S
[ -f S/responsibility-default.json ] && grep -q 'built-in default\|default shared-responsibility' S/report.md && ok "the default matrix is included and marked unproven" || not_ok "default matrix in bundle"
check "verify-bundle with one unnamed key" $A verify-bundle S --key ak.pub

# archive: a git bundle that stock git clones, and auditfs verify on the clone
check "archive" $A archive --ledger prov -o prov.bundle
[ -f prov.bundle.checkpoint ] && ok "archive writes FILE.checkpoint" || not_ok "no checkpoint file"
head -1 prov.bundle | grep -q '^# v2 git bundle$' && ok "a v2 git bundle" || not_ok "bundle header"
git init -q --bare vb.git && git -C vb.git bundle verify ../prov.bundle >/dev/null 2>&1 && ok "git bundle verify accepts it" || not_ok "git bundle verify"
git clone -q --bare prov.bundle clone.git 2>err && ok "git clone --bare reads it" || not_ok "git clone: $(cat err)"
check "auditfs verify works on the clone" $A verify --ledger clone.git --key pk.pub --trusted prov.bundle.checkpoint
git clone -q prov.bundle clone-wt 2>err && ok "git clone (non-bare) reads it" || not_ok "git clone wt: $(cat err)"
[ "$($A query --ledger clone.git --no-update resource=i-1 | wc -l)" = "$($A query --ledger prov resource=i-1 | wc -l)" ] && ok "queries on the clone answer the same" || not_ok "clone query"

finish
