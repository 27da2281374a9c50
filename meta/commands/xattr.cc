// SetXattr and RemoveXattr (setxattr(2), removexattr(2)); the name rules live in perm.cc.
#include "meta/commands/command.h"
#include "rpc-schema/meta.capnp.h"

namespace basalt::meta {

constexpr size_t kMaxXattrValue = 64 * 1024;

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
  c.txn.put(Table::kXattrs, key, std::string_view(reinterpret_cast<const char*>(value.begin()), value.size()));
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
