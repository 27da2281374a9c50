#include "chunk/scrubber.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>

#include "cluster.h"
#include "server/small_files.h"

using namespace basalt;
using namespace basalt::chunk;
using namespace basalt::chunk::test;

namespace {

int64_t wallMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// One chunk server holding chunks `ids` (64 KiB of random bytes each, version 1).
struct ScrubFixture {
  TempDir stateDir;  // outlives the loop, which lets a save still being written finish
  std::string stateFile = stateDir.path() + "/scrub-state";
  Cluster cl;
  Node* node;

  explicit ScrubFixture(std::initializer_list<uint64_t> ids) {
    node = &cl.addNode();
    std::mt19937 rng(7);
    auto c = cl.client(node->address);
    for (uint64_t id : ids) {
      REQUIRE(cl.assign(id, 1, {node->replica()}, 0).isOk());
      auto resp = writeRequest(c, id, 1, 0, randomBytes(rng, 64 * 1024)).wait(cl.loop.waitScope());
      Status st = Status::fromWire(resp.getStatus());
      REQUIRE_MESSAGE(st.isOk(), st.toString());
    }
  }

  // Adds 1 to one byte of chunk `id`'s data file, behind the store's back.
  void flipByte(uint64_t id, off_t at = 40000) {
    char name[32];
    snprintf(name, sizeof(name), "%016llx", static_cast<unsigned long long>(id));
    std::string path = node->dir->path() + "/chunks/" + name;
    int fd = ::open(path.c_str(), O_RDWR);
    REQUIRE_MESSAGE(fd >= 0, path);
    unsigned char b = 0;
    REQUIRE(::pread(fd, &b, 1, at) == 1);
    b = static_cast<unsigned char>(b + 1);
    REQUIRE(::pwrite(fd, &b, 1, at) == 1);
    ::close(fd);
  }

  ScrubberConfig config(uint64_t intervalMs) const {
    ScrubberConfig c;
    c.bytesPerSecond = 1ull << 30;
    c.intervalMs = intervalMs;
    c.stateFile = stateFile;
    return c;
  }

  std::optional<ScrubProgress> saved() {
    // The last save is written by a worker: let it land.
    cl.loop.timer().afterDelay(50 * kj::MILLISECONDS).wait(cl.loop.waitScope());
    auto text = readFile(stateFile);
    if (!text) return std::nullopt;
    return ScrubProgress::decode(*text);
  }
};

}  // namespace

TEST_CASE("a scrub record survives encoding; anything else is not taken for one") {
  ScrubProgress p{1764000000123, false, 0x42};
  auto back = ScrubProgress::decode(p.encode());
  REQUIRE(back.has_value());
  CHECK(back->passStartedMs == p.passStartedMs);
  CHECK(back->finished == false);
  CHECK(back->nextChunk == 0x42);
  p.finished = true;
  CHECK(ScrubProgress::decode(p.encode())->finished);

  CHECK_FALSE(ScrubProgress::decode("").has_value());
  CHECK_FALSE(ScrubProgress::decode("started 5\nfinished 1\n").has_value());  // cut short
  CHECK_FALSE(ScrubProgress::decode("started 5\nfinished 2\nnext 0\n").has_value());
  CHECK_FALSE(ScrubProgress::decode("started -5\nfinished 1\nnext 0\n").has_value());
  CHECK_FALSE(ScrubProgress::decode("begun 5\nfinished 1\nnext 0\n").has_value());
}

TEST_CASE("a server's first pass finds a flipped byte, reports it, and records the pass") {
  ScrubFixture f({5, 9});
  f.flipByte(9);
  Scrubber s(f.cl.loop, *f.node->server, makeLogger("scrub"), f.config(3600 * 1000));
  s.start();
  REQUIRE(waitUntil(f.cl.loop, [&] { return s.passes() == 1; }));
  CHECK(s.chunksChecked() == 2);
  CHECK(s.damaged() == 1);
  REQUIRE(f.cl.registry->reports.size() == 1);
  CHECK(f.cl.registry->reports[0].chunk == 9);
  auto saved = f.saved();
  REQUIRE(saved.has_value());
  CHECK(saved->finished);
  CHECK(saved->nextChunk == 10);
  CHECK(saved->passStartedMs > wallMs() - 60000);
}

TEST_CASE("a finished pass is not repeated before its interval, also by a restarted server") {
  ScrubFixture f({5});
  // The last pass started half a second ago; passes start every 2 s.
  REQUIRE(writeFileAtomically(f.stateFile, ScrubProgress{wallMs() - 500, true, 6}.encode()).isOk());
  Scrubber s(f.cl.loop, *f.node->server, makeLogger("scrub"), f.config(2000));
  s.start();
  f.cl.loop.timer().afterDelay(700 * kj::MILLISECONDS).wait(f.cl.loop.waitScope());
  CHECK(s.bytesRead() == 0);
  CHECK(s.passes() == 0);
  // Once the interval is over, the next pass comes, and then the one after it.
  REQUIRE(waitUntil(f.cl.loop, [&] { return s.passes() == 1; }, 5000));
  CHECK(s.chunksChecked() == 1);
  REQUIRE(waitUntil(f.cl.loop, [&] { return s.passes() == 2; }, 5000));
}

TEST_CASE("an interrupted pass resumes at the chunk it had got to") {
  ScrubFixture f({5, 9});
  f.flipByte(5);  // already checked before the "restart": not read again, so not found
  int64_t started = wallMs() - 1000;
  REQUIRE(writeFileAtomically(f.stateFile, ScrubProgress{started, false, 6}.encode()).isOk());
  Scrubber s(f.cl.loop, *f.node->server, makeLogger("scrub"), f.config(3600 * 1000));
  s.start();
  REQUIRE(waitUntil(f.cl.loop, [&] { return s.passes() == 1; }));
  CHECK(s.chunksChecked() == 1);
  CHECK(s.bytesRead() == 64 * 1024);
  CHECK(s.damaged() == 0);
  auto saved = f.saved();
  REQUIRE(saved.has_value());
  CHECK(saved->finished);
  CHECK(saved->passStartedMs == started);  // the same pass, finished
}

TEST_CASE("a state file that is not a scrub record starts a whole new pass") {
  ScrubFixture f({5, 9});
  REQUIRE(writeFileAtomically(f.stateFile, "garbage\n").isOk());
  Scrubber s(f.cl.loop, *f.node->server, makeLogger("scrub"), f.config(3600 * 1000));
  s.start();
  REQUIRE(waitUntil(f.cl.loop, [&] { return s.passes() == 1; }));
  CHECK(s.chunksChecked() == 2);
}

TEST_CASE("the scrubber keeps to its read budget") {
  ScrubFixture f({5, 9, 11, 12});  // 256 KiB
  ScrubberConfig c = f.config(3600 * 1000);
  c.bytesPerSecond = 512 * 1024;  // half a second's budget
  c.pieceBytes = 64 * 1024;
  Scrubber s(f.cl.loop, *f.node->server, makeLogger("scrub"), c);
  auto t0 = f.cl.loop.timer().now();
  s.start();
  REQUIRE(waitUntil(f.cl.loop, [&] { return s.passes() == 1; }));
  CHECK((f.cl.loop.timer().now() - t0) >= 450 * kj::MILLISECONDS);
  CHECK(s.bytesRead() == 256 * 1024);
}
