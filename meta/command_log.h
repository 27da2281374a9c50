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
//
// Replication (docs/replication.md): each record also carries the term of the leader that made it
// (0 on a single metadata server), and the log keeps an index of the current run, so a leader can
// send its records to followers and a follower can drop a suffix a new leader overwrote.
// Thread-safety: one thread at a time (the committer's worker), except that lastSeq/lastTerm/termAt
// /readEntries may be called under the caller's own lock (the replica's log mutex) from another.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <optional>
#include <vector>

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
  // replay() that only indexes the records (a replicated store keeps them unapplied until it
  // learns they are committed). `afterTerm` is the term of record `after`.
  Status scan(uint64_t after, uint64_t afterTerm);
  // Starts a new run: the next record, numbered `nextSeq`, goes to the start of the file.
  // `prevTerm` is the term of record nextSeq - 1 (what termAt answers for it).
  void restart(uint64_t nextSeq, uint64_t prevTerm = 0);
  // Appends one record (sequence number nextSeq(), made by a leader of `term`) and waits until it
  // is on disk: write() then sync().
  Status append(std::string_view payload, uint64_t term = 0);
  // The two halves of append, for a leader that sends the record to its followers while its own
  // copy is flushed. Between them the record is written but not counted: nextSeq(), lastSeq(),
  // termAt() and read() still end before it. A failed sync erases it (best effort) like a failed
  // append; one write() at a time, each followed by its sync() before anything else.
  Status write(std::string_view payload, uint64_t term = 0);
  Status sync();
  // Erases records seq.. (a new leader's log differs from there): zeroes the first one's header,
  // syncs. `seq` must be in the current run and after nothing applied.
  Status truncateFrom(uint64_t seq);
  // The term of record `seq` (of the run, or the one just before it); nullopt when not known.
  std::optional<uint64_t> termAt(uint64_t seq) const;
  // The payloads of records from..to (inclusive) of the current run, at most `maxBytes` in all
  // (at least one). Empty when `from` is not in the current run.
  struct Entry {
    uint64_t seq;
    uint64_t term;
    std::string payload;
  };
  std::vector<Entry> read(uint64_t from, uint64_t to, size_t maxBytes) const;
  uint64_t lastSeq() const { return nextSeq_ - 1; }
  uint64_t lastTerm() const { return index_.empty() ? prevTerm_ : index_.back().term; }
  // The first record of the current run (nextSeq() when it is empty).
  uint64_t firstSeq() const { return nextSeq_ - index_.size(); }
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
  // Zeroes the header of a record that failed (best effort), so a restart never replays it.
  void eraseAt(uint64_t offset);

  std::string path_;
  int fd_;
  uint64_t size_;       // bytes of the file (all written: zeros or records)
  uint64_t offset_ = 0;  // where the next record goes
  uint64_t nextSeq_ = 1;
  // Where each record of the current run starts, and its term and length.
  struct Slot {
    uint64_t offset;
    uint64_t term;
    uint32_t length;
  };
  std::vector<Slot> index_;
  uint64_t prevTerm_ = 0;  // term of record nextSeq_ - index_.size() - 1
  bool retractable_ = false;  // the last record was appended, not read or retracted
  // A record written and not yet synced (write() without its sync()): where it ends, its term and length.
  std::optional<Slot> pending_;
  // Reads the valid records from the start of the file (numbered `after` + 1, ...).
  Status walk(uint64_t after, uint64_t afterTerm,
              const std::function<Status(uint64_t seq, std::string_view payload)>& fn);
};

}  // namespace basalt::meta
