// The full attributes of inodes as the metadata server last reported them, so that getattr (stat
// after the kernel dropped its own copy, e.g. after every write) is answered without a round trip.
//
// Correctness rests on the same invalidation as the kernel's caches (docs/client.md, "Caches"):
// another client's change is pushed and drops the entry; this client's own namespace changes drop
// what they may have touched (a create its parent; a link, unlink, rmdir or rename everything); its
// own setattr, commit and open replies refresh the entry. A reconnect drops everything.
// Thread-safety: loop thread only.
#pragma once

#include <sys/stat.h>

#include <cstddef>
#include <cstdint>
#include <unordered_map>

namespace basalt::client {

class AttrCache {
 public:
  explicit AttrCache(size_t maxEntries = size_t{1} << 20) : max_(maxEntries) {}

  // The server's attributes of st.st_ino (its size, not including this client's uncommitted writes).
  void put(const struct stat& st);
  // Null when unknown or dropped.
  const struct stat* get(uint64_t ino) const;
  void drop(uint64_t ino) { entries_.erase(ino); }
  void dropAll() { entries_.clear(); }
  size_t size() const { return entries_.size(); }

 private:
  std::unordered_map<uint64_t, struct stat> entries_;
  size_t max_;
};

}  // namespace basalt::client
