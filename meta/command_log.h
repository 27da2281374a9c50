// The command log: what makes a metadata commit durable. Each committed batch of commands is one
// record, appended and fdatasync'ed before the batch's replies go out; the LMDB store is written
// without syncing and made durable only at checkpoints (Store::checkpoint). After a crash the store
// is rewound to its last checkpoint and the records after it are applied again (docs/meta.md,
// "Durability: the command log"; the format is in docs/formats.md).
//
// Why: an LMDB commit with sync costs two disk flushes (its pages, then its meta page) at scattered
// offsets, 400–600 µs on this project's VM under load; a record appended over zeros already on
// disk costs one write and one flush.
//
// The file grows in zero-filled steps and is reused from its start after each checkpoint: a record
// is recognised by its sequence number (the next expected one) and its CRC32C, so older records
// past the end of the current run, a torn record or zeros end the replay.
// Thread-safety: one thread at a time (the committer's worker).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "server/status.h"

namespace basalt::meta {

class CommandLog {
 public:
  // Opens (creating if needed) the log at `path`.
  static Result<std::unique_ptr<CommandLog>> open(const std::string& path);
  ~CommandLog();
  CommandLog(const CommandLog&) = delete;
  CommandLog& operator=(const CommandLog&) = delete;

  // Calls fn(seq, payload) for the records from the start of the file with sequence numbers
  // after, after + 1, ... up to the first missing, torn or out-of-sequence one; stops at fn's
  // first error and returns it. Afterwards appends go on after the last record read.
  Status replay(uint64_t after, const std::function<Status(uint64_t seq, std::string_view payload)>& fn);
  // Starts a new run: the next record, numbered `nextSeq`, goes to the start of the file.
  void restart(uint64_t nextSeq);
  // Appends one record (sequence number nextSeq()) and waits until it is on disk.
  Status append(std::string_view payload);
  // Erases the record appended last (its batch could not be applied): zeroes its header, syncs.
  Status retract();

  uint64_t nextSeq() const { return nextSeq_; }
  // Bytes of records in the current run.
  uint64_t runBytes() const { return offset_; }

  static constexpr uint64_t kGrowStep = 4u << 20;
  static constexpr uint32_t kHeaderSize = 24;
  static constexpr uint32_t kMaxRecord = 256u << 20;

 private:
  CommandLog(std::string path, int fd, uint64_t size) : path_(std::move(path)), fd_(fd), size_(size) {}
  // Makes the file hold zeros up to at least `end`.
  Status ensureSize(uint64_t end);

  std::string path_;
  int fd_;
  uint64_t size_;       // bytes of the file (all written: zeros or records)
  uint64_t offset_ = 0;  // where the next record goes
  uint64_t lastOffset_ = 0;  // where the last appended record starts
  uint64_t nextSeq_ = 1;
};

}  // namespace basalt::meta
