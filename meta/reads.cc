#include "meta/reads.h"

#include <fcntl.h>

#include "meta/commands/command.h"

namespace basalt::meta {

Result<Inode> lookup(const Store& store, const Cred& cred, uint64_t parent, const std::string& name) {
  Txn txn = store.beginRead();
  META_ASSIGN(dir, loadInode(txn, parent));
  if (!dir.isDir()) return Status::error(ENOTDIR, "inode " + std::to_string(parent) + " is not a directory");
  META_TRY(checkPermission(cred, dir, kMayExec));
  if (name == ".") return dir;
  if (name == "..") return loadInode(txn, dir.parent);
  META_TRY(validateName(name));
  auto entry = findEntry(txn, parent, name);
  if (!entry) return Status::error(ENOENT, "no '" + name + "' in directory " + std::to_string(parent));
  return loadInode(txn, entry->child);
}

Result<Inode> getAttr(const Store& store, uint64_t ino) {
  Txn txn = store.beginRead();
  return loadInode(txn, ino);
}

Result<DirPage> readDir(const Store& store, const Cred& cred, uint64_t ino, uint64_t cookie, uint32_t maxEntries,
                        bool plus) {
  Txn txn = store.beginRead();
  META_ASSIGN(dir, loadInode(txn, ino));
  if (!dir.isDir()) return Status::error(ENOTDIR, "inode " + std::to_string(ino) + " is not a directory");
  META_TRY(checkPermission(cred, dir, kMayRead));
  DirPage page;
  if (maxEntries == 0) maxEntries = 1;
  auto emit = [&](std::string name, const Inode& n, uint64_t c) {
    DirEntryOut e;
    e.name = std::move(name);
    e.ino = n.ino;
    e.mode = plus ? n.mode : (n.mode & S_IFMT);
    e.cookie = c;
    if (plus) e.attr = n;
    page.entries.push_back(std::move(e));
  };
  if (cookie < 1) emit(".", dir, 1);
  if (cookie < 2 && page.entries.size() < maxEntries) {
    META_ASSIGN(parent, loadInode(txn, dir.parent));
    emit("..", parent, 2);
  }
  uint64_t from = std::max<uint64_t>(cookie + 1, kFirstCookie);
  bool more = false;
  Status failure;
  txn.scan(Table::kCookies, be64(ino), cookieKey(ino, from), [&](std::string_view k, std::string_view name) {
    if (page.entries.size() >= maxEntries) {
      more = true;
      return false;
    }
    auto entry = findEntry(txn, ino, std::string(name));
    if (!entry) {
      failure = Status::error(EIO, "cookie index of directory " + std::to_string(ino) + " names a missing entry");
      return false;
    }
    auto child = loadInode(txn, entry->child);
    if (!child.isOk()) {
      failure = child.status();
      return false;
    }
    emit(std::string(name), *child, readBe64(k, 8));
    return true;
  });
  if (!failure.isOk()) return failure;
  page.eof = !more;
  return page;
}

Result<std::string> readLink(const Store& store, uint64_t ino) {
  Txn txn = store.beginRead();
  META_ASSIGN(n, loadInode(txn, ino));
  if (!n.isLnk()) return Status::error(EINVAL, "inode " + std::to_string(ino) + " is not a symlink");
  auto target = txn.get(Table::kSymlinks, inoKey(ino));
  if (!target) return Status::error(EIO, "symlink " + std::to_string(ino) + " has no target");
  return std::string(*target);
}

Result<std::string> getXattr(const Store& store, const Cred& cred, uint64_t ino, const std::string& name) {
  Txn txn = store.beginRead();
  META_ASSIGN(n, loadInode(txn, ino));
  META_TRY(checkXattr(cred, n, name, false));
  auto v = txn.get(Table::kXattrs, xattrKey(ino, name));
  if (!v) return Status::error(ENODATA, "no xattr " + name + " on inode " + std::to_string(ino));
  return std::string(*v);
}

Result<std::vector<std::string>> listXattr(const Store& store, const Cred& cred, uint64_t ino) {
  Txn txn = store.beginRead();
  if (!txn.exists(Table::kInodes, inoKey(ino))) return Status::error(ENOENT, "inode " + std::to_string(ino) + " does not exist");
  std::vector<std::string> names;
  txn.scan(Table::kXattrs, be64(ino), [&](std::string_view k, std::string_view) {
    std::string name(k.substr(8));
    if (cred.isRoot() || name.rfind("trusted.", 0) != 0) names.push_back(std::move(name));
    return true;
  });
  return names;
}

Status access(const Store& store, const Cred& cred, uint64_t ino, uint32_t mask) {
  Txn txn = store.beginRead();
  META_ASSIGN(n, loadInode(txn, ino));
  if (mask == 0) return Status::ok();
  return checkPermission(cred, n, mask);
}

Result<Inode> checkOpen(const Store& store, const Cred& cred, uint64_t ino, uint32_t flags) {
  Txn txn = store.beginRead();
  META_ASSIGN(n, loadInode(txn, ino));
  if (n.isDir() && ((flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC))) {
    return Status::error(EISDIR, "inode " + std::to_string(ino) + " is a directory");
  }
  if (n.isLnk()) return Status::error(ELOOP, "inode " + std::to_string(ino) + " is a symlink");
  META_TRY(checkPermission(cred, n, openMask(flags)));
  return n;
}

uint64_t inodeCount(const Store& store) { return store.beginRead().count(Table::kInodes); }

}  // namespace basalt::meta
