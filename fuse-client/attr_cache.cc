#include "fuse-client/attr_cache.h"

namespace basalt::client {

void AttrCache::put(const struct stat& st) {
  // Bounded: past the limit start over (the entries are only a shortcut).
  if (entries_.size() >= max_ && entries_.count(st.st_ino) == 0) entries_.clear();
  entries_[st.st_ino] = st;
}

const struct stat* AttrCache::get(uint64_t ino) const {
  auto it = entries_.find(ino);
  return it == entries_.end() ? nullptr : &it->second;
}

}  // namespace basalt::client
