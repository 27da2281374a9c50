#!/usr/bin/env bash
# Installs the Debian 12 packages Basalt needs to build and test, only those missing.
# Idempotent and quiet when there is nothing to do.
set -euo pipefail

packages=(
  # build
  g++ cmake make pkg-config ccache
  # libraries
  libfuse3-dev fuse3 capnproto libcapnp-dev libuv1-dev liblmdb-dev libzstd-dev libisal-dev
  libspdlog-dev libcli11-dev doctest-dev
  # what the end-to-end tests drive through the mount
  attr rsync sqlite3 git python3 procps util-linux
)

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

echo "deps: installing ${missing[*]}"
sudo=""
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "deps: need root (or sudo) to install ${missing[*]}" >&2; exit 1; }
  sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "deps: done"
