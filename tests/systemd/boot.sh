#!/usr/bin/env bash
# tests/systemd/boot.sh BUILD_DIR - the contrib systemd units under a real systemd: systemd 252
# boots as PID 1 of new PID, mount, network, UTS, IPC and cgroup namespaces, on an overlay of the
# host's root (every write lands in the overlay's upper directory under $WORK; /proc/sys and
# /sys are read-only inside, so nothing kernel-wide is set), with `meson install`'s tree copied
# into it. It starts auditfs-ingest@t.service (tail -F of a log file into the ledger),
# auditfs-mount@t.service (a verified --follow mount at /srv/audit/t) and auditfs-verify@t.timer
# (a drop-in makes it fire 2 s after start instead of daily), then checks their effects from
# outside with nsenter: lines written to the log become entries, the mount serves them, the
# timer ran the verify service, which wrote its verified.checkpoint. The container is powered
# off (SIGRTMIN+4 to its PID 1; SIGKILL after 20 s) at the end, whatever happened.
# Skips (77) without root, unshare, overlayfs, /dev/fuse or /lib/systemd/systemd, or when
# systemd does not reach "running" within 60 s (the reason is printed).
set -u
build=$(realpath "${1:?usage: $0 BUILD_DIR}")
PASS=0
FAIL=0
WORK=$(mktemp -d "${TMPDIR:-/tmp}/auditfs-boot.XXXXXX")
CT=
cleanup() {
    if [ -n "$CT" ] && kill -0 "$CT" 2>/dev/null; then
        kill -s RTMIN+4 "$CT" 2>/dev/null # systemd: poweroff (in a container: exit)
        for _ in $(seq 200); do kill -0 "$CT" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$CT" 2>/dev/null # PID 1 of the namespace: takes every process in it along
    fi
    [ -n "${UNSHARE:-}" ] && wait "$UNSHARE" 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT
export AUDITFS_STATE=$WORK/state
ok() { PASS=$((PASS + 1)); echo "ok - $*"; }
not_ok() { FAIL=$((FAIL + 1)); echo "not ok - $*"; }
skip() { echo "1..0 # SKIP $*"; exit 77; }
[ "$(id -u)" = 0 ] || skip "booting systemd in namespaces needs root"
[ -x /lib/systemd/systemd ] || skip "no /lib/systemd/systemd (package systemd)"
[ -c /dev/fuse ] || skip "no /dev/fuse for the mount unit"
grep -qw overlay /proc/filesystems || skip "no overlayfs to give the container a writable root"
unshare --pid --fork --mount --net --uts --ipc --cgroup true 2>/dev/null ||
    skip "unshare --pid --mount --net --uts --ipc --cgroup does not work here"

prefix=$(meson introspect "$build" --buildoptions | python3 -c '
import json,sys
print([o["value"] for o in json.load(sys.stdin) if o["name"]=="prefix"][0])')
meson install -C "$build" --destdir "$WORK/dest" --no-rebuild >"$WORK/inst.log" 2>&1 ||
    { not_ok "meson install: $(tail -3 "$WORK/inst.log")"; exit 1; }
bin=$prefix/bin/auditfs
R=$WORK/root
mkdir -p "$R" "$WORK/upper" "$WORK/work"

# run inside the container's root before systemd starts: the system user, keys, the ledger
cat >"$WORK/setup.sh" <<SETUP
set -e
systemd-sysusers >/dev/null
install -d -m 0750 -g auditfs /etc/auditfs
install -d -m 0750 -o auditfs -g auditfs /var/lib/auditfs /var/lib/auditfs/ledgers /var/lib/auditfs/state
$bin keygen boot.example/t -o /etc/auditfs/t.key >/dev/null 2>&1
mv /etc/auditfs/t.key.pub /etc/auditfs/t.pub
chmod 0644 /etc/auditfs/t.pub
AUDITFS_STATE=/var/lib/auditfs/state/t $bin init --ledger /var/lib/auditfs/ledgers/t --key /etc/auditfs/t.key >/dev/null 2>&1
chown -R auditfs:auditfs /var/lib/auditfs
printf 'SOURCE=/var/log/auditfs-t.log\nAPPEND_ARGS=--stream app --flush-ms 100\n' >/etc/auditfs/ingest-t.conf
install -m 0644 /dev/null /var/log/auditfs-t.log
mkdir -p /etc/systemd/system/auditfs-verify@t.timer.d
printf '[Timer]\nOnActiveSec=2s\nRandomizedDelaySec=0\n' >/etc/systemd/system/auditfs-verify@t.timer.d/soon.conf
cat >/etc/systemd/system/auditfs-test.target <<U
[Unit]
Description=auditfs boot test
Wants=auditfs-ingest@t.service auditfs-mount@t.service auditfs-verify@t.timer
U
SETUP

# PID 1 of the new namespaces: the overlay root, then systemd
cat >"$WORK/pid1.sh" <<PID1
mount -t overlay overlay -o lowerdir=/,upperdir=$WORK/upper,workdir=$WORK/work "$R" || exit 11
(cd "$WORK/dest" && tar -cf - .) | tar -xf - -C "$R" --keep-directory-symlink || exit 12
mount -t proc proc "$R/proc" || exit 13
mount --bind "$R/proc/sys" "$R/proc/sys" && mount -o remount,bind,ro "$R/proc/sys" || exit 14
mount --rbind /sys "$R/sys" && mount -o remount,bind,ro "$R/sys" || exit 15
mount --rbind /dev "$R/dev" || exit 16
mount -t tmpfs -o mode=0755 tmpfs "$R/run" || exit 17
mount -t tmpfs tmpfs "$R/tmp" || exit 18
cp "$WORK/setup.sh" "$R/run/auditfs-setup.sh" && chroot "$R" /bin/sh /run/auditfs-setup.sh || exit 19
rm -f "$R/run/auditfs-setup.sh"
echo "setup done: exec systemd"
exec chroot "$R" /usr/bin/env -i container=auditfs-test /lib/systemd/systemd --system --unit=auditfs-test.target
PID1
# setup.sh must be reachable inside the root: $WORK is on the lower layer (the host's /)
unshare --pid --fork --mount --propagation private --net --uts --ipc --cgroup \
    bash "$WORK/pid1.sh" >"$WORK/pid1.out" 2>&1 &
UNSHARE=$!
for _ in $(seq 50); do CT=$(pgrep -P "$UNSHARE" | head -1); [ -n "$CT" ] && break; sleep 0.1; done
[ -n "$CT" ] || skip "the namespace's first process did not start: $(cat "$WORK/pid1.out")"
in_ct() { nsenter -t "$CT" -a -r -w "$@"; }
state=
for _ in $(seq 120); do
    kill -0 "$CT" 2>/dev/null || break
    state=$(in_ct systemctl is-system-running 2>/dev/null)
    case $state in running | degraded) break ;; esac
    sleep 0.5
done
case $state in
running | degraded) ok "systemd booted as PID 1 in namespaces (state: $state)" ;;
*)
    grep -q '^setup done' "$WORK/pid1.out" ||
        { not_ok "the container's setup failed: $(tail -5 "$WORK/pid1.out" | tr '\n' ' ')"; exit 1; }
    skip "systemd did not boot here (state '${state:-none}'; $(tail -5 "$WORK/pid1.out" | tr '\n' ' '))" ;;
esac
unit_log() { in_ct journalctl --no-pager -n 15 -u "$1" 2>/dev/null | sed 's/^/#   /'; }

# systemd's credentials (LoadCredential=) reach a User= service here? A minimal unit says.
in_ct sh -c 'cat >/etc/systemd/system/credprobe.service <<U
[Service]
Type=oneshot
User=auditfs
LoadCredential=probe:/etc/auditfs/t.pub
ExecStart=/bin/sh -c "cat \$\$CREDENTIALS_DIRECTORY/probe >/dev/null"
U
systemctl daemon-reload && systemctl start credprobe.service' >/dev/null 2>&1
if [ "$(in_ct systemctl show -p Result --value credprobe.service)" = success ]; then
    echo "# systemd hands credentials to User= services here"
else
    # seen with systemd 252 in these namespaces: /run/credentials/<unit> is root's, mode 0700,
    # no ACL for the user, even for a unit with nothing but User= and LoadCredential=. The
    # ingest unit is then run with everything else unchanged and its key from a directory the
    # auditfs user can read, named by CREDENTIALS_DIRECTORY (what the unit's ExecStart reads).
    echo "# systemd here does not hand LoadCredential= files to User= services (a minimal unit"
    echo "# gets EACCES on /run/credentials/<unit>); ingest gets its key from a plain directory"
    in_ct sh -c 'install -d -m 0700 -o auditfs -g auditfs /etc/auditfs/t-cred &&
        install -m 0600 -o auditfs -g auditfs /etc/auditfs/t.key /etc/auditfs/t-cred/key &&
        mkdir -p /etc/systemd/system/auditfs-ingest@t.service.d &&
        printf "[Service]\nLoadCredential=\nEnvironment=CREDENTIALS_DIRECTORY=/etc/auditfs/t-cred\n" \
            >/etc/systemd/system/auditfs-ingest@t.service.d/no-credentials.conf &&
        systemctl daemon-reload && systemctl restart auditfs-ingest@t.service'
fi

# 1. the ingest service appends what is written to its log file
if in_ct systemctl is-active -q auditfs-ingest@t.service; then
    ok "auditfs-ingest@t.service is active (tail -F | auditfs append, hardened, User=auditfs)"
else
    not_ok "auditfs-ingest@t.service: $(in_ct systemctl is-active auditfs-ingest@t.service)"; unit_log auditfs-ingest@t.service
fi
sleep 1 # tail -F has opened the file
in_ct sh -c 'for i in 1 2 3 4 5; do echo "{\"actor\":\"ops-$i\",\"n\":$i}" >>/var/log/auditfs-t.log; done'
size=0
for _ in $(seq 100); do
    size=$(in_ct env AUDITFS_STATE=/run/probe-state "$bin" checkpoint --ledger /var/lib/auditfs/ledgers/t --key /etc/auditfs/t.pub 2>/dev/null | sed -n 2p)
    [ "${size:-0}" -ge 5 ] 2>/dev/null && break
    sleep 0.2
done
[ "${size:-0}" = 5 ] && ok "  5 lines written to the log file are 5 entries in the ledger" ||
    { not_ok "  ledger size ${size:-?} after 5 lines"; unit_log auditfs-ingest@t.service; }

# 2. the mount service serves the ledger at /srv/audit/t and follows the new entries
if in_ct systemctl is-active -q auditfs-mount@t.service; then
    ok "auditfs-mount@t.service is active"
else
    not_ok "auditfs-mount@t.service: $(in_ct systemctl is-active auditfs-mount@t.service)"; unit_log auditfs-mount@t.service
fi
lines=0
for _ in $(seq 100); do
    lines=$(in_ct sh -c 'grep -c "\"actor\":\"ops-" /srv/audit/t/streams/app/all.jsonl' 2>/dev/null)
    [ "${lines:-0}" = 5 ] && break
    sleep 0.2
done
[ "${lines:-0}" = 5 ] && ok "  /srv/audit/t/streams/app/all.jsonl reads the 5 entries (--follow)" ||
    { not_ok "  the mount shows ${lines:-no} entries"; unit_log auditfs-mount@t.service; }
in_ct awk '$5 == "/srv/audit/t"' /proc/self/mountinfo | grep -q ' - fuse.auditfs ' && ok "  mounted as fuse.auditfs, visible outside the service" ||
    not_ok "  /srv/audit/t is not a fuse.auditfs mount in the container"

# 3. the verify timer fires and its service verifies the ledger
vc=/var/lib/auditfs/state/t/verified.checkpoint
for _ in $(seq 100); do in_ct test -s $vc && break; sleep 0.2; done
if in_ct test -s $vc; then
    ok "auditfs-verify@t.timer ran auditfs-verify@t.service, which wrote $vc"
    [ "$(in_ct systemctl show -p Result --value auditfs-verify@t.service)" = success ] &&
        ok "  the verify service succeeded" || not_ok "  verify service result: $(in_ct systemctl show -p Result --value auditfs-verify@t.service)"
else
    not_ok "the verify timer did not produce $vc (timer: $(in_ct systemctl is-active auditfs-verify@t.timer))"
    unit_log auditfs-verify@t.service
fi
# AUDITFS_BOOT_HOLD=SECONDS keeps the container up for a look (nsenter -t PID -a -r -w)
[ -n "${AUDITFS_BOOT_HOLD:-}" ] && { echo "# holding: nsenter -t $CT -a -r -w bash"; sleep "$AUDITFS_BOOT_HOLD"; }
echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
