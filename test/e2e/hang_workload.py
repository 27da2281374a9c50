#!/usr/bin/env python3
"""Continuous write-and-verify workload for heal_hang.sh: appends 64 KiB blocks round-robin to 4 log
files in DST (fsync after each append) and writes one new 128 KiB file per round (about 8 rounds a
second: a steady stream, small enough that the chunks written during a 90 s hang can be moved back
quickly), keeping a copy of everything under REF. Each append+fsync and each new file (write+fsync+close) is one timed
operation; a line per operation slower than 0.5 s and a summary with the longest one are printed.
Every new file is read back and compared right after it is written. Runs until STOP exists."""
import os
import sys
import time

dst, ref, stop = sys.argv[1], sys.argv[2], sys.argv[3]
t_start = time.monotonic()
worst, worst_at, worst_what, ops, rounds = 0.0, 0.0, "", 0, 0
worst_read, worst_read_at = 0.0, 0.0  # reading a new file back (not part of the writer's stall)
logs = [os.open(os.path.join(dst, f"log{k}"), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644) for k in range(4)]
refs = [open(os.path.join(ref, f"log{k}"), "ab") for k in range(4)]


def timed(what, fn):
    global worst, worst_at, worst_what, ops
    t0 = time.monotonic()
    fn()
    dt = time.monotonic() - t0
    ops += 1
    if dt > 0.5:
        print(f"slow: {what} took {dt:.2f} s at t={t0 - t_start:.1f} s", flush=True)
    if dt > worst:
        worst, worst_at, worst_what = dt, t0 - t_start, what


def append(k, data):
    os.write(logs[k], data)
    os.fsync(logs[k])


def new_file(path, data):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.write(fd, data)
    os.fsync(fd)
    os.close(fd)


while not os.path.exists(stop) and rounds < 100000:
    k = rounds % 4
    block = os.urandom(64 << 10)
    timed(f"append to log{k}", lambda: append(k, block))
    refs[k].write(block)
    refs[k].flush()
    name = f"n{rounds}"
    data = os.urandom(128 << 10)
    timed(f"new file {name}", lambda: new_file(os.path.join(dst, name), data))
    with open(os.path.join(ref, name), "wb") as f:
        f.write(data)
    t0 = time.monotonic()
    with open(os.path.join(dst, name), "rb") as f:
        back = f.read()
    read_dt = time.monotonic() - t0
    if read_dt > worst_read:
        worst_read, worst_read_at = read_dt, t0 - t_start
    if back != data:
        print(f"FAIL: {name} reads back differently right after it was written", flush=True)
        sys.exit(1)
    rounds += 1
    time.sleep(0.1)
for fd in logs:
    os.close(fd)
print(f"longest read-back {worst_read:.3f} s at t={worst_read_at:.1f} s", flush=True)
print(f"rounds {rounds} ops {ops} longest {worst:.3f} s ({worst_what} at t={worst_at:.1f} s)", flush=True)
