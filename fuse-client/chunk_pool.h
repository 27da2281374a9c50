// Connections to chunk servers: one RpcClient per address, made on first use, dropped (and made
// again on the next use) when a call to that server fails as a disconnect or times out.
// Thread-safety: loop thread only.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "rpc-schema/chunk.capnp.h"
#include "server/event_loop.h"
#include "server/rpc.h"

namespace basalt::client {

class ChunkPool {
 public:
  ChunkPool(EventLoop& loop, uint32_t connectTimeoutMs)
      : loop_(loop), connectTimeoutMs_(connectTimeoutMs) {}

  // The ChunkService of the server at `address` ("HOST:PORT"). Rejects (DISCONNECTED) when it
  // cannot be reached within the connect timeout.
  kj::Promise<rpc::ChunkService::Client> get(const std::string& address);
  // Forget the connection to `address` after a failed call.
  void reset(const std::string& address);
  size_t size() const { return clients_.size(); }

 private:
  EventLoop& loop_;
  uint32_t connectTimeoutMs_;
  std::map<std::string, std::unique_ptr<RpcClient>> clients_;
};

}  // namespace basalt::client
