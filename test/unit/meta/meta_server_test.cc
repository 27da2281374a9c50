// MetaServer (sessions, handles, orphans) and the RPC adapters over a real connection.
#include "meta/meta_server.h"

#include <kj/async.h>

#include "meta/service.h"
#include "server/rpc.h"
#include "test/unit/meta/server_fixture.h"
#include "test/unit/meta/test_util.h"

using namespace basalt;
using namespace basalt::meta;
using namespace basalt::meta::test;

namespace {

struct Server : ServerFixture {
  Applied mutate(uint64_t session, const std::function<void(rpc::Command::Builder)>& fill, uint64_t seq = 0) {
    capnp::MallocMessageBuilder msg;
    auto cmd = msg.initRoot<rpc::Command>();
    cmd.setSeq(seq);
    fill(cmd);
    return server->mutate(session, cmd.asReader()).wait(loop.waitScope());
  }
  // open(O_CREAT|O_RDWR) of `name` in the root (O_EXCL unless `exclusive` is false); `mode` may
  // also be a directory's, to see the server refuse or ignore the open part.
  Applied createOpen(uint64_t session, const std::string& name, uint32_t mode = S_IFREG | 0644,
                     bool exclusive = true) {
    return submitCreate(session, name, mode, exclusive).wait(loop.waitScope());
  }
  // The same, not waited for.
  kj::Promise<Applied> submitCreate(uint64_t session, const std::string& name, uint32_t mode = S_IFREG | 0644,
                                    bool exclusive = true) {
    capnp::MallocMessageBuilder msg;
    auto cr = msg.initRoot<rpc::Command>().initCreate();
    cr.setParent(kRootIno);
    cr.setName(name);
    cr.setMode(mode);
    cr.setExclusive(exclusive);
    cr.setOpen(true);
    cr.setOpenFlags(O_RDWR);
    return server->mutate(session, msg.getRoot<rpc::Command>().asReader());
  }
  Applied unlink(uint64_t session, const std::string& name) {
    return mutate(session, [&](rpc::Command::Builder c) {
      c.initRemove().setParent(kRootIno);
      c.getRemove().setName(name);
    });
  }
  bool exists(uint64_t ino) { return getAttr(*store, ino).isOk(); }
  void waitGrace() { loop.timer().afterDelay((kLeaseMs + 20) * kj::MILLISECONDS).wait(loop.waitScope()); }
};

}  // namespace

TEST_CASE("the leader fills in time, inode numbers and handles; the reply carries them") {
  Server s;
  uint64_t id = s.session();
  auto a = s.createOpen(id, "f");
  REQUIRE(code(a) == 0);
  CHECK(a.reply().getHandle() != 0);
  CHECK(a.reply().getAttr().getIno() >= 2);
  CHECK(a.reply().getAttr().getMtime().getSec() == 5000);
  CHECK(a.reply().getAttr().getGeneration() == s.store->boots());
  auto b = s.createOpen(id, "g");
  CHECK(b.reply().getAttr().getIno() == a.reply().getAttr().getIno() + 1);
  CHECK(b.reply().getHandle() != a.reply().getHandle());
  CHECK(s.server->sessions().at(0).openHandles == 2);
}

TEST_CASE("an unlinked file lives while open and is reclaimed at its last release") {
  Server s;
  s.waitGrace();
  uint64_t id = s.session();
  auto a = s.createOpen(id, "f");
  uint64_t ino = inoOf(a), handle = a.reply().getHandle();
  auto opened = s.server->open(id, kRoot, ino, O_RDONLY, 0).wait(s.loop.waitScope());
  REQUIRE(opened.isOk());
  REQUIRE(code(s.unlink(id, "f")) == 0);
  CHECK(s.server->isOrphan(ino));
  s.server->committer().drain().wait(s.loop.waitScope());
  CHECK(s.exists(ino));
  CHECK(s.server->release(id, handle).isOk());
  s.server->committer().drain().wait(s.loop.waitScope());
  CHECK(s.exists(ino));  // the second handle still holds it
  CHECK(s.server->release(id, opened->handle).isOk());
  CHECK(waitUntil(s.loop, [&] { return !s.exists(ino); }));
  CHECK(s.server->release(id, handle).code() == EBADF);
  CHECK(fsck(*s.store).clean());
}

TEST_CASE("an unlinked file nobody has open is reclaimed right after the commit") {
  Server s;
  s.waitGrace();
  uint64_t id = s.session();
  uint64_t ino = inoOf(s.mutate(id, [](rpc::Command::Builder c) {
    c.initCreate().setParent(kRootIno);
    c.getCreate().setName("f");
    c.getCreate().setMode(S_IFREG | 0600);
  }));
  REQUIRE(code(s.unlink(id, "f")) == 0);
  CHECK(waitUntil(s.loop, [&] { return !s.exists(ino); }));
}

TEST_CASE("an expired session is closed: its handles go and its open-unlinked files are reclaimed") {
  Server s;
  s.waitGrace();
  uint64_t id = s.session();
  uint64_t ino = inoOf(s.createOpen(id, "f"));
  REQUIRE(code(s.unlink(id, "f")) == 0);
  CHECK(s.exists(ino));
  CHECK(waitUntil(s.loop, [&] { return !s.exists(ino); }, 3000));
  CHECK(s.server->sessions().empty());
  CHECK(s.server->touch(id).code() == ESTALE);
  CHECK(code(s.unlink(id, "x")) == ESTALE);
  CHECK(s.store->beginRead().count(Table::kSessions) == 0);
}

TEST_CASE("renewing keeps a session alive past its lease") {
  Server s;
  uint64_t id = s.session();
  auto until = s.loop.timer().now() + 3 * kLeaseMs * kj::MILLISECONDS;
  while (s.loop.timer().now() < until) {
    REQUIRE(s.server->renew(id, {}).isOk());
    s.loop.timer().afterDelay(kLeaseMs / 4 * kj::MILLISECONDS).wait(s.loop.waitScope());
  }
  CHECK(s.server->touch(id).isOk());
}

TEST_CASE("after a restart, orphans wait one lease; re-declared open inodes stay until undeclared") {
  Server s;
  s.waitGrace();
  uint64_t id = s.session();
  uint64_t kept = inoOf(s.createOpen(id, "kept"));
  uint64_t dropped = inoOf(s.createOpen(id, "dropped"));
  REQUIRE(code(s.unlink(id, "kept")) == 0);
  REQUIRE(code(s.unlink(id, "dropped")) == 0);
  s.server->committer().drain().wait(s.loop.waitScope());
  s.restart();  // handles are gone with the old process; the orphans are in the store
  CHECK(s.server->isOrphan(kept));
  CHECK(s.session("client", id) == id);  // resumed
  REQUIRE(s.server->renew(id, {kept}).isOk());
  CHECK(s.exists(dropped));  // still within the grace period
  auto until = s.loop.timer().now() + 2 * kLeaseMs * kj::MILLISECONDS;
  while (s.loop.timer().now() < until) {
    REQUIRE(s.server->renew(id, {kept}).isOk());
    s.loop.timer().afterDelay(kLeaseMs / 4 * kj::MILLISECONDS).wait(s.loop.waitScope());
  }
  CHECK_FALSE(s.exists(dropped));
  CHECK(s.exists(kept));
  REQUIRE(s.server->renew(id, {}).isOk());
  CHECK(waitUntil(s.loop, [&] { return !s.exists(kept); }));
  CHECK(fsck(*s.store).clean());
}

TEST_CASE("session ids are unique and an unknown resume id gets a new session") {
  Server s;
  uint64_t a = s.session(), b = s.session();
  CHECK(a != b);
  CHECK(a != 0);
  CHECK(s.session("x", 12345) != 12345);
  CHECK(s.server->sessions().size() == 3);
}

TEST_CASE("clients cannot send server-internal commands or use another session's handle") {
  Server s;
  uint64_t id = s.session(), other = s.session();
  CHECK(code(s.mutate(id, [](rpc::Command::Builder c) { c.initReclaim().setIno(1); })) == EPERM);
  CHECK(code(s.mutate(id, [](rpc::Command::Builder c) { c.initCloseSession().setId(1); })) == EPERM);
  CHECK(code(s.mutate(id, [](rpc::Command::Builder c) { c.initSetServerDraining().setId(1); })) == EPERM);
  auto a = s.createOpen(id, "f");
  uint64_t ino = inoOf(a), handle = a.reply().getHandle();
  auto viaHandle = [&](uint64_t session) {
    return s.mutate(session, [&](rpc::Command::Builder c) {
      auto sa = c.initSetAttr();
      sa.setIno(ino);
      sa.setValid(rpc::SET_SIZE);
      sa.setSize(5);
      sa.setHandle(handle);
    });
  };
  CHECK(code(viaHandle(other)) == EBADF);
  CHECK(code(viaHandle(id)) == 0);
  CHECK(s.server->release(other, handle).code() == EBADF);
}

TEST_CASE("open with O_TRUNC truncates through a committed, retry-safe command") {
  Server s;
  uint64_t id = s.session();
  uint64_t ino = inoOf(s.createOpen(id, "f"));
  REQUIRE(code(s.mutate(id, [&](rpc::Command::Builder c) {
            c.initCommitWrite().setIno(ino);
            c.getCommitWrite().setSize(100);
          })) == 0);
  auto o = s.server->open(id, kRoot, ino, O_WRONLY | O_TRUNC, 7).wait(s.loop.waitScope());
  REQUIRE(o.isOk());
  CHECK(o->attr.size == 0);
  CHECK(s.store->beginRead().exists(Table::kDedup, dedupKey(id, 7)));
  auto denied = s.server->open(id, kAlice, ino, O_WRONLY, 8).wait(s.loop.waitScope());
  CHECK(denied.status().code() == EACCES);
}

TEST_CASE("shutdown lets the batch in flight commit and then refuses mutations") {
  Server s;
  uint64_t id = s.session();
  capnp::MallocMessageBuilder msg;
  auto cmd = msg.initRoot<rpc::Command>();
  cmd.initCreate().setParent(kRootIno);
  cmd.getCreate().setName("late");
  cmd.getCreate().setMode(S_IFDIR | 0755);
  auto pending = s.server->mutate(id, cmd.asReader());
  auto done = s.server->shutdown();
  auto reply = pending.wait(s.loop.waitScope());
  done.wait(s.loop.waitScope());
  CHECK(code(reply) == 0);
  CHECK(lookup(*s.store, kRoot, kRootIno, "late").isOk());
  CHECK(code(s.unlink(id, "late")) == ESHUTDOWN);
}

TEST_CASE("the RPC services answer over a real connection") {
  Server s;
  auto service = kj::heap<MetaServiceImpl>(*s.server, "meta-under-test");
  RpcServer rpcServer(s.loop, kj::mv(service), makeLogger("test"));
  uint port = rpcServer.listen("127.0.0.1:0").wait(s.loop.waitScope());
  RpcClient client(s.loop, "127.0.0.1:" + std::to_string(port));
  auto& ws = s.loop.waitScope();
  auto meta = client.bootstrap().wait(ws).castAs<rpc::MetaService>();

  auto openReq = meta.openSessionRequest();
  openReq.setClientName("rpc-test");
  auto opened = openReq.send().wait(ws);
  REQUIRE(opened.getStatus().getCode() == 0);
  CHECK(opened.getLeaseMs() == kLeaseMs);
  auto session = opened.getSession();

  auto mkdir = session.mutateRequest();
  auto cmd = mkdir.initCommand();
  cmd.setSeq(1);
  cmd.initCreate().setParent(kRootIno);
  cmd.getCreate().setName("dir");
  cmd.getCreate().setMode(S_IFDIR | 0755);
  auto made = mkdir.send().wait(ws);
  REQUIRE(made.getReply().getStatus().getCode() == 0);
  uint64_t dirIno = made.getReply().getAttr().getIno();

  auto look = session.lookupRequest();
  look.setParent(kRootIno);
  look.setName("dir");
  auto found = look.send().wait(ws);
  CHECK(found.getStatus().getCode() == 0);
  CHECK(found.getAttr().getIno() == dirIno);
  CHECK(found.getAttr().getNlink() == 2);

  auto ls = session.readDirRequest();
  ls.setIno(kRootIno);
  ls.setMaxEntries(10);
  ls.setPlus(true);
  auto listing = ls.send().wait(ws);
  REQUIRE(listing.getEntries().size() == 3);
  CHECK(listing.getEntries()[2].getName() == "dir");
  CHECK(listing.getEntries()[2].getAttr().getIno() == dirIno);
  CHECK(listing.getEof());

  auto missing = session.getAttrRequest();
  missing.setIno(999);
  CHECK(missing.send().wait(ws).getStatus().getCode() == ENOENT);

  auto layout = session.getLayoutRequest();
  layout.setIno(dirIno);
  auto lay = layout.send().wait(ws);
  CHECK(lay.getStatus().getCode() == ENOTSUP);
  CHECK(std::string(lay.getStatus().getMessage().cStr()) == "this metadata server has no data path");

  auto stat = session.statFsRequest().send().wait(ws);
  CHECK(stat.getStat().getBlocks() == 1000);
  CHECK(stat.getStat().getNameMax() == 255);

  auto renew = session.renewRequest();
  renew.initOpenInodes(0);
  CHECK(renew.send().wait(ws).getLeaseMs() == kLeaseMs);

  auto infoResponse = meta.clusterInfoRequest().send().wait(ws);  // keeps the message alive
  auto info = infoResponse.getInfo();
  CHECK(info.getMetaAddress() == "meta-under-test");
  CHECK(info.getInodes() == 2);
  REQUIRE(info.getSessions().size() == 1);
  CHECK(info.getSessions()[0].getClientName() == "rpc-test");

  auto registry = meta.chunkRegistryRequest().send().then([](auto&&) { return true; },
                                                          [](kj::Exception&&) { return false; });
  CHECK_FALSE(registry.wait(ws));

  // Resuming keeps the id.
  auto again = meta.openSessionRequest();
  again.setClientName("rpc-test");
  again.setResume(opened.getId());
  CHECK(again.send().wait(ws).getId() == opened.getId());
}

TEST_CASE("a create is answered only once the create hook's promise resolves") {
  Server s;
  uint64_t id = s.session();
  kj::Own<kj::PromiseFulfiller<void>> release;
  s.server->setCreateHook([&](uint64_t, uint64_t) {
    auto paf = kj::newPromiseAndFulfiller<void>();
    release = kj::mv(paf.fulfiller);
    return kj::mv(paf.promise);
  });
  int answered = -1;
  uint64_t commitsBefore = s.server->committer().commits();
  auto reply = s.submitCreate(id, "f")
                   .then([&](Applied a) { answered = code(a); })
                   .eagerlyEvaluate(nullptr);
  auto& ws = s.loop.waitScope();
  // Committed, but not answered while the hook holds it.
  REQUIRE(waitUntil(s.loop, [&]() { return s.server->committer().commits() > commitsBefore; }));
  REQUIRE(release.get() != nullptr);
  CHECK_FALSE(waitUntil(s.loop, [&]() { return answered != -1; }, 50));
  release->fulfill();
  reply.wait(ws);
  CHECK(answered == 0);
}

TEST_CASE("the create hook's commands commit in the create's batch; a create that made no inode fails them") {
  Server s;
  uint64_t id = s.session();
  std::vector<kj::Promise<Applied>> hooked;
  std::vector<uint64_t> hookedInos;
  s.server->setCreateHook([&](uint64_t ino, uint64_t parent) {
    CHECK(parent == kRootIno);
    hookedInos.push_back(ino);
    hooked.push_back(s.server->submitInternal([ino](rpc::Command::Builder c) {
      auto sc = c.initSetChunk();
      sc.setIno(ino);
      sc.setChunkId(1000 + ino);
      sc.setVersion(1);
      sc.initReplicas(1).set(0, 7);
    }));
    return kj::READY_NOW;
  });
  uint64_t commitsBefore = s.server->committer().commits();
  auto a = s.createOpen(id, "f");
  REQUIRE(code(a) == 0);
  REQUIRE(hooked.size() == 1);
  auto chunk = hooked[0].wait(s.loop.waitScope());
  CHECK(code(chunk) == 0);
  CHECK(s.server->committer().commits() == commitsBefore + 1);  // one commit for both
  uint64_t ino = a.reply().getAttr().getIno();
  CHECK(hookedInos[0] == ino);
  CHECK(s.store->beginRead().exists(Table::kChunks, chunkKey(ino, 0)));

  // O_CREAT of an existing name opens it: no hook.
  auto again = s.createOpen(id, "f", S_IFREG | 0644, /*exclusive=*/false);
  REQUIRE(code(again) == 0);
  CHECK(again.reply().getAttr().getIno() == ino);
  CHECK(hooked.size() == 1);

  // Two creates of one new name in the same batch: both are hooked, the second opens the file the
  // first made, so the inode number set aside for it is never made and its hook's command fails
  // alone (the file keeps the first one's chunk map).
  auto first = s.submitCreate(id, "g", S_IFREG | 0644, /*exclusive=*/false);
  auto second = s.submitCreate(id, "g", S_IFREG | 0644, /*exclusive=*/false);
  auto& ws = s.loop.waitScope();
  auto a1 = first.wait(ws);
  auto a2 = second.wait(ws);
  REQUIRE(code(a1) == 0);
  REQUIRE(code(a2) == 0);
  uint64_t g = a1.reply().getAttr().getIno();
  CHECK(a2.reply().getAttr().getIno() == g);
  REQUIRE(hooked.size() == 3);
  CHECK(code(hooked[1].wait(ws)) == 0);
  CHECK(code(hooked[2].wait(ws)) == ENOENT);
  CHECK(s.store->beginRead().exists(Table::kChunks, chunkKey(g, 0)));
  CHECK(!s.store->beginRead().exists(Table::kChunks, chunkKey(hookedInos[2], 0)));

  // mkdir is not a file create: no hook, even with the open flag set.
  auto d = s.createOpen(id, "d", S_IFDIR | 0755, /*exclusive=*/false);
  (void)code(d);  // whatever the server answers a directory "opened" at its create
  CHECK(hooked.size() == 3);
}
