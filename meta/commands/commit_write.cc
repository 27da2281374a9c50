// CommitWrite: the data path reports that a file grew to at least `size`; mtime and ctime move.
#include "meta/commands/command.h"

namespace basalt::meta {

void commitWrite(const CommandContext& c, Inode& n, uint64_t size, bool killSuidGid) {
  if (size > n.size) n.size = size;
  n.mtime = n.ctime = c.now;
  if (killSuidGid && !c.cred.isRoot()) killSuidSgid(n);
}

Status applyCommitWrite(CommandContext& c) {
  auto w = c.cmd.getCommitWrite();
  META_ASSIGN(n, loadInode(c.txn, w.getIno()));
  if (!n.isReg()) return Status::error(EINVAL, "inode " + std::to_string(n.ino) + " is not a regular file");
  commitWrite(c, n, w.getSize(), w.getKillSuidGid());
  saveInode(c.txn, n);
  fillAttr(n, c.reply.initAttr());
  return Status::ok();
}

}  // namespace basalt::meta
