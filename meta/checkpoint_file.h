// The checkpoint file: copies of the LMDB store's two meta pages as they were at the last
// checkpoint, when every page of that snapshot was on disk, with the sequence number of the last
// command-log record the snapshot contains (docs/formats.md, "Checkpoint file").
//
// The store is written without syncing between checkpoints, so after a crash its own meta pages may
// name pages that never reached the disk. Writing these copies back before opening it rewinds it to
// the checkpoint, whose pages are intact: the store keeps a read transaction on that snapshot until
// the next checkpoint is durable, and LMDB never reuses a page a reader can see.
//
// Two slots, written alternately, each with a CRC32C: a checkpoint torn by a crash leaves the
// previous one readable. Thread-safety: one thread at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "server/status.h"

namespace basalt::meta {

struct CheckpointImage {
  uint64_t seq = 0;     // the last command-log record included
  uint64_t txnid = 0;   // the LMDB transaction of the snapshot
  uint32_t pageSize = 0;
  std::string pages;    // 2 * pageSize bytes: LMDB pages 0 and 1
};

class CheckpointFile {
 public:
  static constexpr uint32_t kMaxPageSize = 4096;
  static constexpr uint32_t kSlotSize = 3 * kMaxPageSize;  // a header block, then the two pages

  // Opens (creating if needed) the file at `path`.
  static Result<std::unique_ptr<CheckpointFile>> open(const std::string& path);
  ~CheckpointFile();
  CheckpointFile(const CheckpointFile&) = delete;
  CheckpointFile& operator=(const CheckpointFile&) = delete;

  // The valid slot with the highest (sequence number, transaction id); none in a new file.
  const std::optional<CheckpointImage>& latest() const { return latest_; }
  // Writes `image` over the older slot and syncs it; it is then the latest.
  Status write(const CheckpointImage& image);

 private:
  CheckpointFile(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  std::string path_;
  int fd_;
  int latestSlot_ = -1;
  std::optional<CheckpointImage> latest_;
};

// The transaction id recorded in an LMDB meta page (a page of 2 * pageSize `pages`, index 0 or 1);
// 0 if the page is not an LMDB meta page. Layout of LMDB 0.9 (mdb.c: MDB_page header, MDB_meta).
uint64_t lmdbMetaTxnid(const std::string& pages, uint32_t pageSize, int index);

}  // namespace basalt::meta
