#include "fuse-client/readahead.h"

#include <algorithm>
#include <cstring>

namespace basalt::client {

ReadAhead::ReadAhead(uint64_t budgetBytes, Fetch fetch) : budget_(budgetBytes), fetch_(std::move(fetch)) {}

uint64_t ReadAhead::windowBytes() const {
  // Enough segments in flight to keep a few chunk servers busy, within the budget.
  return std::min<uint64_t>(budget_ / 2, 8 * kSegmentBytes);
}

void ReadAhead::drop(uint64_t ino) {
  auto it = streams_.find(ino);
  if (it == streams_.end()) return;
  release(it->second, UINT64_MAX);
  streams_.erase(it);
}

ReadAhead::Segment* ReadAhead::segmentOf(uint64_t ino, uint64_t generation, uint64_t start) {
  auto st = streams_.find(ino);
  if (st == streams_.end() || st->second.generation != generation) return nullptr;
  auto seg = st->second.segments.find(start);
  return seg == st->second.segments.end() ? nullptr : &seg->second;
}

void ReadAhead::release(Stream& s, uint64_t before) {
  for (auto it = s.segments.begin(); it != s.segments.end();) {
    if (it->first + it->second.length > before) break;
    held_ -= it->second.length;
    it = s.segments.erase(it);
  }
}

kj::Maybe<kj::Promise<kj::Array<kj::byte>>> ReadAhead::read(uint64_t ino, uint64_t offset, size_t size,
                                                            uint64_t knownSize) {
  if (budget_ == 0 || size == 0) return nullptr;
  auto found = streams_.find(ino);
  if (found == streams_.end()) {
    found = streams_.emplace(ino, Stream{}).first;
    found->second.generation = ++generation_;
  }
  Stream& s = found->second;
  if (offset == s.next) {
    s.run++;
    s.consumed += size;
  } else {
    // Not sequential (a seek): forget what was fetched, start counting again.
    release(s, UINT64_MAX);
    s.run = 0;
    s.consumed = 0;
    s.fetchedTo = 0;
  }
  s.next = offset + size;
  uint64_t end = offset + size;
  // Segments wholly before this read are done with.
  release(s, offset);

  kj::Maybe<kj::Promise<kj::Array<kj::byte>>> served;
  // Served when the segments from `offset` on cover [offset, end) without a gap.
  auto first = s.segments.upper_bound(offset);
  if (first != s.segments.begin()) {
    --first;
    std::vector<std::map<uint64_t, Segment>::iterator> parts;
    uint64_t at = offset;
    for (auto it = first; it != s.segments.end() && at < end; ++it) {
      if (it->first > at || it->first + it->second.length <= at) break;
      parts.push_back(it);
      at = it->first + it->second.length;
    }
    if (at >= end && !parts.empty()) {
      auto waits = kj::heapArrayBuilder<kj::Promise<void>>(parts.size());
      auto starts = std::make_shared<std::vector<uint64_t>>();
      for (auto& it : parts) {
        waits.add(it->second.ready.addBranch());
        starts->push_back(it->first);
      }
      uint64_t gen = s.generation;
      hits_++;
      served = kj::joinPromises(waits.finish())
                   .then([this, ino, offset, size, gen, starts]() -> kj::Promise<kj::Array<kj::byte>> {
                     auto st = streams_.find(ino);
                     // Dropped meanwhile (the file changed): read it for real.
                     if (st == streams_.end() || st->second.generation != gen) return fetch_(ino, offset, size);
                     auto out = kj::heapArray<kj::byte>(size);
                     size_t filled = 0;
                     for (uint64_t start : *starts) {
                       // Released meanwhile (a later read moved past it), or failed: read for real.
                       auto seg = st->second.segments.find(start);
                       if (seg == st->second.segments.end() || seg->second.failed || !seg->second.data) {
                         return fetch_(ino, offset, size);
                       }
                       const auto& data = *seg->second.data;
                       uint64_t from = std::max(offset, start);
                       uint64_t to = std::min<uint64_t>(offset + size, start + seg->second.length);
                       uint64_t avail = std::min<uint64_t>(to, start + data.size());
                       if (avail > from) memcpy(out.begin() + (from - offset), data.begin() + (from - start), avail - from);
                       filled = avail > offset ? avail - offset : 0;
                       if (avail < to) break;  // the file ends inside this segment
                     }
                     if (filled < size) {
                       auto shorter = kj::heapArray<kj::byte>(filled);
                       memcpy(shorter.begin(), out.begin(), filled);
                       return kj::mv(shorter);
                     }
                     return kj::mv(out);
                   });
    }
  }
  if (s.run >= kSequentialReads) prefetch(ino, s, std::max(end, s.fetchedTo), knownSize);
  return served;
}

void ReadAhead::prefetch(uint64_t ino, Stream& s, uint64_t from, uint64_t knownSize) {
  uint64_t window = std::min(std::max(2 * s.consumed, kSegmentBytes), windowBytes());
  uint64_t until = std::min(s.next + window, knownSize);
  from = std::max(from, s.next);
  while (from < until && held_ + kSegmentBytes <= budget_) {
    // Segments end on segment boundaries, so they line up with chunk boundaries.
    uint64_t segEnd = std::min((from / kSegmentBytes + 1) * kSegmentBytes, until);
    uint64_t len = segEnd - from;
    if (until < knownSize && segEnd < (from / kSegmentBytes + 1) * kSegmentBytes) break;  // wait for a whole one
    held_ += len;
    uint64_t gen = s.generation;
    uint64_t start = from;
    auto ready = fetch_(ino, start, len)
                     .then(
                         [this, ino, start, gen](kj::Array<kj::byte>&& data) {
                           if (Segment* seg = segmentOf(ino, gen, start)) {
                             seg->data = std::make_shared<kj::Array<kj::byte>>(kj::mv(data));
                           }
                         },
                         [this, ino, start, gen](kj::Exception&&) {
                           if (Segment* seg = segmentOf(ino, gen, start)) seg->failed = true;
                         })
                     .eagerlyEvaluate(nullptr)
                     .fork();
    s.segments.emplace(start, Segment{len, nullptr, false, kj::mv(ready)});
    from = segEnd;
    s.fetchedTo = from;
  }
}

}  // namespace basalt::client
