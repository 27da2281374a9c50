// Remove: unlink(2) and rmdir(2). The inode itself stays (as an orphan) when its last name goes,
// until no session has it open (reclaim.cc).
#include "meta/commands/command.h"

namespace basalt::meta {

Status applyRemove(CommandContext& c) {
  auto r = c.cmd.getRemove();
  std::string name = r.getName();
  bool rmdir = r.getDirectory();
  META_ASSIGN(parent, loadInode(c.txn, r.getParent()));
  if (!parent.isDir()) return Status::error(ENOTDIR, "inode " + std::to_string(parent.ino) + " is not a directory");
  META_TRY(checkPermission(c.cred, parent, kMayExec));
  if (name == ".") return Status::error(rmdir ? EINVAL : EISDIR, "cannot remove '.'");
  if (name == "..") return Status::error(rmdir ? ENOTEMPTY : EISDIR, "cannot remove '..'");
  META_TRY(validateName(name));
  auto entry = findEntry(c.txn, parent.ino, name);
  if (!entry) return Status::error(ENOENT, "no '" + name + "' in directory " + std::to_string(parent.ino));
  META_TRY(checkPermission(c.cred, parent, kMayWrite | kMayExec));
  META_ASSIGN(child, loadInode(c.txn, entry->child));
  META_TRY(checkSticky(c.cred, parent, child));
  if (rmdir) {
    if (!child.isDir()) return Status::error(ENOTDIR, "'" + name + "' is not a directory");
    if (child.ino == kRootIno) return Status::error(EBUSY, "the root cannot be removed");
    if (!dirIsEmpty(c.txn, child.ino)) return Status::error(ENOTEMPTY, "directory " + std::to_string(child.ino) + " is not empty");
  } else if (child.isDir()) {
    return Status::error(EISDIR, "'" + name + "' is a directory");
  }

  removeEntry(c.txn, parent.ino, name, *entry);
  if (child.isDir()) {
    child.nlink = 0;
    --parent.nlink;
  } else {
    --child.nlink;
  }
  child.ctime = c.now;
  parent.mtime = parent.ctime = c.now;
  saveInode(c.txn, parent);
  saveInode(c.txn, child);
  if (child.nlink == 0) orphan(c, child);
  fillAttr(child, c.reply.initAttr());
  return Status::ok();
}

}  // namespace basalt::meta
