// The chunk map's commands: SetChunk (allocation, new versions, replacing a never-written chunk),
// RegisterServer, SetServerDraining, DropGarbage.
#include <doctest/doctest.h>

#include "meta/commands/command.h"
#include "test_util.h"

using namespace basalt;
using namespace basalt::meta;
using namespace basalt::meta::test;

namespace {
Applied setChunk(Fixture& f, uint64_t ino, uint32_t index, uint64_t id, uint64_t version,
                 std::vector<uint32_t> replicas, uint64_t expect, uint64_t replaces = 0,
                 uint64_t session = 0, uint64_t seq = 0) {
  return f.run(
      [&](rpc::Command::Builder c) {
        auto sc = c.initSetChunk();
        sc.setIno(ino);
        sc.setIndex(index);
        sc.setChunkId(id);
        sc.setVersion(version);
        sc.setExpectVersion(expect);
        sc.setReplacesChunk(replaces);
        auto r = sc.initReplicas(replicas.size());
        for (size_t i = 0; i < replicas.size(); ++i) r.set(i, replicas[i]);
      },
      kRoot, session, seq);
}

ChunkEntry entryOf(Fixture& f, uint64_t ino, uint32_t index) {
  auto v = f.store->beginRead().get(Table::kChunks, chunkKey(ino, index));
  REQUIRE(v.has_value());
  return decodeChunk(*v);
}
}  // namespace

TEST_CASE("a chunk is allocated once; allocating it again is EEXIST") {
  Fixture f;
  uint64_t ino = inoOf(f.file(kRootIno, "data"));
  REQUIRE(code(setChunk(f, ino, 0, 11, 1, {1, 2}, 0)) == 0);
  auto e = entryOf(f, ino, 0);
  CHECK(e.id == 11);
  CHECK(e.version == 1);
  CHECK(e.replicas == std::vector<uint32_t>{1, 2});
  CHECK(f.hasRow(Table::kChunkOwners, be64(11)));
  CHECK(code(setChunk(f, ino, 0, 12, 1, {3}, 0)) == EEXIST);
  CHECK(entryOf(f, ino, 0).id == 11);
  auto next = f.store->beginRead().get(Table::kMeta, "next_chunk");
  REQUIRE(next.has_value());
  CHECK(readBe64(*next) == 12);
}

TEST_CASE("a new version needs the current one: a compare-and-set") {
  Fixture f;
  uint64_t ino = inoOf(f.file(kRootIno, "data"));
  REQUIRE(code(setChunk(f, ino, 0, 11, 1, {1, 2}, 0)) == 0);
  CHECK(code(setChunk(f, ino, 0, 11, 2, {1}, 1)) == 0);
  CHECK(code(setChunk(f, ino, 0, 11, 3, {2}, 1)) == ESTALE);  // someone else moved it to v2
  CHECK(code(setChunk(f, ino, 0, 11, 2, {2}, 2)) == EINVAL);  // versions only grow
  auto e = entryOf(f, ino, 0);
  CHECK(e.version == 2);
  CHECK(e.replicas == std::vector<uint32_t>{1});
}

TEST_CASE("a never-written chunk is replaced by a new id and the old one becomes garbage") {
  Fixture f;
  uint64_t ino = inoOf(f.file(kRootIno, "data"));
  REQUIRE(code(setChunk(f, ino, 3, 11, 2, {1, 2}, 0)) == 0);
  CHECK(code(setChunk(f, ino, 3, 20, 1, {3, 1}, 1, 11)) == ESTALE);  // not at the expected version
  CHECK(code(setChunk(f, ino, 3, 20, 1, {3, 1}, 2, 99)) == ESTALE);  // not the chunk it claims to replace
  REQUIRE(code(setChunk(f, ino, 3, 20, 1, {3, 1}, 2, 11)) == 0);
  auto e = entryOf(f, ino, 3);
  CHECK(e.id == 20);
  CHECK(e.version == 1);
  CHECK(f.hasRow(Table::kGarbage, be64(11)));
  CHECK_FALSE(f.hasRow(Table::kChunkOwners, be64(11)));
  CHECK(f.hasRow(Table::kChunkOwners, be64(20)));
}

TEST_CASE("chunks of directories, unknown inodes, or without replicas are refused") {
  Fixture f;
  uint64_t dir = inoOf(f.mkdir(kRootIno, "d"));
  CHECK(code(setChunk(f, dir, 0, 11, 1, {1}, 0)) == EINVAL);
  CHECK(code(setChunk(f, 4242, 0, 11, 1, {1}, 0)) == ENOENT);
  uint64_t ino = inoOf(f.file(kRootIno, "data"));
  CHECK(code(setChunk(f, ino, 0, 11, 1, {}, 0)) == EINVAL);
  CHECK(code(setChunk(f, ino, 0, 0, 1, {1}, 0)) == EINVAL);
  CHECK(f.rows(Table::kChunks) == 0);
}

TEST_CASE("a retried SetChunk is answered from the dedup table, not applied twice") {
  Fixture f;
  uint64_t ino = inoOf(f.file(kRootIno, "data"));
  REQUIRE(code(setChunk(f, ino, 0, 11, 1, {1, 2}, 0, 0, 77, 5)) == 0);
  // Same (session, seq): the first answer (success), although applying again would be EEXIST.
  auto again = setChunk(f, ino, 0, 11, 1, {1, 2}, 0, 0, 77, 5);
  CHECK(code(again) == 0);
  CHECK(again.effects.replayed);
}

TEST_CASE("truncating and unlinking move the chunks and their owner rows to garbage") {
  Fixture f;
  uint64_t ino = inoOf(f.file(kRootIno, "data"));
  REQUIRE(code(setChunk(f, ino, 0, 11, 1, {1, 2}, 0)) == 0);
  REQUIRE(code(setChunk(f, ino, 1, 12, 1, {2, 3}, 0)) == 0);
  auto truncate = [&](uint64_t size) {
    return code(f.run([&](rpc::Command::Builder c) {
      auto sa = c.initSetAttr();
      sa.setIno(ino);
      sa.setValid(rpc::SET_SIZE);
      sa.setSize(size);
    }));
  };
  REQUIRE(truncate(100ull << 20) == 0);  // two 64 MiB chunks
  CHECK(f.hasRow(Table::kChunkOwners, be64(12)));
  REQUIRE(truncate(10) == 0);
  CHECK(f.hasRow(Table::kChunkOwners, be64(11)));
  CHECK_FALSE(f.hasRow(Table::kChunkOwners, be64(12)));
  CHECK(f.hasRow(Table::kGarbage, be64(12)));
  REQUIRE(code(f.run([&](rpc::Command::Builder c) { c.initDropGarbage().setChunkId(12); })) == 0);
  CHECK_FALSE(f.hasRow(Table::kGarbage, be64(12)));
}

TEST_CASE("a chunk server's address and zone are recorded; id 0 is refused") {
  Fixture f;
  REQUIRE(code(f.run([](rpc::Command::Builder c) {
            auto rs = c.initRegisterServer();
            rs.setId(3);
            rs.setAddress("10.0.0.3:7100");
            rs.setZone("rack1");
          })) == 0);
  std::string key;
  appendBe32(key, 3);
  auto v = f.store->beginRead().get(Table::kServers, key);
  REQUIRE(v.has_value());
  CHECK(std::string(*v) == std::string("10.0.0.3:7100\0rack1", 19));
  CHECK(code(f.run([](rpc::Command::Builder c) { c.initRegisterServer().setAddress("x:1"); })) == EINVAL);
}

TEST_CASE("draining is recorded with the server, survives a new registration, and can be undone") {
  Fixture f;
  auto registerAt = [&](const char* address, const char* zone) {
    return code(f.run([&](rpc::Command::Builder c) {
      auto rs = c.initRegisterServer();
      rs.setId(3);
      rs.setAddress(address);
      rs.setZone(zone);
    }));
  };
  auto drain = [&](uint32_t id, bool draining) {
    return code(f.run([&](rpc::Command::Builder c) {
      auto sd = c.initSetServerDraining();
      sd.setId(id);
      sd.setDraining(draining);
    }));
  };
  auto record = [&]() {
    std::string key;
    appendBe32(key, 3);
    auto v = f.store->beginRead().get(Table::kServers, key);
    REQUIRE(v.has_value());
    return decodeServer(*v);
  };
  CHECK(drain(3, true) == ENOENT);  // never registered
  REQUIRE(registerAt("10.0.0.3:7100", "rack1") == 0);
  CHECK_FALSE(record().draining);
  REQUIRE(drain(3, true) == 0);
  CHECK(record().draining);
  CHECK(record().zone == "rack1");
  // It registers again (a restart, a new address): still draining.
  REQUIRE(registerAt("10.0.0.3:7200", "rack2") == 0);
  ServerRecord r = record();
  CHECK(r.draining);
  CHECK(r.address == "10.0.0.3:7200");
  CHECK(r.zone == "rack2");
  REQUIRE(drain(3, false) == 0);
  CHECK_FALSE(record().draining);
  // A record written before draining existed (address NUL zone) decodes as not draining.
  ServerRecord old = decodeServer(std::string("10.0.0.9:7100\0z", 15));
  CHECK(old.address == "10.0.0.9:7100");
  CHECK(old.zone == "z");
  CHECK_FALSE(old.draining);
  CHECK(decodeServer(encodeServer(ServerRecord{"a:1", "", true})).draining);
}

