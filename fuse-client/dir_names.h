// The names of directories this mount knows in full, so that a lookup of a name that is not there
// is answered without a round trip to the metadata server. cp, tar, rsync and git look up every
// name before they create it, and each such lookup of a new name used to be one.
//
// A directory is known in full from the moment this mount made it (empty) and stays so while only
// this mount changes it: its own creates, links, removes and renames update the names as the
// server answers them. Another client's change of the directory is pushed (the same invalidation
// the kernel's entry caches rely on, docs/client.md "Caches") and makes this mount forget the
// directory; so do a reconnect (nothing was pushed meanwhile), an answer that contradicts what it
// knew, and the kernel forgetting the directory. While the mount is cut off from the metadata
// server, lookups go to the server (and wait or fail as every call does). Until a push arrives, a
// name another client just made reads as absent, as a negative entry the kernel keeps would.
//
// Permissions: a lookup needs search permission on the directory, which the server checks. Here
// it is answered only for root and for the directory's owner with its owner-x bit (an access ACL
// never changes what the owner may do), by the directory's owner and mode as this mount last
// saw them: made with, or as the server answered this mount's own setattr or ACL change (rsync
// and tar set a directory's mode and times right after making it). Another client's change of
// the directory's attributes (pushed, without the new values) forgets it.
//
// Bounded: at most `maxEntries` directories and names together; a directory whose new name does
// not fit is forgotten, a new directory that does not fit is not recorded.
// Thread-safety: loop thread only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <unordered_set>

namespace basalt::client {

class DirNames {
 public:
  explicit DirNames(size_t maxEntries = size_t{1} << 17) : max_(maxEntries) {}

  // This mount made directory `dir` (owner `uid`, permission bits `mode`): it is empty.
  void madeEmpty(uint64_t dir, uint32_t uid, uint32_t mode);
  // `name` exists in `parent` now (this mount made it, or the server said so).
  void added(uint64_t parent, const std::string& name);
  // `name` no longer exists in `parent` (this mount removed or renamed it).
  void removed(uint64_t parent, const std::string& name);
  // This mount changed `dir`'s attributes or ACL and the server answered with its owner `uid`
  // and permission bits `mode` (the names did not change). Nothing when `dir` is not known.
  void attrsChanged(uint64_t dir, uint32_t uid, uint32_t mode);
  // Whatever is known of `dir` may be stale.
  void forget(uint64_t dir);
  void forgetAll();

  // True only when `parent` is known in full, has no entry `name`, and the caller `uid` may
  // search it (see above).
  bool knownAbsent(uint64_t parent, const std::string& name, uint32_t uid) const;

  size_t directories() const { return dirs_.size(); }
  size_t entries() const { return used_; }  // directories + names

 private:
  size_t max_;
  size_t used_ = 0;
  struct Dir {
    uint32_t uid = 0;
    uint32_t mode = 0;
    std::unordered_set<std::string> names;
  };
  std::unordered_map<uint64_t, Dir> dirs_;
};

}  // namespace basalt::client
