// The libfuse low-level operation table of basalt-mount, and the handlers grouped by idea:
// ops_namespace.cc (entries and attributes), ops_dir.cc (directory streams), ops_xattr.cc (extended
// attributes), ops_file.cc (open files and their data), ops_init.cc (init and the table).
//
// Every handler replies exactly once, from the RPC's continuation (see fs.h). The "valid replies"
// of each operation are libfuse's (fuse_lowlevel.h).
// Thread-safety: handlers run on the loop thread, called by fuse_session_process_buf.
#pragma once

#include <optional>
#include <string>

#include <fuse3/fuse_lowlevel.h>
#include <kj/async.h>

namespace basalt::client {

class Filesystem;

const fuse_lowlevel_ops& basaltOps();

namespace ops {
// ops_init.cc
void init(void* userdata, fuse_conn_info* conn);
// ops_namespace.cc
void lookup(fuse_req_t req, fuse_ino_t parent, const char* name);
void forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup);
void forgetMulti(fuse_req_t req, size_t count, fuse_forget_data* forgets);
void getattr(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi);
void setattr(fuse_req_t req, fuse_ino_t ino, struct stat* attr, int toSet, fuse_file_info* fi);
void readlink(fuse_req_t req, fuse_ino_t ino);
void mknod(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode, dev_t rdev);
void mkdir(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode);
void unlink(fuse_req_t req, fuse_ino_t parent, const char* name);
void rmdir(fuse_req_t req, fuse_ino_t parent, const char* name);
void symlink(fuse_req_t req, const char* link, fuse_ino_t parent, const char* name);
void rename(fuse_req_t req, fuse_ino_t parent, const char* name, fuse_ino_t newparent,
            const char* newname, unsigned int flags);
void link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char* newname);
void statfs(fuse_req_t req, fuse_ino_t ino);
void access(fuse_req_t req, fuse_ino_t ino, int mask);
// ops_dir.cc
void opendir(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi);
void readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info* fi);
void readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info* fi);
void releasedir(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi);
void fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync, fuse_file_info* fi);
// ops_xattr.cc
void setxattr(fuse_req_t req, fuse_ino_t ino, const char* name, const char* value, size_t size,
              int flags);
void getxattr(fuse_req_t req, fuse_ino_t ino, const char* name, size_t size);
void listxattr(fuse_req_t req, fuse_ino_t ino, size_t size);
void removexattr(fuse_req_t req, fuse_ino_t ino, const char* name);
// ops_file.cc
void open(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi);
void create(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode, fuse_file_info* fi);
void read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info* fi);
void write(fuse_req_t req, fuse_ino_t ino, const char* buf, size_t size, off_t off,
           fuse_file_info* fi);
void fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t offset, off_t length,
               fuse_file_info* fi);
void flush(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi);
void release(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi);
void fsync(fuse_req_t req, fuse_ino_t ino, int datasync, fuse_file_info* fi);
// ops_lock.cc
void getlk(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi, struct flock* lock);
void setlk(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi, struct flock* lock, int sleep);
void flock(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi, int op);
// Drops the POSIX locks of `owner` (flush) or the flock lock of the handle `owner` (release) on
// `ino`, if this mount took locks there. Never fails: problems are logged (ESTALE means the server
// released them already).
kj::Promise<void> releaseLocks(Filesystem& fs, uint64_t ino, uint64_t owner, bool flock);
// The metadata server recalls lock delegation `gen` of `ino` (cache_watcher.h): commits the file's
// writes and answers the locks held there, or nullopt when that generation is not held here.
kj::Promise<std::optional<std::string>> recallLocks(Filesystem& fs, uint64_t ino, uint64_t gen);
// Gives back the delegations whose inodes have no locks and saw no lock call for `idleFor`.
kj::Promise<void> returnIdleDelegations(Filesystem& fs, kj::Duration idleFor);
}  // namespace ops

}  // namespace basalt::client
