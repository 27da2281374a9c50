#include "fuse-client/setattr.h"

#include <fuse3/fuse_lowlevel.h>

namespace basalt::client {

SetAttrSpec translateSetAttr(const struct stat& attr, int toSet, const fuse_file_info* fi) {
  SetAttrSpec s;
  if (toSet & FUSE_SET_ATTR_MODE) {
    s.valid |= rpc::SET_MODE;
    s.mode = attr.st_mode & 07777;
  }
  if (toSet & FUSE_SET_ATTR_UID) {
    s.valid |= rpc::SET_UID;
    s.uid = attr.st_uid;
  }
  if (toSet & FUSE_SET_ATTR_GID) {
    s.valid |= rpc::SET_GID;
    s.gid = attr.st_gid;
  }
  if (toSet & FUSE_SET_ATTR_SIZE) {
    s.valid |= rpc::SET_SIZE;
    s.size = static_cast<uint64_t>(attr.st_size);
  }
  if (toSet & FUSE_SET_ATTR_ATIME_NOW) {
    s.valid |= rpc::SET_ATIME_NOW;
  } else if (toSet & FUSE_SET_ATTR_ATIME) {
    s.valid |= rpc::SET_ATIME;
    s.atime = attr.st_atim;
  }
  if (toSet & FUSE_SET_ATTR_MTIME_NOW) {
    s.valid |= rpc::SET_MTIME_NOW;
  } else if (toSet & FUSE_SET_ATTR_MTIME) {
    s.valid |= rpc::SET_MTIME;
    s.mtime = attr.st_mtim;
  }
  if (toSet & (FUSE_SET_ATTR_KILL_SUID | FUSE_SET_ATTR_KILL_SGID | FUSE_SET_ATTR_KILL_PRIV)) {
    s.valid |= rpc::SET_KILL_SUID_GID;
  }
  if (fi != nullptr) s.handle = fi->fh;
  return s;
}

void fillSetAttr(const SetAttrSpec& spec, uint64_t ino, rpc::Command::SetAttr::Builder out) {
  out.setIno(ino);
  out.setValid(spec.valid);
  out.setMode(spec.mode);
  out.setUid(spec.uid);
  out.setGid(spec.gid);
  out.setSize(spec.size);
  auto at = out.initAtime();
  at.setSec(spec.atime.tv_sec);
  at.setNsec(static_cast<uint32_t>(spec.atime.tv_nsec));
  auto mt = out.initMtime();
  mt.setSec(spec.mtime.tv_sec);
  mt.setNsec(static_cast<uint32_t>(spec.mtime.tv_nsec));
  out.setHandle(spec.handle);
}

}  // namespace basalt::client
