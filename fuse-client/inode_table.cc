#include "fuse-client/inode_table.h"

namespace basalt::client {

InodeTable::InodeTable() {
  auto& root = inodes_[kRootIno];
  root.lookups = 1;
  root.attr.ino = kRootIno;
}

InodeInfo& InodeTable::entry(uint64_t ino) {
  auto& e = inodes_[ino];
  e.attr.ino = ino;
  return e;
}

void InodeTable::addLookup(const AttrSnapshot& attr) {
  auto& e = entry(attr.ino);
  e.lookups++;
  e.attr = attr;
}

bool InodeTable::forget(uint64_t ino, uint64_t n) {
  auto it = inodes_.find(ino);
  if (it == inodes_.end()) return false;
  if (ino == kRootIno) return false;
  it->second.lookups = n >= it->second.lookups ? 0 : it->second.lookups - n;
  size_t before = inodes_.size();
  maybeErase(ino);
  return inodes_.size() < before;
}

void InodeTable::maybeErase(uint64_t ino) {
  auto it = inodes_.find(ino);
  if (it != inodes_.end() && ino != kRootIno && it->second.lookups == 0 &&
      it->second.openHandles == 0) {
    inodes_.erase(it);
  }
}

void InodeTable::noteAttr(const AttrSnapshot& attr) {
  auto it = inodes_.find(attr.ino);
  if (it != inodes_.end()) it->second.attr = attr;
}

void InodeTable::noteLocalSize(uint64_t ino, uint64_t end) {
  auto it = inodes_.find(ino);
  if (it != inodes_.end() && end > it->second.attr.size) it->second.attr.size = end;
}

bool InodeTable::noteOpen(const AttrSnapshot& attr) {
  auto& e = entry(attr.ino);
  bool keep = e.openedBefore && e.openSize == attr.size && e.openMtime == attr.mtime;
  e.attr = attr;
  e.openedBefore = true;
  e.openSize = attr.size;
  e.openMtime = attr.mtime;
  e.openHandles++;
  return keep;
}

void InodeTable::noteRelease(uint64_t ino) {
  auto it = inodes_.find(ino);
  if (it == inodes_.end()) return;
  if (it->second.openHandles > 0) it->second.openHandles--;
  // The size and mtime our own writes produced are what the next open compares against.
  it->second.openSize = it->second.attr.size;
  it->second.openMtime = it->second.attr.mtime;
  maybeErase(ino);
}

const InodeInfo* InodeTable::find(uint64_t ino) const {
  auto it = inodes_.find(ino);
  return it == inodes_.end() ? nullptr : &it->second;
}

uint64_t InodeTable::lookupCount(uint64_t ino) const {
  const InodeInfo* e = find(ino);
  return e ? e->lookups : 0;
}

std::vector<uint64_t> InodeTable::openInodes() const {
  std::vector<uint64_t> out;
  for (const auto& [ino, e] : inodes_) {
    if (e.openHandles > 0) out.push_back(ino);
  }
  return out;
}

std::vector<uint64_t> InodeTable::all() const {
  std::vector<uint64_t> out;
  out.reserve(inodes_.size());
  for (const auto& kv : inodes_) out.push_back(kv.first);
  return out;
}

}  // namespace basalt::client
