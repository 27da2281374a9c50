#include <doctest/doctest.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tools/bench/fs_util.h"

using namespace basalt::tools::bench;

namespace {
std::string tempDir() {
  char name[] = "/tmp/bench-fs-util-XXXXXX";
  REQUIRE(mkdtemp(name) != nullptr);
  return name;
}
bool exists(const std::string& p) {
  struct stat st;
  return lstat(p.c_str(), &st) == 0;
}
void touch(const std::string& p) {
  int fd = open(p.c_str(), O_WRONLY | O_CREAT, 0644);
  REQUIRE(fd >= 0);
  close(fd);
}
}  // namespace

TEST_CASE("removeTree removes nested directories and files but never follows a symlink") {
  std::string root = tempDir();
  std::string keep = tempDir();
  touch(keep + "/precious");
  REQUIRE(makeDir(root + "/tree").isOk());
  REQUIRE(makeDir(root + "/tree/a").isOk());
  REQUIRE(makeDir(root + "/tree/a/b").isOk());
  touch(root + "/tree/a/b/f");
  touch(root + "/tree/g");
  REQUIRE(chmod((root + "/tree/g").c_str(), 0444) == 0);
  REQUIRE(symlink(keep.c_str(), (root + "/tree/a/link").c_str()) == 0);
  CHECK(removeTree(root + "/tree").isOk());
  CHECK_FALSE(exists(root + "/tree"));
  CHECK(exists(keep + "/precious"));
  CHECK(removeTree(root + "/tree").isOk());  // already gone: fine
  CHECK(removeTree(keep).isOk());
  CHECK(removeTree(root).isOk());
}

TEST_CASE("makeDir refuses an existing directory: every run starts fresh") {
  std::string root = tempDir();
  CHECK(makeDir(root + "/x").isOk());
  basalt::Status again = makeDir(root + "/x");
  CHECK(again.code() == EEXIST);
  CHECK(again.message().find(root + "/x") != std::string::npos);
  CHECK(removeTree(root).isOk());
}

TEST_CASE("random bytes depend on the seed only") {
  CHECK(randomBytes(100, 1) == randomBytes(100, 1));
  CHECK(randomBytes(100, 1) != randomBytes(100, 2));
  CHECK(randomBytes(13, 1).size() == 13);
}

TEST_CASE("readFully stops at end of file and reports how much it got") {
  std::string root = tempDir();
  std::string path = root + "/f";
  int fd = open(path.c_str(), O_RDWR | O_CREAT, 0644);
  REQUIRE(fd >= 0);
  REQUIRE(writeFully(fd, "hello", 5, 0, path).isOk());
  char buf[16];
  size_t got = 0;
  CHECK(readFully(fd, buf, sizeof(buf), 2, path, &got).isOk());
  CHECK(got == 3);
  CHECK(std::string(buf, got) == "llo");
  close(fd);
  CHECK(removeTree(root).isOk());
}
