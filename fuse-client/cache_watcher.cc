#include "fuse-client/cache_watcher.h"

#include "fuse-client/fs.h"

namespace basalt::client {

kj::Promise<void> CacheWatcherImpl::invalidate(InvalidateContext context) {
  auto p = context.getParams();
  CacheDrop drop;
  for (uint64_t ino : p.getInodes()) drop.inodes.push_back(ino);
  for (uint64_t ino : p.getData()) drop.data.push_back(ino);
  for (auto e : p.getEntries()) drop.entries.emplace_back(e.getParent(), e.getName());
  return fs_.dropCaches(std::move(drop));
}

}  // namespace basalt::client
