#include "fuse-client/meta_session.h"

#include <kj/debug.h>

#include <algorithm>

#include "server/text.h"

namespace basalt::client {

namespace {
constexpr auto kMinBackoff = 100 * kj::MILLISECONDS;
constexpr auto kMaxBackoff = 2 * kj::SECONDS;
constexpr auto kMaxReplicatedBackoff = 400 * kj::MILLISECONDS;

double secondsBetween(kj::TimePoint a, kj::TimePoint b) {
  return static_cast<double>((b - a) / kj::MILLISECONDS) / 1000.0;
}
}  // namespace

MetaSession::MetaSession(EventLoop& loop, MetaConfig config, Logger log)
    : loop_(loop), config_(std::move(config)), log_(std::move(log)) {
  addresses_ = splitList(config_.address);
  if (addresses_.empty()) addresses_.push_back(config_.address);
  rpc_ = kj::heap<RpcClient>(loop_, addresses_[0]);
}

void MetaSession::nextServer() {
  if (addresses_.size() < 2) return;
  current_ = (current_ + 1) % addresses_.size();
  rpc_ = kj::heap<RpcClient>(loop_, addresses_[current_]);
}

MetaSession::~MetaSession() = default;

kj::Duration MetaSession::backoff(unsigned attempt) const {
  // With several metadata servers, an unreachable one usually means an election of a second or
  // two: ask again often (each round tries every server once) so the new leader is found soon.
  kj::Duration most = addresses_.size() > 1 ? kMaxReplicatedBackoff : kMaxBackoff;
  kj::Duration d = kMinBackoff;
  for (unsigned i = 0; i < attempt && d < most; ++i) d = d * 2;
  return std::min(d, most);
}

kj::Promise<void> MetaSession::connect() {
  // Several servers: none may lead for a moment (an election, a cluster starting): keep asking for
  // up to one call deadline before giving up.
  auto until = loop_.timer().now() + config_.rpcTimeoutMs * kj::MILLISECONDS;
  return connectUntil(until);
}

kj::Promise<void> MetaSession::connectUntil(kj::TimePoint until) {
  return establish().catch_([this, until](kj::Exception&& e) -> kj::Promise<void> {
    if (!isDisconnect(e)) return kj::mv(e);  // the server answered but refused: its message
    if (addresses_.size() > 1 && loop_.timer().now() < until) {
      return loop_.timer().afterDelay(kMinBackoff).then([this, until]() { return connectUntil(until); });
    }
    std::string reason = describeException(e);
    if (reason == "timed out") {
      reason = "no answer within " + std::to_string(config_.rpcTimeoutMs) + " ms";
    }
    return errnoException(EHOSTUNREACH,
                          "cannot reach metadata server " + config_.address + ": " + reason);
  });
}

kj::Promise<void> MetaSession::establish(size_t tried) {
  return rpc_->bootstrap(config_.rpcTimeoutMs)
      .then([this](capnp::Capability::Client cap) {
        return openSession(cap.castAs<rpc::MetaService>(), sessionId_);
      })
      .catch_([this, tried](kj::Exception&& e) -> kj::Promise<void> {
        // Half-made connections are useless: the next attempt starts from scratch.
        if (session_.get() != nullptr) return kj::mv(e);
        rpc_->reset();
        // A replicated cluster: the server is down or not the leader; try the next one (each
        // once per attempt; the caller's retries come round again).
        if (!isDisconnect(e) || addresses_.size() < 2) return kj::mv(e);
        nextServer();
        if (tried + 1 >= addresses_.size()) return kj::mv(e);
        return establish(tried + 1);
      });
}

kj::Promise<void> MetaSession::openSession(rpc::MetaService::Client meta, uint64_t resume) {
  auto req = meta.openSessionRequest();
  req.setClientName(config_.clientName);
  req.setResume(resume);
  auto sent = loop_.timer().now();
  return loop_.timer()
      .timeoutAfter(config_.rpcTimeoutMs * kj::MILLISECONDS,
                    kj::Promise<capnp::Response<rpc::MetaService::OpenSessionResults>>(req.send()))
      .then([this, meta, resume, sent](
                capnp::Response<rpc::MetaService::OpenSessionResults>&& r) mutable
            -> kj::Promise<void> {
        auto status = r.getStatus();
        if (status.getCode() != 0) {
          if (resume != 0) {
            log_->warn("metadata server {} could not resume session {} ({}); opening a new one: "
                       "handles opened through the old session are lost",
                       address(), resume, status.getMessage().cStr());
            return openSession(meta, 0);
          }
          return errnoException(errnoFromStatus(status),
                                "metadata server " + address() + " refused a session: " +
                                    status.getMessage().cStr());
        }
        uint64_t id = r.getId();
        session_ = kj::heap<rpc::Session::Client>(r.getSession());
        generation_++;
        leaseMs_ = r.getLeaseMs();
        leaseUntil_ = sent + leaseMs_ * kj::MILLISECONDS;
        if (lost_) {
          log_->info("reconnected to metadata server {}: session {} {}", address(), id,
                     id == resume ? "resumed" : "opened");
        } else {
          log_->info("session {} opened on metadata server {} (lease {} ms)", id, address(),
                     leaseMs_);
        }
        bool reconnected = lost_;
        lost_ = false;
        reconnectAttempt_ = 0;
        sessionId_ = id;
        if (onSession_) onSession_(*session_, id, reconnected);
        uint64_t gen = generation_;
        disconnectWatch_ = rpc_->onDisconnect()
                               .then([this, gen]() { dropConnection(gen, "connection closed"); })
                               .eagerlyEvaluate(nullptr);
        return kj::READY_NOW;
      });
}

kj::Promise<MetaSession::Connected> MetaSession::session() {
  if (session_.get() != nullptr) return Connected{*session_, generation_};
  KJ_IF_MAYBE(c, connecting_) {
    return c->addBranch().then([this]() { return session(); });
  }
  connecting_ = establish().fork();
  KJ_IF_MAYBE(c, connecting_) {
    return c->addBranch().then(
        [this]() {
          connecting_ = nullptr;
          return session();
        },
        [this](kj::Exception&& e) -> kj::Promise<Connected> {
          connecting_ = nullptr;
          return kj::mv(e);
        });
  }
  KJ_UNREACHABLE;
}

void MetaSession::dropConnection(uint64_t generation, const std::string& why) {
  if (generation != generation_ || session_.get() == nullptr) return;
  log_->warn("lost metadata server {} ({}); reconnecting", address(), why);
  session_ = nullptr;
  lost_ = true;
  rpc_->reset();
  if (wakeHeartbeat_ && wakeHeartbeat_->isWaiting()) wakeHeartbeat_->fulfill();
}

kj::Promise<void> MetaSession::retry(std::shared_ptr<CallState> st, unsigned attempt) {
  st->generation = 0;
  kj::Promise<void> p = session().then([this, st](Connected c) {
    st->generation = c.generation;
    if (st->waiting) return st->attempt(c.session);
    return loop_.timer().timeoutAfter(config_.rpcTimeoutMs * kj::MILLISECONDS,
                                      st->attempt(c.session));
  });
  if (attempt > 0 && st->intr.get() != nullptr) {
    // Already waiting on an unreachable server: an interrupt ends the call.
    p = p.exclusiveJoin(st->intr->whenInterrupted().then(
        [st]() -> kj::Promise<void> { return errnoException(EINTR, st->what + ": interrupted"); }));
  }
  return p.catch_([this, st, attempt](kj::Exception&& e) -> kj::Promise<void> {
    if (!isDisconnect(e)) return kj::mv(e);
    std::string reason = describeException(e);
    if (st->generation != 0) dropConnection(st->generation, reason);
    auto now = loop_.timer().now();
    if (st->waiting && st->generation != 0) {
      // It was connected (and perhaps waited for hours): unreachability counts from now.
      st->deadline = now + static_cast<int64_t>(config_.timeoutSec * 1000) * kj::MILLISECONDS;
    }
    if (now >= st->deadline) {
      log_->warn("metadata server {} unreachable for {:.1f} s: {} fails with EIO ({})",
                 config_.address, secondsBetween(st->start, now), st->what, reason);
      return errnoException(EIO, "metadata server " + config_.address + " unreachable: " + reason);
    }
    if (st->intr.get() != nullptr && st->intr->interrupted()) {
      return errnoException(EINTR, st->what + ": interrupted while the metadata server is unreachable");
    }
    if (attempt == 0) {
      log_->debug("{}: metadata server {} unreachable ({}); retrying for up to {:.0f} s", st->what,
                  config_.address, reason, config_.timeoutSec);
    }
    kj::Duration delay = std::min(backoff(attempt), st->deadline - now);
    kj::Promise<void> wait = loop_.timer().afterDelay(delay);
    if (st->intr.get() != nullptr) wait = wait.exclusiveJoin(st->intr->whenInterrupted());
    return wait.then([this, st, attempt]() -> kj::Promise<void> {
      if (st->intr.get() != nullptr && st->intr->interrupted()) {
        return errnoException(EINTR, st->what + ": interrupted while the metadata server is unreachable");
      }
      return retry(st, attempt + 1);
    });
  });
}

kj::Promise<capnp::Response<rpc::Session::MutateResults>> MetaSession::mutate(
    std::string what, kj::Own<Interruptible> intr, const Credentials& cred,
    kj::Function<void(rpc::Command::Builder)> fill) {
  auto msg = kj::heap<capnp::MallocMessageBuilder>();
  auto cmd = msg->initRoot<rpc::Command>();
  cmd.setSeq(allocateSeq());
  cred.toWire(cmd.initCred());
  fill(cmd);
  return call<rpc::Session::MutateResults>(
      std::move(what), kj::mv(intr),
      [this, msg = kj::mv(msg)](rpc::Session::Client& s) mutable {
        auto req = s.mutateRequest();
        req.setCommand(msg->getRoot<rpc::Command>().asReader());
        req.getCommand().setSession(sessionId_);
        return req.send();
      });
}

void MetaSession::startHeartbeat(std::function<std::vector<uint64_t>()> openInodes) {
  openInodes_ = std::move(openInodes);
  heartbeat_ = heartbeatLoop().eagerlyEvaluate([this](kj::Exception&& e) {
    log_->error("session heartbeat stopped: {}", kj::str(e).cStr());
  });
}

kj::Promise<void> MetaSession::heartbeatLoop() {
  kj::Duration delay;
  if (session_.get() != nullptr) {
    delay = std::max<uint32_t>(leaseMs_ / 3, 100) * kj::MILLISECONDS;
  } else {
    delay = backoff(reconnectAttempt_);
  }
  auto paf = kj::newPromiseAndFulfiller<void>();
  wakeHeartbeat_ = kj::mv(paf.fulfiller);
  return loop_.timer()
      .afterDelay(delay)
      .exclusiveJoin(kj::mv(paf.promise))
      .then([this]() { return heartbeatOnce(); })
      .then([this]() { return heartbeatLoop(); });
}

bool MetaSession::leaseFresh() const {
  // The server's lease runs from when it handled the renew, which is after `sent`; keep a margin
  // of a quarter lease for the time the caller acts on the answer.
  return leaseMs_ != 0 && loop_.timer().now() + (leaseMs_ / 4) * kj::MILLISECONDS < leaseUntil_;
}

kj::Promise<void> MetaSession::heartbeatOnce() {
  if (session_.get() == nullptr) {
    // Reconnect now rather than on the next filesystem call, so the lease is resumed quickly.
    return session()
        .then([](Connected) {})
        .catch_([this](kj::Exception&& e) {
          if (reconnectAttempt_ == 0 || reconnectAttempt_ % 30 == 0) {
            log_->warn("metadata server {} unreachable ({}); still trying", config_.address,
                       describeException(e));
          }
          reconnectAttempt_++;
        });
  }
  uint64_t gen = generation_;
  auto req = session_->renewRequest();
  auto inodes = openInodes_ ? openInodes_() : std::vector<uint64_t>();
  auto list = req.initOpenInodes(static_cast<unsigned>(inodes.size()));
  for (unsigned i = 0; i < inodes.size(); ++i) list.set(i, inodes[i]);
  auto sent = loop_.timer().now();
  return loop_.timer()
      .timeoutAfter(config_.rpcTimeoutMs * kj::MILLISECONDS,
                    kj::Promise<capnp::Response<rpc::Session::RenewResults>>(req.send()))
      .then(
          [this, gen, sent](capnp::Response<rpc::Session::RenewResults>&& r) {
            if (r.getStatus().getCode() != 0) {
              log_->warn("metadata server {} refused to renew session {} ({}); resuming it",
                         config_.address, sessionId_, r.getStatus().getMessage().cStr());
              dropConnection(gen, "renew refused");
              return;
            }
            if (r.getLeaseMs() != 0) leaseMs_ = r.getLeaseMs();
            if (gen == generation_) leaseUntil_ = sent + leaseMs_ * kj::MILLISECONDS;
          },
          [this, gen](kj::Exception&& e) {
            if (isDisconnect(e)) {
              dropConnection(gen, describeException(e));
            } else {
              log_->warn("session renew failed: {}", describeException(e));
            }
          });
}

}  // namespace basalt::client
