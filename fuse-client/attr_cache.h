// The full attributes of inodes as the metadata server last reported them, so that getattr (stat
// after the kernel dropped its own copy, e.g. after every write) is answered without a round trip.
//
// Correctness rests on the same invalidation as the kernel's caches (docs/client.md, "Caches"):
// another client's change is pushed and drops the entry; this client's own namespace changes drop
// what they may have touched (a create its parent; a link, unlink, rmdir or rename everything); its
// own setattr, commit and open replies refresh the entry. A reconnect drops everything.
//
// Beside the attributes, the answers to getxattr of names whose reading does not depend on the
// caller (security.* and system.posix_acl_*; `cacheableXattr`): the kernel asks for
// security.capability before every write(2) and `ls -l` for the ACL of every file, and each would
// otherwise be a round trip to the metadata server. An inode this client just created is known to
// have none (the server adds no xattrs at create). Dropping an inode drops its xattrs too; an
// answer fetched while anything was dropped is not kept (`epoch`), so a reply that raced a change
// cannot bring an old value back.
// Thread-safety: loop thread only.
#pragma once

#include <sys/stat.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>

namespace basalt::client {

class AttrCache {
 public:
  explicit AttrCache(size_t maxEntries = size_t{1} << 20) : max_(maxEntries) {}

  // The server's attributes of st.st_ino (its size, not including this client's uncommitted writes).
  void put(const struct stat& st);
  // Null when unknown or dropped.
  const struct stat* get(uint64_t ino) const;
  void drop(uint64_t ino) {
    entries_.erase(ino);
    xattrs_.erase(ino);
    ++epoch_;
  }
  void dropAll() {
    entries_.clear();
    xattrs_.clear();
    ++epoch_;
  }
  size_t size() const { return entries_.size(); }

  // ---- xattrs
  static bool cacheableXattr(const std::string& name);
  // Changes with every drop: take it before asking the server, hand it to putXattr with the answer.
  uint64_t epoch() const { return epoch_; }
  // The server's answer for (ino, name): a value, or nullopt for ENODATA. Ignored when something
  // was dropped since `epoch`, or when the name is not cacheable or the value large.
  void putXattr(uint64_t ino, const std::string& name, std::optional<std::string> value, uint64_t epoch);
  // The inode has no xattrs at all (this client just created it).
  void putNoXattrs(uint64_t ino);
  // Known to have none of the cacheable names (putNoXattrs, and nothing set since). A setattr
  // cannot add one: chmod changes an access ACL only where there is one.
  bool knownWithoutXattrs(uint64_t ino) const;
  // Null when unknown; else the value, or nullopt when the inode has no such xattr.
  const std::optional<std::string>* getXattr(uint64_t ino, const std::string& name) const;

 private:
  struct Xattrs {
    bool complete = false;  // every cacheable name not in `values` is absent
    std::map<std::string, std::optional<std::string>> values;
  };
  Xattrs& xattrsOf(uint64_t ino);

  std::unordered_map<uint64_t, struct stat> entries_;
  std::unordered_map<uint64_t, Xattrs> xattrs_;
  size_t max_;
  uint64_t epoch_ = 0;
};

}  // namespace basalt::client
