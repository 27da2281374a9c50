// The mount's end of the metadata server's cache invalidations (meta.capnp, CacheWatcher): other
// clients' changes reach the kernel's attribute, name and page caches, so the mount can let the
// kernel keep them for long (attr_timeout/entry_timeout) without showing stale data for long.
// Thread-safety: loop thread only.
#pragma once

#include "rpc-schema/meta.capnp.h"

namespace basalt::client {

class Filesystem;

class CacheWatcherImpl final : public rpc::CacheWatcher::Server {
 public:
  explicit CacheWatcherImpl(Filesystem& fs) : fs_(fs) {}

 protected:
  // Answers once the kernel has dropped what was named.
  kj::Promise<void> invalidate(InvalidateContext context) override;
  // Gives a lock delegation back (ops::recallLocks).
  kj::Promise<void> recallLocks(RecallLocksContext context) override;

 private:
  Filesystem& fs_;
};

}  // namespace basalt::client
