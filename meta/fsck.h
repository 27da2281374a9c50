// Offline consistency check of a metadata store (basalt-meta --fsck). Reads one snapshot; never
// changes anything.
// Thread-safety: may run concurrently with anything (it uses a read transaction).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "meta/store.h"

namespace basalt::meta {

struct FsckReport {
  std::vector<std::string> problems;  // one line each, naming the inodes involved
  uint64_t inodes = 0;
  uint64_t dirents = 0;
  uint64_t orphans = 0;
  bool clean() const { return problems.empty(); }
};

// Checks: every entry names a live inode and has its cookie index (and back); nlink of every inode
// equals its names (+2 and subdirectories for directories); no directory has two names and its
// parent pointer matches its entry; orphans have nlink 0 and no names, and every nlink-0 inode is
// an orphan; every inode is reachable from the root except orphans; symlinks have targets; xattrs
// and chunk-map entries belong to live inodes.
FsckReport fsck(const Store& store);

}  // namespace basalt::meta
