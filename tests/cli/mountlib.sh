# tests/cli/mountlib.sh - mount helpers for the FUSE tests; source after lib.sh.
# Every mount is made under $WORK, waited for with a deadline, and torn down by the EXIT trap
# (lazy unmount, then the daemon is killed by its pid) even when a test fails half-way.

# Skip (exit 77) where FUSE cannot work: no /dev/fuse, no fusermount3, or /dev/fuse not openable.
if [ ! -e /dev/fuse ] || ! command -v fusermount3 >/dev/null 2>&1 ||
    ! (exec 3<>/dev/fuse) 2>/dev/null; then
    echo "# SKIP: FUSE is not available (/dev/fuse or fusermount3 missing)"
    exit 77
fi

MOUNTS=()
DAEMONS=()
T="timeout 20" # around every command that touches a mount: a hung daemon must not hang the test

cleanup_mounts() {
    local m p
    for m in "${MOUNTS[@]}"; do
        is_mounted "$m" && fusermount3 -uz "$m" 2>/dev/null
    done
    for p in "${DAEMONS[@]}"; do
        kill -0 "$p" 2>/dev/null && kill "$p" 2>/dev/null
    done
    for p in "${DAEMONS[@]}"; do
        for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -0 "$p" 2>/dev/null && kill -9 "$p" 2>/dev/null
    done
    rm -rf "$WORK"
}
trap cleanup_mounts EXIT

# is_mounted DIR: DIR is an auditfs mount point in /proc/self/mountinfo
is_mounted() {
    awk -v m="$1" '$5 == m { for (i = 7; i <= NF; i++) if ($i == "-") { if ($(i+1) ~ /^fuse\.auditfs/) f = 1; break } } END { exit !f }' /proc/self/mountinfo
}

# wait_until SECONDS COMMAND...: polls every 0.1 s; 0 as soon as COMMAND succeeds, 1 at the deadline
wait_until() {
    local end=$(( $(date +%s%N) / 1000000 + $1 * 1000 )); shift
    while ! "$@"; do
        [ $(( $(date +%s%N) / 1000000 )) -ge $end ] && return 1
        sleep 0.1
    done
    return 0
}

# start_mount MNT LOG ARGS...: `auditfs mount -f ARGS MNT` in the background, logging to LOG;
# returns once MNT is mounted (1 if the daemon exits or 15 s pass first). Sets MOUNT_PID.
start_mount() {
    local mnt=$1 log=$2; shift 2
    mkdir -p "$mnt"
    "$AUDITFS" mount -f "$@" "$mnt" 2>"$log" &
    MOUNT_PID=$!
    DAEMONS+=("$MOUNT_PID")
    MOUNTS+=("$mnt")
    local end=$(( $(date +%s) + 15 ))
    while ! is_mounted "$mnt"; do
        kill -0 "$MOUNT_PID" 2>/dev/null || return 1
        [ "$(date +%s)" -ge $end ] && return 1
        sleep 0.1
    done
    return 0
}

# stop_mount MNT PID: unmounts and waits (bounded) for the daemon to exit; 0 if it did
stop_mount() {
    $T "$AUDITFS" umount "$1" 2>/dev/null || fusermount3 -uz "$1" 2>/dev/null
    wait_until 10 eval "! kill -0 $2 2>/dev/null"
}

# expect_fail_with MESSAGE DESCRIPTION COMMAND...: COMMAND fails and says MESSAGE on stderr
expect_fail_with() {
    local msg=$1 d=$2; shift 2
    if "$@" >"$WORK/.out" 2>"$WORK/.err"; then
        not_ok "$d (succeeded)"
    elif grep -q -- "$msg" "$WORK/.err"; then
        ok "$d"
    else
        not_ok "$d (stderr: $(head -c 200 "$WORK/.err"))"
    fi
}
