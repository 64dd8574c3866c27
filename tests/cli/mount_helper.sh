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
expect_exit 2 "key= missing is refused" env PATH=$BIN:$PATH "$MOUNT_HELPER" "$L" "$M" -t fuse.auditfs -o allow_other
expect_err "key=FILE.pub .* is required" "  and explained"
expect_exit 5 "the signer key as key= is refused" env PATH=$BIN:$PATH "$MOUNT_HELPER" "$L" "$M" -t fuse.auditfs -o key=$WORK/key
expect_err "signer \(private\) key, not a verifier key" "  and explained"
echo garbage >bad.cp
expect_exit 3 "a malformed trusted= checkpoint is bad input (3), as for verify --trusted" env PATH=$BIN:$PATH "$MOUNT_HELPER" "$L" "$M" -t fuse.auditfs -o key=$WORK/key.pub,trusted=$WORK/bad.cp
expect_exit 3 "  and verify --trusted says the same" "$A" verify --ledger "$L" --key key.pub --trusted bad.cp
if awk -v m="$M" '$5 == m' /proc/self/mountinfo | grep -q .; then not_ok "a refused mount left a mount"; else ok "refused mounts leave nothing mounted"; fi
finish
