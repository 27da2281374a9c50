#include <doctest/doctest.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <unistd.h>

#include <atomic>
#include <cstring>

#include <lmdb.h>

#include "server/crc32c.h"
#include "chunk/disk_chunk_store.h"
#include "chunk/mem_chunk_store.h"
#include "test_util.h"

using namespace basalt;
using namespace basalt::chunk;
using namespace basalt::chunk::test;

namespace {

std::unique_ptr<DiskChunkStore> openStore(const std::string& dir, FileIo* io = nullptr) {
  auto s = DiskChunkStore::open(dir, makeLogger("store-test"), io);
  REQUIRE_MESSAGE(s.isOk(), s.status().toString());
  return std::move(*s);
}

std::vector<uint8_t> readAll(ChunkStore& s, uint64_t id, uint32_t off, uint32_t len, Status* st = nullptr) {
  std::vector<uint8_t> out(len);
  Status r = s.read(id, off, len, out.data());
  if (st) *st = r;
  else REQUIRE_MESSAGE(r.isOk(), r.toString());
  return out;
}

// A model of a chunk: what every store must read back.
struct Model {
  std::vector<uint8_t> bytes;
  void write(uint32_t off, const std::vector<uint8_t>& d) {
    if (off + d.size() > bytes.size()) bytes.resize(off + d.size(), 0);
    std::copy(d.begin(), d.end(), bytes.begin() + off);
  }
  void truncate(uint32_t len) { bytes.resize(len, 0); }
  void zero(uint32_t off, uint32_t len) {
    for (uint64_t i = off; i < uint64_t{off} + len && i < bytes.size(); ++i) bytes[i] = 0;
  }
  std::vector<uint8_t> read(uint32_t off, uint32_t len) const {
    std::vector<uint8_t> out(len, 0);
    for (uint64_t i = off; i < uint64_t{off} + len && i < bytes.size(); ++i) out[i - off] = bytes[i];
    return out;
  }
};

// Fails chosen system calls with a chosen errno, counting down calls that match.
class FailingFileIo : public PosixFileIo {
 public:
  enum Call { kFallocate, kPwrite };
  void failAfter(Call call, int n, int err) {
    call_ = call;
    remaining_ = n;
    err_ = err;
  }
  void stop() { err_ = 0; }
  int fallocate(int fd, int mode, off_t off, off_t len) override {
    if (shouldFail(kFallocate)) return -err_;
    return PosixFileIo::fallocate(fd, mode, off, len);
  }
  ssize_t pwrite(int fd, const void* buf, size_t len, off_t off) override {
    if (shouldFail(kPwrite)) return -err_;
    return PosixFileIo::pwrite(fd, buf, len, off);
  }

 private:
  bool shouldFail(Call c) {
    if (err_ == 0 || c != call_) return false;
    return remaining_-- <= 0;
  }
  Call call_ = kPwrite;
  std::atomic<int> remaining_{0};
  int err_ = 0;
};

// Flips one bit of the byte at `at` of a chunk's data file, behind the store's back.
void corruptByte(const std::string& path, off_t at, uint8_t original) {
  int fd = ::open(path.c_str(), O_RDWR);
  REQUIRE(fd >= 0);
  uint8_t b = original ^ 0x10;
  REQUIRE(::pwrite(fd, &b, 1, at) == 1);
  ::close(fd);
}

}  // namespace

TEST_CASE("a chunk reads back what was written, and bytes never written read as zeros") {
  TempDir dir;
  auto s = openStore(dir.path());
  REQUIRE(s->create(7, 1, ChunkState::kOk).isOk());
  std::vector<uint8_t> data(100, 0xAB);
  REQUIRE(s->write(7, 70000, data.data(), data.size()).isOk());
  CHECK(s->stat(7)->length == 70100);
  auto got = readAll(*s, 7, 0, 200000);
  for (size_t i = 0; i < got.size(); ++i) {
    bool inWrite = i >= 70000 && i < 70100;
    if (got[i] != (inWrite ? 0xAB : 0)) FAIL("byte " << i << " is " << int(got[i]));
  }
  CHECK(s->stat(8).status().code() == ENOENT);
}

TEST_CASE("random writes, truncates and zero ranges keep data and block CRCs right, across reopen") {
  TempDir dir;
  std::mt19937 rng(42);
  Model model;
  {
    auto s = openStore(dir.path());
    REQUIRE(s->create(1, 3, ChunkState::kOk).isOk());
    for (int i = 0; i < 300; ++i) {
      int kind = rng() % 10;
      if (kind < 6) {
        uint32_t off = rng() % (600 * 1024), len = 1 + rng() % (150 * 1024);
        auto d = randomBytes(rng, len);
        REQUIRE(s->write(1, off, d.data(), d.size()).isOk());
        model.write(off, d);
      } else if (kind < 8) {
        uint32_t len = rng() % (700 * 1024);
        REQUIRE(s->truncate(1, len).isOk());
        model.truncate(len);
      } else {
        uint32_t off = rng() % (700 * 1024), len = rng() % (200 * 1024);
        REQUIRE(s->zero(1, off, len).isOk());
        model.zero(off, len);
      }
      REQUIRE(s->stat(1)->length == model.bytes.size());
      uint32_t off = rng() % (800 * 1024), len = rng() % (200 * 1024);
      REQUIRE(readAll(*s, 1, off, len) == model.read(off, len));
    }
    REQUIRE(s->sync(1).isOk());
  }
  auto s = openStore(dir.path());
  auto m = s->stat(1);
  REQUIRE(m.isOk());
  CHECK(m->version == 3);
  CHECK((m->state == ChunkState::kOk));
  CHECK(m->length == model.bytes.size());
  CHECK(readAll(*s, 1, 0, 1 << 20) == model.read(0, 1 << 20));
  // The .crc file holds one u32 per 64 KiB block of the length.
  int fd = ::open(s->crcPath(1).c_str(), O_RDONLY);
  off_t crcSize = lseek(fd, 0, SEEK_END);
  ::close(fd);
  CHECK(crcSize == static_cast<off_t>(4 * ((model.bytes.size() + kBlockSize - 1) / kBlockSize)));
}

TEST_CASE("one corrupted byte in a chunk file is EIO naming the block, and other blocks still read") {
  TempDir dir;
  std::mt19937 rng(7);
  auto data = randomBytes(rng, 4 * kBlockSize);
  {
    auto s = openStore(dir.path());
    REQUIRE(s->create(9, 2, ChunkState::kOk).isOk());
    REQUIRE(s->write(9, 0, data.data(), data.size()).isOk());
    corruptByte(s->dataPath(9), 2 * kBlockSize + 1234, data[2 * kBlockSize + 1234]);
  }
  auto s = openStore(dir.path());  // reopened: no cached state hides the damage
  Status st;
  readAll(*s, 9, 2 * kBlockSize + 10, 100, &st);
  CHECK(st.code() == EIO);
  CHECK(st.message().find("block 2") != std::string::npos);
  readAll(*s, 9, kBlockSize - 10, 2 * kBlockSize, &st);  // spans blocks 0..2
  CHECK(st.code() == EIO);
  auto b01 = readAll(*s, 9, 0, 2 * kBlockSize);
  CHECK(std::equal(b01.begin(), b01.end(), data.begin()));
  auto b3 = readAll(*s, 9, 3 * kBlockSize, kBlockSize);
  CHECK(std::equal(b3.begin(), b3.end(), data.begin() + 3 * kBlockSize));
  // A partial write into the bad block must not launder it into a valid CRC.
  uint8_t x = 1;
  CHECK(s->write(9, 2 * kBlockSize, &x, 1).code() == EIO);
}

TEST_CASE("a full disk at space reservation fails the write with ENOSPC and changes nothing") {
  TempDir dir;
  FailingFileIo io;
  auto s = openStore(dir.path(), &io);
  REQUIRE(s->create(1, 1, ChunkState::kOk).isOk());
  std::vector<uint8_t> a(100000, 'a'), b(100000, 'b');
  REQUIRE(s->write(1, 0, a.data(), a.size()).isOk());
  for (int n : {0, 1}) {  // the data reservation, then the CRC reservation
    io.failAfter(FailingFileIo::kFallocate, n, ENOSPC);
    CHECK(s->write(1, 50000, b.data(), b.size()).code() == ENOSPC);
    io.stop();
    CHECK(readAll(*s, 1, 0, 100000) == a);
    CHECK(s->stat(1)->length == 100000);
  }
  io.failAfter(FailingFileIo::kFallocate, 0, EDQUOT);
  CHECK(s->write(1, 0, b.data(), 10).code() == ENOSPC);  // quota is reported as a full disk
  io.stop();
  CHECK(readAll(*s, 1, 0, 100000) == a);
}

TEST_CASE("a write failing after data reached the disk marks the chunk damaged: reads fail, never lie") {
  TempDir dir;
  FailingFileIo io;
  std::vector<uint8_t> a(100000, 'a'), b(100000, 'b');
  {
    auto s = openStore(dir.path(), &io);
    REQUIRE(s->create(1, 1, ChunkState::kOk).isOk());
    REQUIRE(s->write(1, 0, a.data(), a.size()).isOk());
    io.failAfter(FailingFileIo::kPwrite, 1, ENOSPC);  // data lands, the CRC write fails
    CHECK(s->write(1, 50000, b.data(), b.size()).code() == ENOSPC);
    io.stop();
    Status st;
    readAll(*s, 1, 0, 10, &st);
    CHECK(st.code() == EIO);
    CHECK((s->stat(1)->state == ChunkState::kDamaged));
  }
  auto s = openStore(dir.path());  // the mark survives a restart
  CHECK((s->stat(1)->state == ChunkState::kDamaged));
  // A replace from a healthy replica repairs it.
  REQUIRE(s->replace(1, 2, b.data(), b.size()).isOk());
  CHECK(readAll(*s, 1, 0, 100000) == b);
}

TEST_CASE("a real full filesystem (1 MiB tmpfs) fails writes with ENOSPC and every chunk reads back") {
  TempDir dir;
  std::string mnt = dir.path() + "/mnt";
  std::filesystem::create_directory(mnt);
  if (::mount("tmpfs", mnt.c_str(), "tmpfs", 0, "size=1m") != 0) {
    MESSAGE("skipped: cannot mount a tmpfs here (" << strerror(errno) << "); the fault-injection cases cover ENOSPC");
    return;
  }
  struct Unmount {
    std::string p;
    ~Unmount() { ::umount2(p.c_str(), MNT_DETACH); }
  } unmount{mnt};
  auto s = openStore(mnt + "/data");
  std::mt19937 rng(3);
  std::vector<std::vector<uint8_t>> written;
  Status last;
  for (uint64_t id = 1; id < 100 && last.isOk(); ++id) {
    REQUIRE(s->create(id, 1, ChunkState::kOk).isOk());
    auto d = randomBytes(rng, 200 * 1024);
    last = s->write(id, 0, d.data(), d.size());
    written.push_back(last.isOk() ? d : std::vector<uint8_t>{});
  }
  CHECK(last.code() == ENOSPC);
  for (size_t i = 0; i < written.size(); ++i) {
    uint64_t id = i + 1;
    CHECK((s->stat(id)->state == ChunkState::kOk));
    CHECK(s->stat(id)->length == written[i].size());
    CHECK(readAll(*s, id, 0, static_cast<uint32_t>(written[i].size())) == written[i]);
  }
}

TEST_CASE("the in-memory store follows the same model and injects full-disk failures") {
  MemChunkStore s;
  Model model;
  REQUIRE(s.create(1, 1, ChunkState::kOk).isOk());
  std::vector<uint8_t> d(1000, 'x');
  REQUIRE(s.write(1, 5000, d.data(), d.size()).isOk());
  model.write(5000, d);
  REQUIRE(s.zero(1, 5500, 100000).isOk());
  model.zero(5500, 100000);
  CHECK(readAll(s, 1, 0, 8000) == model.read(0, 8000));
  s.failMutationsWith(ENOSPC);
  CHECK(s.write(1, 0, d.data(), d.size()).code() == ENOSPC);
  CHECK(readAll(s, 1, 0, 8000) == model.read(0, 8000));
}

namespace {
size_t openFds() {
  size_t n = 0;
  if (DIR* d = opendir("/proc/self/fd")) {
    while (readdir(d)) ++n;
    closedir(d);
  }
  return n;
}
}  // namespace

TEST_CASE("a store with many more chunks than the open-file cache keeps a bounded number of fds") {
  // Regression: every chunk used to keep two fds open forever, and /usr/include copied into a
  // mount (one chunk per small file) ran chunk servers out of file descriptors (EMFILE).
  TempDir dir;
  auto s = openStore(dir.path());
  size_t before = openFds();
  const uint64_t chunks = DiskChunkStore::kMaxOpenChunks * 3;
  std::vector<uint8_t> data(1000);
  for (uint64_t id = 1; id <= chunks; ++id) {
    REQUIRE(s->create(id, 1, ChunkState::kOk).isOk());
    std::fill(data.begin(), data.end(), static_cast<uint8_t>(id));
    REQUIRE(s->write(id, 0, data.data(), data.size()).isOk());
  }
  CHECK(openFds() <= before + 3 * DiskChunkStore::kMaxOpenChunks + 4);
  for (uint64_t id = 1; id <= chunks; ++id) {
    auto got = readAll(*s, id, 0, 1000);
    REQUIRE(got[999] == static_cast<uint8_t>(id));
  }
  CHECK(openFds() <= before + 3 * DiskChunkStore::kMaxOpenChunks + 4);
}

namespace {
class CountingFileIo : public PosixFileIo {
 public:
  ssize_t pread(int fd, void* buf, size_t len, off_t off) override {
    ++preads;
    return PosixFileIo::pread(fd, buf, len, off);
  }
  uint64_t preads = 0;
};

// Writes chunk `id` the way a basalt-chunk before format 2 did: 64 KiB CRC blocks, index format 1.
void writeLegacyChunk(const std::string& dir, uint64_t id, uint64_t version,
                      const std::vector<uint8_t>& bytes) {
  char name[17];
  snprintf(name, sizeof(name), "%016llx", static_cast<unsigned long long>(id));
  std::string data = dir + "/chunks/" + name;
  int fd = ::open(data.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  REQUIRE(::pwrite(fd, bytes.data(), bytes.size(), 0) == static_cast<ssize_t>(bytes.size()));
  ::close(fd);
  std::vector<uint8_t> crcs;
  for (size_t off = 0; off < bytes.size(); off += kLegacyBlockSize) {
    std::vector<uint8_t> block(kLegacyBlockSize, 0);
    std::copy(bytes.begin() + off, bytes.begin() + std::min(bytes.size(), off + kLegacyBlockSize), block.begin());
    uint32_t c = crc32c(block.data(), block.size());
    for (int i = 0; i < 4; ++i) crcs.push_back(static_cast<uint8_t>(c >> (8 * i)));
  }
  fd = ::open((data + ".crc").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  REQUIRE(::pwrite(fd, crcs.data(), crcs.size(), 0) == static_cast<ssize_t>(crcs.size()));
  ::close(fd);
  MDB_env* env;
  REQUIRE(mdb_env_create(&env) == 0);
  REQUIRE(mdb_env_open(env, (dir + "/index").c_str(), MDB_NOTLS, 0644) == 0);
  MDB_txn* txn;
  MDB_dbi dbi;
  REQUIRE(mdb_txn_begin(env, nullptr, 0, &txn) == 0);
  REQUIRE(mdb_dbi_open(txn, nullptr, 0, &dbi) == 0);
  uint8_t key[8], val[16] = {};
  for (int i = 0; i < 8; ++i) key[i] = static_cast<uint8_t>(id >> (8 * (7 - i)));
  val[0] = 1;  // format 1
  for (int i = 0; i < 4; ++i) val[4 + i] = static_cast<uint8_t>(bytes.size() >> (8 * i));
  for (int i = 0; i < 8; ++i) val[8 + i] = static_cast<uint8_t>(version >> (8 * i));
  MDB_val k{sizeof(key), key}, v{sizeof(val), val};
  REQUIRE(mdb_put(txn, dbi, &k, &v, 0) == 0);
  REQUIRE(mdb_txn_commit(txn) == 0);
  mdb_env_close(env);
}

uint8_t indexFormatOf(const std::string& dir, uint64_t id) {
  MDB_env* env;
  REQUIRE(mdb_env_create(&env) == 0);
  REQUIRE(mdb_env_open(env, (dir + "/index").c_str(), MDB_NOTLS | MDB_RDONLY, 0644) == 0);
  MDB_txn* txn;
  MDB_dbi dbi;
  REQUIRE(mdb_txn_begin(env, nullptr, MDB_RDONLY, &txn) == 0);
  REQUIRE(mdb_dbi_open(txn, nullptr, 0, &dbi) == 0);
  uint8_t key[8];
  for (int i = 0; i < 8; ++i) key[i] = static_cast<uint8_t>(id >> (8 * (7 - i)));
  MDB_val k{sizeof(key), key}, v;
  REQUIRE(mdb_get(txn, dbi, &k, &v) == 0);
  uint8_t format = static_cast<const uint8_t*>(v.mv_data)[0];
  mdb_txn_abort(txn);
  mdb_env_close(env);
  return format;
}
}  // namespace

TEST_CASE("new chunks checksum 4 KiB blocks: an aligned 4 KiB write reads nothing back") {
  TempDir dir;
  CountingFileIo io;
  auto s = openStore(dir.path(), &io);
  REQUIRE(s->create(1, 1, ChunkState::kOk).isOk());
  std::mt19937 rng(3);
  auto data = randomBytes(rng, 256 * 1024);
  REQUIRE(s->write(1, 0, data.data(), data.size()).isOk());
  CHECK(s->stat(1)->blockSize == 4096);
  uint64_t before = io.preads;
  auto page = randomBytes(rng, 4096);
  REQUIRE(s->write(1, 40960, page.data(), page.size()).isOk());
  CHECK(io.preads == before);  // no read-modify-write
  std::copy(page.begin(), page.end(), data.begin() + 40960);
  CHECK(readAll(*s, 1, 0, 256 * 1024) == data);
  int fd = ::open(s->crcPath(1).c_str(), O_RDONLY);
  CHECK(lseek(fd, 0, SEEK_END) == 4 * 64);  // one CRC per 4 KiB
  ::close(fd);
  CHECK(indexFormatOf(dir.path(), 1) == 2);
}

TEST_CASE("chunks written with 64 KiB CRC blocks (index format 1) stay readable and writable") {
  TempDir dir;
  { openStore(dir.path()); }  // creates the layout and the index
  std::mt19937 rng(11);
  Model model;
  model.bytes = randomBytes(rng, 100000);
  writeLegacyChunk(dir.path(), 6, 4, model.bytes);
  {
    auto s = openStore(dir.path());
    auto m = s->stat(6);
    REQUIRE(m.isOk());
    CHECK(m->blockSize == kLegacyBlockSize);
    CHECK((m->state == ChunkState::kOk));  // the open-time size check knows the old CRC count
    CHECK(readAll(*s, 6, 0, 120000) == model.read(0, 120000));
    auto d = randomBytes(rng, 10);
    REQUIRE(s->write(6, 70000, d.data(), d.size()).isOk());  // read-modify-write of block 1
    model.write(70000, d);
    auto e = randomBytes(rng, 50000);
    REQUIRE(s->write(6, 130000, e.data(), e.size()).isOk());  // grows over a gap
    model.write(130000, e);
    CHECK(readAll(*s, 6, 0, 200000) == model.read(0, 200000));
    REQUIRE(s->truncate(6, 90000).isOk());
    model.truncate(90000);
    REQUIRE(s->zero(6, 1000, 70000).isOk());
    model.zero(1000, 70000);
    CHECK(readAll(*s, 6, 0, 200000) == model.read(0, 200000));
    REQUIRE(s->sync(6).isOk());
  }
  CHECK(indexFormatOf(dir.path(), 6) == 1);  // an old chunk keeps its format
  auto s = openStore(dir.path());
  CHECK(s->stat(6)->blockSize == kLegacyBlockSize);
  CHECK((s->stat(6)->state == ChunkState::kOk));
  CHECK(readAll(*s, 6, 0, 200000) == model.read(0, 200000));
  // A replace (an install from a primary) rewrites it with the current block size.
  REQUIRE(s->replace(6, 5, model.bytes.data(), model.bytes.size()).isOk());
  CHECK(s->stat(6)->blockSize == kBlockSize);
  CHECK(readAll(*s, 6, 0, 200000) == model.read(0, 200000));
}

TEST_CASE("a new chunk gets its files at its first write; create empties a chunk that has them") {
  TempDir dir;
  auto s = openStore(dir.path());
  REQUIRE(s->create(3, 1, ChunkState::kOk).isOk());
  CHECK(::access(s->dataPath(3).c_str(), F_OK) != 0);  // a file created and never written: no files
  CHECK(::access(s->crcPath(3).c_str(), F_OK) != 0);
  CHECK(s->stat(3)->length == 0);
  CHECK(readAll(*s, 3, 0, 100) == std::vector<uint8_t>(100, 0));
  REQUIRE(s->sync(3).isOk());
  std::vector<uint8_t> d(5000, 'x');
  REQUIRE(s->write(3, 0, d.data(), d.size()).isOk());
  CHECK(::access(s->dataPath(3).c_str(), F_OK) == 0);
  REQUIRE(s->create(3, 2, ChunkState::kOk).isOk());  // reset: emptied, version 2
  CHECK(s->stat(3)->length == 0);
  CHECK(s->stat(3)->version == 2);
  CHECK(readAll(*s, 3, 0, 100) == std::vector<uint8_t>(100, 0));
  REQUIRE(s->create(4, 1, ChunkState::kOk).isOk());
  s.reset();
  auto r = openStore(dir.path());  // an empty chunk without files reopens fine, still without files
  CHECK((r->stat(4)->state == ChunkState::kOk));
  CHECK(::access(r->dataPath(4).c_str(), F_OK) != 0);
  CHECK((r->stat(3)->state == ChunkState::kOk));
  CHECK(r->stat(3)->length == 0);
}

namespace {
// Sorts the bytes written to data files by the way they went: around the page cache (an fd opened
// with O_DIRECT) or through it; CRC files are not counted. With `refuseDirect`, every call on a
// direct fd fails with EINVAL, as on a filesystem that takes the open but not the I/O.
class DirectRecordingIo : public PosixFileIo {
 public:
  std::atomic<uint64_t> directWritten{0}, cachedWritten{0}, directReads{0};
  bool refuseDirect = false;

  ssize_t pwrite(int fd, const void* buf, size_t len, off_t off) override {
    if (isDirect(fd) && refuseDirect) return -EINVAL;
    ssize_t n = PosixFileIo::pwrite(fd, buf, len, off);
    if (n > 0 && !isCrc(fd)) (isDirect(fd) ? directWritten : cachedWritten) += static_cast<uint64_t>(n);
    return n;
  }
  ssize_t pread(int fd, void* buf, size_t len, off_t off) override {
    if (isDirect(fd) && refuseDirect) return -EINVAL;
    if (isDirect(fd)) ++directReads;
    return PosixFileIo::pread(fd, buf, len, off);
  }

 private:
  static bool isDirect(int fd) {
    int fl = fcntl(fd, F_GETFL);
    return fl >= 0 && (fl & O_DIRECT) != 0;
  }
  static bool isCrc(int fd) {
    char path[512];
    ssize_t n = readlink(("/proc/self/fd/" + std::to_string(fd)).c_str(), path, sizeof(path) - 1);
    return n > 4 && std::string(path, static_cast<size_t>(n)).find(".crc") != std::string::npos;
  }
};

bool directIoWorksIn(const std::string& dir) {
  std::string p = dir + "/direct-probe";
  int fd = ::open(p.c_str(), O_RDWR | O_CREAT | O_DIRECT, 0644);
  bool ok = false;
  if (fd >= 0) {
    void* b = aligned_alloc(4096, 4096);
    memset(b, 1, 4096);
    ok = ::pwrite(fd, b, 4096, 0) == 4096;
    free(b);
    ::close(fd);
  }
  ::unlink(p.c_str());
  return ok;
}
}  // namespace

TEST_CASE("large aligned writes go around the page cache, the rest through it, and all reads back") {
  TempDir dir;
  if (!directIoWorksIn(dir.path())) {
    MESSAGE("skipped: the filesystem under " << dir.path() << " refuses O_DIRECT (the refusal case below still runs)");
    return;
  }
  DirectRecordingIo io;
  Model model;
  auto s = openStore(dir.path(), &io);
  REQUIRE(s->create(1, 1, ChunkState::kOk).isOk());
  std::mt19937 rng(11);
  auto put = [&](uint32_t off, size_t len) {
    auto d = randomBytes(rng, len);
    REQUIRE(s->write(1, off, d.data(), d.size()).isOk());
    model.write(off, d);
  };

  put(0, 1 << 20);  // aligned and large: all direct
  CHECK(io.directWritten == (1u << 20));
  CHECK(io.cachedWritten == 0);
  put(1 << 20, 300 * 1024 + 100);  // the aligned head direct, the 100-byte tail cached
  CHECK(io.directWritten == (1u << 20) + 300 * 1024);
  CHECK(io.cachedWritten == 100);
  put(5000, 200 * 1024);  // unaligned offset: cached
  CHECK(io.cachedWritten == 100 + 200 * 1024);
  put(3000, 100);  // small: cached (read-modify-write of its block)
  CHECK(io.directWritten == (1u << 20) + 300 * 1024);

  CHECK(readAll(*s, 1, 0, 1 << 20) == model.read(0, 1 << 20));
  CHECK(readAll(*s, 1, 1 << 20, 400 * 1024) == model.read(1 << 20, 400 * 1024));  // past the length

  // Direct and cached calls on the same ranges, in any order, always read back the latest bytes:
  // the kernel keeps the page cache coherent with direct I/O, and the CRCs follow both.
  for (int i = 0; i < 200; ++i) {
    int kind = static_cast<int>(rng() % 10);
    if (kind < 4) {
      put(static_cast<uint32_t>(rng() % 64) * 16384, (1 + rng() % 48) * 4096 + (rng() % 4 == 0 ? rng() % 4096 : 0));
    } else if (kind < 8) {
      put(static_cast<uint32_t>(rng() % (1200 * 1024)), 1 + rng() % 8192);
    } else if (kind < 9) {
      uint32_t l = static_cast<uint32_t>(rng() % (1300 * 1024));
      REQUIRE(s->truncate(1, l).isOk());
      model.truncate(l);
    } else {
      uint32_t off = static_cast<uint32_t>(rng() % (1200 * 1024)), l = static_cast<uint32_t>(rng() % (300 * 1024));
      REQUIRE(s->zero(1, off, l).isOk());
      model.zero(off, l);
    }
    uint32_t off = rng() % 2 ? static_cast<uint32_t>(rng() % 80) * 16384 : static_cast<uint32_t>(rng() % (1300 * 1024));
    uint32_t l = rng() % 2 ? (1 + static_cast<uint32_t>(rng() % 64)) * 16384 : static_cast<uint32_t>(rng() % 9000);
    REQUIRE(readAll(*s, 1, off, l) == model.read(off, l));
  }
  CHECK(io.directWritten > (1u << 20) + 300 * 1024);
  CHECK(io.directReads == 0);  // reads keep the kernel's readahead
  REQUIRE(s->sync(1).isOk());
  uint64_t len = model.bytes.size();
  s.reset();
  auto again = openStore(dir.path());
  CHECK(again->stat(1)->length == len);
  CHECK(readAll(*again, 1, 0, static_cast<uint32_t>(len)) == model.bytes);
}

TEST_CASE("a filesystem that refuses direct I/O calls gets every byte through the page cache") {
  TempDir dir;
  DirectRecordingIo io;
  io.refuseDirect = true;
  auto s = openStore(dir.path(), &io);
  REQUIRE(s->create(1, 1, ChunkState::kOk).isOk());
  std::mt19937 rng(5);
  auto d = randomBytes(rng, (1 << 20) + 4096);
  REQUIRE(s->write(1, 0, d.data(), d.size()).isOk());
  CHECK(io.directWritten == 0);
  CHECK(io.cachedWritten == d.size());
  CHECK(readAll(*s, 1, 0, static_cast<uint32_t>(d.size())) == d);
  CHECK((s->stat(1)->state == ChunkState::kOk));
}

TEST_CASE("readCached answers from the page cache only, verified like read") {
  TempDir dir;
  std::mt19937 rng(11);
  auto data = randomBytes(rng, 16 * kBlockSize);
  {
    auto s = openStore(dir.path());
    REQUIRE(s->create(4, 1, ChunkState::kOk).isOk());
    REQUIRE(s->write(4, 0, data.data(), data.size()).isOk());
    // Just written through the page cache, files open: answered here, the same bytes as read().
    std::vector<uint8_t> out(3 * kBlockSize + 100);
    auto st = s->readCached(4, kBlockSize - 50, static_cast<uint32_t>(out.size()), out.data());
    REQUIRE(st.has_value());
    REQUIRE_MESSAGE(st->isOk(), st->toString());
    CHECK(std::equal(out.begin(), out.end(), data.begin() + kBlockSize - 50));
    // Past the end: zeros, as read() gives.
    std::vector<uint8_t> tail(200, 0xff);
    st = s->readCached(4, static_cast<uint32_t>(data.size()) - 100, 200, tail.data());
    REQUIRE(st.has_value());
    CHECK(st->isOk());
    CHECK(std::equal(tail.begin(), tail.begin() + 100, data.end() - 100));
    CHECK(std::all_of(tail.begin() + 100, tail.end(), [](uint8_t b) { return b == 0; }));
    // Not held: left to read(), which says why.
    CHECK_FALSE(s->readCached(99, 0, 10, out.data()).has_value());
    // A corrupted block is EIO here too (the page cache has the corrupted byte).
    corruptByte(s->dataPath(4), 5 * kBlockSize + 7, data[5 * kBlockSize + 7]);
    st = s->readCached(4, 5 * kBlockSize, kBlockSize, out.data());
    REQUIRE(st.has_value());
    CHECK(st->code() == EIO);
  }
  {
    // Nothing in the page cache (preadCached says EAGAIN): always left to read().
    struct NoCache : PosixFileIo {
      ssize_t preadCached(int, void*, size_t, off_t) override { return -EAGAIN; }
    };
    NoCache nc;
    auto s = openStore(dir.path(), &nc);
    std::vector<uint8_t> out(kBlockSize);
    readAll(*s, 4, 0, kBlockSize);
    CHECK_FALSE(s->readCached(4, 0, kBlockSize, out.data()).has_value());
  }
}

TEST_CASE("prepare makes a held chunk's files before its first write; a chunk not held gets none") {
  TempDir dir;
  auto s = openStore(dir.path());
  REQUIRE(s->create(7, 1, ChunkState::kOk).isOk());
  CHECK(::access(s->dataPath(7).c_str(), F_OK) != 0);  // a create alone makes no files
  REQUIRE(s->prepare(7).isOk());
  CHECK(::access(s->dataPath(7).c_str(), F_OK) == 0);
  CHECK(::access(s->crcPath(7).c_str(), F_OK) == 0);
  CHECK(s->stat(7)->length == 0);
  std::vector<uint8_t> data(5000, 0x5C);
  REQUIRE(s->write(7, 0, data.data(), data.size()).isOk());
  CHECK(readAll(*s, 7, 0, 5000) == data);
  CHECK(s->prepare(8).code() == ENOENT);
  CHECK(::access(s->dataPath(8).c_str(), F_OK) != 0);
  REQUIRE(s->remove(7).isOk());
  CHECK(::access(s->dataPath(7).c_str(), F_OK) != 0);
}
