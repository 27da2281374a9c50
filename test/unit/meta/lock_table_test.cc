// Record-lock range arithmetic: explicit cases, then thousands of random operations compared with a
// per-byte reference model.
#include "meta/locks/lock_table.h"

#include <doctest/doctest.h>

#include <array>
#include <cerrno>
#include <optional>
#include <random>
#include <vector>

using namespace basalt::meta;

namespace {

constexpr uint64_t kEof = ByteRange::kToEof;
constexpr InodeId kIno = 42;

LockOwner posix(uint64_t session, uint64_t id) {
  return LockOwner{session, id, OwnerKind::kPosix};
}
LockOwner ofd(uint64_t session, uint64_t id) {
  return LockOwner{session, id, OwnerKind::kOfd};
}

LockRequest req(LockOwner o, uint64_t start, uint64_t end, LockType type, uint32_t pid = 0) {
  LockRequest r;
  r.owner = o;
  r.range = ByteRange{start, end};
  r.type = type;
  r.pid = pid;
  return r;
}

HeldLock held(LockOwner o, uint64_t start, uint64_t end, LockType type, uint32_t pid = 0) {
  return HeldLock{o, ByteRange{start, end}, type, pid};
}

int set(LockTable& t, LockOwner o, uint64_t start, uint64_t end, LockType type, uint32_t pid = 0) {
  LockOutcome out = t.setLock(kIno, req(o, start, end, type, pid));
  REQUIRE(t.checkInvariants() == "");
  REQUIRE_FALSE(out.queued);
  return out.error;
}

const auto R = LockType::kRead;
const auto W = LockType::kWrite;
const auto U = LockType::kUnlock;

}  // namespace

TEST_CASE("a length of zero means to end of file and overflowing ranges are rejected") {
  ByteRange r;
  CHECK(makeRange(100, 0, &r) == 0);
  CHECK(r == ByteRange{100, kEof});
  CHECK(makeRange(100, 10, &r) == 0);
  CHECK(r == ByteRange{100, 109});
  CHECK(makeRange(kEof, 1, &r) == 0);
  CHECK(r == ByteRange{kEof, kEof});
  CHECK(makeRange(1, kEof, &r) == 0);
  CHECK(r == ByteRange{1, kEof});
  CHECK(makeRange(kEof, 2, &r) == EINVAL);
  CHECK(makeRange(2, kEof, &r) == EINVAL);

  LockTable t;
  CHECK(t.setLock(kIno, req(posix(1, 1), 10, 9, W)).error == EINVAL);
  CHECK(t.setLock(kIno, req(LockOwner{1, 1, OwnerKind::kFlock}, 0, 9, W)).error == EINVAL);
  CHECK(t.locksOf(kIno).empty());
  CHECK(t.inodesWithLocks().empty());

  LockOwner a = posix(1, 1), b = posix(2, 1);
  CHECK(set(t, a, 100, kEof, W) == 0);
  CHECK(set(t, b, uint64_t{1} << 62, (uint64_t{1} << 62) + 5, R) == EAGAIN);
  CHECK(set(t, b, 0, 99, W) == 0);
}

TEST_CASE("unlocking the middle of a lock splits it in two") {
  LockTable t;
  LockOwner a = posix(1, 1);
  CHECK(set(t, a, 0, 99, W, 7) == 0);
  CHECK(set(t, a, 40, 59, U) == 0);
  CHECK(t.locksOf(kIno) == std::vector<HeldLock>{held(a, 0, 39, W, 7), held(a, 60, 99, W, 7)});
  CHECK(set(t, a, 0, kEof, U) == 0);
  CHECK(t.locksOf(kIno).empty());
  CHECK(t.inodesWithLocks().empty());
}

TEST_CASE("touching or overlapping ranges of one owner and one type merge, other types do not") {
  LockTable t;
  LockOwner a = posix(1, 1);
  CHECK(set(t, a, 0, 9, R, 5) == 0);
  CHECK(set(t, a, 20, 29, R, 5) == 0);
  CHECK(set(t, a, 10, 19, R, 6) == 0);
  CHECK(t.locksOf(kIno) == std::vector<HeldLock>{held(a, 0, 29, R, 6)});
  CHECK(set(t, a, 30, 39, W, 6) == 0);
  CHECK(t.locksOf(kIno) == std::vector<HeldLock>{held(a, 0, 29, R, 6), held(a, 30, 39, W, 6)});
  CHECK(set(t, a, 35, 49, W, 6) == 0);
  CHECK(t.locksOf(kIno) == std::vector<HeldLock>{held(a, 0, 29, R, 6), held(a, 30, 49, W, 6)});
  CHECK(set(t, a, 30, kEof, R, 6) == 0);
  CHECK(t.locksOf(kIno) == std::vector<HeldLock>{held(a, 0, kEof, R, 6)});
}

TEST_CASE("an upgrade replaces the owner's own lock in place and conflicts only with others") {
  LockTable t;
  LockOwner a = posix(1, 1), b = posix(1, 2);
  CHECK(set(t, a, 0, 99, R) == 0);
  CHECK(set(t, a, 50, 59, W) == 0);
  CHECK(t.locksOf(kIno) ==
        std::vector<HeldLock>{held(a, 0, 49, R), held(a, 50, 59, W), held(a, 60, 99, R)});
  CHECK(set(t, b, 200, 209, R) == 0);
  CHECK(set(t, a, 150, 250, W) == EAGAIN);  // atomic: nothing of it applied
  CHECK(t.locksOf(kIno).size() == 4);
  CHECK(set(t, b, 200, 209, U) == 0);
  CHECK(set(t, a, 150, 250, W) == 0);
}

TEST_CASE("a downgrade in place lets other readers in") {
  LockTable t;
  LockOwner a = posix(1, 1), b = posix(2, 1);
  CHECK(set(t, a, 0, kEof, W) == 0);
  CHECK(set(t, b, 10, 19, R) == EAGAIN);
  CHECK(set(t, a, 0, 99, R) == 0);
  CHECK(t.locksOf(kIno) == std::vector<HeldLock>{held(a, 0, 99, R), held(a, 100, kEof, W)});
  CHECK(set(t, b, 10, 19, R) == 0);
  CHECK(set(t, b, 10, 19, W) == EAGAIN);
}

TEST_CASE("POSIX and OFD owners with equal numbers are different owners") {
  LockTable t;
  CHECK(set(t, posix(1, 9), 0, 9, W) == 0);
  CHECK(set(t, ofd(1, 9), 5, 5, R) == EAGAIN);
  CHECK(set(t, posix(1, 9), 5, 5, R) == 0);  // the same owner never conflicts with itself
}

TEST_CASE("getlk reports the conflicting lock with the lowest start, with its type and pid") {
  LockTable t;
  LockOwner a = posix(1, 1), b = posix(1, 2), c = ofd(2, 3);
  CHECK(set(t, b, 50, 59, W, 222) == 0);
  CHECK(set(t, a, 20, 29, R, 111) == 0);
  CHECK(set(t, a, 30, 39, W, 111) == 0);
  std::optional<HeldLock> got;
  CHECK(t.getLock(kIno, c, ByteRange{0, kEof}, W, &got) == 0);
  CHECK(got == held(a, 20, 29, R, 111));
  CHECK(t.getLock(kIno, c, ByteRange{0, kEof}, R, &got) == 0);
  CHECK(got == held(a, 30, 39, W, 111));
  CHECK(t.getLock(kIno, a, ByteRange{0, kEof}, W, &got) == 0);
  CHECK(got == held(b, 50, 59, W, 222));
  CHECK(t.getLock(kIno, c, ByteRange{0, 19}, W, &got) == 0);
  CHECK_FALSE(got.has_value());
  CHECK(t.getLock(kIno + 1, c, ByteRange{0, kEof}, W, &got) == 0);
  CHECK_FALSE(got.has_value());
  CHECK(t.getLock(kIno, c, ByteRange{0, kEof}, U, &got) == EINVAL);
  CHECK(t.getLock(kIno, LockOwner{1, 1, OwnerKind::kFlock}, ByteRange{0, kEof}, W, &got) == EINVAL);
}

// ---- Random operations against a per-byte model -------------------------------------------------

namespace {

// Bytes 0..15 one cell each; cell 16 stands for every byte from 16 to end of file. Requests are
// either [s, e] with e <= 15 or [s, EOF] with s <= 16, so every cell is uniformly covered or not.
constexpr int kCells = 17;
using Cells = std::array<LockType, kCells>;

struct Model {
  std::vector<LockOwner> owners;  // ascending, as the table orders them
  std::vector<Cells> cells;
  std::vector<uint32_t> pids;

  static uint64_t cellStart(int c) { return static_cast<uint64_t>(c); }
  static uint64_t cellEnd(int c) { return c == kCells - 1 ? kEof : static_cast<uint64_t>(c); }

  std::vector<HeldLock> runs(size_t o) const {
    std::vector<HeldLock> out;
    for (int c = 0; c < kCells; ++c) {
      LockType t = cells[o][c];
      if (t == U) continue;
      if (!out.empty() && out.back().type == t && out.back().range.end + 1 == cellStart(c)) {
        out.back().range.end = cellEnd(c);
      } else {
        out.push_back(HeldLock{owners[o], ByteRange{cellStart(c), cellEnd(c)}, t, pids[o]});
      }
    }
    return out;
  }
  std::vector<HeldLock> all() const {
    std::vector<HeldLock> out;
    for (size_t o = 0; o < owners.size(); ++o) {
      for (const HeldLock& h : runs(o)) out.push_back(h);
    }
    return out;
  }
  bool conflicts(size_t o, int first, int last, LockType type) const {
    for (size_t p = 0; p < owners.size(); ++p) {
      if (p == o) continue;
      for (int c = first; c <= last; ++c) {
        if (cells[p][c] != U && typesConflict(cells[p][c], type)) return true;
      }
    }
    return false;
  }
  std::optional<HeldLock> getlk(size_t o, ByteRange r, LockType type) const {
    std::optional<HeldLock> best;
    for (size_t p = 0; p < owners.size(); ++p) {
      if (p == o) continue;
      for (const HeldLock& h : runs(p)) {
        if (h.range.overlaps(r) && typesConflict(h.type, type) &&
            (!best || h.range.start < best->range.start)) {
          best = h;
          break;  // runs are ascending: the first hit is this owner's lowest
        }
      }
    }
    return best;
  }
};

}  // namespace

TEST_CASE("random record-lock operations match a per-byte model, invariants hold after each") {
  Model m;
  // Two POSIX owners of one session (different lock owners) and an OFD owner with the same numbers.
  m.owners = {posix(1, 7), LockOwner{1, 7, OwnerKind::kOfd}, posix(1, 8)};
  m.cells.assign(m.owners.size(), Cells{});
  m.cells[0].fill(U), m.cells[1].fill(U), m.cells[2].fill(U);
  m.pids = {100, 101, 102};
  LockTable t;
  std::mt19937_64 rng(20240611);
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<uint64_t>(n)); };
  int granted = 0, refused = 0, conflictsSeen = 0;

  for (int op = 0; op < 20000; ++op) {
    CAPTURE(op);
    size_t o = static_cast<size_t>(pick(3));
    int first = pick(kCells), last;
    ByteRange r;
    if (first == kCells - 1 || pick(3) == 0) {
      last = kCells - 1;
      REQUIRE(makeRange(first, 0, &r) == 0);
    } else {
      last = first + pick(kCells - 1 - first);
      REQUIRE(makeRange(first, last - first + 1, &r) == 0);
    }
    int kind = pick(100);
    if (kind < 60) {
      LockType type = static_cast<LockType>(pick(3));
      bool expectOk = type == U || !m.conflicts(o, first, last, type);
      LockOutcome out = t.setLock(kIno, req(m.owners[o], r.start, r.end, type, m.pids[o]));
      REQUIRE(out.error == (expectOk ? 0 : EAGAIN));
      REQUIRE_FALSE(out.queued);
      REQUIRE(out.wakeups.granted.empty());
      if (expectOk) {
        for (int c = first; c <= last; ++c) m.cells[o][c] = type;
        ++granted;
      } else {
        ++refused;
      }
    } else if (kind < 90) {
      LockType type = pick(2) == 0 ? R : W;
      std::optional<HeldLock> got;
      REQUIRE(t.getLock(kIno, m.owners[o], r, type, &got) == 0);
      REQUIRE(got == m.getlk(o, r, type));
      conflictsSeen += got.has_value();
    } else if (kind < 95) {
      REQUIRE(t.releaseOwner(kIno, m.owners[o]).granted.empty());
      m.cells[o].fill(U);
    } else {
      // Ranges whose last byte would pass 2^64-1 are refused and change nothing.
      uint64_t start = kEof - static_cast<uint64_t>(pick(4));
      REQUIRE(makeRange(start, kEof - start + 2 + static_cast<uint64_t>(pick(3)), &r) == EINVAL);
    }
    REQUIRE(t.locksOf(kIno) == m.all());
    REQUIRE(t.checkInvariants() == "");
    REQUIRE(t.inodesWithLocks().size() == (m.all().empty() ? 0u : 1u));
  }
  // The sequence exercised both outcomes, not just one.
  CHECK(granted > 1000);
  CHECK(refused > 1000);
  CHECK(conflictsSeen > 1000);
}

TEST_CASE("thousands of locks of one owner stay coalesced and fast") {
  LockTable t;
  LockOwner a = posix(1, 1), b = posix(2, 2);
  for (uint64_t i = 0; i < 4000; ++i) CHECK(set(t, a, 2 * i, 2 * i, i % 2 ? W : R) == 0);
  CHECK(t.locksOf(kIno).size() == 4000);
  for (uint64_t i = 0; i < 4000; ++i) {
    REQUIRE(t.setLock(kIno, req(b, 2 * i + 1, 2 * i + 1, W)).error == 0);
  }
  CHECK(t.setLock(kIno, req(b, 2, 2, R)).error == EAGAIN);  // a holds a write lock on byte 2
  CHECK(t.setLock(kIno, req(b, 0, 0, R)).error == 0);
  for (uint64_t i = 0; i < 4000; ++i) REQUIRE(t.setLock(kIno, req(a, 2 * i, 2 * i, R)).error == 0);
  CHECK(t.checkInvariants() == "");
  CHECK(t.locksOf(kIno).size() == 4000 + 4001);  // alternating owners: nothing touches
  CHECK(t.releaseOwner(kIno, b).granted.empty());
  CHECK(set(t, a, 0, kEof, R) == 0);
  CHECK(t.locksOf(kIno) == std::vector<HeldLock>{held(a, 0, kEof, R)});
}
