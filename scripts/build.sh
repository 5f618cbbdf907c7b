#!/usr/bin/env bash
# scripts/build.sh — configure (once) and build the release binary
# build/darter-server. Extra arguments go to `meson setup`.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -f build/build.ninja ]; then
    meson setup build --buildtype=release "$@"
fi
ninja -C build
