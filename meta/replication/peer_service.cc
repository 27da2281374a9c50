#include "meta/replication/peer_service.h"

namespace basalt::meta {

kj::Promise<void> PeerServiceImpl::requestVote(RequestVoteContext context) {
  auto p = context.getParams();
  auto reply = replica_.requestVote(p.getTerm(), p.getNode(), p.getLastSeq(), p.getLastTerm(), p.getPreVote());
  auto r = context.getResults();
  r.setTerm(reply.term);
  r.setGranted(reply.granted);
  return kj::READY_NOW;
}

kj::Promise<void> PeerServiceImpl::appendEntries(AppendEntriesContext context) {
  auto p = context.getParams();
  std::vector<CommandLogEntry> entries;
  for (auto e : p.getEntries()) {
    auto data = e.getPayload();
    entries.push_back({e.getSeq(), e.getTerm(), std::string(reinterpret_cast<const char*>(data.begin()), data.size())});
  }
  return replica_
      .appendEntries(p.getTerm(), p.getNode(), p.getPrevSeq(), p.getPrevTerm(), std::move(entries), p.getCommitSeq())
      .then([context](Replica::AppendReply reply) mutable {
        auto r = context.getResults();
        r.setTerm(reply.term);
        r.setSuccess(reply.success);
        r.setLastSeq(reply.lastSeq);
        r.setNeedSnapshot(reply.needSnapshot);
      });
}

kj::Promise<void> PeerServiceImpl::installSnapshot(InstallSnapshotContext context) {
  auto p = context.getParams();
  auto data = kj::heapArray<kj::byte>(p.getData());
  return replica_.installSnapshot(p.getTerm(), p.getNode(), p.getOffset(), kj::mv(data), p.getDone())
      .then([this, context](bool ok) mutable {
        auto r = context.getResults();
        r.setTerm(replica_.currentTerm());
        r.setOk(ok);
      });
}

}  // namespace basalt::meta
