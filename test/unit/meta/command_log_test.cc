#include "meta/command_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "test/unit/meta/test_util.h"

using namespace basalt;
using namespace basalt::meta;
using namespace basalt::meta::test;

namespace {
std::vector<std::string> replayAll(const std::string& path, uint64_t after, CommandLog** keep = nullptr,
                                   std::unique_ptr<CommandLog>* holder = nullptr) {
  auto log = CommandLog::open(path);
  REQUIRE(log.isOk());
  std::vector<std::string> seen;
  uint64_t expect = after + 1;
  Status st = (*log)->replay(after, [&](uint64_t seq, std::string_view payload) {
    CHECK(seq == expect++);
    seen.emplace_back(payload);
    return Status::ok();
  });
  REQUIRE(st.isOk());
  if (holder != nullptr) {
    *holder = std::move(*log);
    if (keep != nullptr) *keep = holder->get();
  }
  return seen;
}

void flipByte(const std::string& path, off_t at) {
  int fd = ::open(path.c_str(), O_RDWR);
  REQUIRE(fd >= 0);
  char c;
  REQUIRE(::pread(fd, &c, 1, at) == 1);
  c ^= 0x40;
  REQUIRE(::pwrite(fd, &c, 1, at) == 1);
  ::close(fd);
}
}  // namespace

TEST_CASE("command log: records come back in order after a reopen, numbered from the run's start") {
  TempDir dir;
  std::string path = dir.path + "/log";
  {
    auto log = CommandLog::open(path);
    REQUIRE(log.isOk());
    (*log)->restart(8);
    for (std::string p : {"one", "", "three"}) REQUIRE((*log)->append(p).isOk());
    CHECK((*log)->nextSeq() == 11);
    CHECK((*log)->runBytes() == 3 * CommandLog::kHeaderSize + 8);
  }
  CHECK(replayAll(path, 7) == std::vector<std::string>{"one", "", "three"});
  CHECK(replayAll(path, 8).empty());  // a run is read from its first record only
}

TEST_CASE("command log: a torn record ends the replay, and the next append takes its place") {
  TempDir dir;
  std::string path = dir.path + "/log";
  {
    auto log = CommandLog::open(path);
    REQUIRE(log.isOk());
    for (std::string p : {"first", "second", "third"}) REQUIRE((*log)->append(p).isOk());
  }
  // A byte of the second record's payload (the first is 24 + 5 bytes long).
  flipByte(path, CommandLog::kHeaderSize + 5 + CommandLog::kHeaderSize + 2);
  std::unique_ptr<CommandLog> holder;
  CommandLog* log = nullptr;
  CHECK(replayAll(path, 0, &log, &holder) == std::vector<std::string>{"first"});
  REQUIRE(log->nextSeq() == 2);
  REQUIRE(log->append("second again").isOk());
  holder.reset();
  CHECK(replayAll(path, 0) == std::vector<std::string>{"first", "second again"});
}

TEST_CASE("command log: after a restart the previous run's tail is not replayed; a retracted record is gone") {
  TempDir dir;
  std::string path = dir.path + "/log";
  auto log = CommandLog::open(path);
  REQUIRE(log.isOk());
  for (int i = 0; i < 5; ++i) REQUIRE((*log)->append("old record " + std::to_string(i)).isOk());
  (*log)->restart(6);  // a checkpoint took records 1..5
  REQUIRE((*log)->append("six").isOk());
  REQUIRE((*log)->append("seven").isOk());
  REQUIRE((*log)->retract().isOk());  // seven's batch failed
  CHECK_FALSE((*log)->retract().isOk());  // only the last record can be taken back
  CHECK((*log)->nextSeq() == 7);
  log->reset();
  CHECK(replayAll(path, 5) == std::vector<std::string>{"six"});
}

TEST_CASE("command log: the file grows in zero-filled steps and every record survives") {
  TempDir dir;
  std::string path = dir.path + "/log";
  std::string big(300000, 'x');
  {
    auto log = CommandLog::open(path);
    REQUIRE(log.isOk());
    for (int i = 0; i < 20; ++i) {
      big[0] = static_cast<char>('a' + i);
      REQUIRE((*log)->append(big).isOk());
    }
  }
  auto seen = replayAll(path, 0);
  REQUIRE(seen.size() == 20);
  CHECK(seen[19][0] == 't');
  CHECK(seen[19].size() == big.size());
  struct stat st;
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK(st.st_size % CommandLog::kGrowStep == 0);
  CHECK(static_cast<uint64_t>(st.st_blocks) * 512 >= static_cast<uint64_t>(st.st_size));  // written, not sparse
}

TEST_CASE("command log: records keep their term; a suffix can be erased and rewritten") {
  TempDir dir;
  std::string path = dir.path + "/log";
  {
    auto log = CommandLog::open(path);
    REQUIRE(log.isOk());
    (*log)->restart(5, 2);  // record 4 was of term 2
    REQUIRE((*log)->append("a", 2).isOk());
    REQUIRE((*log)->append("b", 3).isOk());
    REQUIRE((*log)->append("c", 3).isOk());
    CHECK((*log)->termAt(4) == 2u);
    CHECK((*log)->termAt(6) == 3u);
    CHECK(!(*log)->termAt(3).has_value());
    CHECK(!(*log)->termAt(8).has_value());
    CHECK((*log)->firstSeq() == 5);
    CHECK((*log)->lastSeq() == 7);
    CHECK((*log)->lastTerm() == 3);
    auto some = (*log)->read(6, 7, 1 << 20);
    REQUIRE(some.size() == 2);
    CHECK(some[0].payload == "b");
    CHECK(some[1].term == 3);
    CHECK((*log)->read(5, 7, 1).size() == 1);  // at least one, then the byte budget
    REQUIRE((*log)->truncateFrom(6).isOk());   // a new leader's log differs from record 6
    CHECK((*log)->lastSeq() == 5);
    REQUIRE((*log)->append("b'", 4).isOk());
    CHECK((*log)->truncateFrom(3).code() == EINVAL);  // before the run
  }
  auto log = CommandLog::open(path);
  REQUIRE(log.isOk());
  REQUIRE((*log)->scan(4, 2).isOk());  // indexes, applies nothing
  CHECK((*log)->lastSeq() == 6);
  CHECK((*log)->termAt(5) == 2u);
  CHECK((*log)->termAt(6) == 4u);
  CHECK((*log)->read(6, 6, 100)[0].payload == "b'");
}

TEST_CASE("command log: a record written and not yet synced is not counted; sync makes it a record") {
  TempDir dir;
  std::string path = dir.path + "/log";
  {
    auto log = CommandLog::open(path);
    REQUIRE(log.isOk());
    REQUIRE((*log)->append("one", 3).isOk());
    REQUIRE((*log)->write("two", 4).isOk());
    // What a leader's followers may already have: not yet this log's.
    CHECK((*log)->lastSeq() == 1);
    CHECK((*log)->nextSeq() == 2);
    CHECK_FALSE((*log)->termAt(2).has_value());
    CHECK((*log)->read(1, 2, 1 << 20).size() == 1);
    CHECK_THROWS((*log)->write("three", 4));  // one record in flight at a time
    REQUIRE((*log)->sync().isOk());
    CHECK((*log)->lastSeq() == 2);
    CHECK((*log)->termAt(2) == std::optional<uint64_t>(4));
    auto both = (*log)->read(1, 2, 1 << 20);
    REQUIRE(both.size() == 2);
    CHECK(both[1].payload == "two");
    CHECK_THROWS((*log)->sync());  // nothing written
    REQUIRE((*log)->append("three", 4).isOk());
  }
  CHECK(replayAll(path, 0) == std::vector<std::string>{"one", "two", "three"});
}
