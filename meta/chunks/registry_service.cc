#include "meta/chunks/registry_service.h"

namespace basalt::meta {

kj::Promise<void> ChunkRegistryImpl::register_(RegisterContext context) {
  auto p = context.getParams();
  std::vector<ReportedChunk> chunks;
  for (auto c : p.getChunks()) chunks.push_back(ReportedChunk{c.getChunk().getId(), c.getChunk().getVersion()});
  return manager_
      .registerServer(p.getId(), p.getAddress(), p.getZone(), p.getCapacityBytes(), p.getUsedBytes(),
                      kj::mv(chunks), p.getService())
      .then([this, context](Result<uint32_t> id) mutable {
        auto r = context.getResults();
        id.status().toWire(r.initStatus());
        if (!id.isOk()) return;
        r.setId(*id);
        r.setHeartbeatMs(manager_.heartbeatMs());
      });
}

kj::Promise<void> ChunkRegistryImpl::heartbeat(HeartbeatContext context) {
  auto p = context.getParams();
  manager_.heartbeat(p.getId(), p.getCapacityBytes(), p.getUsedBytes(), p.getChunkCount())
      .toWire(context.getResults().initStatus());
  return kj::READY_NOW;
}

kj::Promise<void> ChunkRegistryImpl::reportFailure(ReportFailureContext context) {
  auto p = context.getParams();
  return manager_.reportFailure(p.getChunk().getId(), p.getChunk().getVersion(), p.getServerId(), p.getReason())
      .then([context](Result<uint64_t> v) mutable {
        auto r = context.getResults();
        v.status().toWire(r.initStatus());
        if (v.isOk()) r.setNewVersion(*v);
      });
}

void layoutToWire(const Layout& layout, rpc::ChunkLayout::Builder out) {
  out.setIndex(layout.index);
  out.initChunk().setId(layout.chunkId);
  out.getChunk().setVersion(layout.version);
  auto list = out.initReplicas(layout.replicas.size());
  for (size_t i = 0; i < layout.replicas.size(); ++i) {
    list[i].setId(layout.replicas[i].id);
    list[i].setAddress(layout.replicas[i].address);
  }
  out.setPrimary(layout.primary);
  out.setLeaseExpiryMs(layout.leaseExpiryMs);
}

}  // namespace basalt::meta
