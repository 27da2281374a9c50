# Sourced by every end-to-end test: a real cluster on 127.0.0.1 (ephemeral ports) in a temp dir,
# mounted with FUSE, always unmounted and stopped at exit, whether the test passed, failed or
# timed out (the EXIT trap; after a SIGKILL, which runs no trap, the watchdog below).
#
#   start_cluster [--chunks N] [--replicas R]   starts it and mounts it at $MNT
#   mount_again NAME                            a second client; prints its mountpoint
#   check "what" cmd...                         fails the test with "what" unless cmd succeeds
#   expect ERRNO op args...                     runs one syscall through sys.py, expects that errno (or OK)
#   wait_for SECONDS "what" cmd...              polls cmd until it succeeds, bounded
#   pid_of NAME                                 pid of a cluster process (meta, chunk1, ...)
set -euo pipefail

BIN=${BASALT_BIN:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../../build/bin" && pwd)}
E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
E2E_TMP=$(mktemp -d /tmp/basalt-e2e.XXXXXX)
chmod 755 "$E2E_TMP"  # tests also run as an ordinary user
CLUSTER=$E2E_TMP/cluster
MNT=$E2E_TMP/mnt
TEST_NAME=$(basename "$0" .sh)
export PATH="$BIN:$PATH"
# Debian's python3 (deps.sh installs it): reachable for every uid, unlike a per-user install.
PY=/usr/bin/python3

log() { echo "[$TEST_NAME] $*"; }

dump_logs() {
  for f in "$CLUSTER"/logs/*.log; do
    [[ -f "$f" ]] || continue
    echo "----- last lines of $(basename "$f")"
    tail -n 25 "$f"
  done
}

fail() {
  trap - ERR
  echo "FAIL [$TEST_NAME]: $*" >&2
  dump_logs >&2
  exit 1
}

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  cd /
  if [[ -d "$CLUSTER/run" ]]; then
    timeout 60 "$BIN/basalt" down --dir "$CLUSTER" >/dev/null 2>&1 || true
  fi
  # Whatever is left (a test that killed or froze daemons itself): by mountpoint and by pid.
  awk -v t="$E2E_TMP" '$2 ~ "^"t {print $2}' /proc/mounts | while read -r m; do
    fusermount3 -u -z "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
  done
  for f in "$CLUSTER"/run/*; do
    [[ -f "$f" && "$f" != *.addr ]] || continue
    pid=$(awk '{print $1}' "$f")
    if [[ -n "$pid" ]] && grep -qa basalt "/proc/$pid/cmdline" 2>/dev/null; then
      kill -CONT "$pid" 2>/dev/null || true
      kill -KILL "$pid" 2>/dev/null || true
    fi
  done
  for p in "${E2E_EXTRA_PIDS[@]:-}"; do [[ -n "$p" ]] && kill -KILL "$p" 2>/dev/null || true; done
  if [[ $rc -eq 0 && -z "${KEEP:-}" ]]; then rm -rf "$E2E_TMP"; else echo "[$TEST_NAME] kept $E2E_TMP"; fi
  exit $rc
}
E2E_EXTRA_PIDS=()
# ctest's timeout kills a test with SIGKILL, and then no trap runs: a detached watchdog stops the
# cluster and unmounts once this shell is gone (after a normal cleanup there is nothing left to do).
e2e_watchdog() {
  while kill -0 "$1" 2>/dev/null; do sleep 1; done
  [[ -d "$CLUSTER/run" ]] || exit 0
  timeout 60 "$BIN/basalt" down --dir "$CLUSTER" || true
  awk -v t="$E2E_TMP" '$2 ~ "^"t {print $2}' /proc/mounts | while read -r m; do
    fusermount3 -u -z "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
  done
}
# (The paths go in the environment, not the command line: tests look for leftovers by path.)
CLUSTER=$CLUSTER BIN=$BIN E2E_TMP=$E2E_TMP setsid bash -c "$(declare -f e2e_watchdog); e2e_watchdog $$" \
  </dev/null >/dev/null 2>&1 &
disown $!  # a bare `wait` in a test must not wait for it
set -o errtrace
trap 'fail "line $LINENO of $(basename "${BASH_SOURCE[0]}") failed: $BASH_COMMAND"' ERR
trap cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT

require_fuse() {
  [[ -c /dev/fuse ]] || fail "/dev/fuse is missing: end-to-end tests need FUSE (modprobe fuse)"
  command -v fusermount3 >/dev/null || fail "fusermount3 is missing (apt-get install fuse3)"
}

start_cluster() {
  require_fuse
  "$BIN/basalt" up --dir "$CLUSTER" --mount "$MNT" "$@" >"$E2E_TMP/up.log" 2>&1 ||
    { cat "$E2E_TMP/up.log" >&2; fail "basalt up failed"; }
}

mount_again() {
  local m=$E2E_TMP/$1
  "$BIN/basalt" mount --dir "$CLUSTER" "$m" >>"$E2E_TMP/up.log" 2>&1 ||
    { cat "$E2E_TMP/up.log" >&2; fail "basalt mount $m failed"; }
  echo "$m"
}

check() {
  local what=$1
  shift
  "$@" || fail "$what (command: $*)"
}

expect() {
  local want=$1
  shift
  local got
  got=$("$PY" "$E2E_DIR/sys.py" "$@" 2>&1) || true
  [[ "$got" == "$want"* ]] || fail "$* gave '$got', expected $want"
}

wait_for() {
  local seconds=$1 what=$2
  shift 2
  local deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || fail "timed out after ${seconds}s waiting for: $what"
    sleep 0.1
  done
}

pid_of() { awk '{print $1}' "$CLUSTER/run/$1"; }
