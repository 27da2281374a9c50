// Where a chunk server keeps its chunks: the ChunkStore interface, with a disk implementation
// (disk_chunk_store.h: chunk files, per-block CRC32C, LMDB index) and an in-memory one for tests
// (mem_chunk_store.h).
//
// Contract common to every implementation:
//  - A chunk has an id, a version, a length (bytes stored) and a state. Bytes at or beyond the
//    length, and bytes inside it never written, read as zeros.
//  - read() never hands out bytes that fail verification: it returns EIO naming chunk and block.
//  - A mutation that fails returns its errno (ENOSPC/EDQUOT as ENOSPC) and leaves the chunk either
//    unchanged or marked kDamaged (every later read of it fails with EIO); never data that reads
//    back wrong.
// Thread-safety: every method blocks (disk I/O) and is meant for worker threads (EventLoop::offload).
// Calls for different chunks may run concurrently; calls for the same chunk must not overlap (the
// chunk server serializes them per chunk).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "server/status.h"

namespace basalt::chunk {

// CRCs cover blocks of this many bytes in chunks made now: an aligned 4 KiB write then needs no
// read of the data around it, and a 4 KiB read verifies no more than it returns.
constexpr uint32_t kBlockSize = 4 * 1024;
// ... and of this many in chunks written before (format 1 of the disk index); still read and written.
constexpr uint32_t kLegacyBlockSize = 64 * 1024;
// No chunk is longer than this (the largest chunk size a file may choose).
constexpr uint64_t kMaxChunkLength = 1ull << 30;

enum class ChunkState : uint8_t {
  kOk = 0,
  kSyncing = 1,   // assigned a new version as a backup; waits for its primary's install
  kDamaged = 2,   // a mutation failed half-way; reads fail with EIO until the chunk is replaced
};
const char* toString(ChunkState s);

struct ChunkMeta {
  uint64_t id = 0;
  uint64_t version = 0;
  uint32_t length = 0;
  ChunkState state = ChunkState::kOk;
  uint32_t blockSize = kBlockSize;  // bytes per CRC block (kept until a create or replace starts the chunk anew)
};

struct StoreUsage {
  uint64_t bytes = 0;
  uint64_t chunks = 0;
};

struct WriteExtent {
  uint32_t offset = 0;
  std::vector<uint8_t> data;
};

// "chunk 00000000000000ab v3": how logs and messages name a chunk.
std::string chunkName(uint64_t id, uint64_t version);
std::string chunkName(uint64_t id);

class ChunkStore {
 public:
  virtual ~ChunkStore() = default;

  // The chunk's metadata; ENOENT when it is not held.
  virtual Result<ChunkMeta> stat(uint64_t id) = 0;
  // Creates an empty chunk, or resets an existing one to empty, at `version` in `state`.
  virtual Status create(uint64_t id, uint64_t version, ChunkState state) = 0;
  // Changes version and state, keeping the contents. ENOENT when absent.
  virtual Status setMeta(uint64_t id, uint64_t version, ChunkState state) = 0;
  // Makes ready what the first write of a new chunk would otherwise have to make (the disk store:
  // its two files), so that write does not wait for it. A chunk not held: ENOENT, nothing made.
  // Optional: a failure is the first write's to meet again and report.
  virtual Status prepare(uint64_t /*id*/) { return Status::ok(); }
  // Writes data at offset (extending the length if needed).
  virtual Status write(uint64_t id, uint32_t offset, const uint8_t* data, size_t len) = 0;
  // Several writes in order, all or nothing as far as readers can tell: a failure before any was
  // applied leaves the chunk unchanged; a failure after that marks it kDamaged.
  virtual Status writeMany(uint64_t id, const std::vector<WriteExtent>& writes);
  // The length becomes `length` (shrinking drops bytes, growing adds zeros).
  virtual Status truncate(uint64_t id, uint32_t length) = 0;
  // [offset, offset+len) reads as zeros afterwards; the length does not change.
  virtual Status zero(uint64_t id, uint32_t offset, uint32_t len) = 0;
  // Reads [offset, offset+len) into `out` (len bytes), zeros past the length. EIO on a CRC mismatch
  // or a kDamaged chunk.
  virtual Status read(uint64_t id, uint32_t offset, uint32_t len, uint8_t* out) = 0;
  // read(), but only when it needs neither the disk nor a lock another thread holds: then it is
  // safe on the event loop (the same rules of order per chunk). Nothing when it would wait; the
  // caller then calls read() on a worker.
  virtual std::optional<Status> readCached(uint64_t, uint32_t, uint32_t, uint8_t*) { return std::nullopt; }
  // Replaces the whole chunk with `data` at `version`, state kOk (creating it if absent).
  virtual Status replace(uint64_t id, uint64_t version, const uint8_t* data, size_t len) = 0;
  // Makes the chunk's data, CRCs and index entry durable.
  virtual Status sync(uint64_t id) = 0;
  // Drops the chunk. Succeeds when it is absent.
  virtual Status remove(uint64_t id) = 0;
  virtual std::vector<ChunkMeta> list() = 0;
  // Bytes held (sum of lengths) and chunks held, in one pass.
  virtual StoreUsage usage() = 0;
};

}  // namespace basalt::chunk
