// The ChunkService capability: a thin adapter from the wire (rpc-schema/chunk.capnp) to ChunkServer.
// Thread-safety: loop thread only. The ChunkServer must outlive every capability made from this.
#pragma once

#include "chunk/chunk_server.h"
#include "rpc-schema/chunk.capnp.h"

namespace basalt::chunk {

class ChunkServiceImpl final : public rpc::ChunkService::Server {
 public:
  explicit ChunkServiceImpl(ChunkServer& server) : server_(server) {}

  kj::Promise<void> update(UpdateContext context) override;
  kj::Promise<void> read(ReadContext context) override;
  kj::Promise<void> sync(SyncContext context) override;
  kj::Promise<void> forward(ForwardContext context) override;
  kj::Promise<void> assign(AssignContext context) override;
  kj::Promise<void> delete_(DeleteContext context) override;
  kj::Promise<void> fetch(FetchContext context) override;
  kj::Promise<void> list(ListContext context) override;
  kj::Promise<void> install(InstallContext context) override;

 private:
  ChunkServer& server_;
};

// Fills a wire ChunkInfo.
void infoToWire(const ChunkMeta& m, rpc::ChunkInfo::Builder out);

}  // namespace basalt::chunk
