// Cap'n Proto over TCP for every Basalt process: a server that serves one bootstrap capability on
// HOST:PORT, and a client connection that (re)connects on demand.
//
// Message limits are deliberate: a message may carry up to kMaxMessageBytes (a 1 MiB block plus
// headers fits many times over; a whole 64 MiB chunk fits for repair transfers).
// Thread-safety: loop thread only.
#pragma once

#include <capnp/rpc-twoparty.h>
#include <capnp/rpc.h>
#include <kj/async-io.h>

#include <string>

#include "server/event_loop.h"
#include "server/log.h"

namespace basalt {

constexpr uint64_t kMaxMessageBytes = 160ull << 20;
capnp::ReaderOptions rpcReaderOptions();

// True for an exception that means "the peer is gone" (retry after reconnecting).
bool isDisconnect(const kj::Exception& e);

// Logs failed background tasks (disconnects at debug level, anything else as a warning).
class TaskLogger final : public kj::TaskSet::ErrorHandler {
 public:
  explicit TaskLogger(Logger log) : log_(std::move(log)) {}
  void taskFailed(kj::Exception&& e) override;

 private:
  Logger log_;
};

class RpcServer {
 public:
  // `bootstrap` is handed to every connecting peer.
  RpcServer(EventLoop& loop, capnp::Capability::Client bootstrap, Logger log);
  ~RpcServer();

  // Binds `address` ("HOST:PORT"; port 0 picks a free one) and starts accepting. Returns the bound
  // port. Fails (rejects) when the address cannot be bound.
  kj::Promise<uint> listen(kj::StringPtr address);

  // Stops accepting and drops every connection (their calls fail as disconnected).
  void stop();

 private:
  struct Connection;
  kj::Promise<void> acceptLoop();

  EventLoop& loop_;
  capnp::Capability::Client bootstrap_;
  Logger log_;
  kj::Own<kj::ConnectionReceiver> listener_;
  TaskLogger taskLogger_;
  kj::Own<kj::TaskSet> tasks_;
};

// A connection to a server's bootstrap capability that reconnects on demand.
class RpcClient {
 public:
  RpcClient(EventLoop& loop, std::string address);
  ~RpcClient();

  const std::string& address() const { return address_; }

  // The server's bootstrap capability, connecting first if needed. Rejects (DISCONNECTED) when the
  // server cannot be reached within `timeoutMs`.
  kj::Promise<capnp::Capability::Client> bootstrap(uint32_t timeoutMs = 5000);

  // Forget the current connection (after a call failed as disconnected); the next bootstrap()
  // connects again. Calls still in flight on the old connection fail.
  void reset();
  bool isConnected() const { return conn_ != nullptr; }

  // Resolves when the current connection drops (immediately when there is none).
  kj::Promise<void> onDisconnect();

 private:
  struct Connection;
  EventLoop& loop_;
  std::string address_;
  kj::Own<Connection> conn_;
};

}  // namespace basalt
