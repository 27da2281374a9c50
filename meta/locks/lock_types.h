// Value types of the lock table: owners, byte ranges, requests and what an operation wakes up.
//
// Pure values, no I/O; safe to copy between threads. Errors are plain positive errno values
// (0 = success) so that this unit depends only on the standard library.
#pragma once

#include <cstdint>
#include <tuple>
#include <vector>

namespace basalt::meta {

using InodeId = uint64_t;
// Chosen by the caller (typically one per parked RPC); unique among the live waiters of a table.
using WaiterId = uint64_t;

// Mirrors F_UNLCK / F_RDLCK / F_WRLCK, and for flock(2) LOCK_UN / LOCK_SH / LOCK_EX.
enum class LockType : uint8_t { kUnlock = 0, kRead = 1, kWrite = 2 };

// Who owns a lock, and therefore which namespace it lives in:
//  - kPosix: fcntl record locks; id = the kernel's lock_owner (one per process and mount).
//  - kOfd:   open-file-description record locks (F_OFD_SETLK); id = open file description id.
//  - kFlock: flock(2) locks; id = open file description id.
// kPosix and kOfd share the record-lock namespace and conflict with each other (as on Linux, even
// when the numbers match); kFlock locks live in their own namespace and never meet record locks.
enum class OwnerKind : uint8_t { kPosix = 0, kOfd = 1, kFlock = 2 };

struct LockOwner {
  uint64_t session = 0;
  uint64_t id = 0;
  OwnerKind kind = OwnerKind::kPosix;

  bool isRecord() const { return kind != OwnerKind::kFlock; }
  bool operator==(const LockOwner& o) const {
    return session == o.session && id == o.id && kind == o.kind;
  }
  bool operator!=(const LockOwner& o) const { return !(*this == o); }
  bool operator<(const LockOwner& o) const {
    return std::tie(session, id, kind) < std::tie(o.session, o.id, o.kind);
  }
};

// An inclusive byte range [start, end]; end == kToEof means "to the end of file, however far it
// grows" (fcntl's l_len == 0). Always start <= end.
struct ByteRange {
  static constexpr uint64_t kToEof = UINT64_MAX;
  uint64_t start = 0;
  uint64_t end = kToEof;

  bool operator==(const ByteRange& o) const { return start == o.start && end == o.end; }
  bool overlaps(const ByteRange& o) const { return start <= o.end && o.start <= end; }
};

// The range fcntl means by (l_start, l_len) once the kernel has made l_start absolute and l_len
// non-negative (FUSE delivers it that way). length 0 = to EOF. Returns EINVAL when the last byte
// would lie beyond UINT64_MAX, else 0 and sets *out.
int makeRange(uint64_t start, uint64_t length, ByteRange* out);

// One held lock, as observed from outside (locksOf, getLock, encode).
struct HeldLock {
  LockOwner owner;
  ByteRange range;
  LockType type = LockType::kRead;  // never kUnlock
  uint32_t pid = 0;                 // reported by F_GETLK only; never affects conflicts

  bool operator==(const HeldLock& o) const {
    return owner == o.owner && range == o.range && type == o.type && pid == o.pid;
  }
};

struct LockRequest {
  LockOwner owner;
  ByteRange range;  // ignored for flock (always the whole file)
  LockType type = LockType::kRead;
  uint32_t pid = 0;
  bool wait = false;      // F_SETLKW / flock without LOCK_NB
  WaiterId waiterId = 0;  // names the queued waiter when wait is set and the request must wait
};

// Waiters whose fate an operation decided. The caller completes their parked RPCs:
//  - granted:    success; the lock is now held.
//  - cancelled:  removed because their session or inode went away; an error of the caller's choice.
//  - deadlocked: EDEADLK. A grant can close a cycle among waiters that were not one when they
//    queued (typically an owner with two blocked threads); the table then fails the newest
//    waiter of the cycle, as F_SETLKW may, instead of leaving the cycle to hang for ever.
// The waiter passed to cancelWaiter is never listed (its EINTR is the caller's business).
// All lists are in a deterministic order.
struct Wakeups {
  std::vector<WaiterId> granted;
  std::vector<WaiterId> cancelled;
  std::vector<WaiterId> deadlocked;
};

// Result of setLock / flock.
//  error == 0 && !queued: the lock (or unlock) took effect.
//  error == 0 && queued:  the request waits as req.waiterId; a later Wakeups grants or cancels it.
//  error != 0: EAGAIN (conflict, non-blocking), EDEADLK (waiting would close a cycle of POSIX
//  owners), EINVAL (malformed request), EEXIST (waiterId already names a live waiter). The lock
//  state is unchanged, except that a flock conversion has already dropped the old lock.
// `wakeups` may be non-empty in every case (unlocks, downgrades and flock conversions release).
struct LockOutcome {
  int error = 0;
  bool queued = false;
  Wakeups wakeups;
};

}  // namespace basalt::meta
