// The scrubber: re-reads every chunk this server holds, at a bounded rate, so a rotten block is
// found before a client needs it. A read verifies the CRC of every block it touches; a mismatch is
// reported to the metadata server (ChunkServer::reportDamage), which drops the replica and has the
// chunk copied again from a good one.
//
// Passes are scheduled: one starts at most every `intervalMs` (start to start; a week by default,
// as rot is slow and a pass competes with clients for the disk and the page cache). Where a pass
// got to is kept in `stateFile` as it goes (ScrubProgress), so a restart resumes the pass, or waits
// out the interval after a finished one, instead of reading everything again. A server without a
// state file starts a pass at once.
// Thread-safety: loop thread only.
#pragma once

#include <kj/async.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "chunk/chunk_server.h"
#include "server/event_loop.h"
#include "server/log.h"

namespace basalt::chunk {

struct ScrubberConfig {
  uint64_t bytesPerSecond = 32ull << 20;            // read budget; 0 = the scrubber is off
  uint64_t intervalMs = 7ull * 24 * 3600 * 1000;    // a pass starts at most this often
  uint32_t pieceBytes = 1u << 20;                   // read in pieces of this size
  std::string stateFile;                            // where progress is kept ("" = nowhere)
  std::function<int64_t()> nowMs;                   // wall clock in Unix ms (default: the system's)
};

// The schedule as kept on disk: when the last pass started, whether it finished, and (while it
// runs) the first chunk id it has not checked yet. Chunks are checked in id order.
struct ScrubProgress {
  int64_t passStartedMs = 0;  // 0: never scrubbed
  bool finished = false;
  uint64_t nextChunk = 0;

  std::string encode() const;
  // Nothing for text that is not a complete record.
  static std::optional<ScrubProgress> decode(const std::string& text);
};

class Scrubber {
 public:
  Scrubber(EventLoop& loop, ChunkServer& server, Logger log, ScrubberConfig config);
  void start();

  uint64_t passes() const { return passes_; }
  uint64_t chunksChecked() const { return checked_; }
  uint64_t bytesRead() const { return bytesRead_; }
  uint64_t damaged() const { return damaged_; }
  const ScrubProgress& progress() const { return progress_; }

 private:
  kj::Promise<void> next();  // waits for the next pass (or resumes one), then runs it
  kj::Promise<void> pass();
  kj::Promise<void> scrub(std::vector<ChunkMeta> chunks, size_t next);
  kj::Promise<bool> scrubPiece(const ChunkMeta& c, uint32_t offset);
  // Writes progress_ to the state file (on a worker, in order); `force` = now, else at most every
  // kSaveEveryMs.
  void save(bool force);
  int64_t now() const;

  EventLoop& loop_;
  ChunkServer& server_;
  Logger log_;
  ScrubberConfig config_;
  ScrubProgress progress_;
  kj::TimePoint lastSave_;
  uint64_t passes_ = 0, checked_ = 0, bytesRead_ = 0, damaged_ = 0;
  uint64_t passChunks_ = 0, passBytes_ = 0, passDamaged_ = 0;
  kj::Promise<void> saving_ = kj::READY_NOW;
  bool saveFailing_ = false;
  kj::Promise<void> task_ = nullptr;
};

}  // namespace basalt::chunk
