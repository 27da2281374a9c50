// One metadata server of a replicated cluster: Raft over the command log (docs/replication.md).
//
// The replicas are the servers named by --peers (node i is the i-th address, from 1). Each keeps
// its own store and command log; the log is the Raft log (one entry = one committed batch, tagged
// with its leader's term). The leader is the only one serving clients: its Committer writes a
// batch's record to its own log, hands it to the followers while flushing it, and then waits
// (Store::setReplication) until a majority of the replicas, itself counted only after its own
// flush, has it on disk; only then does the batch commit to its store and are its callers
// answered. Followers append what the leader sends and apply an entry once the leader says it is
// committed. So no acknowledged change is lost while a majority of the servers (with their disks)
// survives.
//
// Roles: every server starts as a follower. A follower that hears nothing from a leader for a
// random 1–2 election timeouts first asks whether the others would vote for it (pre-vote: they say
// no while they hear from a leader), then, with a majority, asks for votes in a new term; a
// majority makes it leader. A new
// leader appends an empty batch of its term, and once that is committed it applies every earlier
// entry and resolves leadership(): then (and only then) the daemon starts its MetaServer, exactly
// as after a restart (sessions resume, leases are waited out).
//
// Stepping down is a restart: a leader that meets a higher term, loses contact with a majority
// for an election timeout, or cannot commit a batch within commitTimeoutMs calls the step-down
// function, which re-executes the process (all leader-only memory goes; clients see the
// connection drop and retry their calls, with the same (session, seq), on the new leader). A
// follower that received a snapshot restarts the same way, and its store opens from it.
//
// Rules beyond plain Raft: a server that heard from a leader within the election timeout refuses
// votes and pre-votes (so a partitioned leader, which steps down after 3/4 of that, has stopped
// serving before another can be elected), and a checkpoint that would drop log entries a live
// follower still needs is put off (Store::setMayRestartLog), so catching up rarely takes a
// snapshot.
//
// Thread-safety: loop thread only, except the replication hook the store calls on the committer's
// worker (it hands the entry to the loop with LoopPost and waits).
#pragma once

#include <kj/async.h>

#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include "meta/replication/raft_state.h"
#include "meta/store.h"
#include "rpc-schema/meta.capnp.h"
#include "server/event_loop.h"
#include "server/log.h"
#include "server/loop_post.h"
#include "server/rpc.h"

namespace basalt::meta {

struct ReplicaOptions {
  std::vector<std::string> peers;  // HOST:PORT of every metadata server, this one included
  uint32_t self = 0;               // this server's node number: its place in `peers`, from 1
  uint32_t heartbeatMs = 100;
  uint32_t electionMs = 1000;      // a follower waits a random 1-2x this for a leader
  uint32_t commitTimeoutMs = 4000; // a batch a majority does not take within this: step down
  uint32_t callTimeoutMs = 1000;   // one AppendEntries or RequestVote
};

struct MetaNodeStatus {
  uint32_t node = 0;
  std::string address;
  std::string role;
  uint64_t term = 0;
  uint64_t lastSeq = 0;
  uint64_t appliedSeq = 0;
};

class Replica {
 public:
  using StepDown = std::function<void(const std::string& why)>;
  // `store` was opened with StoreDefaults::replicated; `replay` applies one record
  // (Committer::replayRecord). `stepDown` must not return (it re-executes the process).
  Replica(EventLoop& loop, Store& store, Store::Replayer replay, Logger log, ReplicaOptions options,
          StepDown stepDown);
  ~Replica();
  KJ_DISALLOW_COPY(Replica);

  // Loads the term and vote, and starts as a follower.
  Status start();
  // Resolves once this server is the leader, with every committed entry applied and the store's
  // commits replicated: the MetaServer may start.
  kj::Promise<void> leadership();
  bool isLeader() const { return role_ == Role::kLeader && ready_; }
  uint64_t term() const { return state_.term; }
  // This server first, then the others as the leader last heard of them.
  std::vector<MetaNodeStatus> nodes() const;

  // The MetaPeer calls (peer_service.h adapts them).
  struct VoteReply {
    uint64_t term;
    bool granted;
  };
  // `preVote`: whether this server would vote so, changing nothing.
  VoteReply requestVote(uint64_t term, uint32_t node, uint64_t lastSeq, uint64_t lastTerm, bool preVote = false);
  struct AppendReply {
    uint64_t term = 0;
    bool success = false;
    uint64_t lastSeq = 0;
    bool needSnapshot = false;
  };
  kj::Promise<AppendReply> appendEntries(uint64_t term, uint32_t node, uint64_t prevSeq, uint64_t prevTerm,
                                         std::vector<CommandLogEntry> entries, uint64_t commitSeq);
  kj::Promise<bool> installSnapshot(uint64_t term, uint32_t node, uint64_t offset, kj::Array<kj::byte> data,
                                    bool done);
  // Answers with this server's term, for a caller that must be told it is stale.
  uint64_t currentTerm() const { return state_.term; }

 private:
  enum class Role { kFollower, kCandidate, kLeader };
  struct Peer;
  struct Waiter;

  // A term seen in a request or reply: a newer one makes this server a follower of it.
  void observeTerm(uint64_t term);
  void persist();
  kj::Promise<void> electionTimer();
  // Pre-vote: asks whether a majority would vote for this server in the next term; stands (a real
  // election, term + 1) only if so.
  void startPreVote();
  void startElection();
  // Sends RequestVote(`term`, preVote) to every peer; `granted` runs once per grant.
  void askVotes(uint64_t term, bool preVote, std::function<void()> granted);
  void becomeLeader();
  void stepDown(const std::string& why);
  kj::Promise<void> pump(Peer& peer, uint64_t term);
  kj::Promise<void> sendSnapshot(Peer& peer, uint64_t term);
  kj::Promise<rpc::MetaPeer::Client> connect(Peer& peer);
  void updateCommit();
  kj::Promise<void> quorumWatch(uint64_t term);
  // The committer's hooks (Store::Replicate), on its worker: hand an entry to the followers before
  // the local flush; after it, wait until a majority has it (false: stepping down).
  void sendFromWorker(uint64_t seq, uint64_t term, std::string_view record);
  bool awaitFromWorker(uint64_t seq);
  kj::Promise<void> waitCommitted(uint64_t seq);
  // Serialises the follower's disk work (appends, applies, snapshot pieces) in arrival order.
  template <typename T>
  kj::Promise<T> onDisk(std::function<T()> work);
  size_t majority() const { return options_.peers.size() / 2 + 1; }
  kj::Duration ms(uint64_t n) const { return n * kj::MILLISECONDS; }

  EventLoop& loop_;
  Store& store_;
  Store::Replayer replay_;
  Logger log_;
  ReplicaOptions options_;
  StepDown stepDown_;
  RaftState state_;
  Role role_ = Role::kFollower;
  bool ready_ = false;  // leader with its log applied
  uint32_t leader_ = 0;
  kj::TimePoint lastLeaderContact_;
  uint64_t commitSeq_ = 0;
  std::vector<std::unique_ptr<Peer>> peers_;  // every other node
  // Entries appended by the leader's committer, kept for the followers until all have them.
  std::map<uint64_t, std::shared_ptr<CommandLogEntry>> recent_;
  uint64_t sentSeq_ = 0;  // the last entry handed to the followers (maybe still being flushed here)
  std::map<uint64_t, std::vector<kj::Own<kj::PromiseFulfiller<void>>>> commitWaiters_;
  std::map<uint64_t, std::shared_ptr<Waiter>> workerWaiters_;
  std::atomic<bool> followersCaughtUp_{true};
  kj::Maybe<kj::Own<kj::PromiseFulfiller<void>>> leadership_;
  kj::ForkedPromise<void> leadershipForked_ = nullptr;
  kj::Promise<void> diskQueue_ = kj::READY_NOW;
  int snapshotFd_ = -1;
  std::mt19937_64 rng_;
  LoopPost post_;
  TaskLogger taskLogger_;
  kj::Own<kj::TaskSet> tasks_;
};

}  // namespace basalt::meta
