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

namespace {
constexpr size_t kMaxXattrValue = 4096;  // larger values are fetched each time
const std::optional<std::string> kAbsent;
}  // namespace

bool AttrCache::cacheableXattr(const std::string& name) {
  if (name.size() > 255) return false;  // ERANGE is the server's to say
  return name.rfind("security.", 0) == 0 || name == "system.posix_acl_access" ||
         name == "system.posix_acl_default";
}

AttrCache::Xattrs& AttrCache::xattrsOf(uint64_t ino) {
  if (xattrs_.size() >= max_ && xattrs_.count(ino) == 0) xattrs_.clear();
  return xattrs_[ino];
}

void AttrCache::putXattr(uint64_t ino, const std::string& name, std::optional<std::string> value,
                         uint64_t epoch) {
  if (epoch != epoch_ || !cacheableXattr(name)) return;
  if (value && value->size() > kMaxXattrValue) return;
  xattrsOf(ino).values[name] = std::move(value);
}

void AttrCache::putNoXattrs(uint64_t ino) {
  Xattrs& x = xattrsOf(ino);
  x.complete = true;
  x.values.clear();
}

bool AttrCache::knownWithoutXattrs(uint64_t ino) const {
  auto it = xattrs_.find(ino);
  if (it == xattrs_.end() || !it->second.complete) return false;
  for (const auto& [name, value] : it->second.values) {
    if (value) return false;
  }
  return true;
}

const std::optional<std::string>* AttrCache::getXattr(uint64_t ino, const std::string& name) const {
  if (!cacheableXattr(name)) return nullptr;
  auto it = xattrs_.find(ino);
  if (it == xattrs_.end()) return nullptr;
  auto v = it->second.values.find(name);
  if (v != it->second.values.end()) return &v->second;
  return it->second.complete ? &kAbsent : nullptr;
}

}  // namespace basalt::client
