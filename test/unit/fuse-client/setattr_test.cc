#include <doctest/doctest.h>

#include <capnp/message.h>
#include <fuse3/fuse_lowlevel.h>

#include "fuse-client/setattr.h"

using namespace basalt::client;
namespace rpc = basalt::rpc;

TEST_CASE("chmod sends only the permission bits") {
  struct stat st = {};
  st.st_mode = S_IFREG | 04755;
  auto s = translateSetAttr(st, FUSE_SET_ATTR_MODE, nullptr);
  CHECK(s.valid == rpc::SET_MODE);
  CHECK(s.mode == 04755);
  CHECK(s.handle == 0);
}

TEST_CASE("chown and truncate translate their fields") {
  struct stat st = {};
  st.st_uid = 1000;
  st.st_gid = 100;
  st.st_size = 12345;
  auto s = translateSetAttr(st, FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID | FUSE_SET_ATTR_SIZE, nullptr);
  CHECK(s.valid == (rpc::SET_UID | rpc::SET_GID | rpc::SET_SIZE));
  CHECK(s.uid == 1000);
  CHECK(s.gid == 100);
  CHECK(s.size == 12345);
}

TEST_CASE("UTIME_NOW becomes the now bits, not an explicit time") {
  struct stat st = {};
  auto s = translateSetAttr(
      st, FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_ATIME_NOW | FUSE_SET_ATTR_MTIME | FUSE_SET_ATTR_MTIME_NOW,
      nullptr);
  CHECK(s.valid == (rpc::SET_ATIME_NOW | rpc::SET_MTIME_NOW));
}

TEST_CASE("explicit times are copied with nanoseconds") {
  struct stat st = {};
  st.st_atim = {111, 222};
  st.st_mtim = {333, 444};
  auto s = translateSetAttr(st, FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME, nullptr);
  CHECK(s.valid == (rpc::SET_ATIME | rpc::SET_MTIME));
  CHECK(s.atime.tv_sec == 111);
  CHECK(s.atime.tv_nsec == 222);
  CHECK(s.mtime.tv_sec == 333);
  CHECK(s.mtime.tv_nsec == 444);
}

TEST_CASE("kill suid/sgid bits become setKillSuidGid; ctime is never sent") {
  struct stat st = {};
  CHECK(translateSetAttr(st, FUSE_SET_ATTR_KILL_SUID, nullptr).valid == rpc::SET_KILL_SUID_GID);
  CHECK(translateSetAttr(st, FUSE_SET_ATTR_KILL_SGID, nullptr).valid == rpc::SET_KILL_SUID_GID);
  CHECK(translateSetAttr(st, FUSE_SET_ATTR_CTIME, nullptr).valid == 0);
}

TEST_CASE("ftruncate carries the open handle") {
  struct stat st = {};
  st.st_size = 0;
  fuse_file_info fi = {};
  fi.fh = 77;
  auto s = translateSetAttr(st, FUSE_SET_ATTR_SIZE, &fi);
  CHECK(s.handle == 77);
}

TEST_CASE("the spec fills a SetAttr command") {
  struct stat st = {};
  st.st_mode = 0600;
  st.st_mtim = {5, 6};
  auto spec = translateSetAttr(st, FUSE_SET_ATTR_MODE | FUSE_SET_ATTR_MTIME, nullptr);
  capnp::MallocMessageBuilder msg;
  auto c = msg.initRoot<rpc::Command>();
  fillSetAttr(spec, 42, c.initSetAttr());
  auto r = c.asReader().getSetAttr();
  CHECK(r.getIno() == 42);
  CHECK(r.getValid() == (rpc::SET_MODE | rpc::SET_MTIME));
  CHECK(r.getMode() == 0600);
  CHECK(r.getMtime().getSec() == 5);
  CHECK(r.getMtime().getNsec() == 6);
}
