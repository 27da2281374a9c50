#!/usr/bin/env bash
# Failure zones: 4 chunk servers in zones a and b (two each, from `basalt up --zones a,b`), 2
# replicas per chunk: every chunk has one replica in each zone, also after a restart of the cluster
# (the zones are kept in the cluster dir).
source "$(dirname "$0")/lib.sh"
start_cluster --chunks 4 --replicas 2 --chunk-size 1048576 --zones a,b

zones_of_servers() { basalt status --dir "$CLUSTER" | grep -Eo '^  #[0-9]+ [^ ]+ zone [ab]' | awk '{print $1, $4}' | sort; }
check "every chunk server has its zone" bash -c "[[ \$(basalt status --dir '$CLUSTER' | grep -Ec '^  #[0-9]+ .* zone [ab] ') == 4 ]]"
log "zones: $(zones_of_servers | tr '\n' ' ')"
[[ $(zones_of_servers | awk '$2 == "a"' | wc -l) == 2 ]] || fail "zone a does not have 2 servers: $(zones_of_servers)"

log "writing 40 files of 3 MiB"
mkdir "$MNT/z" "$E2E_TMP/src"
for i in $(seq 1 40); do head -c $((3 << 20)) /dev/urandom >"$E2E_TMP/src/f$i"; done
cp "$E2E_TMP"/src/f* "$MNT/z/"
sync

# Every chunk: exactly two replicas, in two different zones.
check_zones() {
  basalt verify --dir "$CLUSTER" --list >"$E2E_TMP/verify.log" 2>&1 || { cat "$E2E_TMP/verify.log"; fail "verify $1"; }
  local bad total
  total=$(grep -c '^chunk ' "$E2E_TMP/verify.log")
  bad=$(awk '/^chunk / {
      n = 0; delete seen; same = 0
      for (i = 1; i <= NF; i++) if ($i ~ /^#[0-9]+@/) { split($i, p, "@"); n++; if (p[2] in seen || p[2] == "-") same = 1; seen[p[2]] = 1 }
      if (n != 2 || same) print
    }' "$E2E_TMP/verify.log")
  (( total >= 120 )) || fail "$1: only $total chunks listed (want at least 120)"
  [[ -z "$bad" ]] || fail "$1: chunks without one replica in each zone:
$bad"
  log "$1: all $total chunks have one replica in zone a and one in zone b"
}
check_zones "after writing"
for i in $(seq 1 40); do cmp "$E2E_TMP/src/f$i" "$MNT/z/f$i" || fail "f$i differs"; done

log "restart: the zones are kept"
basalt down --dir "$CLUSTER" >>"$E2E_TMP/up.log" 2>&1 || fail "basalt down"
basalt up --dir "$CLUSTER" --mount "$MNT" >>"$E2E_TMP/up.log" 2>&1 || fail "restarting the cluster"
wait_for 30 "4 chunk servers alive in their zones" \
  bash -c "[[ \$(basalt status --dir '$CLUSTER' | grep -Ec '^  #[0-9]+ .* zone [ab]  alive') == 4 ]]"
for i in $(seq 41 50); do head -c $((3 << 20)) /dev/urandom >"$E2E_TMP/src/f$i"; cp "$E2E_TMP/src/f$i" "$MNT/z/"; done
sync
check_zones "after the restart"
echo 3 >/proc/sys/vm/drop_caches
for i in $(seq 1 50); do cmp "$E2E_TMP/src/f$i" "$MNT/z/f$i" || fail "f$i differs after the restart"; done
log "ok"
