#include "fuse-client/dir_names.h"

#include <sys/stat.h>

#include <utility>

namespace basalt::client {

void DirNames::madeEmpty(uint64_t dir, uint32_t uid, uint32_t mode) {
  forget(dir);  // an inode number seen before: start afresh
  if (used_ + 1 > max_) return;
  Dir d;
  d.uid = uid;
  d.mode = mode;
  dirs_.emplace(dir, std::move(d));
  used_ += 1;
}

void DirNames::attrsChanged(uint64_t dir, uint32_t uid, uint32_t mode) {
  auto it = dirs_.find(dir);
  if (it == dirs_.end()) return;
  it->second.uid = uid;
  it->second.mode = mode;
}

void DirNames::added(uint64_t parent, const std::string& name) {
  auto it = dirs_.find(parent);
  if (it == dirs_.end() || it->second.names.count(name) != 0) return;
  if (used_ + 1 > max_) {
    forget(parent);
    return;
  }
  it->second.names.insert(name);
  used_ += 1;
}

void DirNames::removed(uint64_t parent, const std::string& name) {
  auto it = dirs_.find(parent);
  if (it == dirs_.end()) return;
  used_ -= it->second.names.erase(name);
}

void DirNames::forget(uint64_t dir) {
  auto it = dirs_.find(dir);
  if (it == dirs_.end()) return;
  used_ -= 1 + it->second.names.size();
  dirs_.erase(it);
}

void DirNames::forgetAll() {
  dirs_.clear();
  used_ = 0;
}

bool DirNames::knownAbsent(uint64_t parent, const std::string& name, uint32_t uid) const {
  if (name == "." || name == "..") return false;  // never entries of the directory itself
  auto it = dirs_.find(parent);
  if (it == dirs_.end() || it->second.names.count(name) != 0) return false;
  return uid == 0 || (uid == it->second.uid && (it->second.mode & S_IXUSR) != 0);
}

}  // namespace basalt::client
