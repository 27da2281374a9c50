#!/usr/bin/env bash
# 100,000 random operations (writes, reads, truncates, punch hole, zero range, mmap) on a file in
# the mount, every read checked against an in-memory model. Small chunks (1 MiB) so that operations
# cross chunk boundaries all the time.
source "$(dirname "$0")/lib.sh"
start_cluster --chunks 3 --replicas 2 --chunk-size 1048576
basalt-fsx "$MNT/fsx.dat" --ops 100000 --seed "${FSX_SEED:-20261126}" --max-size $((12 << 20)) ||
  fail "the file exerciser found a mismatch"
log "ok"
