// The lock table's invariant checker (see LockTable::checkInvariants).
#include <functional>
#include <string>

#include "meta/locks/lock_table.h"

namespace basalt::meta {

namespace {

std::string ownerName(const LockOwner& o) {
  static const char* const kKinds[] = {"posix", "ofd", "flock"};
  return "(session " + std::to_string(o.session) + ", " + kKinds[static_cast<int>(o.kind) % 3] +
         " owner " + std::to_string(o.id) + ")";
}

}  // namespace

std::string LockTable::heldViolation(const Space& space, bool flock) {
  for (const auto& [owner, ranges] : space.held) {
    if (owner.isRecord() == flock) return ownerName(owner) + " in the wrong namespace";
    if (ranges.empty()) return ownerName(owner) + " has an empty lock list";
    std::string bad = rangesViolation(ranges);
    if (!bad.empty()) return ownerName(owner) + ": " + bad;
    if (flock &&
        (ranges.size() != 1 || ranges[0].start != 0 || ranges[0].end != ByteRange::kToEof)) {
      return ownerName(owner) + ": flock lock not exactly the whole file";
    }
  }
  // Pairwise between owners; each range is looked up in the other owner's sorted list.
  for (auto a = space.held.begin(); a != space.held.end(); ++a) {
    for (auto b = std::next(a); b != space.held.end(); ++b) {
      for (const HeldRange& h : a->second) {
        if (firstConflict(b->second, h.range(), h.type) != nullptr) {
          return "conflicting locks held by " + ownerName(a->first) + " and " + ownerName(b->first);
        }
      }
    }
  }
  return "";
}

std::string LockTable::checkInvariants() const {
  std::map<uint64_t, std::set<InodeId>> sessions;
  std::set<WaiterId> queued;
  // POSIX owner -> POSIX owners that block one of its waiters.
  std::map<LockOwner, std::set<LockOwner>> waitsFor;

  for (const auto& [ino, locks] : inodes_) {
    const std::string where = "inode " + std::to_string(ino) + ": ";
    if (locks.empty()) return where + "empty entry kept";
    for (const Space* space : {&locks.record, &locks.flock}) {
      const bool flock = space == &locks.flock;
      std::string bad = heldViolation(*space, flock);
      if (!bad.empty()) return where + bad;
      for (WaiterId id : space->queue) {
        auto w = waiters_.find(id);
        if (w == waiters_.end()) return where + "queued waiter " + std::to_string(id) + " unknown";
        if (!queued.insert(id).second) return where + "waiter queued twice";
        const LockRequest& r = w->second.req;
        if (w->second.ino != ino || r.owner.isRecord() == flock) {
          return where + "waiter " + std::to_string(id) + " queued in the wrong place";
        }
        if (r.type == LockType::kUnlock || r.range.start > r.range.end) {
          return where + "waiter " + std::to_string(id) + " with an impossible request";
        }
        if (flock && !(r.range == ByteRange{0, ByteRange::kToEof})) {
          return where + "flock waiter not for the whole file";
        }
      }
      std::vector<std::set<LockOwner>> blockers = blockersOf(*space, queuedRequests(*space));
      for (size_t k = 0; k < blockers.size(); ++k) {
        if (blockers[k].empty()) {
          return where + "waiter " + std::to_string(space->queue[k]) + " could be granted";
        }
        const LockOwner& owner = waiters_.at(space->queue[k]).req.owner;
        if (owner.kind != OwnerKind::kPosix) continue;
        for (const LockOwner& b : blockers[k]) {
          if (b.kind == OwnerKind::kPosix) waitsFor[owner].insert(b);
        }
      }
    }
    for (uint64_t s : sessionsOn(locks, waiters_)) sessions[s].insert(ino);
  }
  if (queued.size() != waiters_.size()) return "a waiter is in no queue";
  if (sessions != sessionInodes_) return "session index out of date";

  // No cycle among POSIX owners waiting for each other (colours: 1 on the stack, 2 done).
  std::map<LockOwner, int> colour;
  std::function<bool(const LockOwner&)> cyclic = [&](const LockOwner& o) {
    colour[o] = 1;
    auto it = waitsFor.find(o);
    if (it != waitsFor.end()) {
      for (const LockOwner& next : it->second) {
        int c = colour[next];
        if (c == 1 || (c == 0 && cyclic(next))) return true;
      }
    }
    colour[o] = 2;
    return false;
  };
  for (const auto& entry : waitsFor) {
    if (colour[entry.first] == 0 && cyclic(entry.first)) {
      return "POSIX owners wait for each other in a cycle through " + ownerName(entry.first);
    }
  }
  return "";
}

}  // namespace basalt::meta
