// CommitWrite: the data path reports that a file grew to at least `size`; mtime and ctime move.
#include "meta/commands/command.h"

namespace basalt::meta {

Status applyCommitWrite(CommandContext& c) {
  auto w = c.cmd.getCommitWrite();
  META_ASSIGN(n, loadInode(c.txn, w.getIno()));
  if (!n.isReg()) return Status::error(EINVAL, "inode " + std::to_string(n.ino) + " is not a regular file");
  if (w.getSize() > n.size) n.size = w.getSize();
  n.mtime = n.ctime = c.now;
  if (w.getKillSuidGid() && !c.cred.isRoot()) killSuidSgid(n);
  saveInode(c.txn, n);
  fillAttr(n, c.reply.initAttr());
  return Status::ok();
}

}  // namespace basalt::meta
