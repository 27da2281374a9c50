// Keeps this chunk server registered with the metadata server: connect, MetaService.chunkRegistry(),
// register (with the id kept in DATA_DIR/server-id, 0 the first time), then heartbeat every
// heartbeatMs the registry asked for. When the metadata server cannot be reached, or a heartbeat
// fails, it retries with backoff (100 ms doubling to 5 s), logging once per change of state; the
// chunk server keeps serving reads and writes for the chunks it holds meanwhile. With several
// metadata servers (a replicated cluster) it tries each in turn, backing off (to 400 ms at most)
// only after a whole round, so it finds a new leader soon after an election.
// Thread-safety: loop thread only.
#pragma once

#include <kj/async.h>

#include <memory>
#include <string>
#include <vector>

#include "chunk/chunk_server.h"
#include "chunk/chunk_store.h"
#include "rpc-schema/meta.capnp.h"
#include "server/rpc.h"

namespace basalt::chunk {

struct RegistrarConfig {
  std::string metaAddress;  // HOST:PORT of the metadata server, or several comma-separated (replicated)
  std::string dataDir;      // where server-id is kept
  std::string zone;
  uint64_t capacityBytes = 0;
  uint32_t callTimeoutMs = 2000;
};

class Registrar {
 public:
  // `server`, `store` must outlive this. `self` is the capability handed to the registry.
  Registrar(EventLoop& loop, ChunkServer& server, ChunkStore& store, rpc::ChunkService::Client self,
            Logger log, RegistrarConfig config);

  // Registers and heartbeats until this object is destroyed.
  void start();
  bool registered() const { return registered_; }
  uint64_t heartbeats() const { return heartbeats_; }

  // The id kept in `dataDir`/server-id (0 when absent). Blocking; for start-up and tests.
  static uint32_t loadId(const std::string& dataDir);
  static Status saveId(const std::string& dataDir, uint32_t id);

 private:
  kj::Promise<void> run();
  kj::Promise<void> registerOnce();
  kj::Promise<void> heartbeatLoop();
  // Recomputes usage_ on a worker unless that is already under way. The heartbeat never waits for
  // it: with the worker pool busy (fsyncs) it would arrive late and the server would look hung.
  void refreshUsage();
  template <typename T>
  kj::Promise<T> deadline(kj::Promise<T> p, const char* what);
  void setState(bool up, const std::string& why);

  EventLoop& loop_;
  ChunkServer& server_;
  ChunkStore& store_;
  rpc::ChunkService::Client self_;
  Logger log_;
  RegistrarConfig config_;
  std::vector<std::string> addresses_;
  size_t current_ = 0;
  size_t triedSinceUp_ = 0;
  kj::Own<RpcClient> meta_;
  kj::Maybe<rpc::ChunkRegistry::Client> registry_;
  uint32_t heartbeatMs_ = 1000;
  uint32_t backoffMs_ = 100;
  bool registered_ = false;
  bool everTried_ = false;
  uint64_t heartbeats_ = 0;
  StoreUsage usage_;  // as last computed
  bool refreshing_ = false;
  kj::Promise<void> usageTask_ = nullptr;
  kj::Promise<void> task_ = nullptr;
};

}  // namespace basalt::chunk
