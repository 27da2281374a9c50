#include "chunk/disk_chunk_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "server/crc32c.h"

namespace basalt::chunk {
namespace {

// Format 1: 64 KiB CRC blocks. Format 2: the block size is 1 << value[2].
constexpr uint8_t kIndexFormatLegacy = 1;
constexpr uint8_t kIndexFormat = 2;
constexpr size_t kIndexValueSize = 16;
constexpr size_t kWritebackMin = 256 * 1024;  // writes at least this large start their writeback
constexpr size_t kDirectAlign = 4096;          // offset, length and memory alignment of O_DIRECT
constexpr size_t kDirectPiece = 4 << 20;       // the most one direct call moves

// What a cached read (readCached) says when anything is not in the page cache: read() on a worker
// then reads it and reports any real error.
Status notCached() { return Status::error(EAGAIN, "not in the page cache"); }

// This worker thread's buffer (4 KiB-aligned, for direct I/O; at least `len` <= kDirectPiece bytes),
// kept for the thread's life: a reused buffer is warm, a fresh allocation faults in every page.
uint8_t* workerBuffer(size_t len) {
  struct Buffer {
    uint8_t* p = nullptr;
    size_t cap = 0;
    ~Buffer() { free(p); }
  };
  thread_local Buffer b;
  if (b.cap < len) {
    free(b.p);
    size_t cap = std::max<size_t>(1 << 20, (len + kDirectAlign - 1) & ~(kDirectAlign - 1));
    b.p = static_cast<uint8_t*>(aligned_alloc(kDirectAlign, cap));
    b.cap = b.p != nullptr ? cap : 0;
  }
  return b.p;
}

bool aligned(const void* p) { return reinterpret_cast<uintptr_t>(p) % kDirectAlign == 0; }

uint64_t blocksFor(uint64_t length, uint32_t bs) { return (length + bs - 1) / bs; }

uint32_t crcOfZeros(uint32_t bs) {
  std::vector<uint8_t> z(bs, 0);
  return crc32c(z.data(), z.size());
}

uint32_t zeroBlockCrc(uint32_t bs) {
  static const uint32_t current = crcOfZeros(kBlockSize), legacy = crcOfZeros(kLegacyBlockSize);
  return bs == kBlockSize ? current : bs == kLegacyBlockSize ? legacy : crcOfZeros(bs);
}

uint8_t log2Of(uint32_t v) {
  uint8_t n = 0;
  while ((1u << n) < v) ++n;
  return n;
}

void putBE64(uint8_t* p, uint64_t v) {
  for (int i = 7; i >= 0; --i, v >>= 8) p[i] = static_cast<uint8_t>(v);
}
uint64_t getBE64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | p[i];
  return v;
}
void putLE(uint8_t* p, uint64_t v, int n) {
  for (int i = 0; i < n; ++i, v >>= 8) p[i] = static_cast<uint8_t>(v);
}
uint64_t getLE(const uint8_t* p, int n) {
  uint64_t v = 0;
  for (int i = n - 1; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

// A full disk and an exhausted quota mean the same to our callers.
int spaceErrno(int err) { return err == EDQUOT ? ENOSPC : err; }

std::string hex16(uint64_t id) {
  char buf[17];
  snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(id));
  return buf;
}

int64_t fileSize(int fd) {
  struct stat st;
  return fstat(fd, &st) == 0 ? st.st_size : -1;
}

}  // namespace

DiskChunkStore::DiskChunkStore(std::string dir, Logger log, FileIo* io)
    : dir_(std::move(dir)), log_(std::move(log)), io_(io ? io : &posix_) {}

DiskChunkStore::~DiskChunkStore() {
  files_.clear();  // owners close the fds
  if (env_) mdb_env_close(env_);
  if (dirFd_ >= 0) ::close(dirFd_);
}

Result<std::unique_ptr<DiskChunkStore>> DiskChunkStore::open(const std::string& dir, Logger log,
                                                             FileIo* io) {
  std::unique_ptr<DiskChunkStore> s(new DiskChunkStore(dir, std::move(log), io));
  for (const std::string& d : {dir, dir + "/chunks", dir + "/index"}) {
    if (::mkdir(d.c_str(), 0755) != 0 && errno != EEXIST) {
      return Status::error(errno, "cannot create " + d + ": " + strerror(errno));
    }
  }
  s->dirFd_ = ::open((dir + "/chunks").c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (s->dirFd_ < 0) return Status::error(errno, "cannot open " + dir + "/chunks: " + strerror(errno));
  Status st = s->openIndex();
  if (!st.isOk()) return st;
  st = s->loadIndex();
  if (!st.isOk()) return st;
  return s;
}

Status DiskChunkStore::openIndex() {
  auto fail = [&](const char* what, int rc) {
    return Status::error(rc > 0 ? rc : EIO, "chunk index " + dir_ + "/index: " + what + ": " +
                                                mdb_strerror(rc));
  };
  int rc = mdb_env_create(&env_);
  if (rc) return fail("mdb_env_create", rc);
  mdb_env_set_mapsize(env_, size_t{1} << 32);  // address space only; the file stays sparse
  // NOSYNC: commits are made durable by sync() (mdb_env_sync), which every fsync of a chunk calls.
  rc = mdb_env_open(env_, (dir_ + "/index").c_str(), MDB_NOTLS | MDB_NOSYNC, 0644);
  if (rc) return fail("mdb_env_open", rc);
  MDB_txn* txn;
  rc = mdb_txn_begin(env_, nullptr, 0, &txn);
  if (rc) return fail("mdb_txn_begin", rc);
  rc = mdb_dbi_open(txn, nullptr, 0, &dbi_);
  if (rc) {
    mdb_txn_abort(txn);
    return fail("mdb_dbi_open", rc);
  }
  rc = mdb_txn_commit(txn);
  if (rc) return fail("mdb_txn_commit", rc);
  return Status::ok();
}

Status DiskChunkStore::loadIndex() {
  MDB_txn* txn;
  int rc = mdb_txn_begin(env_, nullptr, MDB_RDONLY, &txn);
  if (rc) return Status::error(EIO, std::string("chunk index: ") + mdb_strerror(rc));
  MDB_cursor* cur;
  mdb_cursor_open(txn, dbi_, &cur);
  MDB_val k, v;
  std::vector<ChunkMeta> loaded;
  Status bad;
  for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
    auto* val = static_cast<const uint8_t*>(v.mv_data);
    bool known = k.mv_size == 8 && v.mv_size >= kIndexValueSize &&
                 (val[0] == kIndexFormatLegacy || (val[0] == kIndexFormat && val[2] >= 9 && val[2] <= 20));
    if (!known) {
      bad = Status::error(EIO, "chunk index " + dir_ + "/index: unknown entry format " +
                                   std::to_string(v.mv_size ? val[0] : 0) +
                                   " (written by a newer basalt-chunk?)");
      break;
    }
    ChunkMeta m;
    m.blockSize = val[0] == kIndexFormatLegacy ? kLegacyBlockSize : 1u << val[2];
    m.id = getBE64(static_cast<const uint8_t*>(k.mv_data));
    m.state = static_cast<ChunkState>(val[1]);
    m.length = static_cast<uint32_t>(getLE(val + 4, 4));
    m.version = getLE(val + 8, 8);
    loaded.push_back(m);
  }
  mdb_cursor_close(cur);
  mdb_txn_abort(txn);
  if (!bad.isOk()) return bad;
  for (ChunkMeta m : loaded) {
    metas_[m.id] = m;
    if (m.state == ChunkState::kDamaged) continue;
    if (m.length == 0 && !hasFiles(m.id)) continue;  // never written: its files come with the first write
    // A crash between writing data, CRCs and the index leaves sizes that disagree: fail loudly.
    auto f = filesOf(m.id);
    int64_t dataSize = f.isOk() ? fileSize(f->data) : -1;
    int64_t crcSize = f.isOk() ? fileSize(f->crc) : -1;
    if (dataSize != m.length || crcSize != static_cast<int64_t>(4 * blocksFor(m.length, m.blockSize))) {
      log_->warn("{}: files disagree with the index (data {} bytes, crc {} bytes, index length {}); "
                 "marked damaged",
                 chunkName(m.id, m.version), dataSize, crcSize, m.length);
      m.state = ChunkState::kDamaged;
      metas_[m.id] = m;
      putIndex(m);
    }
  }
  // Leftovers of an interrupted replace().
  if (DIR* d = ::opendir((dir_ + "/chunks").c_str())) {
    while (struct dirent* e = ::readdir(d)) {
      std::string name = e->d_name;
      if (name.size() > 4 && name.compare(name.size() - 4, 4, ".new") == 0) {
        ::unlinkat(dirFd_, name.c_str(), 0);
      }
    }
    ::closedir(d);
  }
  log_->info("chunk store {}: {} chunks", dir_, metas_.size());
  return Status::ok();
}

void DiskChunkStore::setServerName(std::string name) {
  std::lock_guard<std::mutex> g(mu_);
  serverName_ = std::move(name);
}

std::string DiskChunkStore::serverName() {
  std::lock_guard<std::mutex> g(mu_);
  return serverName_;
}

std::string DiskChunkStore::dataPath(uint64_t id) const { return dir_ + "/chunks/" + hex16(id); }
std::string DiskChunkStore::crcPath(uint64_t id) const { return dataPath(id) + ".crc"; }

Result<ChunkMeta> DiskChunkStore::metaOf(uint64_t id) {
  std::lock_guard<std::mutex> g(mu_);
  auto it = metas_.find(id);
  if (it == metas_.end()) return Status::error(ENOENT, chunkName(id) + " is not held here");
  return it->second;
}

Result<DiskChunkStore::Files> DiskChunkStore::filesOf(uint64_t id) {
  {
    std::lock_guard<std::mutex> g(mu_);
    auto it = files_.find(id);
    if (it != files_.end()) {
      lru_.splice(lru_.begin(), lru_, it->second.second);
      return it->second.first;
    }
  }
  // Opened without the lock: creating a file can take milliseconds on a busy disk, and every
  // other chunk's calls (metaOf, filesOf) would wait for it. (The chunk's own calls are ordered by
  // its queue; two threads opening the same chunk at once keep the first one's descriptors.)
  Files f;
  f.data = ::open(dataPath(id).c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (f.data < 0) return Status::error(errno, "cannot open " + dataPath(id) + ": " + strerror(errno));
  f.crc = ::open(crcPath(id).c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (f.crc < 0) {
    int err = errno;
    ::close(f.data);
    return Status::error(err, "cannot open " + crcPath(id) + ": " + strerror(err));
  }
  if (directIo_) {
    f.direct = ::open(dataPath(id).c_str(), O_RDWR | O_DIRECT | O_CLOEXEC);
    if (f.direct < 0 && errno == EINVAL && directIo_.exchange(false)) {
      log_->info("{}: the filesystem under {} refuses O_DIRECT; chunk data goes through the page cache",
                 serverName_, dir_);
    }
  }
  int data = f.data, crc = f.crc, direct = f.direct;
  f.owner = std::shared_ptr<void>(nullptr, [data, crc, direct](void*) {
    ::close(data);
    ::close(crc);
    if (direct >= 0) ::close(direct);
  });
  std::lock_guard<std::mutex> g(mu_);
  auto it = files_.find(id);
  if (it != files_.end()) {  // another thread opened them meanwhile: ours close with `f`
    lru_.splice(lru_.begin(), lru_, it->second.second);
    return it->second.first;
  }
  while (files_.size() >= kMaxOpenChunks) {
    files_.erase(lru_.back());
    lru_.pop_back();
  }
  lru_.push_front(id);
  files_.emplace(id, std::make_pair(f, lru_.begin()));
  return f;
}

void DiskChunkStore::closeFiles(uint64_t id) {
  std::lock_guard<std::mutex> g(mu_);
  auto it = files_.find(id);
  if (it == files_.end()) return;
  lru_.erase(it->second.second);
  files_.erase(it);  // the fds close once no worker holds them
}

Status DiskChunkStore::putIndex(const ChunkMeta& m) {
  uint8_t key[8], val[kIndexValueSize] = {};
  putBE64(key, m.id);
  bool legacy = m.blockSize == kLegacyBlockSize;
  val[0] = legacy ? kIndexFormatLegacy : kIndexFormat;  // old chunks stay readable by old binaries
  val[1] = static_cast<uint8_t>(m.state);
  if (!legacy) val[2] = log2Of(m.blockSize);
  putLE(val + 4, m.length, 4);
  putLE(val + 8, m.version, 8);
  MDB_txn* txn;
  int rc = mdb_txn_begin(env_, nullptr, 0, &txn);
  if (rc == 0) {
    MDB_val k{sizeof(key), key}, v{sizeof(val), val};
    rc = mdb_put(txn, dbi_, &k, &v, 0);
    if (rc == 0) {
      rc = mdb_txn_commit(txn);
    } else {
      mdb_txn_abort(txn);
    }
  }
  {
    std::lock_guard<std::mutex> g(mu_);
    metas_[m.id] = m;  // memory follows even when the disk could not: reads must see the truth
  }
  if (rc != 0) {
    int err = rc == MDB_MAP_FULL ? ENOSPC : (rc > 0 ? spaceErrno(rc) : EIO);
    return Status::error(err, chunkName(m.id, m.version) + ": index update failed on " +
                                  serverName() + ": " + mdb_strerror(rc));
  }
  return Status::ok();
}

Status DiskChunkStore::delIndex(uint64_t id) {
  uint8_t key[8];
  putBE64(key, id);
  MDB_txn* txn;
  int rc = mdb_txn_begin(env_, nullptr, 0, &txn);
  if (rc == 0) {
    MDB_val k{sizeof(key), key};
    rc = mdb_del(txn, dbi_, &k, nullptr);
    if (rc == 0 || rc == MDB_NOTFOUND) {
      rc = mdb_txn_commit(txn);
    } else {
      mdb_txn_abort(txn);
    }
  }
  {
    std::lock_guard<std::mutex> g(mu_);
    metas_.erase(id);
  }
  if (rc != 0) return Status::error(EIO, chunkName(id) + ": index delete failed: " + mdb_strerror(rc));
  return Status::ok();
}

Status DiskChunkStore::ioError(const ChunkMeta& m, const char* what, int err) {
  err = spaceErrno(err);
  return Status::error(err, chunkName(m.id, m.version) + ": " + what + " failed on " + serverName() +
                                ": " + strerror(err));
}

Status DiskChunkStore::damage(ChunkMeta m, Status cause) {
  log_->error("{} on {}: mutation failed half-way ({}); chunk marked damaged, reads fail until it "
              "is replaced",
              chunkName(m.id, m.version), serverName(), cause.toString());
  m.state = ChunkState::kDamaged;
  putIndex(m);  // best effort: the in-memory state is set even if this fails
  return cause;
}

Status DiskChunkStore::reserve(const ChunkMeta& m, int fd, const char* what, uint64_t offset,
                               uint64_t len) {
  if (len == 0) return Status::ok();
  int rc = io_->fallocate(fd, FALLOC_FL_KEEP_SIZE, static_cast<off_t>(offset), static_cast<off_t>(len));
  if (rc == 0 || rc == -EOPNOTSUPP) return Status::ok();  // no fallocate: the write itself may fail
  return ioError(m, what, -rc);
}

ssize_t DiskChunkStore::writeData(const Files& f, uint64_t offset, const uint8_t* data, size_t len) {
  size_t done = 0;
  if (f.direct >= 0 && offset % kDirectAlign == 0 && len >= kDirectMin) {
    const size_t directLen = len & ~(kDirectAlign - 1);
    while (done < directLen) {
      size_t n = std::min(directLen - done, kDirectPiece);
      const uint8_t* src = data + done;
      if (!aligned(src)) {
        uint8_t* b = workerBuffer(n);
        if (b == nullptr) break;  // no memory for the copy: the page cache takes the rest
        memcpy(b, src, n);
        src = b;
      }
      ssize_t w = io_->pwrite(f.direct, src, n, static_cast<off_t>(offset + done));
      if (w == -EINVAL) break;  // refused for this range: the page cache takes the rest
      if (w < 0) return w;
      done += n;
    }
  }
  if (done == len) return 0;
  ssize_t w = io_->pwrite(f.data, data + done, len - done, static_cast<off_t>(offset + done));
  if (w < 0) return w;
  // Large writes are sequential streams: start them on their way to disk now, so that the
  // writer's fsync does not find the whole stream still in memory.
  if (len - done >= kWritebackMin) {
    io_->startWriteback(f.data, static_cast<off_t>(offset + done), static_cast<off_t>(len - done));
  }
  return 0;
}

Status DiskChunkStore::readBlock(const ChunkMeta& m, const Files& f, uint64_t b,
                                 uint32_t expectedCrc, uint8_t* buf) {
  const uint32_t bs = m.blockSize;
  uint64_t start = b * bs;
  uint64_t want = std::min<uint64_t>(bs, m.length > start ? m.length - start : 0);
  ssize_t n = io_->pread(f.data, buf, want, static_cast<off_t>(start));
  if (n < 0) return ioError(m, "read", static_cast<int>(-n));
  memset(buf + n, 0, bs - static_cast<size_t>(n));
  return verifyBlock(m, b, expectedCrc, buf);
}

Status DiskChunkStore::verifyBlock(const ChunkMeta& m, uint64_t b, uint32_t expectedCrc,
                                   const uint8_t* buf) {
  uint32_t crc = crc32c(buf, m.blockSize);
  if (crc != expectedCrc) {
    std::string msg = chunkName(m.id, m.version) + " block " + std::to_string(b) + " on " +
                      serverName() + ": CRC mismatch (stored " + std::to_string(expectedCrc) +
                      ", computed " + std::to_string(crc) + ")";
    log_->error("{}", msg);
    return Status::error(EIO, msg);
  }
  return Status::ok();
}

ssize_t DiskChunkStore::readAt(int fd, void* buf, size_t len, uint64_t offset, bool cached) {
  return cached ? io_->preadCached(fd, buf, len, static_cast<off_t>(offset))
                : io_->pread(fd, buf, len, static_cast<off_t>(offset));
}

Result<std::vector<uint32_t>> DiskChunkStore::readCrcs(const ChunkMeta& m, const Files& f,
                                                       uint64_t first, uint64_t count, bool cached) {
  std::vector<uint8_t> raw(count * 4);
  ssize_t n = readAt(f.crc, raw.data(), raw.size(), first * 4, cached);
  if (cached && n < 0) return notCached();
  if (n < 0) return ioError(m, "CRC read", static_cast<int>(-n));
  if (static_cast<size_t>(n) != raw.size()) {
    std::string msg = chunkName(m.id, m.version) + " on " + serverName() + ": CRC file too short";
    log_->error("{}", msg);
    return Status::error(EIO, msg);
  }
  std::vector<uint32_t> crcs(count);
  for (uint64_t i = 0; i < count; ++i) crcs[i] = static_cast<uint32_t>(getLE(&raw[i * 4], 4));
  return crcs;
}

Status DiskChunkStore::writeCrcs(const ChunkMeta& m, const Files& f, uint64_t first,
                                 const std::vector<uint32_t>& crcs) {
  std::vector<uint8_t> raw(crcs.size() * 4);
  for (size_t i = 0; i < crcs.size(); ++i) putLE(&raw[i * 4], crcs[i], 4);
  ssize_t n = io_->pwrite(f.crc, raw.data(), raw.size(), static_cast<off_t>(first * 4));
  if (n < 0) return ioError(m, "CRC write", static_cast<int>(-n));
  return Status::ok();
}

Result<ChunkMeta> DiskChunkStore::stat(uint64_t id) { return metaOf(id); }

Status DiskChunkStore::create(uint64_t id, uint64_t version, ChunkState state) {
  ChunkMeta m{id, version, 0, state};
  // The files of a new chunk are made by its first write (filesOf creates them): a file created
  // and never written costs no files here. Existing ones are emptied.
  if (hasFiles(id)) {
    auto f = filesOf(id);
    if (!f.isOk()) return f.status();
    if (int rc = io_->ftruncate(f->data, 0)) return ioError(m, "truncate", -rc);
    if (int rc = io_->ftruncate(f->crc, 0)) return ioError(m, "CRC truncate", -rc);
  }
  return putIndex(m);
}

bool DiskChunkStore::hasFiles(uint64_t id) {
  {
    std::lock_guard<std::mutex> g(mu_);
    if (files_.count(id)) return true;
  }
  return ::access(dataPath(id).c_str(), F_OK) == 0 || ::access(crcPath(id).c_str(), F_OK) == 0;
}

Status DiskChunkStore::prepare(uint64_t id) {
  auto m = metaOf(id);
  if (!m.isOk()) return m.status();
  return filesOf(id).status();
}

Status DiskChunkStore::setMeta(uint64_t id, uint64_t version, ChunkState state) {
  auto m = metaOf(id);
  if (!m.isOk()) return m.status();
  if (m->state == ChunkState::kDamaged && state != ChunkState::kDamaged) {
    return Status::error(EIO, chunkName(id, m->version) + " on " + serverName() +
                                  " is damaged; only a replace can repair it");
  }
  m->version = version;
  m->state = state;
  return putIndex(*m);
}

Status DiskChunkStore::write(uint64_t id, uint32_t offset, const uint8_t* data, size_t len) {
  auto mr = metaOf(id);
  if (!mr.isOk()) return mr.status();
  ChunkMeta m = *mr;
  if (m.state == ChunkState::kDamaged) {
    return Status::error(EIO, chunkName(id, m.version) + " on " + serverName() + " is damaged");
  }
  uint64_t end = uint64_t{offset} + len;
  if (end > kMaxChunkLength) return Status::error(EFBIG, chunkName(id) + ": write beyond the largest chunk");
  if (len == 0) return Status::ok();
  auto f = filesOf(id);
  if (!f.isOk()) return f.status();

  const uint32_t bsz = m.blockSize;
  uint64_t oldBlocks = blocksFor(m.length, bsz);
  uint64_t firstB = offset / bsz, lastB = (end - 1) / bsz;
  // New CRCs for blocks [crcFirst, lastB]: the gap between the old end and this write reads as zeros.
  uint64_t crcFirst = std::min(firstB, oldBlocks);
  std::vector<uint32_t> crcs;
  std::vector<uint8_t> buf(bsz);
  for (uint64_t b = crcFirst; b <= lastB; ++b) {
    uint64_t bs = b * bsz, be = bs + bsz;
    if (b < firstB) {
      crcs.push_back(zeroBlockCrc(bsz));
      continue;
    }
    if (bs >= offset && be <= end) {
      crcs.push_back(crc32c(data + (bs - offset), bsz));
      continue;
    }
    // Partial block: read-modify-write, verifying what we keep.
    if (b < oldBlocks) {
      auto old = readCrcs(m, *f, b, 1);
      if (!old.isOk()) return old.status();
      Status st = readBlock(m, *f, b, (*old)[0], buf.data());
      if (!st.isOk()) return st;
    } else {
      std::fill(buf.begin(), buf.end(), 0);
    }
    uint64_t from = std::max<uint64_t>(bs, offset), to = std::min(be, end);
    memcpy(buf.data() + (from - bs), data + (from - offset), to - from);
    crcs.push_back(crc32c(buf.data(), bsz));
  }

  Status st = reserve(m, f->data, "space reservation", offset, len);
  if (!st.isOk()) return st;
  st = reserve(m, f->crc, "CRC space reservation", crcFirst * 4, crcs.size() * 4);
  if (!st.isOk()) return st;

  ssize_t n = writeData(*f, offset, data, len);
  if (n < 0) return damage(m, ioError(m, "write", static_cast<int>(-n)));
  st = writeCrcs(m, *f, crcFirst, crcs);
  if (!st.isOk()) return damage(m, st);
  if (end > m.length) {
    m.length = static_cast<uint32_t>(end);
    st = putIndex(m);
    if (!st.isOk()) return damage(m, st);
  }
  return Status::ok();
}

Status DiskChunkStore::writeMany(uint64_t id, const std::vector<WriteExtent>& writes) {
  auto m = metaOf(id);
  if (!m.isOk()) return m.status();
  auto f = filesOf(id);
  if (!f.isOk()) return f.status();
  for (const auto& w : writes) {
    if (uint64_t{w.offset} + w.data.size() > kMaxChunkLength) continue;  // write() says EFBIG
    Status st = reserve(*m, f->data, "space reservation", w.offset, w.data.size());
    if (!st.isOk()) return st;
  }
  return ChunkStore::writeMany(id, writes);
}

Status DiskChunkStore::truncate(uint64_t id, uint32_t length) {
  auto mr = metaOf(id);
  if (!mr.isOk()) return mr.status();
  ChunkMeta m = *mr;
  if (m.state == ChunkState::kDamaged) {
    return Status::error(EIO, chunkName(id, m.version) + " on " + serverName() + " is damaged");
  }
  if (length > kMaxChunkLength) return Status::error(EFBIG, chunkName(id) + ": truncate beyond the largest chunk");
  if (length == m.length) return Status::ok();
  auto f = filesOf(id);
  if (!f.isOk()) return f.status();
  const uint32_t bsz = m.blockSize;
  uint64_t oldBlocks = blocksFor(m.length, bsz), newBlocks = blocksFor(length, bsz);
  ChunkMeta after = m;
  after.length = length;
  if (length < m.length) {
    // The new last block loses its tail: its CRC changes.
    std::vector<uint32_t> lastCrc;
    if (length % bsz != 0) {
      uint64_t b = length / bsz;
      std::vector<uint8_t> buf(bsz);
      auto old = readCrcs(m, *f, b, 1);
      if (!old.isOk()) return old.status();
      Status st = readBlock(m, *f, b, (*old)[0], buf.data());
      if (!st.isOk()) return st;
      memset(buf.data() + length % bsz, 0, bsz - length % bsz);
      lastCrc.push_back(crc32c(buf.data(), bsz));
    }
    if (int rc = io_->ftruncate(f->data, length)) return damage(m, ioError(m, "truncate", -rc));
    if (!lastCrc.empty()) {
      Status st = writeCrcs(m, *f, length / bsz, lastCrc);
      if (!st.isOk()) return damage(m, st);
    }
    if (int rc = io_->ftruncate(f->crc, static_cast<off_t>(newBlocks * 4))) {
      return damage(m, ioError(m, "CRC truncate", -rc));
    }
  } else {
    // Growing adds zeros: the old last block's CRC already counts its tail as zeros.
    std::vector<uint32_t> crcs(newBlocks - oldBlocks, zeroBlockCrc(bsz));
    Status st = reserve(m, f->crc, "CRC space reservation", oldBlocks * 4, crcs.size() * 4);
    if (!st.isOk()) return st;
    if (int rc = io_->ftruncate(f->data, length)) return ioError(m, "truncate", -rc);
    st = writeCrcs(m, *f, oldBlocks, crcs);
    if (!st.isOk()) return damage(m, st);
  }
  Status st = putIndex(after);
  if (!st.isOk()) return damage(after, st);
  return Status::ok();
}

Status DiskChunkStore::zero(uint64_t id, uint32_t offset, uint32_t len) {
  auto mr = metaOf(id);
  if (!mr.isOk()) return mr.status();
  ChunkMeta m = *mr;
  if (m.state == ChunkState::kDamaged) {
    return Status::error(EIO, chunkName(id, m.version) + " on " + serverName() + " is damaged");
  }
  uint64_t end = std::min<uint64_t>(uint64_t{offset} + len, m.length);
  if (offset >= end) return Status::ok();  // past the length everything reads as zeros already
  auto f = filesOf(id);
  if (!f.isOk()) return f.status();
  const uint32_t bsz = m.blockSize;
  uint64_t firstB = offset / bsz, lastB = (end - 1) / bsz;
  std::vector<uint32_t> crcs;
  std::vector<uint8_t> buf(bsz);
  for (uint64_t b = firstB; b <= lastB; ++b) {
    uint64_t bs = b * bsz, be = bs + bsz;
    if (bs >= offset && std::min<uint64_t>(be, m.length) <= end) {
      crcs.push_back(zeroBlockCrc(bsz));  // every byte of the block up to the length is zeroed
      continue;
    }
    auto old = readCrcs(m, *f, b, 1);
    if (!old.isOk()) return old.status();
    Status st = readBlock(m, *f, b, (*old)[0], buf.data());
    if (!st.isOk()) return st;
    uint64_t from = std::max<uint64_t>(bs, offset), to = std::min(be, end);
    memset(buf.data() + (from - bs), 0, to - from);
    crcs.push_back(crc32c(buf.data(), bsz));
  }
  int rc = io_->fallocate(f->data, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, offset,
                          static_cast<off_t>(end - offset));
  if (rc == -EOPNOTSUPP) {
    std::vector<uint8_t> zeros(end - offset, 0);
    ssize_t n = io_->pwrite(f->data, zeros.data(), zeros.size(), offset);
    rc = n < 0 ? static_cast<int>(n) : 0;
  }
  if (rc != 0) return damage(m, ioError(m, "zero range", -rc));
  Status st = writeCrcs(m, *f, firstB, crcs);
  if (!st.isOk()) return damage(m, st);
  return Status::ok();
}

Status DiskChunkStore::read(uint64_t id, uint32_t offset, uint32_t len, uint8_t* out) {
  auto mr = metaOf(id);
  if (!mr.isOk()) return mr.status();
  if (len == 0 || offset >= mr->length || mr->state == ChunkState::kDamaged) {
    return readRange(*mr, Files{}, offset, len, out, false);  // needs no file
  }
  auto f = filesOf(id);
  if (!f.isOk()) return f.status();
  return readRange(*mr, *f, offset, len, out, false);
}

std::optional<Status> DiskChunkStore::readCached(uint64_t id, uint32_t offset, uint32_t len, uint8_t* out) {
  ChunkMeta m;
  Files f;
  {
    std::unique_lock<std::mutex> g(mu_, std::try_to_lock);
    if (!g.owns_lock()) return std::nullopt;  // a worker holds it (maybe opening files)
    auto mi = metas_.find(id);
    if (mi == metas_.end()) return std::nullopt;  // read() says why
    m = mi->second;
    auto fi = files_.find(id);
    if (fi == files_.end()) return std::nullopt;  // opening would touch the disk
    lru_.splice(lru_.begin(), lru_, fi->second.second);
    f = fi->second.first;
  }
  Status st = readRange(m, f, offset, len, out, true);
  if (st.code() == EAGAIN) return std::nullopt;
  return st;
}

Status DiskChunkStore::readRange(const ChunkMeta& m, const Files& f, uint32_t offset, uint32_t len, uint8_t* out,
                                 bool cached) {
  const uint64_t id = m.id;
  if (m.state == ChunkState::kDamaged) {
    std::string msg = chunkName(id, m.version) + " on " + serverName() +
                      " is damaged (a mutation failed half-way); not read";
    log_->error("{}", msg);
    return Status::error(EIO, msg);
  }
  if (len == 0) return Status::ok();  // `out` may be null for an empty read (an empty chunk's fetch)
  uint64_t end = std::min<uint64_t>(uint64_t{offset} + len, m.length);
  if (offset >= end) {
    memset(out, 0, len);
    return Status::ok();
  }
  const uint32_t bsz = m.blockSize;
  uint64_t firstB = offset / bsz, lastB = (end - 1) / bsz;
  auto crcs = readCrcs(m, f, firstB, lastB - firstB + 1, cached);
  if (!crcs.isOk()) return crcs.status();
  // One read for every block the range touches (CRCs cover whole blocks), then verify each.
  uint64_t spanStart = firstB * bsz, spanBytes = (lastB - firstB + 1) * bsz;
  uint64_t want = std::min<uint64_t>(spanBytes, m.length - spanStart);
  std::unique_ptr<uint8_t[]> owned;
  uint8_t* span = spanBytes <= kDirectPiece ? workerBuffer(spanBytes) : nullptr;
  if (span == nullptr) {
    owned.reset(new uint8_t[spanBytes]);
    span = owned.get();
  }
  ssize_t n = readAt(f.data, span, want, spanStart, cached);
  if (cached && n < 0) return notCached();
  if (n < 0) return ioError(m, "read", static_cast<int>(-n));
  memset(span + n, 0, spanBytes - static_cast<size_t>(n));  // past the length, or a short file
  for (uint64_t b = firstB; b <= lastB; ++b) {
    Status st = verifyBlock(m, b, (*crcs)[b - firstB], span + (b - firstB) * bsz);
    if (!st.isOk()) return st;
  }
  memcpy(out, span + (offset - spanStart), end - offset);
  memset(out + (end - offset), 0, len - (end - offset));
  return Status::ok();
}

Status DiskChunkStore::replace(uint64_t id, uint64_t version, const uint8_t* data, size_t len) {
  ChunkMeta m{id, version, static_cast<uint32_t>(len), ChunkState::kOk};
  if (len > kMaxChunkLength) return Status::error(EFBIG, chunkName(id) + ": replace beyond the largest chunk");
  std::string dataTmp = dataPath(id) + ".new", crcTmp = crcPath(id) + ".new";
  const uint32_t bsz = m.blockSize;
  std::vector<uint32_t> crcs(blocksFor(len, bsz));
  std::vector<uint8_t> buf(bsz);
  for (uint64_t b = 0; b < crcs.size(); ++b) {
    uint64_t bs = b * bsz, n = std::min<uint64_t>(bsz, len - bs);
    if (n == bsz) {
      crcs[b] = crc32c(data + bs, bsz);
    } else {
      std::fill(buf.begin(), buf.end(), 0);
      memcpy(buf.data(), data + bs, n);
      crcs[b] = crc32c(buf.data(), bsz);
    }
  }
  Files tmp;
  auto cleanup = [&](Status st) {
    if (tmp.data >= 0) ::close(tmp.data);
    if (tmp.crc >= 0) ::close(tmp.crc);
    ::unlink(dataTmp.c_str());
    ::unlink(crcTmp.c_str());
    return st;
  };
  tmp.data = ::open(dataTmp.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  tmp.crc = ::open(crcTmp.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (tmp.data < 0 || tmp.crc < 0) return cleanup(ioError(m, "create", errno));
  Status st = reserve(m, tmp.data, "space reservation", 0, len);
  if (st.isOk()) st = reserve(m, tmp.crc, "CRC space reservation", 0, crcs.size() * 4);
  if (st.isOk() && len > 0) {
    ssize_t n = io_->pwrite(tmp.data, data, len, 0);
    if (n < 0) st = ioError(m, "write", static_cast<int>(-n));
  }
  if (st.isOk()) st = writeCrcs(m, tmp, 0, crcs);
  if (st.isOk()) {
    int rc = io_->fsync(tmp.data);
    if (rc == 0) rc = io_->fsync(tmp.crc);
    if (rc != 0) st = ioError(m, "fsync", -rc);
  }
  if (!st.isOk()) return cleanup(st);  // the old chunk (if any) is untouched
  ::close(tmp.data);
  ::close(tmp.crc);
  tmp = Files{};
  closeFiles(id);
  // Data first, then CRCs: a crash in between leaves sizes that disagree, caught at open.
  if (::rename(dataTmp.c_str(), dataPath(id).c_str()) != 0 ||
      ::rename(crcTmp.c_str(), crcPath(id).c_str()) != 0) {
    return damage(m, cleanup(ioError(m, "rename", errno)));
  }
  st = putIndex(m);
  if (!st.isOk()) return damage(m, st);
  return Status::ok();
}

Status DiskChunkStore::sync(uint64_t id) {
  auto mr = metaOf(id);
  if (!mr.isOk()) return mr.status();
  auto f = filesOf(id);
  if (!f.isOk()) return f.status();
  int rc = io_->fsync(f->data);
  if (rc == 0) rc = io_->fsync(f->crc);
  if (rc == 0) rc = io_->fsync(dirFd_);
  if (rc != 0) return ioError(*mr, "fsync", -rc);
  int mrc = mdb_env_sync(env_, 1);
  if (mrc != 0) {
    return Status::error(EIO, chunkName(id) + ": index sync failed on " + serverName() + ": " +
                                  mdb_strerror(mrc));
  }
  return Status::ok();
}

Status DiskChunkStore::remove(uint64_t id) {
  closeFiles(id);
  ::unlink(dataPath(id).c_str());
  ::unlink(crcPath(id).c_str());
  return delIndex(id);
}

std::vector<ChunkMeta> DiskChunkStore::list() {
  std::lock_guard<std::mutex> g(mu_);
  std::vector<ChunkMeta> out;
  for (auto& [id, m] : metas_) out.push_back(m);
  return out;
}

StoreUsage DiskChunkStore::usage() {
  std::lock_guard<std::mutex> g(mu_);
  StoreUsage u;
  for (auto& [id, m] : metas_) u.bytes += m.length;
  u.chunks = metas_.size();
  return u;
}

}  // namespace basalt::chunk
