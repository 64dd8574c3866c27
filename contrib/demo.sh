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
echo "== $N audit records"
if [ -x build/contrib/gen-records ]; then
    build/contrib/gen-records "$N" 42 > "$D/records.jsonl"
else
    awk -v n="$N" 'BEGIN { srand(42); for (i = 0; i < n; i++) printf "{\"time\":\"2026-11-17T%02d:%02d:%02dZ\",\"tenant\":\"acme\",\"actor\":\"ops-%d\",\"action\":\"ecs:%s\",\"resource\":\"i-%06d\",\"result\":\"%s\"}\n", int(i*24/n), int(i*1440/n)%60, int(i*86400/n)%60, int(rand()*40), (rand()<0.5?"StopInstance":"DescribeInstances"), int(rand()*5000), (rand()<0.95?"success":"failure") }' > "$D/records.jsonl"
fi
$A append --key "$D/provider.key" --stream api --tenant acme --party provider --layer platform \
    "$D/records.jsonl" | tail -1 | sed 's/^/tree size: /'
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
  ls demo/mnt demo/mnt/streams/api
  head -3 demo/mnt/streams/api/all.jsonl | jq .
  grep -c '"result":"failure"' demo/mnt/streams/api/all.jsonl
  jq -r 'select(.actor=="ops-7") | .action' demo/mnt/streams/api/all.jsonl | sort | uniq -c
  cat demo/mnt/documents/sla/acme-compute/current   ;  ls demo/mnt/notices
  getfattr -d demo/mnt/streams/api/all.jsonl
  tail -f demo/mnt/streams/api/all.jsonl    (with --follow; see README)
Unmount with: build/cli/auditfs umount demo/mnt
TRY
fi
cat <<TRY

Without the mount:
  export AUDITFS_LEDGER=demo/ledger
  build/cli/auditfs log --to 5
  build/cli/auditfs prove --index 42 ; build/cli/auditfs prove --index 42 --tlog-proof
  build/cli/auditfs verify --key demo/provider.key.pub --trusted demo/checkpoint.kept
  git clone demo/ledger /tmp/assessor-copy && build/cli/auditfs verify --ledger /tmp/assessor-copy --key demo/provider.key.pub
TRY
