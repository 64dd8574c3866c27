#!/usr/bin/env bash
# tests/install/mount_installed.sh BUILD_DIR - `mount -t fuse.auditfs`, an fstab line and umount
# with the INSTALLED tree, not the build tree: meson install into a DESTDIR, PATH and
# LD_LIBRARY_PATH pointing into it, and mount(8) -> mount.fuse3 -> `auditfs` found on mount(8)'s
# own PATH. The installed binary is put there inside a private mount namespace (a tmpfs over
# /usr/local/sbin holding a link to it, and a tmpfs over /var/lib), so nothing on the host is
# changed; every mount is made, read and unmounted inside that namespace.
# Skips (77) without root, unshare, /dev/fuse or mount.fuse3.
set -u
build=$(realpath "${1:?usage: $0 BUILD_DIR}")
PASS=0
FAIL=0
WORK=$(mktemp -d "${TMPDIR:-/tmp}/auditfs-mntinst.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
export AUDITFS_STATE=$WORK/state
ok() { PASS=$((PASS + 1)); echo "ok - $*"; }
not_ok() { FAIL=$((FAIL + 1)); echo "not ok - $*"; }
skip() { echo "1..0 # SKIP $*"; exit 77; }
[ "$(id -u)" = 0 ] || skip "needs root (mount(8) of a FUSE file system, a private mount namespace)"
unshare --mount --propagation private true 2>/dev/null || skip "unshare --mount does not work here"
[ -c /dev/fuse ] || skip "no /dev/fuse"
helper=$(command -v mount.fuse3 || ls /sbin/mount.fuse3 2>/dev/null) || skip "no mount.fuse3 (fuse3)"
[ -d /usr/local/sbin ] || skip "no /usr/local/sbin to put the installed binary on mount(8)'s PATH"

dest=$WORK/dest
prefix=$(meson introspect "$build" --buildoptions | python3 -c '
import json,sys
print([o["value"] for o in json.load(sys.stdin) if o["name"]=="prefix"][0])')
if meson install -C "$build" --destdir "$dest" --no-rebuild >"$WORK/inst.log" 2>&1; then
    ok "meson install into a DESTDIR"
else
    not_ok "meson install: $(tail -5 "$WORK/inst.log")"
    echo "$PASS passed, $FAIL failed"; exit 1
fi
root=$dest$prefix
bin=$root/bin
lib=$(dirname "$(find "$root" -name 'libauditfs.so.0*' | head -1)")
export PATH=$bin:$PATH LD_LIBRARY_PATH=$lib
[ "$(command -v auditfs)" = "$bin/auditfs" ] && ok "PATH finds the installed auditfs ($bin)" || not_ok "PATH finds $(command -v auditfs)"

cd "$WORK" || exit 1
L=$WORK/acme
M=$WORK/mnt
mkdir -p "$M"
auditfs keygen install.example/acme -o k >/dev/null 2>&1
auditfs init --ledger "$L" --key k >/dev/null 2>&1
for i in $(seq 1 20); do printf '{"actor":"ops-%d","n":%d}\n' "$i" "$i"; done |
    auditfs append --ledger "$L" --key k --stream api >/dev/null 2>&1
auditfs checkpoint --ledger "$L" >want.cp 2>/dev/null
[ -s want.cp ] && ok "the installed auditfs made a ledger" || not_ok "no ledger"
printf '%s %s fuse.auditfs state=%s,allow_other,nofail,noauto 0 0\n' "$L" "$M" "$AUDITFS_STATE" >fstab

# inside the namespace: markers on stdout, whatever fails the umounts run
cat >ns.sh <<NS
mount -t tmpfs tmpfs /usr/local/sbin || exit 1
mount -t tmpfs tmpfs /var/lib || exit 1
ln -s "$bin/auditfs" /usr/local/sbin/auditfs
daemon_exe() { for p in \$(pgrep -f -- " $M "); do readlink /proc/\$p/exe; done | grep -v fusermount | head -1; }
gone() { for i in \$(seq 100); do grep -q " $M " /proc/self/mountinfo || return 0; sleep 0.1; done; return 1; }
if mount -t fuse.auditfs "$L" "$M" -o key=$WORK/k.pub,allow_other 2>m1.err; then
    echo MOUNTED1
    echo "EXE1 \$(daemon_exe)"
    cmp -s "$M/checkpoint" want.cp && echo SERVED1
    grep -c '"actor":"ops-' "$M/streams/api/all.jsonl" | sed 's/^/LINES1 /'
    umount "$M" 2>u1.err && gone && echo UNMOUNTED1 || fusermount3 -uz "$M"
fi
if mount -T "$WORK/fstab" "$M" 2>m2.err; then
    echo MOUNTED2
    cmp -s "$M/checkpoint" want.cp && echo SERVED2
    umount "$M" 2>u2.err && gone && echo UNMOUNTED2 || fusermount3 -uz "$M"
fi
NS
unshare --mount --propagation private bash ns.sh >ns.out 2>ns.err
has() { grep -q "^$1" ns.out; }
has MOUNTED1 && ok "mount -t fuse.auditfs LEDGER MOUNTPOINT -o key=... (mount(8), mount.fuse3, installed auditfs)" ||
    not_ok "mount -t fuse.auditfs: $(cat m1.err ns.err 2>/dev/null | head -c 400)"
exe=$(sed -n 's/^EXE1 //p' ns.out)
case $exe in "$bin/auditfs") ok "  the daemon is the installed binary ($exe)" ;;
    *) not_ok "  the daemon is '$exe', not $bin/auditfs" ;; esac
has SERVED1 && ok "  its ./checkpoint is the ledger's" || not_ok "  wrong or no checkpoint"
[ "$(sed -n 's/^LINES1 //p' ns.out)" = 20 ] && ok "  streams/api/all.jsonl reads all 20 entries" || not_ok "  read: $(grep LINES1 ns.out)"
has UNMOUNTED1 && ok "  umount unmounts it" || not_ok "  umount: $(cat u1.err 2>/dev/null)"
has MOUNTED2 && ok "an fstab line (fuse.auditfs, state=, no key=: the pinned key)" ||
    not_ok "fstab: $(cat m2.err 2>/dev/null | head -c 400)"
has SERVED2 && ok "  serves the ledger" || not_ok "  fstab: wrong or no checkpoint"
has UNMOUNTED2 && ok "  umount unmounts it" || not_ok "  umount: $(cat u2.err 2>/dev/null)"
# the daemons end with their mounts (auto_unmount; the namespace is gone)
for i in $(seq 50); do pgrep -f -- " $M " >/dev/null || break; sleep 0.1; done
pgrep -f -- " $M " >/dev/null && not_ok "a daemon for $M is still running" || ok "no daemon left running"
echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
