#!/usr/bin/env bash
# The auditfs demo: installs the Debian packages, builds, creates a sample provider ledger
# (a day of audit records for tenant acme, an SLA in two versions, notices), verifies it, and
# mounts it read-only at demo/mnt. Run from the repository root, as root (FUSE mounts).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${DEMO_RECORDS:-200000}
bash contrib/install-deps.sh
[ -d build ] || meson setup build >/dev/null
ninja -C build >/dev/null
A=$PWD/build/cli/auditfs
D=$PWD/demo
if mountpoint -q "$D/mnt" 2>/dev/null; then $A umount "$D/mnt" || fusermount3 -uz "$D/mnt"; fi
rm -rf "$D"
mkdir -p "$D/mnt"
# the demo provider's (and reader's) memory: pinned key, checkpoints seen and signed. A real
# party keeps it in ~/.local/state/auditfs (or AUDITFS_STATE=/var/lib/auditfs for a service).
export AUDITFS_STATE=$D/state
echo "== keys and ledger"
$A keygen provider.example/acme -o "$D/provider.key"
$A init --ledger "$D/ledger" --key "$D/provider.key"
export AUDITFS_LEDGER=$D/ledger
echo "== documents and notices"
$A publish --key "$D/provider.key" --name sla/acme-compute contrib/sample/sla-acme-compute-v1.md
[ -f contrib/responsibility-default.json ] &&
    $A publish --key "$D/provider.key" --name matrix/responsibility contrib/responsibility-default.json
$A notice --key "$D/provider.key" --title "Planned maintenance: hypervisor security update" \
    --effective 2026-11-18 --layer virtualization contrib/sample/notice-maintenance.md
echo "== $N audit records for tenant acme"
# the generator's records, made acme's; each record's party and layer become entry headers
# (the mount's tenants/ view, queries on _party/_layer and incident reports use them)
build/contrib/gen-records "$N" 42 | sed 's/"tenant":"[^"]*"/"tenant":"acme"/' > "$D/records.jsonl"
mkdir -p "$D/parts"
awk -v dir="$D/parts" '{
    party = "provider"; layer = "platform"
    if (match($0, /"party":"[a-z_]*"/)) party = substr($0, RSTART + 9, RLENGTH - 10)
    if (match($0, /"layer":"[a-z]*"/)) layer = substr($0, RSTART + 9, RLENGTH - 10)
    gsub(/_/, "-", party)
    print > (dir "/" party "." layer)
}' "$D/records.jsonl"
for f in "$D"/parts/*; do
    b=$(basename "$f"); party=${b%%.*}; layer=${b#*.}
    $A append --key "$D/provider.key" --stream api --tenant acme --party "$party" \
        --layer "$layer" "$f" | tail -1 | sed "s/^/tree size: /; s/\$/ (after $party, $layer)/"
done
$A publish --key "$D/provider.key" --name sla/acme-compute contrib/sample/sla-acme-compute-v2.md
$A notice --key "$D/provider.key" --title "Security bulletin: storage key rotation" \
    --effective 2026-11-20 --layer data contrib/sample/notice-bulletin.md
echo "== verify (as an assessor would, with only the public key)"
$A verify --key "$D/provider.key.pub"
$A checkpoint > "$D/checkpoint.kept"
if $A mount --help >/dev/null 2>&1; then
    echo "== mount"
    $A mount --ledger "$D/ledger" --key "$D/provider.key.pub" "$D/mnt"
    cat <<TRY

The ledger is mounted read-only at demo/mnt; every byte is verified before it is served. Try:
  ls demo/mnt demo/mnt/streams/api/2026/*/ demo/mnt/tenants/acme
  head -3 demo/mnt/streams/api/all.jsonl | jq .
  grep -c '"result":"failure"' demo/mnt/streams/api/all.jsonl
  jq -r 'select(.party=="provider" and .layer=="data") | .actor' demo/mnt/streams/api/all.jsonl | sort | uniq -c
  cat demo/mnt/documents/sla/acme-compute/current   ;  ls demo/mnt/notices
  getfattr -d demo/mnt/streams/api/all.jsonl
  cat demo/mnt/entries/42 ; cat demo/mnt/proofs/42.json
  (tail -f needs a mount with --follow: see README)
Unmount with: build/cli/auditfs umount demo/mnt
TRY
fi
cat <<TRY

Without the mount:
  export AUDITFS_LEDGER=demo/ledger AUDITFS_STATE=demo/state   # the demo party's memory: its pinned key
  build/cli/auditfs log --to 5
  build/cli/auditfs query _party=customer _layer=data --entries | head
  build/cli/auditfs prove --index 42 ; build/cli/auditfs prove --index 42 --tlog-proof
  build/cli/auditfs verify --key demo/provider.key.pub --trusted demo/checkpoint.kept
  git clone demo/ledger /tmp/assessor-copy && build/cli/auditfs verify --ledger /tmp/assessor-copy --key demo/provider.key.pub
TRY
