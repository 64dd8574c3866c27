#!/usr/bin/env bash
# tests/systemd/units.sh BUILD_DIR SOURCE_DIR - `systemd-analyze verify` on every unit in
# contrib/systemd (templates instantiated as @test), with the installed binary path pointed at
# the build so the ExecStart= checks find an executable. Also checks the hardening directives
# are present where they must be, and absent (namespace-free) on the mount service.
set -u
build=$(realpath "$1")
src=$(realpath "$2")
PASS=0
FAIL=0
WORK=$(mktemp -d "${TMPDIR:-/tmp}/auditfs-units.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
export AUDITFS_STATE=$WORK/state
ok() { PASS=$((PASS + 1)); echo "ok - $*"; }
not_ok() { FAIL=$((FAIL + 1)); echo "not ok - $*"; }
if ! command -v systemd-analyze >/dev/null; then echo "# SKIP: no systemd-analyze"; exit 77; fi
prefix_bin=$(meson introspect "$build" --buildoptions | python3 -c '
import json,sys
o={x["name"]:x["value"] for x in json.load(sys.stdin)}
print(o["prefix"].rstrip("/") + "/" + o["bindir"])')
d=$WORK/units
mkdir -p "$d"
for f in "$build"/contrib/systemd/*.service "$build"/contrib/systemd/*.mount "$src"/contrib/systemd/*.timer "$src"/contrib/systemd/*.path; do
    b=$(basename "$f")
    sed "s|$prefix_bin/auditfs|$build/cli/auditfs|g" "$f" >"$d/$b"
    case $b in *@.*) cp "$d/$b" "$d/${b/@./@test.}" ;; esac
done
n=0
for u in "$d"/*; do
    b=$(basename "$u")
    case $b in *@.*) continue ;; esac  # the templates themselves: checked through @test
    n=$((n + 1))
    if (cd "$d" && SYSTEMD_LOG_LEVEL=warning systemd-analyze verify --man=no "$u") >"$WORK/out" 2>&1 &&
        ! grep -q . "$WORK/out"; then  # not a single warning
        ok "systemd-analyze verify $b"
    else
        not_ok "systemd-analyze verify $b"; sed 's/^/#   /' "$WORK/out" | head -20
    fi
done
[ "$n" -ge 10 ] && ok "$n units checked" || not_ok "only $n units found"
for s in ingest journal verify sync cosign export; do
    u=$d/auditfs-$s@test.service
    miss=
    for k in NoNewPrivileges=yes ProtectSystem=strict PrivateTmp=yes ProtectHome=yes \
        "ReadWritePaths=\|ReadOnlyPaths=" CapabilityBoundingSet= SystemCallFilter= User=auditfs; do
        grep -q "^\($k\)" "$u" || miss="$miss $k"
    done
    [ -z "$miss" ] && ok "auditfs-$s@.service is hardened" || not_ok "auditfs-$s@.service lacks:$miss"
done
m=$d/auditfs-mount@test.service
if grep -q -E "^(ProtectSystem|PrivateTmp|ProtectHome|ReadWritePaths|PrivateMounts)=" "$m"; then
    not_ok "the mount service must not use a private mount namespace (the mount would be invisible)"
else
    ok "the mount service keeps the host's mount namespace"
fi
grep -q "^NoNewPrivileges=yes" "$m" && grep -q "^CapabilityBoundingSet=CAP_SYS_ADMIN$" "$m" &&
    ok "the mount service: no new privileges, CAP_SYS_ADMIN only" || not_ok "mount service hardening"
echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
