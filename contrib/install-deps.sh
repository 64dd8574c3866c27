#!/usr/bin/env bash
# Installs the Debian 12 packages auditfs builds, tests and demos with. Run as root (or sudo).
set -euo pipefail
pkgs=(build-essential meson ninja-build pkg-config git python3 lighttpd lighttpd-mod-openssl openssl openssh-client
      libsodium-dev libzstd-dev zstd libgit2-dev libssl-dev zlib1g-dev
      libfuse3-dev fuse3 libcriterion-dev
      libmicrohttpd-dev libcurl4-openssl-dev curl
      clang libclang-rt-14-dev
      golang-go golang-golang-x-mod-dev
      attr jq time
      scdoc man-db systemd faketime
      libsystemd-dev systemd-journal-remote rsyslog bsdutils util-linux strace
      procps mount logrotate)
if [ "${1:-}" = "--list" ]; then
    printf '%s\n' "${pkgs[@]}"
    exit 0
fi
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO=sudo
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
