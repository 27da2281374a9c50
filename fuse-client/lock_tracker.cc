#include "fuse-client/lock_tracker.h"

namespace basalt::client {

void LockTracker::noteLocked(uint64_t ino, uint64_t session) { sessionOf_.emplace(ino, session); }

std::optional<uint64_t> LockTracker::lostUnder(uint64_t ino, uint64_t current) const {
  auto it = sessionOf_.find(ino);
  if (it == sessionOf_.end() || it->second == current) return std::nullopt;
  return it->second;
}

}  // namespace basalt::client
