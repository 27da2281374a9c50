#include "meta/locks/lock_ranges.h"

#include <algorithm>
#include <cerrno>
#include <cstdint>

namespace basalt::meta {

int makeRange(uint64_t start, uint64_t length, ByteRange* out) {
  if (length == 0) {
    *out = ByteRange{start, ByteRange::kToEof};
    return 0;
  }
  if (length - 1 > ByteRange::kToEof - start) return EINVAL;
  *out = ByteRange{start, start + (length - 1)};
  return 0;
}

namespace {

bool touches(const HeldRange& a, const HeldRange& b) {
  return a.end != ByteRange::kToEof && a.end + 1 == b.start;
}

// First entry whose end >= start: the first that may overlap a range beginning at `start`.
OwnerRanges::const_iterator firstEndingAtOrAfter(const OwnerRanges& v, uint64_t start) {
  return std::lower_bound(v.begin(), v.end(), start,
                          [](const HeldRange& h, uint64_t s) { return h.end < s; });
}

}  // namespace

void applyRange(OwnerRanges& ranges, ByteRange r, LockType type, uint32_t pid) {
  OwnerRanges out;
  out.reserve(ranges.size() + 2);
  auto it = firstEndingAtOrAfter(ranges, r.start);
  out.insert(out.end(), ranges.cbegin(), it);
  size_t newIndex = SIZE_MAX;
  bool haveRight = false;
  HeldRange right;
  for (; it != ranges.cend() && it->start <= r.end; ++it) {
    if (it->start < r.start) out.push_back(HeldRange{it->start, r.start - 1, it->type, it->pid});
    if (it->end > r.end) {
      right = HeldRange{r.end + 1, it->end, it->type, it->pid};
      haveRight = true;
    }
  }
  if (type != LockType::kUnlock) {
    newIndex = out.size();
    out.push_back(HeldRange{r.start, r.end, type, pid});
  }
  if (haveRight) out.push_back(right);
  out.insert(out.end(), it, ranges.cend());

  // Coalesce touching equal-type neighbours; only the pieces around the new range can touch, but
  // one linear pass keeps this obviously right and is O(k) like the copy above.
  OwnerRanges merged;
  merged.reserve(out.size());
  for (size_t i = 0; i < out.size(); ++i) {
    if (!merged.empty() && merged.back().type == out[i].type && touches(merged.back(), out[i])) {
      merged.back().end = out[i].end;
      if (i == newIndex) merged.back().pid = out[i].pid;
    } else {
      merged.push_back(out[i]);
    }
  }
  ranges.swap(merged);
}

const HeldRange* firstConflict(const OwnerRanges& ranges, ByteRange r, LockType type) {
  for (auto it = firstEndingAtOrAfter(ranges, r.start); it != ranges.end() && it->start <= r.end;
       ++it) {
    if (typesConflict(it->type, type)) return &*it;
  }
  return nullptr;
}

const char* rangesViolation(const OwnerRanges& ranges) {
  for (size_t i = 0; i < ranges.size(); ++i) {
    const HeldRange& h = ranges[i];
    if (h.start > h.end) return "range with start > end";
    if (h.type != LockType::kRead && h.type != LockType::kWrite) return "range with no lock type";
    if (i == 0) continue;
    const HeldRange& p = ranges[i - 1];
    if (p.end >= h.start) return "ranges of one owner unsorted or overlapping";
    if (p.type == h.type && touches(p, h)) return "touching ranges of one type not coalesced";
  }
  return "";
}

}  // namespace basalt::meta
