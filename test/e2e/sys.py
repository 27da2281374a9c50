#!/usr/bin/env python3
"""One system call from the command line, for the end-to-end tests: prints OK (plus a result) or the
errno name it failed with. Usage: sys.py OP ARGS...  (see OPS below)."""
import errno
import os
import stat
import sys


def open_flags(spec):
    flags = 0
    for name in spec.split("|"):
        flags |= getattr(os, name)
    return flags


def do_open(path, spec, mode="0644"):
    fd = os.open(path, open_flags(spec), int(mode, 8))
    os.close(fd)


OPS = {
    "mkdir": lambda p, mode="0755": os.mkdir(p, int(mode, 8)),
    "rmdir": os.rmdir,
    "unlink": os.unlink,
    "rename": os.rename,
    "link": os.link,
    "symlink": lambda target, p: os.symlink(target, p),
    "readlink": os.readlink,
    "open": do_open,
    "mkfifo": lambda p: os.mkfifo(p),
    "mknod": lambda p, kind, major="0", minor="0": os.mknod(
        p, {"chr": stat.S_IFCHR, "blk": stat.S_IFBLK, "sock": stat.S_IFSOCK}[kind] | 0o644,
        os.makedev(int(major), int(minor))),
    "chmod": lambda p, mode: os.chmod(p, int(mode, 8)),
    "chown": lambda p, uid, gid: os.chown(p, int(uid), int(gid)),
    "truncate": lambda p, size: os.truncate(p, int(size)),
    "utime": lambda p, a, m: os.utime(p, ns=(int(a), int(m))),
    "setxattr": lambda p, name, value, flags="0": os.setxattr(p, name, value.encode(), int(flags)),
    "getxattr": lambda p, name: os.getxattr(p, name).decode(),
    "listxattr": lambda p: ",".join(sorted(os.listxattr(p))),
    "removexattr": os.removexattr,
    "access": lambda p, mode: None if os.access(p, int(mode)) else (_ for _ in ()).throw(PermissionError(errno.EACCES, "access")),
    "stat": lambda p: "%o %d %d %d %d" % (lambda s: (s.st_mode, s.st_nlink, s.st_uid, s.st_gid, s.st_size))(os.lstat(p)),
    "listdir": lambda p: ",".join(sorted(os.listdir(p))),
}

RENAME_NOREPLACE, RENAME_EXCHANGE = 1, 2


def renameat2(old, new, flags):
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    AT_FDCWD = -100
    if libc.renameat2(AT_FDCWD, old.encode(), AT_FDCWD, new.encode(), int(flags)) != 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))


OPS["renameat2"] = renameat2


def main():
    op, args = sys.argv[1], sys.argv[2:]
    try:
        result = OPS[op](*args)
    except OSError as e:
        print(errno.errorcode.get(e.errno, str(e.errno)))
        return
    print("OK" if result is None else "OK " + str(result))


main()
