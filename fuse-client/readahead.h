// Readahead for sequential readers: after a few reads that each start where the previous one ended,
// the next window of the file is fetched ahead in segments, several in flight at once (from
// different chunk servers when the window spans chunks), and later reads are served from them. The
// window starts at one segment and grows to twice what the stream has read, up to 8 segments, so a
// short sequential run inside a random workload costs little.
//
// Bounded memory: at most `budgetBytes` of segments over all files; a stream that stops being
// sequential, or a file that changes (this client's writes, another client's pushed changes, a
// truncate), drops its segments. A segment that fails to arrive is simply not used: the read goes
// to the chunk servers itself and reports its own error.
// Thread-safety: loop thread only.
#pragma once

#include <kj/async.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <unordered_map>

namespace basalt::client {

class ReadAhead {
 public:
  // Reads [offset, offset + size) of `ino` from the chunk servers (fewer bytes at the end of file).
  using Fetch = std::function<kj::Promise<kj::Array<kj::byte>>(uint64_t ino, uint64_t offset, size_t size)>;

  ReadAhead(uint64_t budgetBytes, Fetch fetch);
  KJ_DISALLOW_COPY(ReadAhead);

  // A read of [offset, offset + size) of `ino`, of a file `knownSize` bytes long as far as this
  // client knows: served from prefetched segments when they cover it (resolves with the bytes),
  // else null (the caller reads it itself). Either way, the read counts towards detecting a
  // sequential stream and may start prefetching.
  kj::Maybe<kj::Promise<kj::Array<kj::byte>>> read(uint64_t ino, uint64_t offset, size_t size,
                                                   uint64_t knownSize);
  // The file changed (or is gone): drop what was fetched of it.
  void drop(uint64_t ino);

  uint64_t bytesHeld() const { return held_; }
  uint64_t hits() const { return hits_; }

  static constexpr uint64_t kSegmentBytes = 1u << 20;
  static constexpr int kSequentialReads = 2;  // reads in a row before prefetching starts

 private:
  struct Segment {
    uint64_t length = 0;  // requested
    std::shared_ptr<kj::Array<kj::byte>> data;  // set when arrived (may be shorter: end of file)
    bool failed = false;
    kj::ForkedPromise<void> ready;
  };
  struct Stream {
    uint64_t next = 0;  // where a sequential read would start
    int run = 0;        // sequential reads in a row
    uint64_t consumed = 0;  // bytes read sequentially in a row: the window grows with it
    uint64_t fetchedTo = 0;  // prefetching has been started up to here
    std::map<uint64_t, Segment> segments;  // by start offset
    uint64_t generation = 0;
  };
  void prefetch(uint64_t ino, Stream& s, uint64_t from, uint64_t knownSize);
  void release(Stream& s, uint64_t before);  // drops segments that end at or before `before`
  // The segment at `start` of `ino`'s stream, unless the stream was dropped since `generation`.
  Segment* segmentOf(uint64_t ino, uint64_t generation, uint64_t start);
  uint64_t windowBytes() const;

  uint64_t budget_;
  Fetch fetch_;
  std::unordered_map<uint64_t, Stream> streams_;
  uint64_t held_ = 0;
  uint64_t hits_ = 0;
  uint64_t generation_ = 0;
};

}  // namespace basalt::client
