// One mutation of a chunk (rpc::ChunkOp decoded), and the form its bytes travel in between chunk
// servers: raw, or zstd frames where compression pays (server/compression.h).
//
// An op received from a client carries raw bytes. The primary, on the worker that applies it, packs
// the pieces worth compressing (pack()) for its forwards; a backup receives those frames and turns
// them back into bytes on the worker that applies the op (unpack()), so neither loop spends time
// in zstd.
#pragma once

#include <rpc-schema/chunk.capnp.h>

#include <memory>
#include <string>
#include <vector>

#include "chunk/chunk_store.h"
#include "server/status.h"

namespace basalt::chunk {

using Bytes = std::shared_ptr<const std::vector<uint8_t>>;

// Bytes between chunk servers: the data itself, or one zstd frame of `rawLength` bytes.
struct Payload {
  Bytes bytes;
  uint32_t rawLength = 0;  // 0: `bytes` are the data

  bool packed() const { return rawLength != 0; }
  size_t size() const { return packed() ? rawLength : (bytes ? bytes->size() : 0); }
  size_t wireSize() const { return bytes ? bytes->size() : 0; }
  // Compressed when that pays, else `raw` itself. A compression pass: worker threads.
  static Payload pack(Bytes raw);
  // The data; EINVAL naming the problem for a corrupt frame. Worker threads for big ones.
  Result<Bytes> unpack() const;
};

// Owns its data (the RPC message carrying it may go away while a worker thread still writes it).
struct Op {
  enum class Kind { kWrite, kTruncate, kZero, kNewVersion, kWrites };
  Kind kind = Kind::kWrite;
  uint32_t offset = 0;   // write, zero
  uint32_t length = 0;   // truncate: new length; zero: range length
  uint64_t newVersion = 0;
  Bytes data;            // write
  std::shared_ptr<const std::vector<WriteExtent>> writes;  // writes (a client's batch)
  // The write pieces as they go to peers (one per write), when some are compressed. Set by pack()
  // on the primary, or by fromWire() on a backup, where data/writes stay empty until unpack().
  std::shared_ptr<const std::vector<Payload>> wire;
  bool needsUnpack = false;

  // Checks bounds (EFBIG past the largest chunk, EINVAL for an empty batch or an unknown op); keeps
  // compressed pieces compressed.
  static Result<Op> fromWire(rpc::ChunkOp::Reader in);
  void toWire(rpc::ChunkOp::Builder out) const;
  // Compresses the pieces where it pays (sets `wire`; unchanged when none does).
  void pack();
  // Turns received frames back into data/writes; EINVAL for a corrupt frame.
  Status unpack();
  size_t dataSize() const;  // bytes written (uncompressed)
  size_t wireSize() const;  // bytes of data on the wire
  std::string describe() const;
};

}  // namespace basalt::chunk
