// SetAttr: chmod, chown, truncate, utimensat (fs/attr.c: setattr_prepare, notify_change;
// fs/utimes.c). ctime becomes the command time on every change.
#include "meta/commands/command.h"
#include "rpc-schema/meta.capnp.h"

namespace basalt::meta {

Status applySetAttr(CommandContext& c) {
  auto s = c.cmd.getSetAttr();
  uint32_t valid = s.getValid();
  META_ASSIGN(n, loadInode(c.txn, s.getIno()));
  const Cred& cred = c.cred;
  std::string what = "inode " + std::to_string(n.ino);

  // Checks first, in Linux's order; nothing is changed until all pass.
  if ((valid & rpc::SET_COMMIT_WRITE) && !n.isReg()) {
    return Status::error(EINVAL, what + " is not a regular file (a write commit came with the setattr)");
  }
  if (valid & rpc::SET_SIZE) {
    if (n.isDir()) return Status::error(EISDIR, what + " is a directory");
    if (!n.isReg()) return Status::error(EINVAL, what + " is not a regular file");
    // Through an open handle (ftruncate) the handle's mode was checked at open.
    if (s.getHandle() == 0) META_TRY(checkPermission(cred, n, kMayWrite));
  }
  if ((valid & rpc::SET_UID) && !cred.isRoot() && !(cred.owns(n) && s.getUid() == n.uid)) {
    return Status::error(EPERM, what + ": only root changes the owner");
  }
  if ((valid & rpc::SET_GID) && !cred.isRoot() && !(cred.owns(n) && (s.getGid() == n.gid || cred.inGroup(s.getGid())))) {
    return Status::error(EPERM, what + ": uid " + std::to_string(cred.uid) + " may not give it group " + std::to_string(s.getGid()));
  }
  if ((valid & rpc::SET_MODE) && !cred.ownsOrRoot(n)) {
    return Status::error(EPERM, what + ": only the owner changes the mode");
  }
  if (valid & rpc::SET_REPLICATION) {
    if (!cred.ownsOrRoot(n)) return Status::error(EPERM, what + ": only the owner sets the replication");
    if (s.getReplication() < 1 || s.getReplication() > 16) {
      return Status::error(EINVAL, what + ": replication must be 1..16, not " + std::to_string(s.getReplication()));
    }
  }
  if (valid & (rpc::SET_ATIME | rpc::SET_MTIME)) {
    if (!cred.ownsOrRoot(n)) return Status::error(EPERM, what + ": only the owner sets explicit times");
  } else if (valid & (rpc::SET_ATIME_NOW | rpc::SET_MTIME_NOW)) {
    if (!cred.ownsOrRoot(n)) META_TRY(checkPermission(cred, n, kMayWrite));
  }

  // The writes this client made before the change land first, as a CommitWrite would.
  if (valid & rpc::SET_COMMIT_WRITE) commitWrite(c, n, s.getCommitSize(), s.getCommitKillSuidGid());
  if (valid & (rpc::SET_UID | rpc::SET_GID)) {
    if (valid & rpc::SET_UID) n.uid = s.getUid();
    if (valid & rpc::SET_GID) n.gid = s.getGid();
    if (!n.isDir()) killSuidSgid(n);
  }
  if (valid & rpc::SET_MODE) {
    n.mode = (n.mode & S_IFMT) | (s.getMode() & 07777);
    if (!cred.isRoot() && !cred.inGroup(n.gid)) n.mode &= ~static_cast<uint32_t>(S_ISGID);
    chmodAccessAcl(c.txn, n);  // a stored ACL follows the mode, as on Linux
  }
  if (valid & rpc::SET_SIZE) {
    uint64_t size = s.getSize();
    if (size < n.size) {
      uint64_t keep = (size + n.chunkSize - 1) / n.chunkSize;  // chunks 0..keep-1 still hold data
      dropChunks(c.txn, n.ino, static_cast<uint32_t>(keep));
    }
    n.size = size;
    n.mtime = c.now;
  }
  if (valid & rpc::SET_REPLICATION) n.replication = s.getReplication();
  if ((valid & rpc::SET_KILL_SUID_GID) && !cred.isRoot() && n.isReg()) killSuidSgid(n);
  if (valid & rpc::SET_ATIME) n.atime = Timespec{s.getAtime().getSec(), s.getAtime().getNsec()};
  if (valid & rpc::SET_MTIME) n.mtime = Timespec{s.getMtime().getSec(), s.getMtime().getNsec()};
  if (valid & rpc::SET_ATIME_NOW) n.atime = c.now;
  if (valid & rpc::SET_MTIME_NOW) n.mtime = c.now;
  if (valid != 0) n.ctime = c.now;
  saveInode(c.txn, n);
  fillAttr(n, c.reply.initAttr());
  return Status::ok();
}

}  // namespace basalt::meta
