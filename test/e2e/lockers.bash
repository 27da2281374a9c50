# Sourced by the lock end-to-end tests after lib.sh (not a test itself: ctest runs only *.sh).
# Lockers are processes that hold a file open and
# take locks on command (locker.py), driven through a FIFO.
#
#   locker NAME PATH          starts one; its answers go to $E2E_TMP/NAME.out
#   tell NAME COMMAND...      sends one command (see locker.py)
#   answer_is NAME "CMD -> X" waits (bounded) until NAME printed exactly that line
#   pending NAME "CMD"        fails unless NAME has not answered CMD (yet)
declare -A LOCKER_PID LOCKER_FD

locker() {
  local name=$1 path=$2
  mkfifo "$E2E_TMP/$name.in"
  "$PY" "$E2E_DIR/locker.py" "$path" <"$E2E_TMP/$name.in" >"$E2E_TMP/$name.out" 2>&1 &
  LOCKER_PID[$name]=$!
  E2E_EXTRA_PIDS+=("$!")
  local fd
  exec {fd}>"$E2E_TMP/$name.in"
  LOCKER_FD[$name]=$fd
  wait_for 10 "$name to open $path" grep -qx ready "$E2E_TMP/$name.out"
}

tell() {
  local name=$1
  shift
  echo "$*" >&"${LOCKER_FD[$name]}"
}

answer_is() {
  local name=$1 line=$2
  local deadline=$((SECONDS + ${3:-15}))
  until grep -qxF -- "$line" "$E2E_TMP/$name.out"; do
    if ((SECONDS >= deadline)); then
      echo "--- $name said:" >&2
      cat "$E2E_TMP/$name.out" >&2
      fail "$name did not answer '$line'"
    fi
    sleep 0.05
  done
}

pending() {
  local name=$1 cmd=$2
  if grep -qF -- "$cmd ->" "$E2E_TMP/$name.out"; then
    cat "$E2E_TMP/$name.out" >&2
    fail "$name answered '$cmd' although it should still be waiting"
  fi
}

# The pid and log file of the basalt-mount serving mountpoint $1 (as `basalt mount` records it).
mount_record() { local m=$1; echo "mount${m//[^a-zA-Z0-9]/_}"; }
mount_pid() { pid_of "$(mount_record "$1")"; }
mount_log() { echo "$CLUSTER/logs/$(mount_record "$1").log"; }
