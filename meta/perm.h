// Permission rules of the namespace, as Linux applies them (fs/namei.c, fs/attr.c, fs/xattr.c).
// Pure functions of the caller's credentials and an inode; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "meta/inode.h"
#include "rpc-schema/common.capnp.h"
#include "server/status.h"

namespace basalt::meta {

constexpr uint32_t kMayExec = 1, kMayWrite = 2, kMayRead = 4;  // the bits of access(2)'s mask

struct Cred {
  uint32_t uid = 0;
  uint32_t gid = 0;
  std::vector<uint32_t> groups;

  static Cred fromWire(rpc::Credentials::Reader in);
  bool isRoot() const { return uid == 0; }
  bool inGroup(uint32_t g) const;
  bool owns(const Inode& n) const { return uid == n.uid; }
  bool ownsOrRoot(const Inode& n) const { return isRoot() || owns(n); }
};

// generic_permission: `mask` of kMay*. Root passes read/write always, exec when the inode is a
// directory or has any x bit. EACCES otherwise.
Status checkPermission(const Cred& c, const Inode& n, uint32_t mask);

// May `c` remove or rename the entry for `child` out of directory `dir`? EPERM for the sticky rule
// (only the owner of the file or of the directory, or root, when the directory has S_ISVTX).
Status checkSticky(const Cred& c, const Inode& dir, const Inode& child);

}  // namespace basalt::meta

namespace basalt::meta {

// The access mask open(2) with `flags` needs (O_ACCMODE, plus write for O_TRUNC).
uint32_t openMask(uint32_t flags);

// xattr_permission plus the name rules: may `c` read (write=false) or set/remove (write=true)
// attribute `name` of `n`? ERANGE for an empty or over-long name, EOPNOTSUPP for an unknown
// namespace, EPERM/ENODATA/EACCES as Linux answers for user.*, trusted.*, security.*, system.*.
Status checkXattr(const Cred& c, const Inode& n, const std::string& name, bool write);

}  // namespace basalt::meta
