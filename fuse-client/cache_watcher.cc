#include "fuse-client/cache_watcher.h"

#include "fuse-client/fs.h"
#include "fuse-client/ops.h"

namespace basalt::client {

kj::Promise<void> CacheWatcherImpl::invalidate(InvalidateContext context) {
  auto p = context.getParams();
  CacheDrop drop;
  for (uint64_t ino : p.getInodes()) drop.inodes.push_back(ino);
  for (uint64_t ino : p.getData()) drop.data.push_back(ino);
  for (auto e : p.getEntries()) drop.entries.emplace_back(e.getParent(), e.getName());
  return fs_.dropCaches(std::move(drop));
}

kj::Promise<void> CacheWatcherImpl::recallLocks(RecallLocksContext context) {
  auto p = context.getParams();
  return ops::recallLocks(fs_, p.getIno(), p.getDelegation()).then([context](std::optional<std::string> state) mutable {
    auto r = context.getResults();
    r.setHeld(state.has_value());
    if (state) r.setState(kj::arrayPtr(reinterpret_cast<const kj::byte*>(state->data()), state->size()));
  });
}

}  // namespace basalt::client
