// Shared fixtures for the metadata tests: a store in a temp dir and helpers that build commands
// the way the leader does (time, inode numbers filled in) and apply them in their own commit.
#pragma once

#include <doctest/doctest.h>
#include <fcntl.h>
#include <stdlib.h>

#include <capnp/message.h>
#include <kj/memory.h>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "meta/apply.h"
#include "meta/commands/command.h"
#include "meta/fsck.h"
#include "meta/inode.h"
#include "meta/perm.h"
#include "meta/reads.h"
#include "meta/store.h"

namespace basalt::meta::test {

// A Create of `name` in the root directory as the leader sends it to the committer (time and
// inode number filled in), as its own message.
inline kj::Own<capnp::MallocMessageBuilder> leaderCreate(uint64_t session, uint64_t seq, uint64_t ino,
                                                          const std::string& name, uint32_t mode = S_IFREG | 0644) {
  auto msg = kj::heap<capnp::MallocMessageBuilder>();
  auto cmd = msg->initRoot<rpc::Command>();
  cmd.setSession(session);
  cmd.setSeq(seq);
  cmd.initTime().setSec(100);
  auto cr = cmd.initCreate();
  cr.setParent(kRootIno);
  cr.setName(name);
  cr.setMode(mode);
  cr.setExclusive(true);
  cr.setIno(ino);
  return msg;
}

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/basalt-meta-test-XXXXXX";
    REQUIRE(mkdtemp(tmpl) != nullptr);
    path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

inline Cred user(uint32_t uid, uint32_t gid, std::vector<uint32_t> groups = {}) {
  Cred c;
  c.uid = uid;
  c.gid = gid;
  c.groups = std::move(groups);
  return c;
}
inline const Cred kRoot = user(0, 0);
inline const Cred kAlice = user(1000, 1000);
inline const Cred kBob = user(1001, 1001);

inline int code(Applied& a) { return a.reply().getStatus().getCode(); }
inline int code(Applied&& a) { return a.reply().getStatus().getCode(); }
inline uint64_t inoOf(Applied& a) { return a.reply().getAttr().getIno(); }
inline uint64_t inoOf(Applied&& a) { return a.reply().getAttr().getIno(); }

class Fixture {
 public:
  TempDir dir;
  std::unique_ptr<Store> store;
  uint64_t nextIno = 100;
  int64_t now = 1000;

  Fixture() { reopen(); }

  void reopen() {
    store.reset();
    auto s = Store::open(dir.path);
    REQUIRE_MESSAGE(s.isOk(), s.status().toString());
    store = std::move(s.value());
  }

  // Builds a command with `fill`, stamps time/cred/session/seq, applies and commits it.
  Applied run(const std::function<void(rpc::Command::Builder)>& fill, const Cred& cred = kRoot, uint64_t session = 0,
              uint64_t seq = 0) {
    capnp::MallocMessageBuilder msg;
    auto cmd = msg.initRoot<rpc::Command>();
    cmd.initTime().setSec(++now);
    cmd.setSession(session);
    cmd.setSeq(seq);
    auto c = cmd.initCred();
    c.setUid(cred.uid);
    c.setGid(cred.gid);
    auto g = c.initGroups(cred.groups.size());
    for (size_t i = 0; i < cred.groups.size(); ++i) g.set(i, cred.groups[i]);
    fill(cmd);
    if (cmd.isCreate()) {
      cmd.getCreate().setIno(nextIno++);
      cmd.getCreate().setGeneration(7);
    }
    Txn txn = store->beginWrite();
    Applied a = apply(cmd.asReader(), txn);
    txn.commit();
    return a;
  }

  Applied create(uint64_t parent, const std::string& name, uint32_t mode, const Cred& cred = kRoot,
                 const std::function<void(rpc::Command::Create::Builder)>& extra = {}, uint64_t session = 0,
                 uint64_t seq = 0) {
    return run(
        [&](rpc::Command::Builder c) {
          auto cr = c.initCreate();
          cr.setParent(parent);
          cr.setName(name);
          cr.setMode(mode);
          cr.setExclusive(true);
          if (extra) extra(cr);
        },
        cred, session, seq);
  }
  Applied file(uint64_t parent, const std::string& name, uint32_t perm = 0644, const Cred& cred = kRoot) {
    return create(parent, name, S_IFREG | perm, cred);
  }
  Applied mkdir(uint64_t parent, const std::string& name, uint32_t perm = 0755, const Cred& cred = kRoot) {
    return create(parent, name, S_IFDIR | perm, cred);
  }
  Applied remove(uint64_t parent, const std::string& name, bool directory, const Cred& cred = kRoot,
                 uint64_t session = 0, uint64_t seq = 0) {
    return run(
        [&](rpc::Command::Builder c) {
          auto r = c.initRemove();
          r.setParent(parent);
          r.setName(name);
          r.setDirectory(directory);
        },
        cred, session, seq);
  }
  Applied rename(uint64_t parent, const std::string& name, uint64_t newParent, const std::string& newName,
                 uint32_t flags = 0, const Cred& cred = kRoot, uint64_t session = 0, uint64_t seq = 0) {
    return run(
        [&](rpc::Command::Builder c) {
          auto r = c.initRename();
          r.setParent(parent);
          r.setName(name);
          r.setNewParent(newParent);
          r.setNewName(newName);
          r.setFlags(flags);
        },
        cred, session, seq);
  }
  Applied link(uint64_t ino, uint64_t newParent, const std::string& newName, const Cred& cred = kRoot) {
    return run(
        [&](rpc::Command::Builder c) {
          auto l = c.initLink();
          l.setIno(ino);
          l.setNewParent(newParent);
          l.setNewName(newName);
        },
        cred);
  }
  Applied setAttr(uint64_t ino, const std::function<void(rpc::Command::SetAttr::Builder)>& fill,
                  const Cred& cred = kRoot) {
    return run(
        [&](rpc::Command::Builder c) {
          auto s = c.initSetAttr();
          s.setIno(ino);
          fill(s);
        },
        cred);
  }
  Applied setXattr(uint64_t ino, const std::string& name, const std::string& value, uint32_t flags = 0,
                   const Cred& cred = kRoot) {
    return run(
        [&](rpc::Command::Builder c) {
          auto x = c.initSetXattr();
          x.setIno(ino);
          x.setName(name);
          x.setValue(kj::arrayPtr(reinterpret_cast<const kj::byte*>(value.data()), value.size()));
          x.setFlags(flags);
        },
        cred);
  }
  Applied removeXattr(uint64_t ino, const std::string& name, const Cred& cred = kRoot) {
    return run(
        [&](rpc::Command::Builder c) {
          auto x = c.initRemoveXattr();
          x.setIno(ino);
          x.setName(name);
        },
        cred);
  }
  Applied reclaim(uint64_t ino) {
    return run([&](rpc::Command::Builder c) { c.initReclaim().setIno(ino); });
  }

  Inode inode(uint64_t ino) {
    auto n = getAttr(*store, ino);
    REQUIRE_MESSAGE(n.isOk(), n.status().toString());
    return *n;
  }
  bool exists(uint64_t ino) { return getAttr(*store, ino).isOk(); }
  // The inode `name` in `parent` names, or 0.
  uint64_t lookupIno(uint64_t parent, const std::string& name) {
    auto n = lookup(*store, kRoot, parent, name);
    return n.isOk() ? n->ino : 0;
  }
  bool hasRow(Table t, const std::string& key) { return store->beginRead().exists(t, key); }
  uint64_t rows(Table t) { return store->beginRead().count(t); }
  void putChunk(uint64_t ino, uint32_t index, uint64_t chunkId, std::vector<uint32_t> replicas = {1, 2, 3}) {
    Txn txn = store->beginWrite();
    txn.put(Table::kChunks, chunkKey(ino, index), encodeChunk(ChunkEntry{chunkId, 1, std::move(replicas)}));
    txn.commit();
  }
  void expectClean() {
    auto r = fsck(*store);
    std::string all;
    for (auto& p : r.problems) all += p + "\n";
    CHECK_MESSAGE(r.clean(), all);
  }
};

}  // namespace basalt::meta::test
