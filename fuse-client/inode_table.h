// What this mount knows about the inodes the kernel holds: exact lookup counts (every entry reply
// the kernel accepted counts one; forget subtracts), open handles, the last size/mtime/chunk size
// seen, and what the last open saw (for keep_cache).
//
// An entry is freed only when forget brings its lookup count to 0 and no handle is open. The root
// (inode 1) is pinned: the kernel holds it for the life of the mount.
// Thread-safety: loop thread only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <unordered_map>
#include <vector>

namespace basalt::client {

constexpr uint64_t kRootIno = 1;

struct FileTime {
  int64_t sec = 0;
  uint32_t nsec = 0;
  bool operator==(const FileTime& o) const { return sec == o.sec && nsec == o.nsec; }
  bool operator!=(const FileTime& o) const { return !(*this == o); }
};

// The attributes the client keeps per inode (a subset of rpc::Attr).
struct AttrSnapshot {
  uint64_t ino = 0;
  uint64_t size = 0;
  FileTime mtime;
  uint32_t chunkSize = 0;
  uint32_t uid = 0;
  uint32_t mode = 0;
};

struct InodeInfo {
  uint64_t lookups = 0;
  uint32_t openHandles = 0;
  AttrSnapshot attr;
  bool openedBefore = false;  // keep_cache is only possible after a first open
  uint64_t openSize = 0;      // size and mtime at the last open
  FileTime openMtime;
};

class InodeTable {
 public:
  InodeTable();

  // The kernel accepted an entry reply for `attr.ino` (lookup, create, mkdir, link, readdirplus...).
  void addLookup(const AttrSnapshot& attr);
  // Forget `n` lookups. Returns true when the entry was freed (its caches may go too). Forgetting
  // more than was counted clamps at 0 (and is logged by the caller as a bug).
  bool forget(uint64_t ino, uint64_t n);

  // Fresh attributes from the server: updates a known inode; unknown inodes are ignored.
  void noteAttr(const AttrSnapshot& attr);
  // This client wrote up to `end`: the size it reports grows at once (before the commit).
  void noteLocalSize(uint64_t ino, uint64_t end);

  // An open of `attr.ino` succeeded with these attributes. Returns whether the kernel may keep its
  // page cache: only when a previous open saw the same size and mtime.
  bool noteOpen(const AttrSnapshot& attr);
  void noteRelease(uint64_t ino);

  const InodeInfo* find(uint64_t ino) const;
  uint64_t lookupCount(uint64_t ino) const;
  size_t size() const { return inodes_.size(); }
  // Every inode the kernel knows of.
  std::vector<uint64_t> all() const;
  // Inodes with at least one open handle (re-declared to the metadata server on renew).
  std::vector<uint64_t> openInodes() const;

 private:
  InodeInfo& entry(uint64_t ino);
  void maybeErase(uint64_t ino);
  std::unordered_map<uint64_t, InodeInfo> inodes_;
};

}  // namespace basalt::client
