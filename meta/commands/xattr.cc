// SetXattr and RemoveXattr (setxattr(2), removexattr(2)); the name rules live in perm.cc.
#include "meta/acl.h"
#include "meta/commands/command.h"
#include "rpc-schema/meta.capnp.h"

namespace basalt::meta {

constexpr size_t kMaxXattrValue = 64 * 1024;

namespace {
constexpr const char* kAccessAcl = "system.posix_acl_access";
constexpr const char* kDefaultAcl = "system.posix_acl_default";

// Linux's set_posix_acl for the access ACL: the mode's permission bits follow the ACL, and an ACL
// that says no more than the mode is not stored (meta/acl.h).
void setAccessAcl(CommandContext& c, Inode& n, const std::vector<AclEntry>& acl, const std::string& key) {
  if (acl.empty() || aclIsMinimal(acl)) {
    c.txn.del(Table::kXattrs, key);
  } else {
    c.txn.put(Table::kXattrs, key, encodeAcl(acl));
  }
  if (!acl.empty()) {
    n.mode = (n.mode & ~0777u) | aclModeBits(acl);
    if (!c.cred.isRoot() && !c.cred.inGroup(n.gid)) n.mode &= ~static_cast<uint32_t>(S_ISGID);
  }
}
}  // namespace

void chmodAccessAcl(Txn& txn, const Inode& n) {
  std::string key = xattrKey(n.ino, kAccessAcl);
  auto stored = txn.get(Table::kXattrs, key);
  if (!stored) return;
  auto acl = parseAcl(*stored);
  if (!acl.isOk() || acl->empty()) return;  // stored before values were validated: left as it is
  txn.put(Table::kXattrs, key, encodeAcl(aclChmod(*acl, n.mode)));
}

Status applySetXattr(CommandContext& c) {
  auto x = c.cmd.getSetXattr();
  std::string name = x.getName();
  uint32_t flags = x.getFlags();
  if ((flags & ~(rpc::XATTR_FLAG_CREATE | rpc::XATTR_FLAG_REPLACE)) ||
      ((flags & rpc::XATTR_FLAG_CREATE) && (flags & rpc::XATTR_FLAG_REPLACE))) {
    return Status::error(EINVAL, "bad xattr flags " + std::to_string(flags));
  }
  auto value = x.getValue();
  if (value.size() > kMaxXattrValue) return Status::error(E2BIG, "xattr value of " + std::to_string(value.size()) + " bytes");
  META_ASSIGN(n, loadInode(c.txn, x.getIno()));
  META_TRY(checkXattr(c.cred, n, name, true));
  std::string key = xattrKey(n.ino, name);
  bool exists = c.txn.exists(Table::kXattrs, key);
  if ((flags & rpc::XATTR_FLAG_CREATE) && exists) return Status::error(EEXIST, "xattr " + name + " exists on inode " + std::to_string(n.ino));
  if ((flags & rpc::XATTR_FLAG_REPLACE) && !exists) return Status::error(ENODATA, "no xattr " + name + " on inode " + std::to_string(n.ino));
  std::string_view raw(reinterpret_cast<const char*>(value.begin()), value.size());
  if (name == kAccessAcl || name == kDefaultAcl) {
    auto acl = parseAcl(raw);
    if (!acl.isOk()) {
      return Status::error(acl.status().code(), acl.status().message() + " (" + name + " of inode " +
                                                    std::to_string(n.ino) + ")");
    }
    if (name == kAccessAcl) {
      setAccessAcl(c, n, *acl, key);
    } else if (!n.isDir()) {
      if (!acl->empty()) return Status::error(EACCES, "a default ACL is for directories (inode " + std::to_string(n.ino) + ")");
    } else if (acl->empty()) {
      c.txn.del(Table::kXattrs, key);
    } else {
      c.txn.put(Table::kXattrs, key, encodeAcl(*acl));
    }
  } else {
    c.txn.put(Table::kXattrs, key, raw);
  }
  n.ctime = c.now;
  saveInode(c.txn, n);
  fillAttr(n, c.reply.initAttr());
  return Status::ok();
}

Status applyRemoveXattr(CommandContext& c) {
  auto x = c.cmd.getRemoveXattr();
  std::string name = x.getName();
  META_ASSIGN(n, loadInode(c.txn, x.getIno()));
  META_TRY(checkXattr(c.cred, n, name, true));
  if (!c.txn.del(Table::kXattrs, xattrKey(n.ino, name))) {
    return Status::error(ENODATA, "no xattr " + name + " on inode " + std::to_string(n.ino));
  }
  n.ctime = c.now;
  saveInode(c.txn, n);
  fillAttr(n, c.reply.initAttr());
  return Status::ok();
}

}  // namespace basalt::meta
