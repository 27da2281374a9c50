// Range arithmetic on the locks one owner holds on one inode.
//
// An OwnerRanges vector is kept sorted by start, its ranges disjoint, and coalesced: two ranges
// that touch (a.end + 1 == b.start) never have the same type, as Linux merges them. All functions
// are O(k) in the owner's lock count or better. Pure functions; no shared state.
#pragma once

#include <cstdint>
#include <vector>

#include "meta/locks/lock_types.h"

namespace basalt::meta {

struct HeldRange {
  uint64_t start = 0;
  uint64_t end = 0;  // inclusive
  LockType type = LockType::kRead;
  uint32_t pid = 0;

  ByteRange range() const { return ByteRange{start, end}; }
};
using OwnerRanges = std::vector<HeldRange>;

// True when two lock types of different owners cannot be held over the same byte.
inline bool typesConflict(LockType a, LockType b) {
  return a == LockType::kWrite || b == LockType::kWrite;
}

// Sets the type of every byte of `r` to `type` for this owner (kUnlock removes), replacing the
// owner's own overlapping locks: the F_SETLK rule for one owner. Pieces of old locks outside `r`
// survive (a middle unlock splits); afterwards touching ranges of equal type are coalesced. Pieces
// that touch the new lock take its pid when merged with it. Keeps the vector's invariants.
void applyRange(OwnerRanges& ranges, ByteRange r, LockType type, uint32_t pid);

// The lowest-start lock in `ranges` that overlaps `r` and conflicts with `type`, or nullptr.
// O(log k + overlapping locks).
const HeldRange* firstConflict(const OwnerRanges& ranges, ByteRange r, LockType type);

// "" when `ranges` is sorted, disjoint, coalesced and every entry has start <= end and a real type;
// else a description of the first violation.
const char* rangesViolation(const OwnerRanges& ranges);

}  // namespace basalt::meta
