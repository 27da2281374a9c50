// The RPC face of the metadata server: thin adapters from the generated Cap'n Proto servers to
// MetaServer and the read functions. They read params, call domain code, fill results.
// Thread-safety: loop thread only.
#pragma once

#include <string>

#include "meta/chunks/chunk_manager.h"
#include "meta/meta_server.h"
#include "meta/replication/replica.h"
#include "rpc-schema/meta.capnp.h"

namespace basalt::meta {

class MetaServiceImpl final : public rpc::MetaService::Server {
 public:
  // `address` is what clusterInfo reports as metaAddress. Without `chunks` (tests of the namespace
  // alone) there is no data path: getLayout and chunkRegistry fail with ENOTSUP.
  MetaServiceImpl(MetaServer& server, std::string address, ChunkManager* chunks = nullptr)
      : server_(&server), address_(std::move(address)), chunks_(chunks) {}
  // One of a replicated cluster's servers: MetaPeer is served at once; everything else answers
  // DISCONNECTED ("not the leader") until setLeader, so callers move on to the next server.
  MetaServiceImpl(Replica& replica, std::string address) : address_(std::move(address)), replica_(&replica) {}

  void setAddress(std::string address) { address_ = std::move(address); }
  // This server became the leader: `server` and `chunks` now serve.
  void setLeader(MetaServer& server, ChunkManager& chunks) {
    server_ = &server;
    chunks_ = &chunks;
  }

  kj::Promise<void> openSession(OpenSessionContext context) override;
  kj::Promise<void> clusterInfo(ClusterInfoContext context) override;
  kj::Promise<void> chunkRegistry(ChunkRegistryContext context) override;
  kj::Promise<void> listChunks(ListChunksContext context) override;
  kj::Promise<void> drain(DrainContext context) override;
  kj::Promise<void> peer(PeerContext context) override;

 private:
  // The leader's server; throws DISCONNECTED on a server that is not (yet) the leader.
  MetaServer& server();
  MetaServer* server_ = nullptr;
  std::string address_;
  ChunkManager* chunks_ = nullptr;
  Replica* replica_ = nullptr;
};

class SessionImpl final : public rpc::Session::Server {
 public:
  SessionImpl(MetaServer& server, uint64_t id, ChunkManager* chunks) : server_(server), id_(id), chunks_(chunks) {}

  kj::Promise<void> mutate(MutateContext context) override;
  kj::Promise<void> lookup(LookupContext context) override;
  kj::Promise<void> getAttr(GetAttrContext context) override;
  kj::Promise<void> readDir(ReadDirContext context) override;
  kj::Promise<void> readLink(ReadLinkContext context) override;
  kj::Promise<void> getXattr(GetXattrContext context) override;
  kj::Promise<void> listXattr(ListXattrContext context) override;
  kj::Promise<void> statFs(StatFsContext context) override;
  kj::Promise<void> access(AccessContext context) override;
  kj::Promise<void> open(OpenContext context) override;
  kj::Promise<void> release(ReleaseContext context) override;
  kj::Promise<void> renew(RenewContext context) override;
  kj::Promise<void> getLayout(GetLayoutContext context) override;
  kj::Promise<void> setLock(SetLockContext context) override;
  kj::Promise<void> getLock(GetLockContext context) override;
  kj::Promise<void> cancelLock(CancelLockContext context) override;
  kj::Promise<void> releaseLocks(ReleaseLocksContext context) override;
  kj::Promise<void> watch(WatchContext context) override;
  kj::Promise<void> returnLocks(ReturnLocksContext context) override;

 private:
  MetaServer& server_;
  uint64_t id_;
  ChunkManager* chunks_;
};

}  // namespace basalt::meta
