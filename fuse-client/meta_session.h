// The mount's session with the metadata server: one connection, one Session capability, the renew
// heartbeat, reconnect-and-resume, per-attempt deadlines and retries until the total deadline.
//
// Calls: call<R>() runs `fn(session)` (which sends one RPC) with an rpc_timeout_ms deadline per
// attempt. When the server cannot be reached (disconnect, connect refused, attempt timed out) the
// connection is dropped and the call is retried with backoff, against a fresh connection and a
// resumed session, until `timeout` seconds have passed since the call began; then it fails with EIO
// and one log line naming the unreachable server. Reads are retried as they are; a mutation
// (mutate()) takes its sequence number once, so every retry carries the same (session, seq) and the
// server answers a duplicate from its dedup table. A FUSE interrupt cuts a retry wait short (EINTR).
//
// The heartbeat renews the lease every leaseMs/3, re-declaring the open inodes, and reconnects (with
// backoff) as soon as the connection is lost, so a mount whose cluster comes back works again
// without a remount.
// Thread-safety: loop thread only.
#pragma once

#include <capnp/message.h>
#include <kj/async.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "fuse-client/errors.h"
#include "fuse-client/request.h"
#include "rpc-schema/meta.capnp.h"
#include "server/event_loop.h"
#include "server/log.h"
#include "server/rpc.h"

namespace basalt::client {

struct MetaConfig {
  // HOST:PORT, or several comma-separated (a replicated cluster's metadata servers: calls go to
  // whichever is the leader; the others answer "not the leader" and the next one is tried).
  std::string address;
  std::string clientName;
  uint32_t rpcTimeoutMs = 5000;
  double timeoutSec = 60.0;
};

class MetaSession {
 public:
  MetaSession(EventLoop& loop, MetaConfig config, Logger log);
  ~MetaSession();
  KJ_DISALLOW_COPY(MetaSession);

  // The first connection, without retries: connect and open a session within rpc_timeout_ms (with
  // several servers, asking them in turn until one leads, for up to rpc_timeout_ms).
  // Rejects with an errnoException whose message is the one line for the user ("cannot reach
  // metadata server 127.0.0.1:9: connection refused").
  kj::Promise<void> connect();

  // Starts the renew heartbeat; `openInodes` lists the inodes with open handles.
  void startHeartbeat(std::function<std::vector<uint64_t>()> openInodes);

  // Called with every newly opened (or resumed) session after this call, its id (sessionId() is
  // already that id), and `reconnected` true after a lost connection: where the mount registers
  // its cache watcher and drops what an older session held. Also called at once for the session
  // open now, if any.
  using SessionHook = std::function<void(rpc::Session::Client session, uint64_t id, bool reconnected)>;
  void onSession(SessionHook fn) {
    onSession_ = std::move(fn);
    if (session_.get() != nullptr) onSession_(*session_, sessionId_, false);
  }

  // Runs `fn(Session::Client&)`, which must send one RPC whose results are `R`, with retries as
  // described above. `what` names the call in log lines ("mkdir 1/foo"). `intr` (may be null) can
  // cut a retry wait short. Fails with an errnoException (EIO when unreachable, EINTR).
  template <typename R, typename Fn>
  kj::Promise<capnp::Response<R>> call(std::string what, kj::Own<Interruptible> intr, Fn fn) {
    return callWith<R>(std::move(what), kj::mv(intr), kj::mv(fn), false);
  }
  // Like call(), for a call the server answers only when something happens (a blocked lock): an
  // attempt has no deadline of its own, however long it waits. A lost connection still ends the
  // attempt; it is retried until the server has been unreachable for the total deadline (counted
  // from the loss, not from the start of the call), then fails with EIO.
  template <typename R, typename Fn>
  kj::Promise<capnp::Response<R>> callWaiting(std::string what, kj::Own<Interruptible> intr, Fn fn) {
    return callWith<R>(std::move(what), kj::mv(intr), kj::mv(fn), true);
  }

  // Session.mutate with a Command filled once by `fill` (cred and a fresh seq are set here; the
  // session id is set per attempt).
  kj::Promise<capnp::Response<rpc::Session::MutateResults>> mutate(
      std::string what, kj::Own<Interruptible> intr, const Credentials& cred,
      kj::Function<void(rpc::Command::Builder)> fill);

  // A fresh sequence number for a mutation carried outside Command (Session.open with O_TRUNC).
  uint64_t allocateSeq() { return ++lastSeq_; }
  uint64_t sessionId() const { return sessionId_; }
  // The metadata server in use (or tried next).
  const std::string& address() const { return rpc_->address(); }
  bool isConnected() const { return session_.get() != nullptr; }
  // Whether the session's lease is surely still valid on the server (from the send time of the last
  // accepted open or renew, with a margin): what the mount may decide delegated locks under.
  bool leaseFresh() const;

 private:
  struct Connected {
    rpc::Session::Client session;
    uint64_t generation;
  };
  struct CallState;

  template <typename R, typename Fn>
  kj::Promise<capnp::Response<R>> callWith(std::string what, kj::Own<Interruptible> intr, Fn fn, bool waiting);
  kj::Promise<void> retry(std::shared_ptr<CallState> st, unsigned attempt);
  kj::Promise<Connected> session();
  kj::Promise<void> establish(size_t tried = 0);
  kj::Promise<void> connectUntil(kj::TimePoint until);
  void nextServer();
  kj::Promise<void> openSession(rpc::MetaService::Client meta, uint64_t resume);
  void dropConnection(uint64_t generation, const std::string& why);
  kj::Promise<void> heartbeatLoop();
  kj::Promise<void> heartbeatOnce();
  kj::Duration backoff(unsigned attempt) const;

  EventLoop& loop_;
  MetaConfig config_;
  Logger log_;
  std::vector<std::string> addresses_;
  size_t current_ = 0;
  kj::Own<RpcClient> rpc_;
  kj::Own<rpc::Session::Client> session_;  // null while disconnected
  uint64_t generation_ = 0;                // bumped per established session
  uint64_t sessionId_ = 0;
  uint32_t leaseMs_ = 0;
  kj::TimePoint leaseUntil_ = kj::origin<kj::TimePoint>();
  uint64_t lastSeq_ = 0;
  kj::Maybe<kj::ForkedPromise<void>> connecting_;
  bool lost_ = false;                      // a connection was lost and not re-established yet
  SessionHook onSession_;
  unsigned reconnectAttempt_ = 0;
  std::function<std::vector<uint64_t>()> openInodes_;
  kj::Own<kj::PromiseFulfiller<void>> wakeHeartbeat_;
  kj::Promise<void> heartbeat_ = nullptr;
  kj::Promise<void> disconnectWatch_ = nullptr;
};

struct MetaSession::CallState {
  std::string what;
  kj::Own<Interruptible> intr;
  kj::Function<kj::Promise<void>(rpc::Session::Client&)> attempt;
  kj::TimePoint start;
  kj::TimePoint deadline;
  uint64_t generation = 0;  // of the session the current attempt went to (0 = none yet)
  bool waiting = false;     // callWaiting: no per-attempt deadline
  CallState(std::string w, kj::Own<Interruptible> i,
            kj::Function<kj::Promise<void>(rpc::Session::Client&)> a, kj::TimePoint s,
            kj::TimePoint d)
      : what(std::move(w)), intr(kj::mv(i)), attempt(kj::mv(a)), start(s), deadline(d) {}
};

template <typename R, typename Fn>
kj::Promise<capnp::Response<R>> MetaSession::callWith(std::string what, kj::Own<Interruptible> intr,
                                                      Fn fn, bool waiting) {
  auto slot = std::make_shared<kj::Maybe<capnp::Response<R>>>();
  auto attempt = [fn = kj::mv(fn), slot](rpc::Session::Client& s) mutable -> kj::Promise<void> {
    kj::Promise<capnp::Response<R>> p = fn(s);
    return p.then([slot](capnp::Response<R>&& r) { *slot = kj::mv(r); });
  };
  auto now = loop_.timer().now();
  auto deadline = now + static_cast<int64_t>(config_.timeoutSec * 1000) * kj::MILLISECONDS;
  auto st = std::make_shared<CallState>(std::move(what), kj::mv(intr), kj::mv(attempt), now,
                                        deadline);
  st->waiting = waiting;
  return retry(st, 0).then([slot]() -> capnp::Response<R> {
    KJ_IF_MAYBE(r, *slot) { return kj::mv(*r); }
    KJ_FAIL_REQUIRE("call finished without a response");
  });
}

}  // namespace basalt::client
