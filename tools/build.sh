#!/usr/bin/env bash
# Configures and builds Basalt into build/ (binaries in build/bin/). Extra arguments go to cmake,
# e.g. tools/build.sh -DBASALT_SANITIZE=ON.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BASALT_BUILD_DIR:-$root/build}
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=${BUILD_TYPE:-RelWithDebInfo} "$@" >/dev/null
cmake --build "$build" -j"${JOBS:-2}"
