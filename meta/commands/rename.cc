// Rename: rename(2) and renameat2(2) with RENAME_NOREPLACE and RENAME_EXCHANGE, in the order of
// checks Linux uses (do_renameat2, vfs_rename, may_delete, may_create).
#include "meta/commands/command.h"
#include "rpc-schema/meta.capnp.h"

namespace basalt::meta {
namespace {

// Is `ancestor` on the path from `dir` up to the root (dir included)?
Result<bool> isAncestorOrSelf(const Txn& txn, uint64_t ancestor, uint64_t dir) {
  for (int depth = 0; depth < 100000; ++depth) {
    if (dir == ancestor) return true;
    if (dir == kRootIno) return false;
    META_ASSIGN(n, loadInode(txn, dir));
    dir = n.parent;
  }
  return Status::error(EIO, "directory tree deeper than 100000 at inode " + std::to_string(dir));
}

// may_delete(dir, victim, isdir) without the sticky part order changed.
Status mayDelete(const Cred& cred, const Inode& dir, const Inode& victim, bool isdir) {
  META_TRY(checkPermission(cred, dir, kMayWrite | kMayExec));
  META_TRY(checkSticky(cred, dir, victim));
  if (isdir) {
    if (!victim.isDir()) return Status::error(ENOTDIR, "inode " + std::to_string(victim.ino) + " is not a directory");
    if (victim.ino == kRootIno) return Status::error(EBUSY, "the root cannot be renamed");
  } else if (victim.isDir()) {
    return Status::error(EISDIR, "inode " + std::to_string(victim.ino) + " is a directory");
  }
  return Status::ok();
}

}  // namespace

Status applyRename(CommandContext& c) {
  auto r = c.cmd.getRename();
  std::string name = r.getName(), newName = r.getNewName();
  uint32_t flags = r.getFlags();
  bool noReplace = flags & rpc::RENAME_FLAG_NO_REPLACE, exchange = flags & rpc::RENAME_FLAG_EXCHANGE;
  if ((flags & ~(rpc::RENAME_FLAG_NO_REPLACE | rpc::RENAME_FLAG_EXCHANGE)) || (noReplace && exchange)) {
    return Status::error(EINVAL, "bad rename flags " + std::to_string(flags));
  }
  META_ASSIGN(oldP, loadDir(c.txn, r.getParent()));
  META_ASSIGN(newPStorage, loadDir(c.txn, r.getNewParent()));
  bool sameDir = oldP.ino == newPStorage.ino;
  Inode& newP = sameDir ? oldP : newPStorage;
  META_TRY(checkPermission(c.cred, oldP, kMayExec));
  META_TRY(checkPermission(c.cred, newP, kMayExec));
  if (isDotOrDotDot(name)) return Status::error(EBUSY, "cannot rename '" + name + "'");
  if (isDotOrDotDot(newName)) return Status::error(noReplace ? EEXIST : EBUSY, "cannot rename onto '" + newName + "'");
  META_TRY(validateName(name));
  META_TRY(validateName(newName));
  auto src = findEntry(c.txn, oldP.ino, name);
  if (!src) return Status::error(ENOENT, "no '" + name + "' in directory " + std::to_string(oldP.ino));
  auto dst = findEntry(c.txn, newP.ino, newName);
  if (noReplace && dst) return Status::error(EEXIST, "'" + newName + "' exists in directory " + std::to_string(newP.ino));
  if (exchange && !dst) return Status::error(ENOENT, "no '" + newName + "' in directory " + std::to_string(newP.ino));

  META_ASSIGN(s, loadInode(c.txn, src->child));
  if (s.isDir()) {
    META_ASSIGN(loop, isAncestorOrSelf(c.txn, s.ino, newP.ino));
    if (loop) return Status::error(EINVAL, "directory " + std::to_string(s.ino) + " cannot move into its own subtree");
  }
  if (dst && dst->child == src->child) {  // two names of one inode (or the same name): nothing to do
    fillAttr(s, c.reply.initAttr());
    return Status::ok();
  }
  std::optional<Inode> d;
  if (dst) {
    META_ASSIGN(loaded, loadInode(c.txn, dst->child));
    d = loaded;
    if (d->isDir()) {
      META_ASSIGN(loop, isAncestorOrSelf(c.txn, d->ino, oldP.ino));
      if (loop) {
        return Status::error(exchange ? EINVAL : ENOTEMPTY,
                             "directory " + std::to_string(d->ino) + " contains the source");
      }
    }
  }

  META_TRY(mayDelete(c.cred, oldP, s, s.isDir()));
  if (!d) {
    META_TRY(checkPermission(c.cred, newP, kMayWrite | kMayExec));
  } else {
    META_TRY(mayDelete(c.cred, newP, *d, exchange ? d->isDir() : s.isDir()));
  }
  if (!sameDir) {
    if (s.isDir()) META_TRY(checkPermission(c.cred, s, kMayWrite));
    if (exchange && d->isDir()) META_TRY(checkPermission(c.cred, *d, kMayWrite));
  }
  if (!exchange && d && d->isDir() && !dirIsEmpty(c.txn, d->ino)) {
    return Status::error(ENOTEMPTY, "directory " + std::to_string(d->ino) + " is not empty");
  }
  if (!sameDir) {
    bool newGainsDir = s.isDir() && !(d && d->isDir());
    bool oldGainsDir = exchange && d->isDir() && !s.isDir();
    if ((newGainsDir && newP.nlink >= kMaxLink) || (oldGainsDir && oldP.nlink >= kMaxLink)) {
      return Status::error(EMLINK, "too many subdirectories");
    }
  }

  if (exchange) {
    c.txn.put(Table::kDirents, direntKey(oldP.ino, name), encodeDirent({d->ino, src->cookie}));
    c.txn.put(Table::kDirents, direntKey(newP.ino, newName), encodeDirent({s.ino, dst->cookie}));
    if (!sameDir) {
      if (s.isDir()) s.parent = newP.ino;
      if (d->isDir()) d->parent = oldP.ino;
      if (s.isDir() && !d->isDir()) {
        --oldP.nlink;
        ++newP.nlink;
      } else if (!s.isDir() && d->isDir()) {
        ++oldP.nlink;
        --newP.nlink;
      }
    }
    d->ctime = c.now;
    saveInode(c.txn, *d);
  } else {
    if (d) {
      // The replaced entry keeps its cookie, so a reader already past it does not see the name again.
      if (d->isDir()) {
        d->nlink = 0;
        --newP.nlink;
      } else {
        --d->nlink;
      }
      d->ctime = c.now;
      saveInode(c.txn, *d);
      if (d->nlink == 0) orphan(c, *d);
      c.txn.put(Table::kDirents, direntKey(newP.ino, newName), encodeDirent({s.ino, dst->cookie}));
    } else {
      addEntry(c.txn, newP, newName, s.ino);
    }
    removeEntry(c.txn, oldP.ino, name, *src);
    if (s.isDir() && !sameDir) {
      --oldP.nlink;
      ++newP.nlink;
      s.parent = newP.ino;
    }
  }
  s.ctime = c.now;
  saveInode(c.txn, s);
  oldP.mtime = oldP.ctime = c.now;
  newP.mtime = newP.ctime = c.now;
  saveInode(c.txn, oldP);
  if (!sameDir) saveInode(c.txn, newP);
  fillAttr(s, c.reply.initAttr());
  return Status::ok();
}

}  // namespace basalt::meta
