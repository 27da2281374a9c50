#include "meta/fsck.h"

#include <deque>
#include <map>
#include <set>

#include "meta/inode.h"
#include "meta/keys.h"

namespace basalt::meta {

FsckReport fsck(const Store& store) {
  FsckReport r;
  Txn txn = store.beginRead();
  auto problem = [&](std::string s) { r.problems.push_back(std::move(s)); };
  auto ino = [](uint64_t i) { return "inode " + std::to_string(i); };

  std::map<uint64_t, Inode> inodes;
  txn.scan(Table::kInodes, "", [&](std::string_view k, std::string_view v) {
    uint64_t i = readBe64(k);
    if (auto n = decodeInode(i, v)) {
      inodes[i] = *n;
    } else {
      problem(ino(i) + ": unreadable record");
    }
    return true;
  });
  r.inodes = inodes.size();
  auto root = inodes.find(kRootIno);
  if (root == inodes.end() || !root->second.isDir()) problem("the root (inode 1) is missing or not a directory");

  std::map<uint64_t, uint32_t> names, subdirs;
  std::map<uint64_t, std::vector<uint64_t>> dirParents, children;
  txn.scan(Table::kDirents, "", [&](std::string_view k, std::string_view v) {
    ++r.dirents;
    uint64_t parent = readBe64(k);
    std::string name(k.substr(8));
    DirentValue d = decodeDirent(v);
    std::string where = "entry '" + name + "' in directory " + std::to_string(parent);
    auto p = inodes.find(parent);
    if (p == inodes.end() || !p->second.isDir()) problem(where + ": the parent is not a live directory");
    auto c = inodes.find(d.child);
    if (c == inodes.end()) {
      problem(where + ": points to missing " + ino(d.child));
      return true;
    }
    auto back = txn.get(Table::kCookies, cookieKey(parent, d.cookie));
    if (!back || *back != name) problem(where + ": cookie " + std::to_string(d.cookie) + " is not indexed");
    if (p != inodes.end() && d.cookie >= p->second.nextCookie) problem(where + ": cookie beyond the directory's next cookie");
    ++names[d.child];
    children[parent].push_back(d.child);
    if (c->second.isDir()) {
      dirParents[d.child].push_back(parent);
      ++subdirs[parent];
    }
    return true;
  });
  txn.scan(Table::kCookies, "", [&](std::string_view k, std::string_view v) {
    uint64_t parent = readBe64(k), cookie = readBe64(k, 8);
    auto d = txn.get(Table::kDirents, direntKey(parent, v));
    if (!d || decodeDirent(*d).cookie != cookie) {
      problem("cookie " + std::to_string(cookie) + " of directory " + std::to_string(parent) + " names no entry '" +
              std::string(v) + "'");
    }
    return true;
  });

  std::set<uint64_t> orphans;
  txn.scan(Table::kOrphans, "", [&](std::string_view k, std::string_view) {
    uint64_t i = readBe64(k);
    orphans.insert(i);
    auto n = inodes.find(i);
    if (n == inodes.end()) {
      problem("orphan " + ino(i) + " does not exist");
    } else if (n->second.nlink != 0 || names[i] != 0) {
      problem("orphan " + ino(i) + " has nlink " + std::to_string(n->second.nlink) + " and " +
              std::to_string(names[i]) + " names");
    }
    return true;
  });
  r.orphans = orphans.size();

  for (auto& [i, n] : inodes) {
    uint32_t expected;
    if (n.isDir()) {
      auto& parents = dirParents[i];
      if (parents.size() > 1) problem("directory " + std::to_string(i) + " has " + std::to_string(parents.size()) + " parents");
      if (parents.size() == 1 && n.parent != parents[0]) {
        problem("directory " + std::to_string(i) + " records parent " + std::to_string(n.parent) + " but is named in " +
                std::to_string(parents[0]));
      }
      if (i == kRootIno && !parents.empty()) problem("the root is named in directory " + std::to_string(parents[0]));
      bool live = i == kRootIno || !parents.empty();
      expected = live ? 2 + subdirs[i] : 0;
    } else {
      expected = names[i];
    }
    if (n.nlink != expected) {
      problem(ino(i) + ": nlink " + std::to_string(n.nlink) + ", expected " + std::to_string(expected));
    }
    if (n.nlink == 0 && !orphans.count(i)) problem(ino(i) + ": nlink 0 but not an orphan");
    if (n.isLnk() && !txn.exists(Table::kSymlinks, inoKey(i))) problem("symlink " + std::to_string(i) + " has no target");
  }

  // Reachability from the root (a directory cycle cut off from the root shows up here too).
  std::set<uint64_t> seen{kRootIno};
  std::deque<uint64_t> todo{kRootIno};
  while (!todo.empty()) {
    uint64_t d = todo.front();
    todo.pop_front();
    for (uint64_t c : children[d]) {
      if (seen.insert(c).second) todo.push_back(c);
    }
  }
  for (auto& [i, n] : inodes) {
    if (!seen.count(i) && !orphans.count(i)) problem(ino(i) + " is unreachable from the root and not an orphan");
  }

  txn.scan(Table::kSymlinks, "", [&](std::string_view k, std::string_view) {
    uint64_t i = readBe64(k);
    auto n = inodes.find(i);
    if (n == inodes.end() || !n->second.isLnk()) problem("symlink target for " + ino(i) + ", which is not a symlink");
    return true;
  });
  auto ownedBy = [&](Table t, const char* what) {
    txn.scan(t, "", [&](std::string_view k, std::string_view) {
      uint64_t i = readBe64(k);
      if (!inodes.count(i)) problem(std::string(what) + " of missing " + ino(i));
      return true;
    });
  };
  ownedBy(Table::kXattrs, "xattr");
  ownedBy(Table::kChunks, "chunk-map entry");
  ownedBy(Table::kLocks, "lock record");
  ownedBy(Table::kDelegations, "lock delegation");
  return r;
}

}  // namespace basalt::meta
