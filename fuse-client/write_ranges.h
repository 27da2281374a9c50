// The byte ranges of one inode's unfinished background writes, indexed by start, so that "which
// in-flight writes overlap [start, end)" and "where do they end" cost O(log n + overlaps) even with
// tens of thousands of small writes in flight (64 MiB of write-behind is 16,384 writes of 4 KiB).
// Thread-safety: none (the loop thread's FileIo owns it).
#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
#include <utility>

namespace basalt::client {

class WriteRanges {
 public:
  void add(uint64_t id, uint64_t start, uint64_t end) {
    byStart_.emplace(std::make_pair(start, id), end);
    maxLen_ = std::max(maxLen_, end - start);
  }
  void remove(uint64_t id, uint64_t start) { byStart_.erase(std::make_pair(start, id)); }
  bool empty() const { return byStart_.empty(); }
  size_t size() const { return byStart_.size(); }

  // Calls fn(id) for every range.
  template <typename Fn>
  void forEach(Fn&& fn) const {
    for (const auto& [key, end] : byStart_) fn(key.second);
  }
  // Calls fn(id) for every range overlapping [start, end).
  template <typename Fn>
  void forOverlapping(uint64_t start, uint64_t end, Fn&& fn) const {
    if (end <= start) return;
    // A range starting before `start - maxLen_` ends before `start`.
    uint64_t from = start > maxLen_ ? start - maxLen_ : 0;
    for (auto it = byStart_.lower_bound({from, 0}); it != byStart_.end() && it->first.first < end; ++it) {
      if (it->second > start) fn(it->first.second);
    }
  }
  bool overlaps(uint64_t start, uint64_t end) const {
    bool any = false;
    forOverlapping(start, end, [&any](uint64_t) { any = true; });
    return any;
  }
  // The largest end of any range (0 when empty).
  uint64_t maxEnd() const {
    if (byStart_.empty()) return 0;
    uint64_t lastStart = byStart_.rbegin()->first.first;
    uint64_t from = lastStart > maxLen_ ? lastStart - maxLen_ : 0;
    uint64_t end = 0;
    for (auto it = byStart_.lower_bound({from, 0}); it != byStart_.end(); ++it) end = std::max(end, it->second);
    return end;
  }

 private:
  std::map<std::pair<uint64_t, uint64_t>, uint64_t> byStart_;  // (start, id) -> end
  uint64_t maxLen_ = 0;  // the longest range ever added (bounds the backwards search)
};

}  // namespace basalt::client
