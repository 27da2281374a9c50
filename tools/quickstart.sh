#!/usr/bin/env bash
# From a fresh Debian 12 machine to a mounted Basalt cluster at ./mnt:
# installs what is missing, builds, starts a local cluster (1 metadata server, 3 chunk servers,
# 2 replicas) and mounts it.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/tools/deps.sh"
"$root/tools/build.sh"
"$root/build/bin/basalt" up --dir "$PWD/.basalt" --mount "$PWD/mnt" "$@"
cat <<MSG

Try it:   cp -a /usr/include/linux mnt/ && ls -l mnt/linux | head
Status:   $root/build/bin/basalt status --dir $PWD/.basalt
Stop:     $root/build/bin/basalt down --dir $PWD/.basalt
MSG
