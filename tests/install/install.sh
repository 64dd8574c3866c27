#!/usr/bin/env bash
# tests/install/install.sh BUILD_DIR SOURCE_DIR - installs into a DESTDIR and checks what a
# packager and a C developer get: the binary, libauditfs.so (SONAME, versioned symbols, only the
# public API exported), the headers and auditfs.pc (docs/example.c builds with
# `pkg-config --cflags --libs auditfs` against the tree and verifies a ledger), a man page per
# command, auditfs-format(5), the bash completion and LICENSE.
set -u
build=$(realpath "${1:?usage: $0 BUILD_DIR SOURCE_DIR}")
src=$(realpath "${2:?usage: $0 BUILD_DIR SOURCE_DIR}")
AUDITFS=$build/cli/auditfs
PASS=0
FAIL=0
WORK=$(mktemp -d "${TMPDIR:-/tmp}/auditfs-install.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
export AUDITFS_STATE=$WORK/state
ok() { PASS=$((PASS + 1)); echo "ok - $*"; }
not_ok() { FAIL=$((FAIL + 1)); echo "not ok - $*"; }
t() { local d=$1; shift; if "$@" >"$WORK/.out" 2>"$WORK/.err"; then ok "$d"; else not_ok "$d"; head -20 "$WORK/.err" | sed 's/^/#   /'; fi; }

dest=$WORK/dest
prefix=$(meson introspect "$build" --buildoptions | python3 -c '
import json,sys
print([o["value"] for o in json.load(sys.stdin) if o["name"]=="prefix"][0])')
t "meson install into DESTDIR" meson install -C "$build" --destdir "$dest" --no-rebuild
root=$dest$prefix
t "the auditfs command is installed" test -x "$root/bin/auditfs"
lib=$(find "$root" -name 'libauditfs.so.0.*' -type f | head -1)
t "libauditfs.so.0.x is installed" test -n "$lib"
t "libauditfs.so and .so.0 links are installed" \
    test -L "$(dirname "$lib")/libauditfs.so" -a -L "$(dirname "$lib")/libauditfs.so.0"
t "its SONAME is libauditfs.so.0" sh -c "readelf -d '$lib' | grep -q 'SONAME.*\[libauditfs.so.0\]'"

# exported symbols == the AUDITFS_API functions of include/auditfs/*.h, all at AUDITFS_0.1
nm -D --defined-only "$lib" | awk '$2 == "T" || $2 == "D" || $2 == "B" {print $3}' |
    sort >"$WORK/exported"
python3 - "$src/include/auditfs" >"$WORK/declared" <<'PY'
import re, sys, glob
names = set()
for f in glob.glob(sys.argv[1] + '/*.h'):
    text = open(f).read()
    for m in re.finditer(r'AUDITFS_API\b([^;{]*?)\b(auditfs_\w+)\s*\(', text, re.S):
        names.add(m.group(2))
for n in sorted(names):
    print(n + '@@AUDITFS_0.1')
PY
if diff "$WORK/declared" "$WORK/exported" >"$WORK/symdiff"; then
    ok "exported symbols are exactly the public API ($(wc -l <"$WORK/exported") functions, AUDITFS_0.1)"
else
    not_ok "exported symbols differ from the public API (< declared, > exported)"
    head -20 "$WORK/symdiff" | sed 's/^/#   /'
fi
t "no libgit2/zstd/sodium symbol leaks" sh -c "! nm -D --defined-only '$lib' | grep -Ev ' (auditfs_|AUDITFS_)'"
for h in common entry ledger merkle note proof query view; do
    t "header auditfs/$h.h is installed" test -f "$root/include/auditfs/$h.h"
done
pc=$(find "$root" -name auditfs.pc | head -1)
t "auditfs.pc is installed" test -n "$pc"

# a C developer: the example builds against the DESTDIR tree with pkg-config and runs
export PKG_CONFIG_PATH=$(dirname "$pc")
export PKG_CONFIG_SYSROOT_DIR=$dest
flags=$(pkg-config --cflags --libs auditfs)
case $flags in *"$dest"*) ok "pkg-config points into the DESTDIR ($flags)" ;;
    *) not_ok "pkg-config flags do not point into DESTDIR: $flags" ;; esac
t "docs/example.c builds with pkg-config --cflags --libs auditfs" \
    sh -c "cc -Wall -Wextra -Werror -o '$WORK/example' '$src/docs/example.c' $flags"
t "the example links libauditfs.so.0 (not the static archive)" \
    sh -c "readelf -d '$WORK/example' | grep -q 'NEEDED.*libauditfs.so.0'"
cd "$WORK" || exit 1
"$AUDITFS" keygen example.com/install -o k >/dev/null 2>&1
"$AUDITFS" init --ledger L --key k >/dev/null 2>&1
printf '{"a":1}\n{"a":2}\n{"a":3}\n' | "$AUDITFS" append --ledger L --key k --stream s >/dev/null
libdir=$(dirname "$lib")
LD_LIBRARY_PATH=$libdir "$WORK/example" L k.pub >"$WORK/ex.out" 2>"$WORK/ex.err"
rc=$?
if [ $rc -eq 0 ] && grep -q "3 entries verified, tree size 3" "$WORK/ex.out"; then
    ok "the example verifies a ledger through the shared library: $(cat "$WORK/ex.out")"
else
    not_ok "example (exit $rc): $(cat "$WORK/ex.out" "$WORK/ex.err")"
fi
LD_LIBRARY_PATH=$libdir "$WORK/example" L k >/dev/null 2>"$WORK/ex.err"
rc=$?
if [ $rc -eq 2 ] && grep -q "signer (private) key" "$WORK/ex.err"; then
    ok "the example, given the signer key, says it is a signer key"
else
    not_ok "example with the signer key (exit $rc): $(cat "$WORK/ex.err")"
fi

# man pages: auditfs(1), auditfs-format(5), one per command
if command -v scdoc >/dev/null; then
    t "auditfs.1 is installed" test -f "$root/share/man/man1/auditfs.1"
    t "auditfs-format.5 is installed" test -f "$root/share/man/man5/auditfs-format.5"
    for c in $("$AUDITFS" --list-commands); do
        t "man page auditfs-$c.1 is installed" test -f "$root/share/man/man1/auditfs-$c.1"
    done
    # every option a command's --help names is in its man page source
    for c in $("$AUDITFS" --list-commands); do
        missing=
        for o in $("$AUDITFS" "$c" --help | grep -o -- '--[a-z][a-z0-9-]*' | sort -u); do
            grep -q -- "$o" "$src/docs/man/auditfs-$c.1.scd" 2>/dev/null || missing="$missing $o"
        done
        [ -z "$missing" ] && ok "auditfs-$c(1) documents every option of its --help" ||
            not_ok "auditfs-$c(1) lacks:$missing"
    done
    command -v man >/dev/null && t "man renders auditfs-verify(1)" sh -c "MANWIDTH=80 man -l '$root/share/man/man1/auditfs-verify.1' 2>/dev/null | grep -q 'auditfs-verify - '"
else
    echo "# scdoc missing: man pages skipped"
fi
t "LICENSE (Apache-2.0) is installed" grep -q "Apache License" "$root/share/doc/auditfs/LICENSE"
comp=$(find "$root" -path '*bash-completion/completions/auditfs' | head -1)
t "bash completion is installed" test -n "$comp"
# the completion, driven as bash would: commands from the table, options from --help
compl() {
    bash -c 'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _auditfs; printf "%s\n" "${COMPREPLY[@]}"' \
        _ "$comp" "$@"
}
PATH=$build/cli:$PATH compl auditfs ver >"$WORK/c1"
t "completion: 'auditfs ver' offers verify and verify-bundle" \
    sh -c "grep -qx verify '$WORK/c1' && grep -qx verify-bundle '$WORK/c1'"
PATH=$build/cli:$PATH compl auditfs verify --tr >"$WORK/c2"
t "completion: 'auditfs verify --tr' offers --trusted" grep -qx -- --trusted "$WORK/c2"
PATH=$build/cli:$PATH compl auditfs append --party c >"$WORK/c3"
t "completion: '--party c' offers customer" grep -qx customer "$WORK/c3"

echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
