#include <vector>

#include "meta/commands/command.h"

namespace basalt::meta {

Result<Inode> loadInode(const Txn& txn, uint64_t ino) {
  auto v = txn.get(Table::kInodes, inoKey(ino));
  if (!v) return Status::error(ENOENT, "inode " + std::to_string(ino) + " does not exist");
  auto n = decodeInode(ino, *v);
  if (!n) return Status::error(EIO, "inode " + std::to_string(ino) + " has an unreadable record");
  return *n;
}

void saveInode(Txn& txn, const Inode& n) { txn.put(Table::kInodes, inoKey(n.ino), encodeInode(n)); }

Result<Inode> loadDir(const Txn& txn, uint64_t ino) {
  auto n = loadInode(txn, ino);
  if (!n.isOk()) return n;
  if (!n->isDir()) return Status::error(ENOTDIR, "inode " + std::to_string(ino) + " is not a directory");
  if (n->nlink == 0) return Status::error(ENOENT, "directory " + std::to_string(ino) + " was removed");
  return n;
}

Status validateName(const std::string& name) {
  if (name.empty()) return Status::error(EINVAL, "empty name");
  if (name.find('/') != std::string::npos) return Status::error(EINVAL, "name '" + name + "' contains '/'");
  if (name.size() > kMaxName) return Status::error(ENAMETOOLONG, "name of " + std::to_string(name.size()) + " bytes");
  return Status::ok();
}

bool isDotOrDotDot(const std::string& name) { return name == "." || name == ".."; }

std::optional<DirentValue> findEntry(const Txn& txn, uint64_t parent, const std::string& name) {
  auto v = txn.get(Table::kDirents, direntKey(parent, name));
  if (!v) return std::nullopt;
  return decodeDirent(*v);
}

void addEntry(Txn& txn, Inode& parent, const std::string& name, uint64_t child) {
  uint64_t cookie = parent.nextCookie++;
  txn.put(Table::kDirents, direntKey(parent.ino, name), encodeDirent({child, cookie}));
  txn.put(Table::kCookies, cookieKey(parent.ino, cookie), name);
}

void removeEntry(Txn& txn, uint64_t parent, const std::string& name, DirentValue entry) {
  txn.del(Table::kDirents, direntKey(parent, name));
  txn.del(Table::kCookies, cookieKey(parent, entry.cookie));
}

bool dirIsEmpty(const Txn& txn, uint64_t dir) {
  bool empty = true;
  txn.scan(Table::kCookies, be64(dir), [&](std::string_view, std::string_view) {
    empty = false;
    return false;
  });
  return empty;
}

void dropChunks(Txn& txn, uint64_t ino, uint32_t firstIndex) {
  std::vector<std::pair<std::string, ChunkEntry>> doomed;
  txn.scan(Table::kChunks, be64(ino), chunkKey(ino, firstIndex), [&](std::string_view k, std::string_view v) {
    doomed.emplace_back(std::string(k), decodeChunk(v));
    return true;
  });
  for (auto& [key, entry] : doomed) {
    std::string replicas;
    for (uint32_t r : entry.replicas) appendBe32(replicas, r);
    txn.put(Table::kGarbage, be64(entry.id), replicas);
    txn.del(Table::kChunks, key);
    txn.del(Table::kChunkOwners, be64(entry.id));
  }
}

void orphan(CommandContext& c, const Inode& n) {
  c.txn.put(Table::kOrphans, inoKey(n.ino), "");
  c.effects.orphaned.push_back(n.ino);
}

void killSuidSgid(Inode& n) {
  n.mode &= ~static_cast<uint32_t>(S_ISUID);
  if ((n.mode & S_ISGID) && (n.mode & S_IXGRP)) n.mode &= ~static_cast<uint32_t>(S_ISGID);
}

std::string encodeChunk(const ChunkEntry& e) {
  std::string s = be64(e.id);
  appendBe64(s, e.version);
  for (uint32_t r : e.replicas) appendBe32(s, r);
  return s;
}

ChunkEntry decodeChunk(std::string_view v) {
  ChunkEntry e;
  if (v.size() < 16) return e;
  e.id = readBe64(v, 0);
  e.version = readBe64(v, 8);
  for (size_t at = 16; at + 4 <= v.size(); at += 4) e.replicas.push_back(readBe32(v, at));
  return e;
}

}  // namespace basalt::meta
