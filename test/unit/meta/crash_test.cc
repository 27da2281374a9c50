// kill -9 of a real basalt-meta in the middle of a burst of mutations loses no acknowledged change
// and leaves a consistent tree. Label e2e: it starts processes.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "meta/fsck.h"
#include "meta/inode.h"
#include "meta/store.h"
#include "rpc-schema/meta.capnp.h"
#include "server/rpc.h"
#include "test/unit/meta/test_util.h"

using namespace basalt;
using namespace basalt::meta;

namespace {

const std::string kBinary = std::string(BASALT_BIN_DIR) + "/basalt-meta";

// A basalt-meta child process; killed (SIGKILL) when the object goes, whatever happened.
struct Child {
  pid_t pid = -1;
  std::string address;

  Child(const std::string& dataDir, const std::string& portFile, const std::string& logFile) {
    unlink(portFile.c_str());
    pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      int fd = open(logFile.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      if (fd >= 0) dup2(fd, 2);
      execl(kBinary.c_str(), kBinary.c_str(), "--data", dataDir.c_str(), "--listen", "127.0.0.1:0", "--port-file",
            portFile.c_str(), "--lease-ms", "5000", "--log-level", "warn", nullptr);
      _exit(127);
    }
    // Wait for the port file, bounded.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < deadline) {
      std::ifstream in(portFile);
      if (std::getline(in, address) && !address.empty()) return;
      int status;
      REQUIRE_MESSAGE(waitpid(pid, &status, WNOHANG) == 0, "basalt-meta exited early; see " << logFile);
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    FAIL("basalt-meta did not write its port file within 20 s; see " << logFile);
  }
  void kill9() {
    if (pid > 0) {
      ::kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
      pid = -1;
    }
  }
  // SIGTERM and wait (bounded) for a clean exit; returns the exit code (-1 on timeout/signal).
  int stop() {
    if (pid <= 0) return -1;
    ::kill(pid, SIGTERM);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    int status = 0;
    while (std::chrono::steady_clock::now() < deadline) {
      if (waitpid(pid, &status, WNOHANG) == pid) {
        pid = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    kill9();
    return -1;
  }
  ~Child() { kill9(); }
};

struct Op {
  enum Kind { kCreate, kMkdir, kRename } kind;
  std::string name, newName;
  bool acked = false;
};

// Fires `total` mutations with `window` in flight; kills the server after `killAfter` acks.
struct Burst {
  rpc::Session::Client session;
  Child& child;
  int total, killAfter;
  std::vector<Op> ops;
  std::vector<size_t> renamable;  // acked creates not yet renamed
  int acked = 0, errors = 0;
  bool stopped = false;

  Burst(rpc::Session::Client s, Child& c, int total, int killAfter)
      : session(kj::mv(s)), child(c), total(total), killAfter(killAfter) {}

  kj::Promise<void> worker() {
    if (stopped || static_cast<int>(ops.size()) >= total) return kj::READY_NOW;
    size_t i = ops.size();
    Op op;
    if (i % 4 == 3 && !renamable.empty()) {
      size_t victim = renamable.front();
      renamable.erase(renamable.begin());
      op = Op{Op::kRename, ops[victim].name, "r" + std::to_string(i)};
    } else if (i % 2 == 0) {
      op = Op{Op::kCreate, "f" + std::to_string(i), ""};
    } else {
      op = Op{Op::kMkdir, "d" + std::to_string(i), ""};
    }
    ops.push_back(op);
    auto req = session.mutateRequest();
    auto cmd = req.initCommand();
    cmd.setSeq(i + 1);
    if (op.kind == Op::kRename) {
      auto r = cmd.initRename();
      r.setParent(kRootIno);
      r.setName(op.name);
      r.setNewParent(kRootIno);
      r.setNewName(op.newName);
    } else {
      auto c = cmd.initCreate();
      c.setParent(kRootIno);
      c.setName(op.name);
      c.setMode(op.kind == Op::kMkdir ? (S_IFDIR | 0755) : (S_IFREG | 0644));
      c.setExclusive(true);
    }
    return req.send().then(
        [this, i](auto&& resp) {
          if (resp.getReply().getStatus().getCode() != 0) {
            ++errors;
          } else {
            ops[i].acked = true;
            if (ops[i].kind == Op::kCreate) renamable.push_back(i);
            if (++acked == killAfter) {
              child.kill9();
              stopped = true;
            }
          }
          return worker();
        },
        [this](kj::Exception&&) { stopped = true; });
  }
};

kj::Promise<bool> exists(rpc::Session::Client& session, const std::string& name) {
  auto req = session.lookupRequest();
  req.setParent(kRootIno);
  req.setName(name);
  return req.send().then([](auto&& r) { return r.getStatus().getCode() == 0; });
}

rpc::Session::Client openSession(EventLoop& loop, RpcClient& client) {
  auto meta = client.bootstrap(10000).wait(loop.waitScope()).castAs<rpc::MetaService>();
  auto req = meta.openSessionRequest();
  req.setClientName("crash-test");
  auto resp = req.send().wait(loop.waitScope());
  REQUIRE(resp.getStatus().getCode() == 0);
  return resp.getSession();
}

}  // namespace

TEST_CASE("kill -9 mid-burst loses no acknowledged mutation and leaves a consistent tree") {
  test::TempDir dir;
  std::string data = dir.path + "/data", portFile = dir.path + "/port", log = dir.path + "/meta.log";
  EventLoop loop;
  auto& ws = loop.waitScope();
  constexpr int kTotal = 20000, kKillAfter = 1500, kWindow = 64;

  Child first(data, portFile, log);
  RpcClient client(loop, first.address);
  Burst burst(openSession(loop, client), first, kTotal, kKillAfter);
  kj::Vector<kj::Promise<void>> workers;
  for (int w = 0; w < kWindow; ++w) workers.add(burst.worker());
  loop.timer().timeoutAfter(60 * kj::SECONDS, kj::joinPromises(workers.releaseAsArray())).wait(ws);
  CHECK(burst.errors == 0);
  REQUIRE(burst.acked >= kKillAfter);
  REQUIRE(first.pid == -1);  // it was killed mid-burst
  int issued = static_cast<int>(burst.ops.size());
  CHECK(issued > burst.acked);  // some were in flight when it died
  MESSAGE("issued " << issued << ", acknowledged " << burst.acked << " before kill -9");

  Child second(data, portFile, log);
  RpcClient client2(loop, second.address);
  auto session = openSession(loop, client2);
  int checked = 0, lost = 0;
  for (auto& op : burst.ops) {
    if (!op.acked) continue;
    if (op.kind == Op::kRename) {
      bool now = exists(session, op.newName).wait(ws), old = exists(session, op.name).wait(ws);
      if (!now || old) ++lost;
    } else {
      // A create may have been renamed afterwards (by an acked or an unacked rename): then its
      // new name exists instead.
      bool present = exists(session, op.name).wait(ws);
      if (!present) {
        for (auto& r : burst.ops) {
          if (r.kind == Op::kRename && r.name == op.name) present = exists(session, r.newName).wait(ws);
        }
      }
      if (!present) ++lost;
    }
    ++checked;
  }
  CHECK(checked == burst.acked);
  CHECK(lost == 0);
  CHECK(second.stop() == 0);

  auto store = Store::open(data, /*readOnly=*/true);
  REQUIRE(store.isOk());
  auto report = fsck(**store);
  std::string problems;
  for (auto& p : report.problems) problems += p + "\n";
  CHECK_MESSAGE(report.clean(), problems);
  CHECK(report.dirents >= static_cast<uint64_t>(burst.acked - 1) / 2);
  store.value().reset();
  // The command-line check agrees.
  std::string cmd = kBinary + " --fsck --data " + data + " > " + dir.path + "/fsck.out 2>&1";
  CHECK(system(cmd.c_str()) == 0);
}
