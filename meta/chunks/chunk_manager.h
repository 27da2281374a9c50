// The metadata server's side of the data path: the chunk-server registry (registration,
// heartbeats, liveness), chunk allocation from the placement ring, primary leases, failure
// reports from primaries, and deleting freed chunks. docs/design.md walks through the protocol;
// this header states the contracts.
//
// Leases: a chunk has at most one primary with an unexpired lease. The leader records a lease as
// expiring leaseMs after it RECEIVED the primary's answer to assign (the primary counts from when it
// got the assign, which is earlier), and appoints another primary only after that. A new primary
// always comes with a new version, so the backups, which learn the version first, refuse forwards
// from an old primary. After a start, no lease is granted for one lease period: a primary appointed
// before the restart may still hold one.
//
// Thread-safety: loop thread only.
#pragma once

#include <kj/async.h>

#include <deque>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "meta/capacity.h"
#include "meta/meta_server.h"
#include "meta/placement/move_plan.h"
#include "meta/placement/ring.h"
#include "rpc-schema/chunk.capnp.h"
#include "server/event_loop.h"
#include "server/log.h"

namespace basalt::meta {

// Liveness, in order (docs/meta.md, "Liveness and the hang budget"): silent for suspectMs =
// suspect (no new chunks or primaries on it); for repairDelayMs = its replicas leave their sets and
// are copied elsewhere; for deadMs = dead (nothing is sent to it; it must register again, and what
// it reports then is reconciled against the chunk map). The defaults keep a hung server's cost to
// a writer within 3 s: suspect after 1.5 s, a lease ends within 2 s, a hung callee is given up
// after 2.5 s (more than a primary's 2 s forward deadline plus its failure report).
struct ChunkOptions {
  uint32_t heartbeatMs = 500;      // how often chunk servers heartbeat
  uint32_t suspectMs = 1500;       // silent this long: no new chunks or primaries on it
  uint32_t deadMs = 30000;         // silent this long: dead
  uint32_t leaseMs = 2000;         // a primary's lease: a hung primary is replaced after at most this
  uint32_t callTimeoutMs = 2500;   // deadline of every call to a chunk server
  uint32_t gcIntervalMs = 1000;    // how often freed chunks are deleted from chunk servers
  uint32_t repairDelayMs = 10000;  // a replica on a server silent this long leaves its set and is
                                   // copied elsewhere (a suspect server may just be slow)
  uint32_t repairIntervalMs = 1000;  // how often the chunk map is scanned for missing replicas
  uint32_t maxRepairs = 4;         // chunk copies in flight at once (throttle)
  uint32_t maxMoves = 2;           // rebalancing moves in flight at once
  uint64_t moveBytesPerSec = 32ull << 20;  // rebalancing copy rate bound (0 = unbounded)
};

struct RepairStats {
  uint64_t chunks = 0, underReplicated = 0, missing = 0, repairsDone = 0;
  uint32_t inFlight = 0;
};

struct RebalanceStats {
  uint64_t toMove = 0;  // chunks not where the ring puts them (at the last scan)
  uint32_t inFlight = 0;
  uint64_t done = 0;    // moves completed since start
};

struct ServerRef {
  uint32_t id = 0;
  std::string address;
};

// Where one chunk lives (the wire's ChunkLayout). chunkId 0 = a hole.
struct Layout {
  uint32_t index = 0;
  uint64_t chunkId = 0;
  uint64_t version = 0;
  std::vector<ServerRef> replicas;
  uint32_t primary = 0;
  int64_t leaseExpiryMs = 0;  // ms from now; 0 when no lease is held
};

struct ReportedChunk {
  uint64_t id = 0;
  uint64_t version = 0;
};

enum class ServerState { kAlive, kSuspect, kDead };

struct ServerView {
  uint32_t id = 0;
  std::string address, zone;
  bool alive = false;  // usable: registered and heard from within suspectMs
  ServerState state = ServerState::kDead;
  bool draining = false;
  uint64_t capacity = 0, used = 0, chunks = 0;
  int64_t lastHeartbeatMsAgo = -1;
  uint64_t chunksInMap = 0;  // replicas the chunk map places on it (last scan)
  uint32_t movesOffInFlight = 0;
  uint64_t movesOffDone = 0;
};

class ChunkManager final : public CapacitySource {
 public:
  ChunkManager(EventLoop& loop, MetaServer& server, Logger log, ChunkOptions options = {});
  ~ChunkManager() noexcept override;

  // Loads known servers and the chunk id counter; starts the liveness watchdog and the collector of
  // freed chunks. Also makes `server` cut the last chunk of a file on truncation.
  void start();

  // ---- chunk servers
  // A server (re)registers: `id` 0 = new. Resolves with its id. Chunks it reports that no file
  // refers to, or that are older than the current version, or that it should not hold, are deleted.
  kj::Promise<Result<uint32_t>> registerServer(uint32_t id, std::string address, std::string zone,
                                               uint64_t capacity, uint64_t used,
                                               std::vector<ReportedChunk> chunks,
                                               rpc::ChunkService::Client service);
  // ESTALE for an id that has not registered since this metadata server started (re-register).
  Status heartbeat(uint32_t id, uint64_t capacity, uint64_t used, uint64_t chunkCount);
  // A primary could not reach `serverId` for chunk `chunkId` at `version`: it leaves the replica
  // set; resolves with the new version (ESTALE when `version` is not current).
  kj::Promise<Result<uint64_t>> reportFailure(uint64_t chunkId, uint64_t version, uint32_t serverId,
                                              std::string reason);

  // ---- clients
  // forWrite: allocates a hole and makes sure a live replica holds a primary lease. `unresponsive`:
  // a client got no answer from this primary (0 = none): decide once its heartbeat is due.
  kj::Promise<Result<Layout>> getLayout(uint64_t ino, uint32_t index, bool forWrite, uint32_t unresponsive = 0);
  // The layout of a chunk whose primary holds a lease with at least half of it left (what
  // getLayout forWrite would answer at once), without waiting; none otherwise. A create's reply
  // carries its chunk 0's this way.
  kj::Maybe<Layout> heldLayout(uint64_t ino, uint32_t index) const;

  // `basalt drain`: `server` is an id in decimal or an address. A draining server leaves the ring
  // (durably: a SetServerDraining command); the rebalancer moves its chunks. Resolves with its id;
  // ENOENT for an unknown server.
  kj::Promise<Result<uint32_t>> setDraining(std::string server, bool draining);

  Result<Capacity> capacity() override;
  std::vector<ServerView> servers() const;
  std::string addressOf(uint32_t id) const;
  std::string zoneOf(uint32_t id) const;
  uint32_t heartbeatMs() const { return options_.heartbeatMs; }
  const RepairStats& repairStats() const { return repair_; }
  const RebalanceStats& rebalanceStats() const { return rebalance_; }

 private:
  struct Server {
    std::string address, zone;
    bool registered = false;  // registered since this start (we hold its capability)
    bool alive = false;
    bool dead = false;        // silent for deadMs: its capability was dropped until it registers
    bool draining = false;    // out of the ring; its chunks move elsewhere
    uint64_t chunksInMap = 0, movesOffDone = 0;
    uint32_t movesOffInFlight = 0;
    kj::Maybe<rpc::ChunkService::Client> service;
    uint64_t capacity = 0, used = 0, chunks = 0;
    kj::TimePoint lastHeartbeat = kj::origin<kj::TimePoint>();
    kj::TimePoint unusableSince = kj::origin<kj::TimePoint>();  // when it last stopped being usable
  };
  struct Lease {
    uint32_t primary = 0;
    uint64_t version = 0;
    kj::TimePoint expires = kj::origin<kj::TimePoint>();
  };
  struct Entry {
    uint64_t ino = 0;
    uint32_t index = 0;
    uint64_t id = 0;
    uint64_t version = 0;
    std::vector<uint32_t> replicas;
  };

  kj::Promise<Result<Layout>> allocate(uint64_t ino, uint32_t index, uint8_t replication,
                                       int attempt);
  // A new chunk for (ino, index): the next id, version 1, replicas from the ring (fewer, or none,
  // when not enough servers are live).
  Entry newEntry(uint64_t ino, uint32_t index, uint8_t replication);
  // Appoints the first primary of a chunk just recorded (every replica assigned at once: fresh).
  kj::Promise<Result<Layout>> appointNew(const Entry& e);
  // The create hook: allocates chunk 0 of a file being created, with its SetChunk in the create's
  // commit, and assigns it to its replicas meanwhile (a getLayout of it waits for both). Does
  // nothing without enough live servers; the first write then allocates as before. Resolves once
  // both are done (or after a short bound), never rejects.
  kj::Promise<void> preallocate(uint64_t ino, uint64_t parent);
  // How a preallocation's assignments went: the primary's status, and the backups that failed.
  struct Assigned {
    Status status;
    std::vector<uint32_t> failed;
  };
  // After the preallocation's commit (`recorded`) and assignments: the appointment finished
  // (afterAssign: the lease recorded, or the replicas that failed left out), or the replicas told
  // to drop a chunk whose create made no file.
  kj::Promise<Result<Layout>> settlePreallocated(const Entry& e, Status recorded, const Assigned& assigned);
  kj::Promise<Result<Layout>> ensurePrimary(Entry e, int attempt, uint32_t unresponsive = 0);
  // `fresh`: the chunk was just allocated and never had a primary, so it holds no data anywhere and
  // may be placed anew if its first primary fails.
  kj::Promise<Result<Layout>> appoint(Entry e, std::vector<uint32_t> live, bool bump, int attempt,
                                      bool fresh = false);
  // What an appointment does once its assignments are answered: `st` is the primary's, `failed`
  // the backups that refused or did not answer. Records the lease and drops failed backups (a new
  // version), or, when the primary failed, places a fresh chunk anew or appoints another replica.
  kj::Promise<Result<Layout>> afterAssign(Entry n, uint32_t primary, Status st, const std::vector<uint32_t>& failed,
                                          int attempt, bool fresh);
  kj::Promise<Status> setChunk(const Entry& e, uint64_t expectVersion, uint64_t replaces = 0);
  // `renewal`: the same primary at the same version gets a longer lease; the backups, which know
  // both already, are not called (a hung backup must not hold up the renewal). `fresh`: a
  // just-allocated chunk that no replica holds data of; assigned everywhere at once.
  kj::Promise<Status> assignAll(const Entry& e, uint32_t primaryIndex, std::vector<uint32_t>& failed,
                                bool renewal = false, bool fresh = false);
  // Resolves (EHOSTDOWN) once server `id` is no longer usable (suspect, dead); polls at half a
  // heartbeat. Joined with calls that should not wait out their deadline on a silent server.
  kj::Promise<Status> untilUnusable(uint32_t id);
  // assign to replica `index` of `e`, naming replica `primaryIndex` the primary.
  kj::Promise<Status> assignOne(const Entry& e, uint32_t index, uint32_t primaryIndex,
                                bool fresh = false);
  kj::Promise<Status> truncateTail(uint64_t ino, uint64_t newSize);
  // The serialization key of allocating chunk `index` of `ino` (chunk ids are the other keys).
  static uint64_t allocationKey(uint64_t ino, uint32_t index) { return (1ull << 63) | ((ino << 24) ^ index); }
  // Runs `fn` after every earlier task queued for the same chunk (one change of a chunk at a time).
  kj::Promise<Result<Layout>> serialized(uint64_t key, kj::Function<kj::Promise<Result<Layout>>()> fn);
  kj::Maybe<Entry> loadEntry(uint64_t ino, uint32_t index) const;
  kj::Maybe<Entry> loadEntryById(uint64_t chunkId) const;
  Layout layoutOf(const Entry& e, uint32_t primaryIndex) const;
  bool usable(uint32_t id) const;
  kj::Promise<void> watchLiveness();
  // Marks servers silent for suspectMs suspect and for deadMs dead (and rebuilds the ring).
  void markSilentServers();
  // Every gcIntervalMs, or at once after a full round: deletes up to kGcBatch freed chunks on their
  // servers and drops their garbage rows.
  kj::Promise<void> collectGarbage();
  kj::Promise<void> collectGarbageNow();
  static constexpr size_t kGcBatch = 256;
  // Restores replica counts: scans the chunk map, starts up to maxRepairs copies, single-copy
  // chunks first.
  kj::Promise<void> repairLoop();
  // One pass over the chunk map: counts (status), repair candidates, rebalancing moves; starts
  // what the slots allow. Run by repairLoop and whenever a server's liveness changes.
  void scanChunkMap();
  kj::Promise<Result<Layout>> repairChunk(uint64_t ino, uint32_t index, uint8_t replication);
  // A replica on `id` counts as gone (it leaves the set and is copied elsewhere).
  bool gone(uint32_t id) const;
  // A server that was suspect is heard from again: delete the replicas it holds that were
  // re-replicated (or freed) meanwhile.
  void reconcile(uint32_t id);
  // Deletes the replica of `chunkId` on `serverId` if it is older than `belowVersion` (0: any).
  void deleteOn(uint32_t serverId, uint64_t chunkId, uint64_t belowVersion, const char* why);
  void rebuildRing();
  ServerState stateOf(uint32_t id) const;

  // ---- rebalancing (rebalancer.cc)
  struct MoveCandidate {
    uint64_t ino;
    uint32_t index;
    uint64_t chunkId;
    uint8_t replication;
    uint64_t bytes;  // estimated copy size
    uint32_t from;
  };
  // Starts queued repairs while slots allow (called after each scan and each finished repair).
  void startRepairs();
  // Starts queued moves while slots, the byte throttle and the absence of waiting repairs allow.
  void startMoves();
  // One move of one chunk, in its serialized turn: add the ring's server (copy + new version),
  // then drop the misplaced replica (new version) and delete it there.
  kj::Promise<Result<Layout>> moveChunk(uint64_t ino, uint32_t index, uint8_t replication);
  // Drops the misplaced replica of `e` (a new version without it) and deletes it there.
  kj::Promise<Result<Layout>> trimChunk(const Entry& e, uint8_t replication, uint32_t addedTo);
  // The replica that should be primary of `e` now: the lease holder when one holds a live lease
  // in `prefer`, else the first usable in `prefer` (0 = wait: a lease holder outside `prefer` is
  // unreachable, or no lease may be granted yet). A reachable holder outside `prefer` loses the role:
  // the new version fences it (backups refuse its forwards, so it can acknowledge nothing more).
  uint32_t currentPrimary(const Entry& e, const std::vector<uint32_t>& prefer) const;

  EventLoop& loop_;
  MetaServer& server_;
  Logger log_;
  ChunkOptions options_;
  std::map<uint32_t, Server> servers_;
  std::map<uint64_t, Lease> leases_;
  // Chunks assigned with a create whose commit has not come back yet: a registering server that
  // reports one is not told to delete it (the map does not have it yet).
  std::set<uint64_t> preallocating_;
  struct Turn {
    uint64_t turn;
    kj::ForkedPromise<void> done;
  };
  std::map<uint64_t, Turn> busy_;  // per chunk: resolves when the last queued change is done
  uint64_t turns_ = 0;
  PlacementRing ring_;
  RepairStats repair_;
  RebalanceStats rebalance_;
  std::deque<MoveCandidate> pendingMoves_;  // from the last scan, in scan order
  struct RepairCandidate {
    uint64_t ino;
    uint32_t index;
    uint8_t replication;
    size_t live;
  };
  std::deque<RepairCandidate> pendingRepairs_;  // from the last scan, single copies first
  ByteThrottle moveThrottle_;
  kj::TimePoint startedAt_ = kj::origin<kj::TimePoint>();
  // After a start, an allocation that finds fewer live servers than it needs waits this long at
  // most for them to register again (they retry within a few seconds) instead of failing.
  static constexpr kj::Duration kRegistrationWait = 10 * kj::SECONDS;
  uint64_t nextChunkId_ = 1;
  uint32_t nextServerId_ = 1;
  kj::TimePoint noLeasesBefore_ = kj::origin<kj::TimePoint>();
  kj::Own<kj::TaskSet::ErrorHandler> errorHandler_;
  kj::Own<kj::TaskSet> tasks_;
};

}  // namespace basalt::meta
