#!/usr/bin/env python3
"""A process that holds one file open and takes locks on command, for the lock end-to-end tests.

Usage: locker.py PATH < commands > answers. One command per input line; each prints one line
"<command> -> OK|<ERRNO>|<getlk result>" (flushed) when it completes:
  set r|w|u START LEN     F_SETLK            wait r|w START LEN    F_SETLKW (blocks)
  get r|w START LEN       F_GETLK: "unlocked" or "r|w START LEN pid=PID"
  flock sh|ex|un [nb]     flock(2)           close / reopen        close(2) / open(2) the file again
  quit
Words starting with "#" are echoed but ignored (to tell repeated commands apart). SIGUSR1
interrupts a blocking call (it then answers EINTR). Prints "ready" once the file is open.
"""
import errno
import fcntl
import os
import signal
import struct
import sys


class Interrupted(Exception):
    pass


def on_usr1(signum, frame):
    raise Interrupted()


signal.signal(signal.SIGUSR1, on_usr1)
TYPES = {"r": fcntl.F_RDLCK, "w": fcntl.F_WRLCK, "u": fcntl.F_UNLCK}
NAMES = {fcntl.F_RDLCK: "r", fcntl.F_WRLCK: "w"}
FLOCK = {"sh": fcntl.LOCK_SH, "ex": fcntl.LOCK_EX, "un": fcntl.LOCK_UN}
# struct flock on x86-64 Linux: short l_type, short l_whence, off_t l_start, off_t l_len, pid_t l_pid
FMT = "hhqqi"

path = sys.argv[1]
fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)


def setlk(cmd, kind, start, length):
    fcntl.fcntl(fd, cmd, struct.pack(FMT, TYPES[kind], os.SEEK_SET, int(start), int(length), 0))
    return "OK"


def getlk(kind, start, length):
    res = fcntl.fcntl(fd, fcntl.F_GETLK, struct.pack(FMT, TYPES[kind], os.SEEK_SET, int(start), int(length), 0))
    t, _, s, l, pid = struct.unpack(FMT, res)
    if t == fcntl.F_UNLCK:
        return "unlocked"
    return "%s %d %d pid=%d" % (NAMES[t], s, l, pid)


def run(words):
    global fd
    op = words[0]
    if op == "set":
        return setlk(fcntl.F_SETLK, *words[1:])
    if op == "wait":
        return setlk(fcntl.F_SETLKW, *words[1:])
    if op == "get":
        return getlk(*words[1:])
    if op == "flock":
        flags = FLOCK[words[1]] | (fcntl.LOCK_NB if len(words) > 2 and words[2] == "nb" else 0)
        fcntl.flock(fd, flags)
        return "OK"
    if op == "close":
        os.close(fd)
        return "OK"
    if op == "reopen":
        fd = os.open(path, os.O_RDWR)
        return "OK"
    raise ValueError("unknown command " + op)


print("ready", flush=True)
for line in sys.stdin:
    words = [w for w in line.split() if not w.startswith("#")]  # "#tag" words only make lines unique
    if not words:
        continue
    if words[0] == "quit":
        break
    try:
        answer = run(words)
    except Interrupted:
        answer = "EINTR"
    except OSError as e:
        answer = "EDEADLK" if e.errno == errno.EDEADLK else errno.errorcode.get(e.errno, str(e.errno))
    print("%s -> %s" % (line.strip(), answer), flush=True)
