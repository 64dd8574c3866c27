#!/usr/bin/env bash
# New notices reach the customer: `auditfs sync` prints a line per notice and document (SLA)
# version it brought in and runs the --on-notice program (a real process, no shell) once per
# entry with the details in its environment. Provider and customer each have their own
# AUDITFS_STATE; the provider's repository is served by `git daemon` on 127.0.0.1.
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lib.sh"
source "$HERE/replicalib.sh"
A=$AUDITFS
export AUDITFS_STATE=$WORK/state-provider
P=$SRV/acme.git
csync() { AUDITFS_STATE=$WORK/state-cust $A sync --ledger $WORK/cust.git "$@"; }

$A keygen provider.example/acme -o p.key >/dev/null
$A init --ledger $P --key p.key >/dev/null 2>&1
records 10 | $A append --ledger $P --key p.key --stream api --tenant acme >/dev/null
start_git_daemon || { not_ok "git daemon"; finish; exit 1; }
AUDITFS_STATE=$WORK/state-cust check "the customer clones" $A clone git://127.0.0.1:$GIT_PORT/acme.git $WORK/cust.git --key p.key.pub

# the hook: writes its environment and arguments to a file per call
cat > hook.sh <<'H'
#!/bin/sh
n=$(ls "$HOOK_DIR" | wc -l)
{ echo "argc=$#"; env | grep '^AUDITFS_' | sort; } > "$HOOK_DIR/call-$n"
H
chmod +x hook.sh
export HOOK_DIR=$WORK/hooks
mkdir -p $HOOK_DIR

check "sync with nothing new" csync --on-notice $WORK/hook.sh
[ -z "$(ls $HOOK_DIR)" ] && ok "no hook run without new notices" || not_ok "hook ran"
grep -q '^new ' $WORK/.out && not_ok "a notice line without notices" || ok "no notice line"

echo "SLA v1 for acme" > sla1.md
printf 'Maintenance on\nDec 1\n' > n1.md
$A publish --ledger $P --key p.key --name sla/acme-compute --tenant acme sla1.md >/dev/null
records 3 5 | $A append --ledger $P --key p.key --stream api --tenant acme >/dev/null
$A notice --ledger $P --key p.key --title "Planned maintenance" --tenant acme --effective 2030-12-01 n1.md >/dev/null
echo "SLA v2 for acme" > sla2.md
$A publish --ledger $P --key p.key --name sla/acme-compute --tenant acme sla2.md >/dev/null
$A notice --ledger $P --key p.key --title $'Evil\x1b[2Jtitle' n1.md >/dev/null 2>&1 || true

check "sync brings three notices/versions" csync --on-notice $WORK/hook.sh
cp $WORK/.out sync.out
expect_out '^synced ' "the sync line comes first"
expect_out '^new document 10: sla/acme-compute v1, tenant acme, 16 bytes, published 20[0-9-]+T[0-9:]+Z$' "a line for SLA v1 with size and time"
expect_out '^new notice 14: "Planned maintenance", tenant acme, 21 bytes, published [0-9T:-]+Z, effective 2030-12-01T00:00:00Z \(lead time [0-9dhms]+\)$' \
    "a line for the notice with effective time and lead time"
expect_out '^new document 15: sla/acme-compute v2, tenant acme' "a line for SLA v2"
if grep -q 'Evil' sync.out; then
    grep -q $'\x1b' sync.out && not_ok "a control byte from data reached the output" || ok "the title's control bytes are escaped"
fi
n=$(grep -c '^new ' sync.out)
[ "$(ls $HOOK_DIR | wc -l)" = "$n" ] && ok "the hook ran once per new entry ($n)" || not_ok "hook calls $(ls $HOOK_DIR | wc -l), lines $n"
c=$(grep -l 'AUDITFS_NOTICE_TYPE=notice' $HOOK_DIR/* | head -1)
[ -n "$c" ] && ok "the hook saw the notice" || not_ok "no notice call"
grep -qx 'argc=0' "$c" && ok "no arguments (no shell)" || not_ok "$(cat $c)"
grep -qx 'AUDITFS_NOTICE_TITLE=Planned maintenance' "$c" && ok "AUDITFS_NOTICE_TITLE" || not_ok "$(cat $c)"
grep -qx 'AUDITFS_NOTICE_INDEX=14' "$c" && ok "AUDITFS_NOTICE_INDEX" || not_ok "$(cat $c)"
grep -qx 'AUDITFS_NOTICE_TENANT=acme' "$c" && ok "AUDITFS_NOTICE_TENANT" || not_ok "$(cat $c)"
grep -qx 'AUDITFS_NOTICE_EFFECTIVE=2030-12-01T00:00:00.000000Z' "$c" && ok "AUDITFS_NOTICE_EFFECTIVE" || not_ok "$(cat $c)"
grep -qx 'AUDITFS_NOTICE_SIZE=21' "$c" && ok "AUDITFS_NOTICE_SIZE" || not_ok "$(cat $c)"
grep -qx "AUDITFS_NOTICE_SHA256=$(sha256sum n1.md | cut -c1-64)" "$c" && ok "AUDITFS_NOTICE_SHA256 is the content's" || not_ok "$(cat $c)"
grep -qE '^AUDITFS_NOTICE_LEAD_SECONDS=[0-9]+$' "$c" && ok "AUDITFS_NOTICE_LEAD_SECONDS" || not_ok "$(cat $c)"
grep -qx 'AUDITFS_ORIGIN=provider.example/acme' "$c" && ok "AUDITFS_ORIGIN" || not_ok "$(cat $c)"
grep -qx "AUDITFS_TREE_SIZE=$($A checkpoint --ledger $P | sed -n 2p)" "$c" && ok "AUDITFS_TREE_SIZE" || not_ok "$(cat $c)"
d=$(grep -l 'AUDITFS_NOTICE_VERSION=2' $HOOK_DIR/* | head -1)
[ -n "$d" ] && grep -qx 'AUDITFS_NOTICE_TYPE=document' "$d" && grep -qx 'AUDITFS_NOTICE_NAME=sla/acme-compute' "$d" \
    && grep -qx 'AUDITFS_NOTICE_TITLE=sla/acme-compute' "$d" && grep -qx 'AUDITFS_NOTICE_EFFECTIVE=' "$d" \
    && ok "the hook saw SLA v2 as a document (name, version, no effective time)" || not_ok "document call: $(cat $d 2>/dev/null)"

check "again: nothing new, no lines" csync --on-notice $WORK/hook.sh
grep -q '^new ' $WORK/.out && not_ok "repeated" || ok "nothing repeated"

# a failing hook: reported, sync exits 4 after completing
printf '#!/bin/sh\nexit 3\n' > fail.sh; chmod +x fail.sh
$A notice --ledger $P --key p.key --title "Second notice" n1.md >/dev/null
expect_exit 4 "a failing hook makes sync exit 4" csync --on-notice $WORK/fail.sh
expect_err "exited 3 for entry" "the failure names the exit status and entry"
expect_out '^new notice [0-9]+: "Second notice"' "the notice line is still printed"
AUDITFS_STATE=$WORK/state-cust check "the replica did move" $A verify --ledger $WORK/cust.git --key p.key.pub

# a hook that hangs: killed with its process group at --on-notice-timeout, reported, exit 4
cat > hang.sh <<H
#!/bin/sh
sleep 300 &
echo \$! > $WORK/hang-child.pid
exec sleep 300
H
chmod +x hang.sh
$A notice --ledger $P --key p.key --title "Third notice" n1.md >/dev/null
t0=$(date +%s)
expect_exit 4 "a hook outliving --on-notice-timeout 1 makes sync exit 4" \
    csync --on-notice $WORK/hang.sh --on-notice-timeout 1
t1=$(date +%s)
expect_err "still running after 1 s for entry [0-9]+ \(--on-notice-timeout\): its process group was killed" \
    "the timeout is reported with the entry"
expect_out '^new notice [0-9]+: "Third notice"' "the notice line is still printed"
[ $((t1 - t0)) -lt 60 ] && ok "sync did not wait for the hook ($((t1 - t0)) s)" || not_ok "took $((t1 - t0)) s"
child=$(cat $WORK/hang-child.pid 2>/dev/null)
for _ in $(seq 50); do [ -n "$child" ] && kill -0 "$child" 2>/dev/null || break; sleep 0.1; done
[ -n "$child" ] && ! kill -0 "$child" 2>/dev/null && ok "the hook's background child was killed too (process group)" \
    || { not_ok "child $child still runs"; kill "$child" 2>/dev/null; }
expect_exit 2 "--on-notice-timeout 0 is a usage error" csync --on-notice $WORK/hook.sh --on-notice-timeout 0
expect_exit 2 "--on-notice-timeout without --on-notice is a usage error" csync --on-notice-timeout 5
expect_exit 2 "--on-notice with a non-executable is a usage error" csync --on-notice $WORK/sla1.md
expect_exit 2 "--on-notice with a shell command line is refused (no shell)" csync --on-notice "echo hi"
finish
