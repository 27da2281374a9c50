#include "chunk/peer_pool.h"

namespace basalt::chunk {

rpc::ChunkService::Client PeerPool::get(const std::string& address) {
  Peer& p = peers_[address];
  KJ_IF_MAYBE(cap, p.cap) { return *cap; }
  if (!p.client) p.client = std::make_unique<RpcClient>(loop_, address);
  rpc::ChunkService::Client cap = p.client->bootstrap(connectTimeoutMs_).then(
      [](capnp::Capability::Client c) { return c.castAs<rpc::ChunkService>(); });
  p.cap = cap;
  return cap;
}

void PeerPool::reset(const std::string& address) {
  auto it = peers_.find(address);
  if (it == peers_.end()) return;
  it->second.cap = nullptr;
  if (it->second.client) it->second.client->reset();
}

}  // namespace basalt::chunk
