// Translation of a FUSE setattr (struct stat + FUSE_SET_ATTR_* bits) into the metadata server's
// SetAttr command (meta.capnp set* valid bits).
// Thread-safety: pure functions.
#pragma once

#include <sys/stat.h>

#include <cstdint>

#include "rpc-schema/meta.capnp.h"

struct fuse_file_info;

namespace basalt::client {

struct SetAttrSpec {
  uint32_t valid = 0;  // rpc::SET_* bits
  uint32_t mode = 0;   // permission bits only (07777)
  uint32_t uid = 0;
  uint32_t gid = 0;
  uint64_t size = 0;
  struct timespec atime = {0, 0};
  struct timespec mtime = {0, 0};
  uint64_t handle = 0;  // the open handle (ftruncate/futimens), 0 = by path
};

// ATIME_NOW / MTIME_NOW win over the explicit time (the kernel sends both bits for UTIME_NOW);
// CTIME is not sent (the server sets ctime on every change); KILL_SUID / KILL_SGID / KILL_PRIV
// become setKillSuidGid. `fi` may be null.
SetAttrSpec translateSetAttr(const struct stat& attr, int toSet, const fuse_file_info* fi);

void fillSetAttr(const SetAttrSpec& spec, uint64_t ino, rpc::Command::SetAttr::Builder out);

}  // namespace basalt::client
