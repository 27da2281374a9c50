#!/usr/bin/env bash
# Installs what is missing, builds, and runs the whole suite (unit + end-to-end) through ctest.
# Exits non-zero on any failure. Arguments go to ctest, e.g. tools/test.sh -L unit.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/tools/deps.sh"
"$root/tools/build.sh"
build=${BASALT_BUILD_DIR:-$root/build}
cd "$build"
ctest --output-on-failure --timeout 900 "$@"
