// Create: mknod, mkdir, symlink, and create(2)/open(O_CREAT) including O_EXCL and O_TRUNC on an
// existing file.
#include <fcntl.h>

#include "meta/commands/command.h"

namespace basalt::meta {
namespace {

// The non-exclusive create(2) of a name that exists: open the existing regular file.
Status openExisting(CommandContext& c, rpc::Command::Create::Reader cr, uint64_t ino) {
  META_ASSIGN(n, loadInode(c.txn, ino));
  if (n.isDir()) return Status::error(EISDIR, "inode " + std::to_string(ino) + " is a directory");
  uint32_t flags = cr.getOpenFlags() | (cr.getTruncate() ? O_TRUNC : 0);
  META_TRY(checkPermission(c.cred, n, openMask(flags)));
  if (cr.getTruncate() && n.isReg()) {
    if (n.size > 0) dropChunks(c.txn, n.ino, 0);
    n.size = 0;
    n.mtime = n.ctime = c.now;
    if (!c.cred.isRoot()) killSuidSgid(n);
    saveInode(c.txn, n);
  }
  c.reply.setExisted(true);
  fillAttr(n, c.reply.initAttr());
  if (cr.getOpen()) c.reply.setHandle(cr.getHandle());
  return Status::ok();
}

Status checkType(const Cred& cred, uint32_t type) {
  switch (type) {
    case S_IFREG: case S_IFDIR: case S_IFLNK: case S_IFIFO: case S_IFSOCK: return Status::ok();
    case S_IFCHR: case S_IFBLK:
      if (cred.isRoot()) return Status::ok();
      return Status::error(EPERM, "only root creates device nodes");
    default: return Status::error(EINVAL, "unknown file type " + std::to_string(type));
  }
}

}  // namespace

Status applyCreate(CommandContext& c) {
  auto cr = c.cmd.getCreate();
  std::string name = cr.getName();
  META_ASSIGN(parent, loadInode(c.txn, cr.getParent()));
  if (!parent.isDir()) return Status::error(ENOTDIR, "inode " + std::to_string(parent.ino) + " is not a directory");
  META_TRY(checkPermission(c.cred, parent, kMayExec));
  if (isDotOrDotDot(name)) return Status::error(EEXIST, "'" + name + "' always exists");
  META_TRY(validateName(name));
  if (parent.nlink == 0) return Status::error(ENOENT, "directory " + std::to_string(parent.ino) + " was removed");

  uint32_t type = cr.getMode() & S_IFMT;
  if (type == 0) type = S_IFREG;
  if (auto existing = findEntry(c.txn, parent.ino, name)) {
    if (cr.getExclusive() || type != S_IFREG) {
      return Status::error(EEXIST, "'" + name + "' exists in directory " + std::to_string(parent.ino));
    }
    return openExisting(c, cr, existing->child);
  }
  META_TRY(checkPermission(c.cred, parent, kMayWrite | kMayExec));
  META_TRY(checkType(c.cred, type));
  std::string target = cr.getTarget();
  if (type == S_IFLNK) {
    if (target.empty()) return Status::error(ENOENT, "empty symlink target");
    if (target.size() > kMaxSymlink) {
      return Status::error(ENAMETOOLONG, "symlink target of " + std::to_string(target.size()) + " bytes");
    }
  }
  if (type == S_IFDIR && parent.nlink >= kMaxLink) {
    return Status::error(EMLINK, "directory " + std::to_string(parent.ino) + " has too many subdirectories");
  }
  if (cr.getIno() == 0 || c.txn.exists(Table::kInodes, inoKey(cr.getIno()))) {
    return Status::error(EIO, "bad new inode number " + std::to_string(cr.getIno()) + " from the leader");
  }

  Inode n;
  n.ino = cr.getIno();
  n.generation = cr.getGeneration();
  n.mode = type | (type == S_IFLNK ? 0777 : (cr.getMode() & 07777));
  n.uid = c.cred.uid;
  n.gid = c.cred.gid;
  if (parent.mode & S_ISGID) {
    n.gid = parent.gid;
    if (type == S_IFDIR) {
      n.mode |= S_ISGID;
    } else if ((n.mode & S_ISGID) && !c.cred.isRoot() && !c.cred.inGroup(n.gid)) {
      n.mode &= ~static_cast<uint32_t>(S_ISGID);
    }
  }
  n.nlink = type == S_IFDIR ? 2 : 1;
  if (type == S_IFCHR || type == S_IFBLK) n.rdev = cr.getRdev();
  n.size = type == S_IFLNK ? target.size() : 0;
  n.atime = n.mtime = n.ctime = c.now;
  n.replication = parent.replication;
  n.chunkSize = parent.chunkSize;
  if (type == S_IFDIR) n.parent = parent.ino;

  addEntry(c.txn, parent, name, n.ino);
  if (type == S_IFDIR) ++parent.nlink;
  parent.mtime = parent.ctime = c.now;
  saveInode(c.txn, parent);
  saveInode(c.txn, n);
  if (type == S_IFLNK) c.txn.put(Table::kSymlinks, inoKey(n.ino), target);
  auto next = c.txn.get(Table::kMeta, "next_ino");
  if (!next || readBe64(*next) <= n.ino) c.txn.put(Table::kMeta, "next_ino", be64(n.ino + 1));

  fillAttr(n, c.reply.initAttr());
  if (cr.getOpen()) c.reply.setHandle(cr.getHandle());
  return Status::ok();
}

}  // namespace basalt::meta
