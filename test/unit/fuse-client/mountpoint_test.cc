#include <doctest/doctest.h>

#include "fuse-client/mountpoint.h"

using namespace basalt::client;

TEST_CASE("mountinfo lines parse into mountpoint, type and source") {
  auto m = parseMountInfo(
      "22 1 0:21 / /proc rw,nosuid shared:5 - proc proc rw\n"
      "42 27 0:39 / /tmp/my\\040mnt rw,nosuid,nodev - fuse.basalt basalt:127.0.0.1:7000 rw,user_id=0\n"
      "garbage line\n");
  REQUIRE(m.size() == 2);
  CHECK(m[0].mountPoint == "/proc");
  CHECK(m[0].fsType == "proc");
  CHECK(m[1].mountPoint == "/tmp/my mnt");
  CHECK(m[1].fsType == "fuse.basalt");
  CHECK(m[1].source == "basalt:127.0.0.1:7000");
  CHECK(isBasaltMount(m, "/tmp/my mnt"));
  CHECK_FALSE(isBasaltMount(m, "/proc"));
  CHECK_FALSE(isBasaltMount(m, "/tmp"));
}

TEST_CASE("paths are normalized without touching the filesystem") {
  CHECK(normalizePath("mnt", "/home/u") == "/home/u/mnt");
  CHECK(normalizePath("/a//b/./c/", "/x") == "/a/b/c");
  CHECK(normalizePath("../b", "/a/c") == "/a/b");
  CHECK(normalizePath("/..", "/") == "/");
}

TEST_CASE("a missing mountpoint or a file is refused with one clear line") {
  auto s = checkMountpoint("/nonexistent-basalt-test-dir");
  CHECK(s.code() == ENOENT);
  CHECK(s.message() == "mountpoint /nonexistent-basalt-test-dir: no such directory");
  CHECK(checkMountpoint("/proc/self/mountinfo").code() == ENOTDIR);
  CHECK(checkMountpoint("/tmp").isOk());
}
