// The metadata server's domain entry point: one per store, on one event loop. It is the "leader"
// of ../shared/ARCHITECTURE.md with a single node: it fills the non-deterministic fields of
// commands (time, inode numbers, generations, handles, session ids), feeds them to the Committer,
// and keeps what lives only in memory: session leases, open handles, which orphans may be freed.
//
// Open-unlinked files: an inode is "pinned" while any open handle or any inode a client declared
// in renew() refers to it. apply() records an inode whose nlink reached 0 in the orphans table;
// after the commit, an orphan with no pin gets a Reclaim command, as does an orphan whose last pin
// goes (release, renew without it, session expiry). After a start, orphans are only reclaimed once
// one lease has passed, so clients can resume their sessions and re-declare their open inodes.
//
// The RPC adapters (service.h) only translate to and from these methods; tests call them directly.
// Thread-safety: loop thread only.
#pragma once

#include <kj/async.h>
#include <sys/stat.h>

#include <functional>
#include <map>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "meta/capacity.h"
#include "meta/committer.h"
#include "meta/locks/lock_manager.h"
#include "meta/perm.h"
#include "meta/store.h"
#include "meta/cache_watchers.h"
#include "server/clock.h"
#include "server/event_loop.h"
#include "server/log.h"

namespace basalt::meta {

struct MetaOptions {
  uint32_t leaseMs = 10000;
};

struct SessionGrant {
  uint64_t id = 0;
  uint32_t leaseMs = 0;
};

struct Opened {
  Inode attr;
  uint64_t handle = 0;
};

struct SessionSummary {
  uint64_t id = 0;
  std::string clientName;
  int64_t leaseRemainingMs = 0;
  uint32_t openHandles = 0;
};

class MetaServer {
 public:
  // `store`, `clock`, `capacity` must outlive the server.
  MetaServer(EventLoop& loop, Store& store, Clock& clock, CapacitySource& capacity, Logger log,
             MetaOptions options = {});
  ~MetaServer();

  // Loads sessions and orphans from the store, starts the lease watchdog and the orphan grace period.
  void start();

  // Sessions. resume = an id held before: kept when the session still exists, else a new one.
  kj::Promise<Result<SessionGrant>> openSession(std::string clientName, uint64_t resume);
  // Where `session` hears of other sessions' changes from now on (cache_watchers.h).
  Status watch(uint64_t session, rpc::CacheWatcher::Client watcher);
  // The watcher `session` gave, if any (lock recalls go through it).
  kj::Maybe<rpc::CacheWatcher::Client> watcherOf(uint64_t session) { return watchers_.clientOf(session); }
  kj::Timer& timer() { return loop_.timer(); }
  // Renews the lease; `openInodes` replaces the inodes this session declares open (see above).
  Result<uint32_t> renew(uint64_t session, const std::vector<uint64_t>& openInodes);
  // ESTALE when the session is unknown or expired; also counts as activity (extends the lease).
  Status touch(uint64_t session);

  // Every client mutation. Rejects server-internal kinds (EPERM) and unknown sessions (ESTALE);
  // resolves after the change is durable, with its Reply.
  kj::Promise<Applied> mutate(uint64_t session, rpc::Command::Reader command);
  // open(2) of an existing inode; O_TRUNC commits a truncation under `seq` first.
  kj::Promise<Result<Opened>> open(uint64_t session, const Cred& cred, uint64_t ino, uint32_t flags, uint64_t seq);
  Status release(uint64_t session, uint64_t handle);

  Result<Capacity> capacity() { return capacity_.capacity(); }
  std::vector<SessionSummary> sessions() const;
  uint64_t uptimeMs() const;
  const Store& store() const { return store_; }
  Committer& committer() { return committer_; }
  // Clients' read requests served since start, by kind (the session layer counts them).
  struct ReadCounts {
    uint64_t lookup = 0;
    uint64_t getAttr = 0;
    uint64_t readDir = 0;
    uint64_t getLayout = 0;
  };
  ReadCounts& readCounts() { return readCounts_; }
  // Byte-range and flock locks (restored in start(); a session's go when its lease expires).
  LockManager& locks() { return *locks_; }
  bool isOrphan(uint64_t ino) const { return orphans_.count(ino) != 0; }
  bool isPinned(uint64_t ino) const { return pins_.count(ino) != 0; }

  // A server-internal command (session 0): `fill` sets its kind; time is filled in here.
  kj::Promise<Applied> submitInternal(kj::Function<void(rpc::Command::Builder)> fill);

  // Called after a SetAttr that sets the size has committed, before the client hears of it: the
  // data path cuts the chunk holding the new end of file. A failure turns the reply into its error.
  using TruncateHook = std::function<kj::Promise<Status>(uint64_t ino, uint64_t newSize)>;
  void setTruncateHook(TruncateHook hook) { truncateHook_ = std::move(hook); }

  // Called when a client's create(2) of a regular file (`ino`, in directory `parent`) has been
  // queued for commit, in the same turn (not when the name exists already: that create opens the
  // existing file): commands the hook submits now join the create's batch
  // (one commit for both). The data path allocates the file's first chunk this way. The create is
  // answered once it has committed and the promise the hook returns has resolved (it must not
  // reject, and should bound its wait: the client is waiting).
  using CreateHook = std::function<kj::Promise<void>(uint64_t ino, uint64_t parent)>;
  // A create(2) that makes (or opens) a regular file: what the hook is for.
  static bool createsRegularFile(rpc::Command::Reader cmd) {
    return cmd.isCreate() && cmd.getCreate().getOpen() && S_ISREG(cmd.getCreate().getMode());
  }
  void setCreateHook(CreateHook hook) { createHook_ = std::move(hook); }

  // Stops taking mutations (ESHUTDOWN) and resolves when the batch in flight has committed.
  kj::Promise<void> shutdown();

 private:
  // Whether `parent` has an entry `name` in the committed state.
  bool nameExists(uint64_t parent, kj::StringPtr name) const;
  struct SessionState {
    std::string clientName;
    kj::TimePoint expires = kj::origin<kj::TimePoint>();
    std::set<uint64_t> handles;
    std::vector<uint64_t> declared;
    bool closing = false;
  };
  struct Handle {
    uint64_t session;
    uint64_t ino;
  };

  kj::Own<capnp::MallocMessageBuilder> newCommand(uint64_t session);
  void afterCommit(rpc::Command::Reader cmd, Applied& applied);
  void pin(uint64_t ino);
  void unpin(uint64_t ino);
  void maybeReclaim(uint64_t ino);
  void closeSession(uint64_t id, const char* why);
  kj::Promise<void> watchLeases();
  uint64_t newSessionId();

  EventLoop& loop_;
  Store& store_;
  Clock& clock_;
  CapacitySource& capacity_;
  Logger log_;
  MetaOptions options_;
  Committer committer_;
  CacheWatchers watchers_;
  ReadCounts readCounts_;
  kj::TimePoint startedAt_;
  uint64_t nextIno_ = 0;
  uint64_t generation_ = 0;
  uint64_t nextHandle_ = 0;
  bool graceOver_ = false;
  bool stopping_ = false;
  std::map<uint64_t, SessionState> sessions_;
  std::unordered_map<uint64_t, Handle> handles_;
  std::unordered_map<uint64_t, uint32_t> pins_;
  std::set<uint64_t> orphans_;
  std::set<uint64_t> reclaiming_;
  TruncateHook truncateHook_;
  CreateHook createHook_;
  kj::Own<kj::TaskSet::ErrorHandler> errorHandler_;
  kj::Own<kj::TaskSet> tasks_;
  kj::Own<LockManager> locks_;  // destroyed first: its tasks commit through committer_
};

}  // namespace basalt::meta
