// Crash recovery of the store: the LMDB file is written without syncing between checkpoints, the
// command log is what is synced. A "crash image" is a copy of the store's files as a power loss
// could leave them: the log and checkpoint file as written (they are synced), and the LMDB file
// either with every write since the checkpoint (they reached the disk) or as it was at the
// checkpoint (none did). Opening an image must give back every logged commit.
#include <kj/async.h>

#include <chrono>
#include <filesystem>

#include "meta/checkpoint_file.h"
#include "meta/committer.h"
#include "test/unit/meta/test_util.h"

using namespace basalt;
using namespace basalt::meta;
using namespace basalt::meta::test;

namespace {

// Records "key=value" put into the meta table.
void replayPut(Txn& txn, std::string_view record) {
  auto eq = record.find('=');
  KJ_REQUIRE(eq != std::string_view::npos, "not a test record");
  txn.put(Table::kMeta, record.substr(0, eq), record.substr(eq + 1));
}

void putLogged(Store& store, const std::string& key, const std::string& value) {
  Txn txn = store.beginWrite();
  txn.put(Table::kMeta, key, value);
  store.commitLogged(txn, key + "=" + value);
}

std::optional<std::string> metaValue(Store& store, const std::string& key) {
  auto v = store.beginRead().get(Table::kMeta, key);
  return v ? std::optional<std::string>(std::string(*v)) : std::nullopt;
}

void copyFile(const std::string& from, const std::string& to) {
  std::filesystem::copy_file(from, to, std::filesystem::copy_options::overwrite_existing);
}

// The store's files in `from`, copied to `to` (the LMDB file from `lmdbFrom` when given).
void crashImage(const std::string& from, const std::string& to, const std::string& lmdbFrom = "") {
  copyFile(lmdbFrom.empty() ? from + "/data.mdb" : lmdbFrom, to + "/data.mdb");
  copyFile(from + "/command-log", to + "/command-log");
  copyFile(from + "/checkpoint", to + "/checkpoint");
}

}  // namespace

TEST_CASE("after a crash, every logged commit is back, whether or not the LMDB writes reached the disk") {
  TempDir live, atCheckpoint, allWritten, noneWritten;
  auto store = Store::open(live.path, false, {}, replayPut);
  REQUIRE(store.isOk());
  putLogged(**store, "a", "1");
  REQUIRE((*store)->checkpoint().isOk());
  // The LMDB file as the checkpoint left it on disk.
  copyFile(live.path + "/data.mdb", atCheckpoint.path + "/data.mdb");
  putLogged(**store, "b", "2");
  putLogged(**store, "a", "3");  // overwrites a page the checkpoint's snapshot still uses
  for (int i = 0; i < 200; ++i) putLogged(**store, "k" + std::to_string(i), std::string(500, 'v'));

  crashImage(live.path, allWritten.path);
  crashImage(live.path, noneWritten.path, atCheckpoint.path + "/data.mdb");
  for (const std::string& image : {allWritten.path, noneWritten.path}) {
    CAPTURE(image);
    auto back = Store::open(image, false, {}, replayPut);
    REQUIRE_MESSAGE(back.isOk(), back.status().toString());
    CHECK((*back)->replayed() == 202);
    CHECK(metaValue(**back, "a") == "3");
    CHECK(metaValue(**back, "b") == "2");
    CHECK(metaValue(**back, "k199") == std::string(500, 'v'));
    CHECK((*back)->boots() == 2);
  }
}

TEST_CASE("a commit whose log record was cut short by the crash is not applied; the ones before it are") {
  TempDir live, image;
  auto store = Store::open(live.path, false, {}, replayPut);
  REQUIRE(store.isOk());
  putLogged(**store, "x", "1");
  putLogged(**store, "y", "2");
  crashImage(live.path, image.path);
  // The last record's payload ("y=2") never fully reached the disk.
  std::filesystem::resize_file(image.path + "/command-log", 2 * 24 + 3 + 1);
  auto back = Store::open(image.path, false, {}, replayPut);
  REQUIRE_MESSAGE(back.isOk(), back.status().toString());
  CHECK(metaValue(**back, "x") == "1");
  CHECK_FALSE(metaValue(**back, "y").has_value());
  // The store goes on from there: the next commit is the log's next record.
  putLogged(**back, "z", "3");
  back->reset();
  auto again = Store::open(image.path, false, {}, replayPut);
  REQUIRE(again.isOk());
  CHECK(metaValue(**again, "z") == "3");
}

TEST_CASE("a checkpoint torn by the crash leaves the previous one, and the log still holds what follows it") {
  TempDir live, image;
  auto store = Store::open(live.path, false, {}, replayPut);  // checkpoint A, in slot 0
  REQUIRE(store.isOk());
  putLogged(**store, "p", "1");
  putLogged(**store, "q", "2");
  // The crash hits while checkpoint B is written over the other slot: garbage there, and the log
  // not yet restarted (that only follows a complete checkpoint).
  crashImage(live.path, image.path);
  std::string garbage(CheckpointFile::kSlotSize, 'g');
  FILE* f = fopen((image.path + "/checkpoint").c_str(), "r+b");
  REQUIRE(f != nullptr);
  fseek(f, CheckpointFile::kSlotSize, SEEK_SET);
  fwrite(garbage.data(), 1, garbage.size(), f);
  fclose(f);
  auto back = Store::open(image.path, false, {}, replayPut);
  REQUIRE_MESSAGE(back.isOk(), back.status().toString());
  CHECK((*back)->replayed() == 2);
  CHECK(metaValue(**back, "p") == "1");
  CHECK(metaValue(**back, "q") == "2");
}

TEST_CASE("a store whose log holds records is not opened without a replayer") {
  TempDir live, image;
  auto store = Store::open(live.path, false, {}, replayPut);
  REQUIRE(store.isOk());
  putLogged(**store, "r", "1");
  crashImage(live.path, image.path);
  auto back = Store::open(image.path);
  REQUIRE_FALSE(back.isOk());
  CHECK(back.status().message().find("replayer") != std::string::npos);
  // Nothing was lost by the refusal.
  auto right = Store::open(image.path, false, {}, replayPut);
  REQUIRE(right.isOk());
  CHECK(metaValue(**right, "r") == "1");
}

TEST_CASE("a clean close checkpoints: the next open replays nothing") {
  TempDir dir;
  {
    auto store = Store::open(dir.path, false, {}, replayPut);
    REQUIRE(store.isOk());
    putLogged(**store, "s", "1");
  }
  auto back = Store::open(dir.path);  // no replayer needed
  REQUIRE(back.isOk());
  CHECK((*back)->replayed() == 0);
  CHECK(metaValue(**back, "s") == "1");
}

TEST_CASE("the committer's batches replay as they were applied: a crash loses no acknowledged create") {
  TempDir live, image;
  auto store = Store::open(live.path, false, {}, Committer::replayRecord);
  REQUIRE(store.isOk());
  EventLoop loop;
  Committer committer(loop, **store, makeLogger("test"));
  kj::Vector<kj::Promise<Applied>> all;
  // The last ten repeat names and fail with EEXIST, as they did before the crash.
  for (int i = 0; i < 30; ++i) all.add(committer.submit(leaderCreate(0, 0, 100 + i, "f" + std::to_string(i % 20))));
  auto results = kj::joinPromises(all.releaseAsArray()).wait(loop.waitScope());
  REQUIRE(results.size() == 30);
  CHECK(results[29].reply().getStatus().getCode() == EEXIST);
  crashImage(live.path, image.path);
  auto back = Store::open(image.path, false, {}, Committer::replayRecord);
  REQUIRE_MESSAGE(back.isOk(), back.status().toString());
  CHECK((*back)->replayed() >= 1);
  CHECK((*back)->beginRead().count(Table::kInodes) == 1 + 20);
  CHECK(fsck(**back).clean());
}

TEST_CASE("an idle committer checkpoints once one is due, without waiting for the next batch") {
  TempDir dir;
  auto store = Store::open(dir.path, false, {}, Committer::replayRecord);
  REQUIRE(store.isOk());
  uint64_t start = (*store)->checkpointSeq();
  EventLoop loop;
  Committer committer(loop, **store, makeLogger("test"));
  committer.submit(leaderCreate(0, 0, 100, "a", S_IFDIR | 0755)).wait(loop.waitScope());
  committer.drain().wait(loop.waitScope());
  CHECK((*store)->checkpointSeq() == start);  // not due yet: the record is only in the log
  // Nothing else happens: once due, the idle committer checkpoints on its own (waited for in
  // 10 ms steps, up to 20 checkpoint intervals).
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(20 * Store::kCheckpointMs);
  while ((*store)->checkpointSeq() == start && std::chrono::steady_clock::now() < deadline) {
    loop.timer().afterDelay(10 * kj::MILLISECONDS).wait(loop.waitScope());
  }
  committer.drain().wait(loop.waitScope());
  CHECK((*store)->checkpointSeq() == start + 1);
  committer.submit(leaderCreate(0, 0, 101, "b", S_IFDIR | 0755)).wait(loop.waitScope());
  committer.stop().wait(loop.waitScope());
  CHECK((*store)->checkpointSeq() == start + 1);  // b is in the log until the next one is due
}
