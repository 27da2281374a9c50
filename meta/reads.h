// The read side of the namespace: lookups, attributes, directory listing, symlinks, xattrs,
// access checks. Each call runs in its own short read transaction on the caller's thread (the
// loop thread in the server); reads see the last committed state and never block on the writer.
//
// Thread-safety: every function may run concurrently with anything (LMDB MVCC).
#pragma once

#include <string>
#include <vector>

#include "meta/inode.h"
#include "meta/perm.h"
#include "meta/store.h"
#include "rpc-schema/common.capnp.h"

namespace basalt::meta {

// lookup: search (x) permission on `parent`; "." and ".." resolve to the directory and its parent.
Result<Inode> lookup(const Store& store, const Cred& cred, uint64_t parent, const std::string& name);
Result<Inode> getAttr(const Store& store, uint64_t ino);

struct DirEntryOut {
  std::string name;
  uint64_t ino = 0;
  uint32_t mode = 0;     // full mode when plus, else only the type bits
  uint64_t cookie = 0;
  Inode attr;            // filled with plus
};
struct DirPage {
  std::vector<DirEntryOut> entries;
  bool eof = false;
};
// Entries after `cookie` (0 = from the start: "." is cookie 1, ".." cookie 2, then entries in the
// order they were added). Cookies are never reused in a directory, so paging survives concurrent
// changes: no duplicates, and every entry present for the whole listing is returned. Needs read
// permission on the directory.
Result<DirPage> readDir(const Store& store, const Cred& cred, uint64_t ino, uint64_t cookie, uint32_t maxEntries,
                        bool plus);

Result<std::string> readLink(const Store& store, uint64_t ino);
Result<std::string> getXattr(const Store& store, const Cred& cred, uint64_t ino, const std::string& name);
// trusted.* names are hidden from non-root callers.
Result<std::vector<std::string>> listXattr(const Store& store, const Cred& cred, uint64_t ino);
// access(2): mask of kMay* (0 = existence).
Status access(const Store& store, const Cred& cred, uint64_t ino, uint32_t mask);
// open(2) of an existing inode: EISDIR for writing a directory, ELOOP for a symlink, EACCES.
Result<Inode> checkOpen(const Store& store, const Cred& cred, uint64_t ino, uint32_t flags);
// How many inodes exist (for statfs and clusterInfo).
uint64_t inodeCount(const Store& store);

}  // namespace basalt::meta
