// The chunk server's logic: roles (primary/backup) per chunk, versions, leases, the per-chunk
// primary-backup log, and what happens when a backup fails. docs/chunk.md numbers the steps of the
// write protocol and walks through each failure; this header states the contracts.
//
// Ordering: every store call for one chunk runs through that chunk's queue, one at a time, on a
// worker thread (EventLoop::offload); the loop never blocks. On the primary an op gets its log
// sequence number when its local apply finishes, in queue order, and its forwards are issued in the
// same turn, so forwards leave in sequence order. A backup applies forwards strictly in sequence
// order and holds back (up to ChunkServerConfig::maxHeldBack) any that arrive early.
//
// Thread-safety: loop thread only. Several ChunkServers may live in one process (tests).
#pragma once

#include <kj/async.h>
#include <kj/function.h>

#include <deque>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "chunk/chunk_store.h"
#include "chunk/op.h"
#include "chunk/peer_pool.h"
#include "rpc-schema/chunk.capnp.h"
#include "server/event_loop.h"
#include "server/log.h"
#include "server/rpc.h"
#include "server/status.h"

namespace basalt::chunk {

struct ChunkServerConfig {
  uint32_t forwardTimeoutMs = 2000;  // deadline of every call to a peer or the registry
  size_t maxHeldBack = 1024;         // early forwards a backup holds per chunk before refusing
  bool compressPeers = true;         // zstd on forwards and installs where it pays (op.h)
};

// Data this server sent to peers (forwards and installs): as written, and as sent.
struct PeerTraffic {
  uint64_t rawBytes = 0;
  uint64_t wireBytes = 0;
};

struct Replica {
  uint32_t id = 0;
  std::string address;
};

struct UpdateResult {
  Status status;
  uint64_t version = 0;
};
struct ReadResult {
  Status status;
  Bytes data;
};
struct InfoResult {
  Status status;
  ChunkMeta info;
  Bytes data;  // fetch only
};

class ChunkServer {
 public:
  // `store` must outlive this object.
  ChunkServer(EventLoop& loop, ChunkStore& store, Logger log, ChunkServerConfig config);
  ~ChunkServer();

  // Loads what the store holds. Must complete before any other call.
  kj::Promise<void> start();

  // This server's id (0 until registered) and the address peers know it by; used to find itself in
  // an assign's replica list (by id when non-zero, else by address) and to name itself in messages.
  void setIdentity(uint32_t id, std::string address);
  uint32_t id() const { return id_; }
  const std::string& address() const { return address_; }
  std::string name() const;

  // The metadata server's registry, for reportFailure. Until set (or after clearRegistry()), a
  // backup failure fails the op with EIO.
  void setRegistry(rpc::ChunkRegistry::Client registry, std::string metaAddress);
  void clearRegistry();

  // Client -> primary. ESTALE unless this server is the chunk's primary at `version` with a live
  // lease. Answers once every replica of the current set has applied the op (dropping failed
  // backups through the registry first); EIO when a failed backup could not be dropped.
  kj::Promise<UpdateResult> update(uint64_t id, uint64_t version, Op op);
  // Any replica at `version` (ESTALE otherwise; EAGAIN while it awaits its primary's install).
  kj::Promise<ReadResult> read(uint64_t id, uint64_t version, uint32_t offset, uint32_t length);
  // fsync here; on the primary also on every backup (failed backups are dropped as for update).
  kj::Promise<Status> sync(uint64_t id, uint64_t version);
  // Primary -> backup: op number `seq` of the chunk's log, sent at the primary's `version`.
  kj::Promise<Status> forward(uint64_t id, uint64_t version, uint64_t seq, Op op);
  // Metadata server -> replica: version, replica set, primary and lease. On the primary of a new
  // version it answers after every backup was brought to the primary's state (install), unless
  // `fresh` (a just-allocated chunk that no replica holds data of: nothing to install).
  kj::Promise<InfoResult> assign(uint64_t id, uint64_t version, std::vector<Replica> replicas,
                                 uint32_t primary, uint32_t leaseMs, bool fresh = false);
  // Drops chunk `id`; with `belowVersion` non-zero only if this replica is older than that.
  kj::Promise<Status> remove(uint64_t id, uint64_t belowVersion = 0);
  kj::Promise<InfoResult> fetch(uint64_t id, uint64_t version);
  // Primary -> backup: the whole chunk (`data` may be compressed: Payload).
  kj::Promise<Status> install(uint64_t id, uint64_t version, Payload data);
  kj::Promise<std::vector<ChunkMeta>> list();

  // This server's replica of chunk `id` at `version` failed its CRC check (a client read or the
  // scrubber found it): ask the metadata server to drop it from the chunk's set, so the chunk is
  // copied again from a good replica. Once per (chunk, version); outcome logged.
  void reportDamage(uint64_t id, uint64_t version, const Status& why);

  const PeerTraffic& peerTraffic() const { return traffic_; }

  // Refuses new requests (ESHUTDOWN) and resolves when those in flight have finished.
  kj::Promise<void> drain();

 private:
  struct Held {
    uint64_t version;
    Op op;
    kj::Own<kj::PromiseFulfiller<Status>> done;
  };
  struct Chunk {
    bool exists = false;
    uint64_t version = 0;
    ChunkState state = ChunkState::kOk;
    std::vector<Replica> replicas;
    bool isPrimary = false;
    bool caughtUp = false;           // primary: every backup got our install at this version
    kj::TimePoint leaseEnd = kj::origin<kj::TimePoint>();
    // The log, as forwards see it. On the primary it changes in the chunk's queue (ops queued before
    // an assign are forwarded at the old version to the old set); on a backup at arrival.
    uint64_t logVersion = 0;
    std::vector<Replica> logBackups;  // primary only
    uint64_t lastSeq = 0;            // primary: last given out; backup: last taken for applying
    std::map<uint64_t, Held> heldBack;
    kj::Promise<void> queue = kj::READY_NOW;     // store calls, in order
    kj::Promise<void> failures = kj::READY_NOW;  // dropping failed backups, one at a time
  };
  struct Failure {
    Replica replica;
    Status why;
  };
  class InFlight;

  Chunk& chunk(uint64_t id);
  std::vector<Replica> backupsOf(const Chunk& c) const;
  bool isSelf(const Replica& r) const;
  Status checkReadable(uint64_t id, uint64_t version);

  // Runs `fn` after every earlier call queued for chunk `id` has finished.
  template <typename T>
  kj::Promise<T> inOrder(uint64_t id, kj::Function<kj::Promise<T>()> fn);
  // The op as a worker applied it: unpacked first when it came compressed, packed afterwards for
  // the forwards when `packForPeers`.
  struct Applied {
    Status status;
    Op op;
  };
  kj::Promise<Applied> applyLocal(uint64_t id, Op op, bool packForPeers);
  kj::Promise<Status> persistMeta(uint64_t id, uint64_t version, ChunkState state);
  // A fresh chunk's files, made in its queue now (after its index entry) but not waited for by the
  // assign: its first write finds them made, instead of creating them on the primary and then on
  // the backup while the writer waits.
  void prepareFiles(uint64_t id);

  // Calls a peer with the forward deadline; disconnects and timeouts become a Status naming it.
  kj::Promise<Status> callPeer(const Replica& r, std::string what,
                               kj::Function<kj::Promise<Status>(rpc::ChunkService::Client&)> call);
  kj::Promise<Status> sendForward(const Replica& r, uint64_t id, uint64_t version, uint64_t seq,
                                  const Op& op);
  // Waits for every (replica, call) and drops those that failed; Status of the whole.
  kj::Promise<Status> awaitBackups(uint64_t id, std::vector<Replica> replicas,
                                   kj::Array<kj::Promise<Status>> calls);
  kj::Promise<Status> dropBackups(uint64_t id, std::vector<Failure> failed);
  kj::Promise<Status> dropNext(uint64_t id, std::shared_ptr<std::deque<Failure>> queue);
  kj::Promise<Status> catchUpBackups(uint64_t id);
  void pumpForwards(uint64_t id);

  EventLoop& loop_;
  ChunkStore& store_;
  Logger log_;
  ChunkServerConfig config_;
  PeerPool peers_;
  uint32_t id_ = 0;
  std::string address_;
  kj::Maybe<rpc::ChunkRegistry::Client> registry_;
  std::set<std::pair<uint64_t, uint64_t>> damageReported_;
  std::string metaAddress_ = "(none)";
  std::map<uint64_t, Chunk> chunks_;
  bool stopping_ = false;
  size_t inFlight_ = 0;
  PeerTraffic traffic_;
  kj::Maybe<kj::Own<kj::PromiseFulfiller<void>>> drained_;
  TaskLogger taskLogger_;
  kj::TaskSet tasks_;  // last member: its tasks refer to the members above
};

}  // namespace basalt::chunk
