// What the mount remembers about its locks: on which inodes it took locks, and under which
// metadata session. The server owns the locks; this only lets close skip the release call for
// files never locked, and lets the mount notice that locks were lost: when the lease of the session
// they were taken under expired (the mount was cut off or frozen), the server released them, and the
// mount now runs under a new session. Lock calls on such an inode then fail (ENOLCK) until its last
// close, so a process never goes on believing it holds a lock that another one now holds.
// Thread-safety: loop thread only.
#pragma once

#include <cstdint>
#include <optional>
#include <unordered_map>

namespace basalt::client {

class LockTracker {
 public:
  // A lock on `ino` was granted under `session`. Keeps the first session of an inode whose locks
  // were lost (they stay lost until forget).
  void noteLocked(uint64_t ino, uint64_t session);
  // Whether this mount may hold locks on `ino` (so close must release them).
  bool mayHold(uint64_t ino) const { return sessionOf_.count(ino) != 0; }
  // The session the mount's locks on `ino` were taken under, when that is not `current`: they are
  // gone on the server.
  std::optional<uint64_t> lostUnder(uint64_t ino, uint64_t current) const;
  // The last handle of `ino` was released: whatever was held there is gone.
  void forget(uint64_t ino) { sessionOf_.erase(ino); }
  // A fresh id for a blocked call (cancelLock names it), unique within the mount.
  uint64_t newWaiter() { return ++lastWaiter_; }

 private:
  std::unordered_map<uint64_t, uint64_t> sessionOf_;
  uint64_t lastWaiter_ = 0;
};

}  // namespace basalt::client
