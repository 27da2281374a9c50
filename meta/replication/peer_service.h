// The MetaPeer face of a replica: a thin adapter from the generated server to Replica.
// Thread-safety: loop thread only.
#pragma once

#include "meta/replication/replica.h"
#include "rpc-schema/raft.capnp.h"

namespace basalt::meta {

class PeerServiceImpl final : public rpc::MetaPeer::Server {
 public:
  explicit PeerServiceImpl(Replica& replica) : replica_(replica) {}

  kj::Promise<void> requestVote(RequestVoteContext context) override;
  kj::Promise<void> appendEntries(AppendEntriesContext context) override;
  kj::Promise<void> installSnapshot(InstallSnapshotContext context) override;

 private:
  Replica& replica_;
};

}  // namespace basalt::meta
