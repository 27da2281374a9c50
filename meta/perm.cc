#include "meta/perm.h"

#include <fcntl.h>

#include <algorithm>
#include <string>

namespace basalt::meta {

Cred Cred::fromWire(rpc::Credentials::Reader in) {
  Cred c;
  c.uid = in.getUid();
  c.gid = in.getGid();
  for (auto g : in.getGroups()) c.groups.push_back(g);
  return c;
}

bool Cred::inGroup(uint32_t g) const {
  return g == gid || std::find(groups.begin(), groups.end(), g) != groups.end();
}

Status checkPermission(const Cred& c, const Inode& n, uint32_t mask) {
  mask &= kMayRead | kMayWrite | kMayExec;
  if (c.isRoot()) {
    if (!(mask & kMayExec) || n.isDir() || (n.mode & 0111)) return Status::ok();
    return Status::error(EACCES, "inode " + std::to_string(n.ino) + " has no execute bit");
  }
  uint32_t bits;
  if (c.uid == n.uid) {
    bits = (n.mode >> 6) & 7;
  } else if (c.inGroup(n.gid)) {
    bits = (n.mode >> 3) & 7;
  } else {
    bits = n.mode & 7;
  }
  if ((bits & mask) == mask) return Status::ok();
  return Status::error(EACCES, "uid " + std::to_string(c.uid) + " lacks permission on inode " + std::to_string(n.ino));
}

Status checkSticky(const Cred& c, const Inode& dir, const Inode& child) {
  if (!(dir.mode & S_ISVTX) || c.isRoot() || c.owns(dir) || c.owns(child)) return Status::ok();
  return Status::error(EPERM, "sticky directory " + std::to_string(dir.ino) + ": uid " + std::to_string(c.uid) +
                                  " owns neither it nor inode " + std::to_string(child.ino));
}

}  // namespace basalt::meta

namespace basalt::meta {

uint32_t openMask(uint32_t flags) {
  uint32_t mask = 0;
  switch (flags & O_ACCMODE) {
    case O_RDONLY: mask = kMayRead; break;
    case O_WRONLY: mask = kMayWrite; break;
    default: mask = kMayRead | kMayWrite; break;
  }
  if (flags & O_TRUNC) mask |= kMayWrite;
  return mask;
}

Status checkXattr(const Cred& c, const Inode& n, const std::string& name, bool write) {
  auto starts = [&](const char* p) { return name.rfind(p, 0) == 0; };
  if (name.empty() || name.size() > kMaxName) {
    return Status::error(ERANGE, "xattr name of " + std::to_string(name.size()) + " bytes");
  }
  std::string what = "xattr " + name + " of inode " + std::to_string(n.ino);
  if (starts("user.")) {
    if (!n.isReg() && !n.isDir()) return Status::error(write ? EPERM : ENODATA, what + ": not a file or directory");
    if (write && n.isDir() && (n.mode & S_ISVTX) && !c.ownsOrRoot(n)) {
      return Status::error(EPERM, what + ": sticky directory");
    }
    return checkPermission(c, n, write ? kMayWrite : kMayRead);
  }
  if (starts("trusted.")) {
    if (!c.isRoot()) return Status::error(write ? EPERM : ENODATA, what + ": trusted.* is for root");
    return Status::ok();
  }
  if (starts("security.")) {
    if (write && !c.isRoot()) return Status::error(EPERM, what + ": security.* is set by root");
    return Status::ok();
  }
  if (name == "system.posix_acl_access" || name == "system.posix_acl_default") {
    if (write && !c.ownsOrRoot(n)) return Status::error(EPERM, what + ": only the owner sets ACLs");
    return Status::ok();
  }
  return Status::error(EOPNOTSUPP, what + ": unsupported namespace");
}

}  // namespace basalt::meta
