#!/usr/bin/env bash
# Builds the Go interop tool (main.go, or the source file $2) to $1, offline, against the Debian-packaged
# golang.org/x/mod sources (golang-golang-x-mod-dev). Exits 77 (skip) if Go or the sources are
# missing. AUDITFS_GOPATH overrides where the sources live.
set -eu
if [ $# -ne 1 ] && [ $# -ne 2 ]; then
    echo "usage: $0 OUTPUT [SOURCE.go]" >&2
    exit 2
fi
out=$1
here=$(cd "$(dirname "$0")" && pwd)
gopath=${AUDITFS_GOPATH:-/usr/share/gocode}
if ! command -v go >/dev/null 2>&1; then
    echo "build.sh: go not found; skipping" >&2
    exit 77
fi
for pkg in golang.org/x/mod/sumdb/note golang.org/x/mod/sumdb/tlog; do
    if [ ! -d "$gopath/src/$pkg" ]; then
        echo "build.sh: $gopath/src/$pkg missing (install golang-golang-x-mod-dev); skipping" >&2
        exit 77
    fi
done
# GOPATH mode (no go.mod, no module proxy, no network); the cache must be writable even when
# HOME is not.
export GOPATH="$gopath" GO111MODULE=off GOFLAGS= GOPROXY=off GOTOOLCHAIN=local
export GOCACHE="${GOCACHE:-${TMPDIR:-/tmp}/auditfs-gocache-$(id -u)}"
exec go build -o "$out" "${2:-$here/main.go}"
