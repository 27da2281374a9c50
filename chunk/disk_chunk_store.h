// The chunk store on a local filesystem (format: docs/formats.md, "Chunk store"):
//   DIR/chunks/<id as 16 hex digits>       the chunk's bytes; file size == chunk length
//   DIR/chunks/<id as 16 hex digits>.crc   CRC32C of each block (4 KiB; 64 KiB in chunks from
//                                          before format 2), little-endian u32s
//   DIR/index/                             LMDB: BE64(id) -> (format, state, block size, length, version)
//
// Mutations compute every new block CRC first (reading and verifying the partial blocks at the
// edges), reserve space with fallocate (so a full disk fails before anything changed: ENOSPC), then
// write data, then CRCs, then the index. A failure after the data was touched marks the chunk
// kDamaged (in memory at once, on disk when the index can still be written): reads fail with EIO.
// At open, a chunk whose files disagree with its index entry (a crash between those steps) is
// marked kDamaged too.
// Thread-safety: as ChunkStore.
#pragma once

#include <lmdb.h>

#include <atomic>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "chunk/chunk_store.h"
#include "chunk/file_io.h"
#include "server/log.h"

namespace basalt::chunk {

class DiskChunkStore final : public ChunkStore {
 public:
  // Opens the store in `dir` (created if missing). `io` (optional, for fault injection) must outlive
  // the store. Fails with the errno of the first thing that could not be opened.
  static Result<std::unique_ptr<DiskChunkStore>> open(const std::string& dir, Logger log,
                                                      FileIo* io = nullptr);
  ~DiskChunkStore() override;

  // Names this server in log lines (e.g. "server 3 (127.0.0.1:7001)"); any thread.
  void setServerName(std::string name);

  Result<ChunkMeta> stat(uint64_t id) override;
  Status create(uint64_t id, uint64_t version, ChunkState state) override;
  Status setMeta(uint64_t id, uint64_t version, ChunkState state) override;
  Status prepare(uint64_t id) override;
  Status write(uint64_t id, uint32_t offset, const uint8_t* data, size_t len) override;
  // Reserves the space of every write first, so a full disk fails the batch before it changed.
  Status writeMany(uint64_t id, const std::vector<WriteExtent>& writes) override;
  Status truncate(uint64_t id, uint32_t length) override;
  Status zero(uint64_t id, uint32_t offset, uint32_t len) override;
  Status read(uint64_t id, uint32_t offset, uint32_t len, uint8_t* out) override;
  // From the page cache only (preadv2 RWF_NOWAIT), with the chunk's files already open and the
  // store's lock free at once; a CRC mismatch is an EIO as in read().
  std::optional<Status> readCached(uint64_t id, uint32_t offset, uint32_t len, uint8_t* out) override;
  Status replace(uint64_t id, uint64_t version, const uint8_t* data, size_t len) override;
  Status sync(uint64_t id) override;
  Status remove(uint64_t id) override;
  std::vector<ChunkMeta> list() override;
  StoreUsage usage() override;

  // At most this many chunks keep their files open (three fds each); the least recently used close.
  static constexpr size_t kMaxOpenChunks = 256;
  // Writes of at least this many bytes at a 4 KiB-aligned offset go around the page cache (O_DIRECT)
  // when the filesystem allows it: bulk data is cached by the clients, and a copy into the page
  // cache costs more CPU than the disk transfer (docs/chunk.md, "Direct writes").
  static constexpr size_t kDirectMin = 128 * 1024;

  std::string dataPath(uint64_t id) const;
  std::string crcPath(uint64_t id) const;

 private:
  // A chunk's open data and CRC files. Cached ones carry `owner`, which closes the fds when the
  // last holder lets go: evicting a chunk from the cache never closes an fd a worker is using.
  // `direct` is the data file opened with O_DIRECT, or -1 where the filesystem refuses it.
  struct Files {
    int data = -1;
    int crc = -1;
    int direct = -1;
    std::shared_ptr<void> owner;
  };

  DiskChunkStore(std::string dir, Logger log, FileIo* io);
  Status openIndex();
  Status loadIndex();
  Result<ChunkMeta> metaOf(uint64_t id);
  // The chunk's files, opened (and created when missing) and cached.
  Result<Files> filesOf(uint64_t id);
  // Whether the chunk has files on disk (or open).
  bool hasFiles(uint64_t id);
  void closeFiles(uint64_t id);
  Status putIndex(const ChunkMeta& m);
  Status delIndex(uint64_t id);
  // Marks the chunk kDamaged after a failure half-way through a mutation; returns `cause`.
  Status damage(ChunkMeta m, Status cause);
  // Reads block `b` of chunk `m` into buf (m.blockSize bytes, zeros past the length) and verifies
  // it against `expectedCrc`.
  Status readBlock(const ChunkMeta& m, const Files& f, uint64_t b, uint32_t expectedCrc, uint8_t* buf);
  // EIO naming chunk, block and server when the m.blockSize bytes at `buf` do not have `expectedCrc`.
  Status verifyBlock(const ChunkMeta& m, uint64_t b, uint32_t expectedCrc, const uint8_t* buf);
  // pread, or preadCached when `cached`.
  ssize_t readAt(int fd, void* buf, size_t len, uint64_t offset, bool cached);
  // `cached`: preadCached, and EAGAIN (as the Status) when anything is not in the page cache.
  Result<std::vector<uint32_t>> readCrcs(const ChunkMeta& m, const Files& f, uint64_t first, uint64_t count,
                                         bool cached = false);
  // The body of read() and readCached() once the chunk's meta and files are known.
  Status readRange(const ChunkMeta& m, const Files& f, uint32_t offset, uint32_t len, uint8_t* out, bool cached);
  Status writeCrcs(const ChunkMeta& m, const Files& f, uint64_t first, const std::vector<uint32_t>& crcs);
  Status reserve(const ChunkMeta& m, int fd, const char* what, uint64_t offset, uint64_t len);
  // Writes data at `offset` of the data file: a large aligned head with direct I/O, the rest (or
  // all, when direct I/O does not apply) through the page cache. Returns 0 or -errno.
  ssize_t writeData(const Files& f, uint64_t offset, const uint8_t* data, size_t len);
  Status ioError(const ChunkMeta& m, const char* what, int err);
  std::string serverName();

  std::string dir_;
  Logger log_;
  PosixFileIo posix_;
  FileIo* io_;
  MDB_env* env_ = nullptr;
  MDB_dbi dbi_ = 0;
  int dirFd_ = -1;
  std::atomic<bool> directIo_{true};  // false once the filesystem refused O_DIRECT
  std::mutex mu_;  // guards metas_, files_, serverName_
  std::map<uint64_t, ChunkMeta> metas_;
  std::map<uint64_t, std::pair<Files, std::list<uint64_t>::iterator>> files_;
  std::list<uint64_t> lru_;  // most recently used first
  std::string serverName_ = "this server";
};

}  // namespace basalt::chunk
