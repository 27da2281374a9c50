// Connections from this chunk server to its peers' ChunkService, one per address, made on first use
// and made again after a disconnect.
//
// get() returns at once: while connecting, the capability is a promise, and calls made on it are
// queued and delivered in order once connected (Cap'n Proto's E-order), so forwards leave in the
// order they were issued. A failed connect breaks the capability; the caller then calls reset().
// Thread-safety: loop thread only.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "rpc-schema/chunk.capnp.h"
#include "server/rpc.h"

namespace basalt::chunk {

class PeerPool {
 public:
  PeerPool(EventLoop& loop, uint32_t connectTimeoutMs) : loop_(loop), connectTimeoutMs_(connectTimeoutMs) {}

  rpc::ChunkService::Client get(const std::string& address);
  // Forget the connection to `address` (its calls failed as disconnected); the next get() reconnects.
  void reset(const std::string& address);

 private:
  struct Peer {
    std::unique_ptr<RpcClient> client;
    kj::Maybe<rpc::ChunkService::Client> cap;
  };
  EventLoop& loop_;
  uint32_t connectTimeoutMs_;
  std::map<std::string, Peer> peers_;
};

}  // namespace basalt::chunk
