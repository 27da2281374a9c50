// The scrubber: re-reads every chunk this server holds, at a bounded rate, so a rotten block is
// found before a client needs it. A read verifies the CRC of every block it touches; a mismatch is
// reported to the metadata server (ChunkServer::reportDamage), which drops the replica and has the
// chunk copied again from a good one.
// Thread-safety: loop thread only.
#pragma once

#include <kj/async.h>

#include <cstdint>

#include "chunk/chunk_server.h"
#include "server/event_loop.h"
#include "server/log.h"

namespace basalt::chunk {

struct ScrubberConfig {
  uint64_t bytesPerSecond = 32ull << 20;  // read budget; 0 = the scrubber is off
  uint32_t pauseBetweenPassesMs = 10000;  // after a whole pass over every chunk
  uint32_t pieceBytes = 1u << 20;         // read in pieces of this size
};

class Scrubber {
 public:
  Scrubber(EventLoop& loop, ChunkServer& server, Logger log, ScrubberConfig config);
  void start();

  uint64_t passes() const { return passes_; }
  uint64_t chunksChecked() const { return checked_; }
  uint64_t damaged() const { return damaged_; }

 private:
  kj::Promise<void> pass();
  kj::Promise<void> scrub(std::vector<ChunkMeta> chunks, size_t next);
  kj::Promise<bool> scrubPiece(const ChunkMeta& c, uint32_t offset);

  EventLoop& loop_;
  ChunkServer& server_;
  Logger log_;
  ScrubberConfig config_;
  uint64_t passes_ = 0, checked_ = 0, damaged_ = 0;
  kj::Promise<void> task_ = nullptr;
};

}  // namespace basalt::chunk
