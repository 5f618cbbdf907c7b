#!/usr/bin/env bash
# scripts/deps.sh — install what darter needs to build, test and benchmark
# on Debian 12 (as root, or with sudo). Does nothing when all is present.
set -euo pipefail

PKGS=(gcc pkg-config meson ninja-build liburing-dev libmimalloc-dev
      libcriterion-dev libhiredis-dev redis-server redis-tools tcl dpkg-dev
      procps iproute2 libsystemd-dev systemd
      liblua5.1-0-dev lua-cjson-dev lua-bitop-dev)

missing=()
for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
# Debian starts redis-server as a service on install; darter's tests and
# the default port want it stopped.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet redis-server 2>/dev/null; then
    $SUDO systemctl stop redis-server || true
fi
