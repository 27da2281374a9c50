#include <map>
#include <set>

#include "test/unit/meta/test_util.h"

using namespace basalt::meta;
using namespace basalt::meta::test;

TEST_CASE("readdir starts with . and .. (cookies 1 and 2) and pages by cookie") {
  Fixture f;
  uint64_t d = inoOf(f.mkdir(kRootIno, "d"));
  for (int i = 0; i < 5; ++i) REQUIRE(code(f.file(d, "f" + std::to_string(i))) == 0);
  auto page = readDir(*f.store, kRoot, d, 0, 3, false);
  REQUIRE(page.isOk());
  REQUIRE(page->entries.size() == 3);
  CHECK(page->entries[0].name == ".");
  CHECK(page->entries[0].cookie == 1);
  CHECK(page->entries[0].ino == d);
  CHECK(page->entries[1].name == "..");
  CHECK(page->entries[1].cookie == 2);
  CHECK(page->entries[1].ino == kRootIno);
  CHECK(page->entries[2].name == "f0");
  CHECK(page->entries[2].mode == S_IFREG);  // type only without plus
  CHECK_FALSE(page->eof);
  auto rest = readDir(*f.store, kRoot, d, page->entries[2].cookie, 100, true);
  REQUIRE(rest.isOk());
  CHECK(rest->entries.size() == 4);
  CHECK(rest->eof);
  CHECK(rest->entries[0].attr.ino == rest->entries[0].ino);
  CHECK(rest->entries[0].mode == (S_IFREG | 0644));
  auto fromDot = readDir(*f.store, kRoot, d, 1, 1, false);
  CHECK(fromDot->entries[0].name == "..");
}

TEST_CASE("readdir needs read permission and a directory") {
  Fixture f;
  uint64_t d = inoOf(f.mkdir(kRootIno, "d", 0711));
  CHECK(readDir(*f.store, kAlice, d, 0, 10, false).status().code() == EACCES);
  CHECK(readDir(*f.store, kRoot, inoOf(f.file(kRootIno, "x")), 0, 10, false).status().code() == ENOTDIR);
  CHECK(readDir(*f.store, kRoot, 999, 0, 10, false).status().code() == ENOENT);
}

TEST_CASE("readdir cookies stay valid while entries are added and removed between pages") {
  Fixture f;
  uint64_t d = inoOf(f.mkdir(kRootIno, "d"));
  std::set<std::string> present;
  for (int i = 0; i < 60; ++i) {
    std::string name = "e" + std::to_string(i);
    REQUIRE(code(f.file(d, name)) == 0);
    present.insert(name);
  }
  std::set<std::string> untouched = present;  // present for the whole listing
  std::multiset<std::string> seen;
  uint64_t cookie = 0;
  int round = 0, added = 0;
  for (;;) {
    auto page = readDir(*f.store, kRoot, d, cookie, 7, false);
    REQUIRE(page.isOk());
    for (auto& e : page->entries) {
      seen.insert(e.name);
      cookie = e.cookie;
    }
    if (page->eof) break;
    // Between pages: remove one entry already returned, one not yet returned; add two; rename one.
    ++round;
    std::string ahead = "e" + std::to_string(59 - round);
    if (present.erase(ahead)) {
      REQUIRE(code(f.remove(d, ahead, false)) == 0);
      untouched.erase(ahead);
    }
    std::string behind = "e" + std::to_string(round);
    if (present.erase(behind)) {
      REQUIRE(code(f.remove(d, behind, false)) == 0);
      untouched.erase(behind);
    }
    for (int k = 0; k < 2; ++k) {
      std::string name = "new" + std::to_string(added++);
      REQUIRE(code(f.file(d, name)) == 0);
      present.insert(name);
    }
    REQUIRE(round < 100);
  }
  for (auto& name : seen) {
    CHECK_MESSAGE(seen.count(name) == 1, "duplicate " << name);
  }
  for (auto& name : untouched) CHECK_MESSAGE(seen.count(name) == 1, "skipped " << name);
  // Removed before their turn: never shown.
  CHECK(seen.count("e58") == 0);
  // Added during the listing: shown (they get cookies past every existing one).
  CHECK(seen.count("new0") == 1);
  CHECK(seen.count(".") == 1);
  CHECK(seen.count("..") == 1);
}

TEST_CASE("a name replaced by rename keeps its place in an ongoing listing") {
  Fixture f;
  uint64_t d = inoOf(f.mkdir(kRootIno, "d"));
  REQUIRE(code(f.file(d, "a")) == 0);
  REQUIRE(code(f.file(d, "b")) == 0);
  REQUIRE(code(f.file(d, "z")) == 0);
  auto first = readDir(*f.store, kRoot, d, 2, 1, false);  // returns "a"
  REQUIRE(first->entries.size() == 1);
  CHECK(first->entries[0].name == "a");
  REQUIRE(code(f.rename(d, "z", d, "a")) == 0);  // "a" now names z's inode, in a's slot
  auto rest = readDir(*f.store, kRoot, d, first->entries[0].cookie, 10, false);
  REQUIRE(rest->entries.size() == 1);
  CHECK(rest->entries[0].name == "b");
}
