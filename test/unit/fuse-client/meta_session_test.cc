// MetaSession against an in-process fake metadata server on an ephemeral port.
#include <doctest/doctest.h>

#include <vector>

#include "fuse-client/meta_session.h"

using namespace basalt;
using namespace basalt::client;

namespace {

struct Record {
  std::vector<uint64_t> seqs;
  std::vector<uint64_t> sessions;
  std::vector<uint64_t> resumes;
  int swallow = 0;  // mutate calls to leave unanswered (a lost reply)
  int setLocks = 0;             // setLock calls received
  kj::Timer* timer = nullptr;   // setLock answers after lockDelayMs (a blocked lock)
  uint32_t lockDelayMs = 0;
};

class FakeSession final : public rpc::Session::Server {
 public:
  explicit FakeSession(Record& rec) : rec_(rec) {}
  kj::Promise<void> mutate(MutateContext context) override {
    auto cmd = context.getParams().getCommand();
    rec_.seqs.push_back(cmd.getSeq());
    rec_.sessions.push_back(cmd.getSession());
    if (rec_.swallow > 0) {
      rec_.swallow--;
      return kj::NEVER_DONE;
    }
    context.getResults().initReply().initStatus().setCode(0);
    return kj::READY_NOW;
  }
  kj::Promise<void> setLock(SetLockContext context) override {
    rec_.setLocks++;
    return rec_.timer->afterDelay(rec_.lockDelayMs * kj::MILLISECONDS).then([context]() mutable {
      context.getResults().initStatus().setCode(0);
    });
  }

 private:
  Record& rec_;
};

class FakeMeta final : public rpc::MetaService::Server {
 public:
  explicit FakeMeta(Record& rec) : rec_(rec) {}
  kj::Promise<void> openSession(OpenSessionContext context) override {
    rec_.resumes.push_back(context.getParams().getResume());
    auto r = context.getResults();
    r.initStatus().setCode(0);
    r.setSession(kj::heap<FakeSession>(rec_));
    r.setId(4242);
    r.setLeaseMs(60000);
    return kj::READY_NOW;
  }

 private:
  Record& rec_;
};

class TestInterrupt final : public Interruptible {
 public:
  bool interrupted() const override { return fired_; }
  kj::Promise<void> whenInterrupted() override { return fork_.addBranch(); }
  void fire() {
    fired_ = true;
    fulfiller_->fulfill();
  }

 private:
  bool fired_ = false;
  kj::PromiseFulfillerPair<void> paf_ = kj::newPromiseAndFulfiller<void>();
  kj::Own<kj::PromiseFulfiller<void>> fulfiller_ = kj::mv(paf_.fulfiller);
  kj::ForkedPromise<void> fork_ = paf_.promise.fork();
};

int freePort(EventLoop& loop) {
  // A port that was free a moment ago and has nobody listening now.
  auto addr = loop.network().parseAddress("127.0.0.1:0").wait(loop.waitScope());
  auto listener = addr->listen();
  return static_cast<int>(listener->getPort());
}

}  // namespace

TEST_CASE("a mutation whose reply is lost is resent with the same seq on a resumed session") {
  EventLoop loop;
  Record rec;
  rec.swallow = 1;
  rpc::MetaService::Client cap = kj::heap<FakeMeta>(rec);
  RpcServer server(loop, cap, makeLogger("test"));
  uint port = server.listen("127.0.0.1:0").wait(loop.waitScope());
  MetaSession meta(loop, MetaConfig{"127.0.0.1:" + std::to_string(port), "t", 200, 10.0},
                   makeLogger("test"));
  meta.connect().wait(loop.waitScope());
  Credentials cred;
  auto r = meta.mutate("mkdir 1/x", kj::Own<Interruptible>(), cred,
                       [](rpc::Command::Builder c) { c.initCreate().setName("x"); })
               .wait(loop.waitScope());
  CHECK(r.getReply().getStatus().getCode() == 0);
  REQUIRE(rec.seqs.size() == 2);
  CHECK(rec.seqs[0] == rec.seqs[1]);
  CHECK(rec.seqs[0] != 0);
  CHECK(rec.sessions[1] == 4242);
  REQUIRE(rec.resumes.size() == 2);
  CHECK(rec.resumes[0] == 0);
  CHECK(rec.resumes[1] == 4242);  // the reconnect resumed the session

  // The next mutation takes a new seq.
  meta.mutate("mkdir 1/y", kj::Own<Interruptible>(), cred, [](rpc::Command::Builder) {})
      .wait(loop.waitScope());
  REQUIRE(rec.seqs.size() == 3);
  CHECK(rec.seqs[2] > rec.seqs[1]);
}

TEST_CASE("the session hook gets each new session's id, and sessionId() already says it") {
  EventLoop loop;
  Record rec;
  rec.swallow = 1;  // the first mutation's reply is lost: a reconnect, which resumes the session
  rpc::MetaService::Client cap = kj::heap<FakeMeta>(rec);
  RpcServer server(loop, cap, makeLogger("test"));
  uint port = server.listen("127.0.0.1:0").wait(loop.waitScope());
  MetaSession meta(loop, MetaConfig{"127.0.0.1:" + std::to_string(port), "t", 200, 10.0},
                   makeLogger("test"));
  struct Call {
    uint64_t id, current;
    bool reconnected;
  };
  std::vector<Call> calls;
  meta.onSession([&](rpc::Session::Client, uint64_t id, bool reconnected) {
    calls.push_back(Call{id, meta.sessionId(), reconnected});
  });
  meta.connect().wait(loop.waitScope());
  REQUIRE(calls.size() == 1);
  CHECK(calls[0].id == 4242);
  CHECK(calls[0].current == 4242);  // what the mount's hooks rely on (Filesystem::sessionOpened)
  CHECK_FALSE(calls[0].reconnected);
  Credentials cred;
  meta.mutate("mkdir 1/x", kj::Own<Interruptible>(), cred, [](rpc::Command::Builder c) { c.initCreate().setName("x"); })
      .wait(loop.waitScope());
  REQUIRE(calls.size() == 2);
  CHECK(calls[1].id == 4242);
  CHECK(calls[1].current == 4242);
  CHECK(calls[1].reconnected);
}

TEST_CASE("the first connection to an unreachable server fails with one line naming it") {
  EventLoop loop;
  int port = freePort(loop);
  std::string address = "127.0.0.1:" + std::to_string(port);
  MetaSession meta(loop, MetaConfig{address, "t", 500, 1.0}, makeLogger("test"));
  auto message = meta.connect()
                     .then([]() { return std::string("connected"); },
                           [](kj::Exception&& e) { return describeException(e); })
                     .wait(loop.waitScope());
  CHECK(message == "cannot reach metadata server " + address + ": connection refused");
}

TEST_CASE("calls fail with EIO once the deadline passes while the server is gone") {
  EventLoop loop;
  Record rec;
  rpc::MetaService::Client cap = kj::heap<FakeMeta>(rec);
  auto server = kj::heap<RpcServer>(loop, cap, makeLogger("test"));
  uint port = server->listen("127.0.0.1:0").wait(loop.waitScope());
  MetaSession meta(loop, MetaConfig{"127.0.0.1:" + std::to_string(port), "t", 200, 0.6},
                   makeLogger("test"));
  meta.connect().wait(loop.waitScope());
  server = nullptr;  // the metadata server goes away
  auto start = loop.timer().now();
  int err = meta.mutate("rmdir 1/x", kj::Own<Interruptible>(), Credentials(),
                        [](rpc::Command::Builder) {})
                .then([](auto&&) { return 0; },
                      [](kj::Exception&& e) { return errnoFromException(e); })
                .wait(loop.waitScope());
  CHECK(err == EIO);
  CHECK(loop.timer().now() - start >= 600 * kj::MILLISECONDS);

  // It comes back on the same port: the same session object works again.
  server = kj::heap<RpcServer>(loop, cap, makeLogger("test"));
  server->listen("127.0.0.1:" + std::to_string(port)).wait(loop.waitScope());
  auto r = meta.mutate("rmdir 1/x", kj::Own<Interruptible>(), Credentials(),
                       [](rpc::Command::Builder) {})
               .wait(loop.waitScope());
  CHECK(r.getReply().getStatus().getCode() == 0);
  CHECK(rec.resumes.back() == 4242);
}

TEST_CASE("an interrupt ends a call waiting for an unreachable server with EINTR") {
  EventLoop loop;
  Record rec;
  rpc::MetaService::Client cap = kj::heap<FakeMeta>(rec);
  auto server = kj::heap<RpcServer>(loop, cap, makeLogger("test"));
  uint port = server->listen("127.0.0.1:0").wait(loop.waitScope());
  MetaSession meta(loop, MetaConfig{"127.0.0.1:" + std::to_string(port), "t", 200, 30.0},
                   makeLogger("test"));
  meta.connect().wait(loop.waitScope());
  server = nullptr;
  auto intr = kj::refcounted<TestInterrupt>();
  auto& intrRef = *intr;
  auto start = loop.timer().now();
  auto call = meta.mutate("unlink 1/x", kj::mv(intr), Credentials(), [](rpc::Command::Builder) {})
                  .then([](auto&&) { return 0; },
                        [](kj::Exception&& e) { return errnoFromException(e); });
  loop.timer().afterDelay(300 * kj::MILLISECONDS).wait(loop.waitScope());
  intrRef.fire();
  CHECK(call.wait(loop.waitScope()) == EINTR);
  CHECK(loop.timer().now() - start < 5 * kj::SECONDS);
}

TEST_CASE("a waiting call (a blocked lock) has no per-attempt deadline; an ordinary call would resend") {
  EventLoop loop;
  Record rec;
  rec.timer = &loop.timer();
  rec.lockDelayMs = 700;  // longer than the 200 ms rpc timeout
  rpc::MetaService::Client cap = kj::heap<FakeMeta>(rec);
  RpcServer server(loop, cap, makeLogger("test"));
  uint port = server.listen("127.0.0.1:0").wait(loop.waitScope());
  MetaSession meta(loop, MetaConfig{"127.0.0.1:" + std::to_string(port), "t", 200, 10.0},
                   makeLogger("test"));
  meta.connect().wait(loop.waitScope());
  auto send = [](rpc::Session::Client& s) {
    auto q = s.setLockRequest();
    q.setWait(true);
    return q.send();
  };
  auto start = loop.timer().now();
  auto r = meta.callWaiting<rpc::Session::SetLockResults>("lock", kj::Own<Interruptible>(), send)
               .wait(loop.waitScope());
  CHECK(r.getStatus().getCode() == 0);
  CHECK(rec.setLocks == 1);
  CHECK(loop.timer().now() - start >= 700 * kj::MILLISECONDS);

  // The same with call(): every attempt times out after 200 ms and is sent again, until EIO.
  rec.setLocks = 0;
  MetaSession bounded(loop, MetaConfig{"127.0.0.1:" + std::to_string(port), "t", 200, 1.0}, makeLogger("test"));
  bounded.connect().wait(loop.waitScope());
  int err = bounded.call<rpc::Session::SetLockResults>("lock", kj::Own<Interruptible>(), send)
                .then([](auto&&) { return 0; }, [](kj::Exception&& e) { return errnoFromException(e); })
                .wait(loop.waitScope());
  CHECK(err == EIO);
  CHECK(rec.setLocks > 1);
}
