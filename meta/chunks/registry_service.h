// The RPC face of the chunk registry: thin adapter from rpc::ChunkRegistry to ChunkManager.
// Thread-safety: loop thread only.
#pragma once

#include "meta/chunks/chunk_manager.h"
#include "rpc-schema/chunk.capnp.h"

namespace basalt::meta {

class ChunkRegistryImpl final : public rpc::ChunkRegistry::Server {
 public:
  explicit ChunkRegistryImpl(ChunkManager& manager) : manager_(manager) {}

  kj::Promise<void> register_(RegisterContext context) override;
  kj::Promise<void> heartbeat(HeartbeatContext context) override;
  kj::Promise<void> reportFailure(ReportFailureContext context) override;

 private:
  ChunkManager& manager_;
};

// Fills a wire ChunkLayout.
void layoutToWire(const Layout& layout, rpc::ChunkLayout::Builder out);

}  // namespace basalt::meta
