// Link: link(2), a new name for an existing non-directory.
#include "meta/commands/command.h"

namespace basalt::meta {

Status applyLink(CommandContext& c) {
  auto l = c.cmd.getLink();
  std::string name = l.getNewName();
  META_ASSIGN(n, loadInode(c.txn, l.getIno()));
  if (n.isDir()) return Status::error(EPERM, "inode " + std::to_string(n.ino) + " is a directory");
  META_ASSIGN(parent, loadInode(c.txn, l.getNewParent()));
  if (!parent.isDir()) return Status::error(ENOTDIR, "inode " + std::to_string(parent.ino) + " is not a directory");
  META_TRY(checkPermission(c.cred, parent, kMayExec));
  if (isDotOrDotDot(name)) return Status::error(EEXIST, "'" + name + "' always exists");
  META_TRY(validateName(name));
  if (parent.nlink == 0) return Status::error(ENOENT, "directory " + std::to_string(parent.ino) + " was removed");
  if (findEntry(c.txn, parent.ino, name)) {
    return Status::error(EEXIST, "'" + name + "' exists in directory " + std::to_string(parent.ino));
  }
  META_TRY(checkPermission(c.cred, parent, kMayWrite | kMayExec));
  if (n.nlink == 0) return Status::error(ENOENT, "inode " + std::to_string(n.ino) + " has no names left");
  if (n.nlink >= kMaxLink) return Status::error(EMLINK, "inode " + std::to_string(n.ino) + " has too many links");

  addEntry(c.txn, parent, name, n.ino);
  parent.mtime = parent.ctime = c.now;
  saveInode(c.txn, parent);
  ++n.nlink;
  n.ctime = c.now;
  saveInode(c.txn, n);
  fillAttr(n, c.reply.initAttr());
  return Status::ok();
}

}  // namespace basalt::meta
