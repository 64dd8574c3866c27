#!/usr/bin/env bash
# mount --follow reports each notice and document version a step brings in (a log line) and runs
# the --on-notice program once per entry with the details in its environment (the same library
# function and hook as `auditfs sync`); always unmounted at the end.
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lib.sh"
source "$HERE/mountlib.sh"
A=$AUDITFS
L=$WORK/ledger
M=$WORK/mnt
export AUDITFS_FOLLOW_MS=200
export AUDITFS_STATE=$WORK/state-provider

$A keygen provider.example/acme -o key >/dev/null
$A init --ledger $L --key key 2>/dev/null
records 20 | $A append --ledger $L --key key --stream api --tenant acme >/dev/null
git clone -q --mirror $L $WORK/copy.git
cat > hook.sh <<'H'
#!/bin/sh
n=$(ls "$HOOK_DIR" | wc -l)
env | grep '^AUDITFS_' | sort > "$HOOK_DIR/call-$n"
H
chmod +x hook.sh
export HOOK_DIR=$WORK/hooks
mkdir -p $HOOK_DIR

expect_exit 2 "--on-notice without --follow is a usage error" $A mount --ledger $L --key key.pub --on-notice $WORK/hook.sh $M
# the customer mounts its copy (its own state directory) and follows it
export AUDITFS_STATE=$WORK/state-cust
start_mount $M mount.log --ledger $WORK/copy.git --key key.pub --follow --on-notice $WORK/hook.sh \
    || { not_ok "mount: $(cat mount.log)"; finish; exit 1; }
ok "mounted with --follow --on-notice"
export AUDITFS_STATE=$WORK/state-provider
echo "SLA v1" > sla1.md
printf 'Maintenance window\n' > n1.md
$A publish --ledger $L --key key --name sla/acme --tenant acme sla1.md >/dev/null
$A notice --ledger $L --key key --title "Planned maintenance" --tenant acme --effective 2030-01-01 n1.md >/dev/null
records 5 3 | $A append --ledger $L --key key --stream api --tenant acme >/dev/null
git -C $WORK/copy.git fetch -q $L '+refs/heads/main:refs/heads/main'
two_calls() { [ "$(ls $HOOK_DIR | wc -l)" -ge 2 ]; }
wait_until 15 two_calls && ok "the hook ran for the new entries" || not_ok "hook calls: $(ls $HOOK_DIR) (log: $(tail -3 mount.log))"
sleep 0.5
[ "$(ls $HOOK_DIR | wc -l)" = 2 ] && ok "exactly once per entry (2)" || not_ok "calls: $(ls $HOOK_DIR | wc -l)"
grep -q 'new document 20: sla/acme v1, tenant acme, 7 bytes' mount.log && ok "the log names SLA v1" || not_ok "log: $(cat mount.log)"
grep -qE 'new notice 21: "Planned maintenance", tenant acme, 19 bytes, published [0-9T:-]+Z, effective 2030-01-01T00:00:00Z \(lead time' mount.log \
    && ok "the log names the notice with its lead time" || not_ok "log: $(cat mount.log)"
c=$(grep -l 'AUDITFS_NOTICE_TYPE=notice' $HOOK_DIR/* | head -1)
[ -n "$c" ] && grep -qx 'AUDITFS_NOTICE_TITLE=Planned maintenance' "$c" && grep -qx 'AUDITFS_NOTICE_INDEX=21' "$c" \
    && grep -qx 'AUDITFS_NOTICE_EFFECTIVE=2030-01-01T00:00:00.000000Z' "$c" && grep -qx "AUDITFS_LEDGER=$WORK/copy.git" "$c" \
    && grep -qx 'AUDITFS_TREE_SIZE=27' "$c" \
    && ok "the hook's environment names the notice, the copy and the size" || not_ok "env: $(cat $c 2>/dev/null)"
stop_mount $M $MOUNT_PID && ok "unmounted" || not_ok "daemon still running"

# a hook that hangs: the follower kills its process group at --on-notice-timeout and logs it
cat > hang.sh <<H
#!/bin/sh
sleep 300 &
echo \$! > $WORK/hang-child.pid
exec sleep 300
H
chmod +x hang.sh
export AUDITFS_STATE=$WORK/state-cust
start_mount $M mount2.log --ledger $WORK/copy.git --key key.pub --follow --on-notice $WORK/hang.sh \
    --on-notice-timeout 1 || { not_ok "mount: $(cat mount2.log)"; finish; exit 1; }
ok "mounted with --on-notice-timeout 1"
export AUDITFS_STATE=$WORK/state-provider
$A notice --ledger $L --key key --title "Second notice" n1.md >/dev/null
git -C $WORK/copy.git fetch -q $L '+refs/heads/main:refs/heads/main'
timed_out() { grep -q 'on-notice: still running at its timeout for entry' mount2.log; }
wait_until 20 timed_out && ok "the mount logs the hook's timeout" || not_ok "log: $(tail -3 mount2.log)"
child=$(cat $WORK/hang-child.pid 2>/dev/null)
gone() { [ -n "$child" ] && ! kill -0 "$child" 2>/dev/null; }
wait_until 5 gone && ok "the hook's background child was killed too" \
    || { not_ok "child $child still runs"; kill "$child" 2>/dev/null; }
stop_mount $M $MOUNT_PID && ok "unmounted" || not_ok "daemon still running"
expect_exit 2 "--on-notice-timeout without --on-notice is a usage error" \
    $A mount --ledger $L --key key.pub --follow --on-notice-timeout 5 $M
finish
