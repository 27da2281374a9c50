// Cache invalidation pushed to mounts: after a change is durable, every OTHER session that gave a
// CacheWatcher hears which inodes, file contents and names it touched, so mounts can let the kernel
// cache attributes and names for long (docs/client.md, "Caches").
//
// Delivery is batched per session (one call per loop turn) and best effort: the changer does not
// wait for it. A watcher whose call fails is dropped (its mount reconnects and then drops all of its
// caches); close-to-open consistency never depends on it, because open always asks the server.
// Thread-safety: loop thread only.
#pragma once

#include <kj/async.h>

#include <map>
#include <set>
#include <string>
#include <utility>

#include "rpc-schema/meta.capnp.h"
#include "server/log.h"

namespace basalt::meta {

// What one committed command changed, as far as caches go.
struct CacheChanges {
  std::set<uint64_t> inodes;                          // attributes
  std::set<uint64_t> data;                            // contents or size (pages)
  std::set<std::pair<uint64_t, std::string>> entries;  // (parent, name)
  bool empty() const { return inodes.empty() && data.empty() && entries.empty(); }
  void merge(const CacheChanges& o);
};

// The caches a client command invalidates (nothing for server-internal kinds).
CacheChanges cacheChangesOf(rpc::Command::Reader cmd, rpc::Reply::Reader reply);

class CacheWatchers {
 public:
  explicit CacheWatchers(Logger log);
  ~CacheWatchers();

  void watch(uint64_t session, rpc::CacheWatcher::Client watcher);
  void forget(uint64_t session);
  // The session's watcher (also the mount's callback object for lock recalls), if it gave one.
  kj::Maybe<rpc::CacheWatcher::Client> clientOf(uint64_t session);
  // Queues `changes` for every watcher except `origin`'s.
  void changed(uint64_t origin, const CacheChanges& changes);
  size_t watching() const { return watchers_.size(); }
  uint64_t notificationsSent() const { return sent_; }

 private:
  struct Watcher {
    rpc::CacheWatcher::Client client;
    CacheChanges pending;
    bool scheduled = false;
  };
  void flush(uint64_t session);

  Logger log_;
  std::map<uint64_t, Watcher> watchers_;
  uint64_t sent_ = 0;
  kj::Own<kj::TaskSet::ErrorHandler> errorHandler_;
  kj::Own<kj::TaskSet> tasks_;
};

}  // namespace basalt::meta
