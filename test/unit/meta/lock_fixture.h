// The fixture of the LockManager tests: a real MetaServer on a real store with one file, short
// leases, and helpers to lock, to wait (bounded) and to look at the stored state.
#pragma once

#include <kj/async.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "meta/locks/lock_manager.h"
#include "meta/meta_server.h"
#include "test/unit/meta/server_fixture.h"

namespace basalt::meta::test {

inline LockRequest req(uint64_t owner, LockType type, uint64_t start = 0, uint64_t end = ByteRange::kToEof,
                bool wait = false, OwnerKind kind = OwnerKind::kPosix) {
  LockRequest r;
  r.owner = LockOwner{0, owner, kind};
  r.type = type;
  r.range = ByteRange{start, end};
  r.wait = wait;
  r.pid = static_cast<uint32_t>(owner);
  return r;
}

// A call whose answer is collected when it comes.
struct Pending {
  std::shared_ptr<std::optional<Status>> result = std::make_shared<std::optional<Status>>();
  kj::Promise<void> promise = nullptr;
  bool done() const { return result->has_value(); }
  int code() const { return (*result)->code(); }
};

// The server fixture with one file, `ino`, to lock.
struct Server : ServerFixture {
  uint64_t ino = 0;

  Server() {
    uint64_t id = session("creator");
    capnp::MallocMessageBuilder msg;
    auto cmd = msg.initRoot<rpc::Command>();
    cmd.initCreate().setParent(kRootIno);
    cmd.getCreate().setName("f");
    cmd.getCreate().setMode(S_IFREG | 0644);
    auto a = server->mutate(id, cmd.asReader()).wait(loop.waitScope());
    REQUIRE(code(a) == 0);
    ino = inoOf(a);
  }
  LockManager& locks() { return server->locks(); }
  int set(uint64_t session, LockRequest r, uint64_t waiter = 0) {
    return locks().setLock(session, ino, r, waiter).wait(loop.waitScope()).status.code();
  }
  Pending start(uint64_t session, LockRequest r, uint64_t waiter) {
    Pending p;
    auto slot = p.result;
    p.promise = locks().setLock(session, ino, r, waiter).then([slot](LockAnswer a) { *slot = a.status; }).eagerlyEvaluate(nullptr);
    loop.waitScope().poll();
    return p;
  }
  std::optional<std::string> stored() {
    Txn txn = store->beginRead();
    auto v = txn.get(Table::kLocks, inoKey(ino));
    if (!v) return std::nullopt;
    return std::string(*v);
  }
  // Keeps `sessions` alive (the lease is short) while waiting.
  bool waitKeeping(const std::vector<uint64_t>& sessions, const std::function<bool()>& pred, uint32_t ms = 3000) {
    return waitUntil(loop, [&] {
      for (uint64_t s : sessions) server->touch(s);
      return pred();
    }, ms);
  }
};


}  // namespace basalt::meta::test
