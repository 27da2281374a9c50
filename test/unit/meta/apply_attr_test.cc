// SetAttr, SetXattr/RemoveXattr and the xattr reads, CommitWrite.
#include "meta/cache_watchers.h"
#include "test/unit/meta/test_util.h"

using namespace basalt::meta;
using namespace basalt::meta::test;
namespace rpc = basalt::rpc;

namespace {
Applied chmod(Fixture& f, uint64_t ino, uint32_t mode, const Cred& c) {
  return f.setAttr(ino, [&](auto s) { s.setValid(rpc::SET_MODE); s.setMode(mode); }, c);
}
Applied chown(Fixture& f, uint64_t ino, std::optional<uint32_t> uid, std::optional<uint32_t> gid, const Cred& c) {
  return f.setAttr(ino, [&](auto s) {
    uint32_t valid = 0;
    if (uid) { valid |= rpc::SET_UID; s.setUid(*uid); }
    if (gid) { valid |= rpc::SET_GID; s.setGid(*gid); }
    s.setValid(valid);
  }, c);
}
}  // namespace

TEST_CASE("chmod: owner or root only; ctime moves; a non-member loses setgid") {
  Fixture f;
  uint64_t pub = inoOf(f.mkdir(kRootIno, "pub", 0777));
  uint64_t ino = inoOf(f.file(pub, "f", 0644, kAlice));
  CHECK(code(chmod(f, ino, 0600, kBob)) == EPERM);
  auto a = chmod(f, ino, 04750, kAlice);
  REQUIRE(code(a) == 0);
  CHECK(f.inode(ino).mode == (S_IFREG | 04750));
  CHECK(f.inode(ino).ctime.sec == f.now);
  REQUIRE(code(chown(f, ino, {}, 4242, kRoot)) == 0);  // a group alice is not in
  REQUIRE(code(chmod(f, ino, 02770, kAlice)) == 0);
  CHECK(f.inode(ino).mode == (S_IFREG | 0770));
  REQUIRE(code(chmod(f, ino, 02770, kRoot)) == 0);
  CHECK(f.inode(ino).mode == (S_IFREG | 02770));
  CHECK(code(chmod(f, 999, 0600, kRoot)) == ENOENT);
}

TEST_CASE("chown: only root changes the owner; the owner may change the group to one of theirs") {
  Fixture f;
  uint64_t pub = inoOf(f.mkdir(kRootIno, "pub", 0777));
  Cred alice = user(1000, 1000, {50});
  uint64_t ino = inoOf(f.file(pub, "f", 0644, alice));
  CHECK(code(chown(f, ino, 1001, {}, alice)) == EPERM);
  CHECK(code(chown(f, ino, 1000, {}, alice)) == 0);  // to itself: allowed
  CHECK(code(chown(f, ino, {}, 50, alice)) == 0);
  CHECK(f.inode(ino).gid == 50);
  CHECK(code(chown(f, ino, {}, 60, alice)) == EPERM);
  CHECK(code(chown(f, ino, {}, 50, kBob)) == EPERM);
  CHECK(code(chown(f, ino, 1001, 1001, kRoot)) == 0);
  CHECK(f.inode(ino).uid == 1001);
}

TEST_CASE("chown clears setuid, and setgid when group-executable, on files but not directories") {
  Fixture f;
  uint64_t ino = inoOf(f.file(kRootIno, "f", 06755));
  REQUIRE(code(chown(f, ino, 5, {}, kRoot)) == 0);
  CHECK((f.inode(ino).mode & 07777) == 0755);
  uint64_t nox = inoOf(f.file(kRootIno, "g", 06745));  // sgid without group exec = mandatory locking: kept
  REQUIRE(code(chown(f, nox, {}, 5, kRoot)) == 0);
  CHECK((f.inode(nox).mode & 07777) == 02745);
  uint64_t dir = inoOf(f.mkdir(kRootIno, "d", 02755));
  REQUIRE(code(chown(f, dir, 5, 5, kRoot)) == 0);
  CHECK((f.inode(dir).mode & 07777) == 02755);
}

TEST_CASE("truncate grows and shrinks; shrinking sends the chunks past the end to the garbage table") {
  Fixture f;
  uint64_t ino = inoOf(f.file(kRootIno, "f", 0664));
  auto size = [&](uint64_t s, const Cred& c = kRoot, uint64_t handle = 0) {
    return f.setAttr(ino, [&](auto b) { b.setValid(rpc::SET_SIZE); b.setSize(s); b.setHandle(handle); }, c);
  };
  uint64_t mb = 1 << 20;
  REQUIRE(code(size(200 * mb)) == 0);
  CHECK(f.inode(ino).size == 200 * mb);
  CHECK(f.inode(ino).mtime.sec == f.now);
  for (uint32_t i = 0; i < 4; ++i) f.putChunk(ino, i, 1000 + i, {7, 8});
  REQUIRE(code(size(64 * mb + 1)) == 0);  // chunks 0 and 1 still hold data
  CHECK(f.hasRow(Table::kChunks, chunkKey(ino, 0)));
  CHECK(f.hasRow(Table::kChunks, chunkKey(ino, 1)));
  CHECK_FALSE(f.hasRow(Table::kChunks, chunkKey(ino, 2)));
  CHECK_FALSE(f.hasRow(Table::kChunks, chunkKey(ino, 3)));
  CHECK_FALSE(f.hasRow(Table::kGarbage, be64(1001)));
  CHECK(f.hasRow(Table::kGarbage, be64(1002)));
  CHECK(f.hasRow(Table::kGarbage, be64(1003)));
  {
    auto v = f.store->beginRead().get(Table::kGarbage, be64(1003));
    REQUIRE(v);
    CHECK(v->size() == 8);
    CHECK(readBe32(*v, 0) == 7);
    CHECK(readBe32(*v, 4) == 8);
  }
  REQUIRE(code(size(0)) == 0);
  CHECK(f.rows(Table::kChunks) == 0);
  CHECK(f.rows(Table::kGarbage) == 4);
  CHECK(code(size(10, kAlice)) == EACCES);       // no write permission by path
  CHECK(code(size(10, kAlice, 77)) == 0);        // through a handle: checked at open by the leader
  uint64_t dir = inoOf(f.mkdir(kRootIno, "d"));
  CHECK(code(f.setAttr(dir, [](auto b) { b.setValid(rpc::SET_SIZE); b.setSize(1); })) == EISDIR);
  uint64_t fifo = inoOf(f.create(kRootIno, "p", S_IFIFO | 0666));
  CHECK(code(f.setAttr(fifo, [](auto b) { b.setValid(rpc::SET_SIZE); b.setSize(1); })) == EINVAL);
}

TEST_CASE("utimensat: explicit times need the owner; UTIME_NOW needs the owner or write permission") {
  Fixture f;
  uint64_t pub = inoOf(f.mkdir(kRootIno, "pub", 0777));
  uint64_t ino = inoOf(f.file(pub, "f", 0646, kAlice));  // others may write
  uint64_t ro = inoOf(f.file(pub, "ro", 0644, kAlice));
  auto explicitTimes = [&](uint64_t i, const Cred& c) {
    return f.setAttr(i, [](auto s) {
      s.setValid(rpc::SET_ATIME | rpc::SET_MTIME);
      s.initAtime().setSec(5);
      s.getAtime().setNsec(6);
      s.initMtime().setSec(7);
      s.getMtime().setNsec(8);
    }, c);
  };
  auto nowTimes = [&](uint64_t i, const Cred& c) {
    return f.setAttr(i, [](auto s) { s.setValid(rpc::SET_ATIME_NOW | rpc::SET_MTIME_NOW); }, c);
  };
  CHECK(code(explicitTimes(ino, kBob)) == EPERM);
  REQUIRE(code(explicitTimes(ino, kAlice)) == 0);
  Inode n = f.inode(ino);
  CHECK(n.atime.sec == 5);
  CHECK(n.atime.nsec == 6);
  CHECK(n.mtime.sec == 7);
  CHECK(n.mtime.nsec == 8);
  CHECK(n.ctime.sec == f.now);
  REQUIRE(code(nowTimes(ino, kBob)) == 0);
  CHECK(f.inode(ino).mtime.sec == f.now);
  CHECK(code(nowTimes(ro, kBob)) == EACCES);
  CHECK(code(explicitTimes(ro, kRoot)) == 0);
  // Omitted: only mtime is set, atime stays.
  REQUIRE(code(f.setAttr(ino, [](auto s) { s.setValid(rpc::SET_MTIME_NOW); }, kAlice)) == 0);
  CHECK(f.inode(ino).atime.sec != f.now);
  CHECK(f.inode(ino).mtime.sec == f.now);
}

TEST_CASE("write by a non-owner (killSuidGid) clears setuid and group-exec setgid, not for root") {
  Fixture f;
  uint64_t ino = inoOf(f.file(kRootIno, "f", 06777));
  REQUIRE(code(f.setAttr(ino, [](auto s) { s.setValid(rpc::SET_KILL_SUID_GID); }, kRoot)) == 0);
  CHECK((f.inode(ino).mode & 07777) == 06777);
  REQUIRE(code(f.setAttr(ino, [](auto s) { s.setValid(rpc::SET_KILL_SUID_GID); }, kAlice)) == 0);
  CHECK((f.inode(ino).mode & 07777) == 0777);
}

TEST_CASE("xattrs: set, get, list, replace, remove, with XATTR_CREATE/REPLACE semantics") {
  Fixture f;
  uint64_t ino = inoOf(f.file(kRootIno, "f"));
  REQUIRE(code(f.setXattr(ino, "user.a", "1")) == 0);
  CHECK(f.inode(ino).ctime.sec == f.now);
  CHECK(*getXattr(*f.store, kRoot, ino, "user.a") == "1");
  CHECK(code(f.setXattr(ino, "user.a", "2", rpc::XATTR_FLAG_CREATE)) == EEXIST);
  CHECK(code(f.setXattr(ino, "user.b", "2", rpc::XATTR_FLAG_REPLACE)) == ENODATA);
  CHECK(code(f.setXattr(ino, "user.a", "3", rpc::XATTR_FLAG_REPLACE)) == 0);
  CHECK(code(f.setXattr(ino, "user.a", "3", rpc::XATTR_FLAG_REPLACE | rpc::XATTR_FLAG_CREATE)) == EINVAL);
  CHECK(*getXattr(*f.store, kRoot, ino, "user.a") == "3");
  REQUIRE(code(f.setXattr(ino, "user.empty", "")) == 0);
  CHECK(*getXattr(*f.store, kRoot, ino, "user.empty") == "");
  CHECK(*listXattr(*f.store, kRoot, ino) == std::vector<std::string>{"user.a", "user.empty"});
  REQUIRE(code(f.removeXattr(ino, "user.a")) == 0);
  CHECK(getXattr(*f.store, kRoot, ino, "user.a").status().code() == ENODATA);
  CHECK(code(f.removeXattr(ino, "user.a")) == ENODATA);
  CHECK(getXattr(*f.store, kRoot, 999, "user.a").status().code() == ENOENT);
  CHECK(code(f.setXattr(999, "user.a", "")) == ENOENT);
}

TEST_CASE("xattr limits: names up to 255 bytes (ERANGE), values up to 64 KiB (E2BIG), known namespaces") {
  Fixture f;
  uint64_t ino = inoOf(f.file(kRootIno, "f"));
  CHECK(code(f.setXattr(ino, "user." + std::string(250, 'n'), "v")) == 0);
  CHECK(code(f.setXattr(ino, "user." + std::string(251, 'n'), "v")) == ERANGE);
  CHECK(code(f.setXattr(ino, "", "v")) == ERANGE);
  CHECK(code(f.setXattr(ino, "user.big", std::string(65536, 'v'))) == 0);
  CHECK(code(f.setXattr(ino, "user.big", std::string(65537, 'v'))) == E2BIG);
  CHECK(code(f.setXattr(ino, "bogus.x", "v")) == EOPNOTSUPP);
  CHECK(code(f.setXattr(ino, "system.other", "v")) == EOPNOTSUPP);
  CHECK(getXattr(*f.store, kRoot, ino, "user." + std::string(251, 'n')).status().code() == ERANGE);
}

TEST_CASE("xattr permissions: user.* needs r/w and a file or directory; trusted.* is root's") {
  Fixture f;
  uint64_t pub = inoOf(f.mkdir(kRootIno, "pub", 0777));
  uint64_t ino = inoOf(f.file(pub, "f", 0644, kAlice));
  uint64_t fifo = inoOf(f.create(pub, "p", S_IFIFO | 0666, kAlice));
  uint64_t lnk = inoOf(f.create(pub, "l", S_IFLNK, kAlice, [](auto cr) { cr.setTarget("f"); }));
  CHECK(code(f.setXattr(ino, "user.x", "1", 0, kAlice)) == 0);
  CHECK(code(f.setXattr(ino, "user.x", "1", 0, kBob)) == EACCES);
  CHECK(code(f.removeXattr(ino, "user.x", kBob)) == EACCES);
  CHECK(*getXattr(*f.store, kBob, ino, "user.x") == "1");
  uint64_t secret = inoOf(f.file(pub, "secret", 0600, kAlice));
  REQUIRE(code(f.setXattr(secret, "user.x", "1", 0, kAlice)) == 0);
  CHECK(getXattr(*f.store, kBob, secret, "user.x").status().code() == EACCES);
  CHECK(code(f.setXattr(fifo, "user.x", "1", 0, kAlice)) == EPERM);
  CHECK(code(f.setXattr(lnk, "user.x", "1", 0, kAlice)) == EPERM);
  CHECK(getXattr(*f.store, kAlice, fifo, "user.x").status().code() == ENODATA);
  CHECK(code(f.setXattr(ino, "trusted.t", "1", 0, kAlice)) == EPERM);
  REQUIRE(code(f.setXattr(ino, "trusted.t", "1", 0, kRoot)) == 0);
  CHECK(getXattr(*f.store, kAlice, ino, "trusted.t").status().code() == ENODATA);
  CHECK(*getXattr(*f.store, kRoot, ino, "trusted.t") == "1");
  CHECK(*listXattr(*f.store, kAlice, ino) == std::vector<std::string>{"user.x"});
  CHECK(listXattr(*f.store, kRoot, ino)->size() == 2);
  CHECK(code(f.setXattr(ino, "security.s", "1", 0, kAlice)) == EPERM);
  CHECK(code(f.setXattr(ino, "security.s", "1", 0, kRoot)) == 0);
  CHECK(*getXattr(*f.store, kBob, ino, "security.s") == "1");
  const std::string minimalAcl("\x02\0\0\0\x01\0\x06\0\xff\xff\xff\xff\x04\0\x04\0\xff\xff\xff\xff"
                               "\x20\0\x04\0\xff\xff\xff\xff", 28);
  CHECK(code(f.setXattr(ino, "system.posix_acl_access", minimalAcl, 0, kBob)) == EPERM);
  CHECK(code(f.setXattr(ino, "system.posix_acl_access", minimalAcl, 0, kAlice)) == 0);
  uint64_t sticky = inoOf(f.mkdir(pub, "sticky", 01777, kAlice));
  CHECK(code(f.setXattr(sticky, "user.x", "1", 0, kBob)) == EPERM);
  CHECK(code(f.setXattr(sticky, "user.x", "1", 0, kAlice)) == 0);
}

TEST_CASE("commitWrite grows a file and moves mtime, never shrinks it") {
  Fixture f;
  uint64_t ino = inoOf(f.file(kRootIno, "f"));
  auto commit = [&](uint64_t size) {
    return f.run([&](rpc::Command::Builder c) {
      c.initCommitWrite().setIno(ino);
      c.getCommitWrite().setSize(size);
    });
  };
  REQUIRE(code(commit(1000)) == 0);
  CHECK(f.inode(ino).size == 1000);
  CHECK(f.inode(ino).mtime.sec == f.now);
  REQUIRE(code(commit(10)) == 0);
  CHECK(f.inode(ino).size == 1000);
  uint64_t dir = inoOf(f.mkdir(kRootIno, "d"));
  CHECK(code(f.run([&](rpc::Command::Builder c) { c.initCommitWrite().setIno(dir); })) == EINVAL);
  CHECK(code(f.run([&](rpc::Command::Builder c) { c.initCommitWrite().setIno(999); })) == ENOENT);
}

TEST_CASE("a retried setattr and setxattr are answered from the dedup table") {
  Fixture f;
  uint64_t ino = inoOf(f.file(kRootIno, "f"));
  auto set = [&](const std::string& v) {
    return f.run([&](rpc::Command::Builder c) {
      auto x = c.initSetXattr();
      x.setIno(ino);
      x.setName("user.v");
      x.setValue(kj::arrayPtr(reinterpret_cast<const kj::byte*>(v.data()), v.size()));
      x.setFlags(rpc::XATTR_FLAG_CREATE);
    }, kRoot, 5, 1);
  };
  REQUIRE(code(set("first")) == 0);
  auto again = set("second");
  CHECK(code(again) == 0);  // not EEXIST
  CHECK(again.effects.replayed);
  CHECK(*getXattr(*f.store, kRoot, ino, "user.v") == "first");
}

TEST_CASE("a setattr carrying a write commit applies the commit first, in one command, or nothing") {
  Fixture f;
  uint64_t pub = inoOf(f.mkdir(kRootIno, "pub", 0777));
  uint64_t ino = inoOf(f.file(pub, "f", 06775, kAlice));
  auto timesWithCommit = [&](uint64_t size, const Cred& c) {
    return f.setAttr(ino, [&](auto s) {
      s.setValid(rpc::SET_MTIME | rpc::SET_COMMIT_WRITE);
      s.initMtime().setSec(7);
      s.setCommitSize(size);
      s.setCommitKillSuidGid(true);
    }, c);
  };
  // Explicit times need the owner: a refused setattr leaves the commit undone too.
  CHECK(code(timesWithCommit(5000, kBob)) == EPERM);
  CHECK(f.inode(ino).size == 0);
  CHECK((f.inode(ino).mode & 07777) == 06775);
  // cp -a: write, then futimens: the size grows and the explicit mtime wins over the write's.
  auto a = timesWithCommit(5000, kAlice);
  REQUIRE(code(a) == 0);
  Inode n = f.inode(ino);
  CHECK(n.size == 5000);
  CHECK(n.mtime.sec == 7);
  CHECK(n.ctime.sec == f.now);
  CHECK((n.mode & 07777) == 0775);  // the commit's killSuidGid, as the writer is not root
  // A truncate after the writes: the commit lands first, then the truncate.
  REQUIRE(code(f.setAttr(ino, [](auto s) {
    s.setValid(rpc::SET_SIZE | rpc::SET_COMMIT_WRITE);
    s.setSize(100);
    s.setCommitSize(9000);
  }, kAlice)) == 0);
  CHECK(f.inode(ino).size == 100);
  // Only regular files take write commits.
  uint64_t dir = inoOf(f.mkdir(kRootIno, "d"));
  CHECK(code(f.setAttr(dir, [](auto s) { s.setValid(rpc::SET_MTIME_NOW | rpc::SET_COMMIT_WRITE); }, kRoot)) == EINVAL);
}

TEST_CASE("a setattr carrying a write commit tells other clients to drop the file's data") {
  capnp::MallocMessageBuilder cmdMsg, replyMsg;
  auto cmd = cmdMsg.initRoot<rpc::Command>();
  auto reply = replyMsg.initRoot<rpc::Reply>();
  cmd.initSetAttr().setIno(42);
  cmd.getSetAttr().setValid(rpc::SET_MTIME);
  CHECK(cacheChangesOf(cmd.asReader(), reply.asReader()).data.count(42) == 0);
  cmd.getSetAttr().setValid(rpc::SET_MTIME | rpc::SET_COMMIT_WRITE);
  CHECK(cacheChangesOf(cmd.asReader(), reply.asReader()).data.count(42) == 1);
}
