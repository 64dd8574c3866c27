#!/usr/bin/env bash
# tests/cli/mount_helper.sh - `mount -t fuse.auditfs`, fstab and umount through the fuse3 mount
# helper convention: mount(8) -> mount.fuse3 -> `auditfs SOURCE MOUNTPOINT -o OPTS`.
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lib.sh"
source "$HERE/mountlib.sh"
export AUDITFS_STATE=$WORK/state
A=$AUDITFS
BIN=$(dirname "$A")
L=$WORK/ledger
M=$WORK/mnt
mkdir -p "$M"
$A keygen helper.example -o key >/dev/null
$A init --ledger "$L" --key key 2>/dev/null
records 50 | $A append --ledger "$L" --key key --stream api >/dev/null
$A checkpoint --ledger "$L" >want.cp
MOUNT_HELPER=$(command -v mount.fuse3 || echo /sbin/mount.fuse3)

track() { # remember the daemon serving $M so the EXIT trap can stop it if a test fails
    MOUNTS+=("$M")
    local p
    CUR=()
    for p in $(pgrep -f -- "$M" 2>/dev/null); do DAEMONS+=("$p"); CUR+=("$p"); done
}
alive() { local p; for p in "${CUR[@]}"; do kill -0 "$p" 2>/dev/null && return 0; done; return 1; }
served() { $T cmp -s "$M/checkpoint" want.cp; }
unmount_check() { # DESCRIPTION: umount(8) unmounts it and the daemon goes away
    if umount "$M" 2>"$WORK/um.err" && wait_until 10 sh -c "! awk -v m='$M' '\$5 == m' /proc/self/mountinfo | grep -q ."; then
        ok "$1: umount unmounts it"
    else
        not_ok "$1: umount: $(cat "$WORK/um.err")"
        fusermount3 -uz "$M" 2>/dev/null
    fi
    if [ ${#CUR[@]} -gt 0 ] && wait_until 10 eval '! alive'; then ok "$1: the daemon (pid ${CUR[*]}) exits"; else not_ok "$1: daemon still running or not found (${CUR[*]})"; fi
}

# 1. mount.fuse3 resolves -t fuse.auditfs to the program `auditfs` on PATH
if PATH=$BIN:$PATH $T "$MOUNT_HELPER" "$L" "$M" -t fuse.auditfs -o key=$WORK/key.pub,allow_other,dev,suid,ro 2>"$WORK/m.err"; then
    track
    is_mounted "$M" && ok "mount.fuse3 -t fuse.auditfs: mounted" || not_ok "mount.fuse3: not in mountinfo"
    served && ok "mount.fuse3: it serves the ledger's checkpoint" || not_ok "mount.fuse3: wrong checkpoint"
    unmount_check "mount.fuse3"
else
    not_ok "mount.fuse3 -t fuse.auditfs: $(cat "$WORK/m.err")"
fi

# 2. mount(8) with the legacy form the same helper understands: -t fuse PROGRAM#SOURCE
if $T mount -t fuse "$A#$L" "$M" -o key=$WORK/key.pub,nofail,_netdev 2>"$WORK/m.err"; then
    track
    served && ok "mount(8) -t fuse auditfs#LEDGER: serves the ledger" || not_ok "mount(8): wrong checkpoint"
    unmount_check "mount(8)"
else
    not_ok "mount(8) -t fuse: $(cat "$WORK/m.err")"
fi

# 3. an fstab line (mount -T FILE: our own fstab, never /etc/fstab)
printf '%s %s fuse key=%s,trusted=%s,nofail,x-systemd.requires=network.target,noauto 0 0\n' \
    "$A#$L" "$M" "$WORK/key.pub" "$WORK/want.cp" >fstab
if $T mount -T "$WORK/fstab" "$M" 2>"$WORK/m.err"; then
    track
    served && ok "fstab line (with trusted= and systemd options): mounted and served" || not_ok "fstab: wrong checkpoint"
    unmount_check "fstab"
else
    not_ok "fstab: $(cat "$WORK/m.err")"
fi

# 4. the real `mount -t fuse.auditfs` when auditfs is installed on mount(8)'s fixed PATH
inst=$(PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin command -v auditfs)
if [ -n "$inst" ] && "$inst" --list-commands >/dev/null 2>&1 && "$inst" status --help >/dev/null 2>&1; then
    if $T mount -t fuse.auditfs "$L" "$M" -o key=$WORK/key.pub 2>"$WORK/m.err"; then
        track
        served && ok "mount -t fuse.auditfs ($inst)" || not_ok "mount -t fuse.auditfs: wrong checkpoint"
        unmount_check "mount -t fuse.auditfs"
    else
        not_ok "mount -t fuse.auditfs: $(cat "$WORK/m.err")"
    fi
else
    echo "# skip: no installed auditfs on mount(8)'s PATH for -t fuse.auditfs (cases 1-3 cover the helper)"
fi

# 3b. no key=: the verifier key pinned for the ledger's origin in the state directory (init
# pinned it in $AUDITFS_STATE), through mount(8) and an fstab line
if $T mount -t fuse "$A#$L" "$M" 2>"$WORK/m.err"; then
    track
    served && ok "mount(8) without key=: the key pinned in \$AUDITFS_STATE" || not_ok "no key=: wrong checkpoint"
    unmount_check "mount(8) without key="
else
    not_ok "mount(8) without key=: $(cat "$WORK/m.err")"
fi
# state=DIR names the state directory, whatever the environment says
AUDITFS_STATE=$WORK/st2 $A trust add "$WORK/key.pub" >/dev/null 2>&1
printf '%s %s fuse state=%s,nofail,noauto 0 0\n' "$A#$L" "$M" "$WORK/st2" >fstab2
if AUDITFS_STATE=$WORK/empty-state $T mount -T "$WORK/fstab2" "$M" 2>"$WORK/m.err"; then
    track
    served && ok "fstab with state=DIR and no key=: the key pinned there" || not_ok "state=: wrong checkpoint"
    unmount_check "fstab state="
    [ -n "$(ls "$WORK/st2/ledgers" 2>/dev/null)" ] && ok "  the mount bound the ledger in that state directory" || not_ok "  state= not used ($(ls "$WORK/st2"))"
else
    not_ok "fstab with state=: $(cat "$WORK/m.err")"
fi
# root with neither state= nor $AUDITFS_STATE (a mount at boot): /var/lib/auditfs-mount/<name>,
# tried in a private mount namespace with a tmpfs over /var/lib, so the host's is never touched
if [ "$(id -u)" = 0 ] && unshare --mount --propagation private true 2>/dev/null; then
    # no set -e: whatever fails, the umount below runs (the namespace ends with this script)
    cat >"$WORK/ns.sh" <<NS
mount -t tmpfs tmpfs /var/lib || exit 1
AUDITFS_STATE=/var/lib/auditfs-mount/$(basename "$L") $A trust add "$WORK/key.pub" >/dev/null
env -u AUDITFS_STATE PATH=$BIN:\$PATH "$MOUNT_HELPER" "$L" "$M" -t fuse.auditfs -o allow_other
cmp -s "$M/checkpoint" "$WORK/want.cp" && echo SERVED
[ -n "\$(ls /var/lib/auditfs-mount/$(basename "$L")/ledgers)" ] && echo BOUND
umount "$M" || fusermount3 -uz "$M"
for i in \$(seq 50); do grep -q " $M " /proc/self/mountinfo || break; sleep 0.1; done
grep -q " $M " /proc/self/mountinfo || echo UNMOUNTED
NS
    unshare --mount --propagation private bash "$WORK/ns.sh" >"$WORK/ns.out" 2>"$WORK/ns.err"
    grep -q SERVED "$WORK/ns.out" && ok "root, no state=, no \$AUDITFS_STATE: the key pinned in /var/lib/auditfs-mount/<ledger name>" ||
        not_ok "root default state: $(cat "$WORK/ns.out" "$WORK/ns.err" | head -c 400)"
    grep -q BOUND "$WORK/ns.out" && ok "  and that state directory is the one used" || not_ok "  not bound there"
    grep -q UNMOUNTED "$WORK/ns.out" && ok "  and umount unmounts it" || not_ok "  still mounted in the namespace"
else
    echo "# skip: the root default state directory needs root and unshare --mount"
fi

# 4b. `auditfs mount` on a terminal shows the progress of its verifying scan
if command -v script >/dev/null; then
    AUDITFS_PROGRESS=now $T script -qec "'$A' mount --ledger '$L' --key '$WORK/key.pub' '$M'" /dev/null |
        tr '\r' '\n' >"$WORK/mp.out"
    track
    grep -q '^open: 50/50 entries (100%)' "$WORK/mp.out" && ok "mount on a terminal: progress of the opening scan" ||
        not_ok "mount progress: $(head -c 300 "$WORK/mp.out")"
    served && ok "  and it is mounted" || not_ok "mount after progress: not served"
    unmount_check "auditfs mount"
fi

# 5. mistakes: named, nothing mounted
expect_exit 2 "a misspelt option is refused" env PATH=$BIN:$PATH "$MOUNT_HELPER" "$L" "$M" -t fuse.auditfs -o key=$WORK/key.pub,alow_other
expect_err "mount option 'alow_other' is not an auditfs option" "  and named"
mkdir -p "$WORK/empty-state"
expect_exit 5 "no key= and no key pinned in the state directory: refused (5)" env PATH=$BIN:$PATH "$MOUNT_HELPER" "$L" "$M" -t fuse.auditfs -o allow_other,state=$WORK/empty-state
expect_err "no verifier key is pinned.*auditfs trust add" "  and says how to pin one"
expect_exit 2 "an empty state= is refused" env PATH=$BIN:$PATH "$MOUNT_HELPER" "$L" "$M" -t fuse.auditfs -o state=
expect_exit 5 "the signer key as key= is refused" env PATH=$BIN:$PATH "$MOUNT_HELPER" "$L" "$M" -t fuse.auditfs -o key=$WORK/key
expect_err "signer \(private\) key, not a verifier key" "  and explained"
echo garbage >bad.cp
expect_exit 3 "a malformed trusted= checkpoint is bad input (3), as for verify --trusted" env PATH=$BIN:$PATH "$MOUNT_HELPER" "$L" "$M" -t fuse.auditfs -o key=$WORK/key.pub,trusted=$WORK/bad.cp
expect_exit 3 "  and verify --trusted says the same" "$A" verify --ledger "$L" --key key.pub --trusted bad.cp
if awk -v m="$M" '$5 == m' /proc/self/mountinfo | grep -q .; then not_ok "a refused mount left a mount"; else ok "refused mounts leave nothing mounted"; fi
finish
