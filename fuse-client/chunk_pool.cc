#include "fuse-client/chunk_pool.h"

namespace basalt::client {

kj::Promise<rpc::ChunkService::Client> ChunkPool::get(const std::string& address) {
  auto& c = clients_[address];
  if (!c) c = std::make_unique<RpcClient>(loop_, address);
  return c->bootstrap(connectTimeoutMs_).then([](capnp::Capability::Client cap) {
    return cap.castAs<rpc::ChunkService>();
  });
}

void ChunkPool::reset(const std::string& address) {
  auto it = clients_.find(address);
  if (it != clients_.end()) it->second->reset();
}

}  // namespace basalt::client
