#include "meta/locks/lock_table.h"

#include <algorithm>
#include <cerrno>
#include <cstddef>

namespace basalt::meta {

namespace {

bool validType(LockType t) {
  return t == LockType::kUnlock || t == LockType::kRead || t == LockType::kWrite;
}

constexpr ByteRange kWholeFile{0, ByteRange::kToEof};

}  // namespace

std::set<LockOwner> LockTable::blockersAfter(const Space& space,
                                             const std::vector<const LockRequest*>& earlier,
                                             const std::vector<std::set<LockOwner>>& earlierDeps,
                                             const LockRequest& r, std::set<LockOwner>* dep) {
  std::set<LockOwner> direct;
  for (const auto& [owner, ranges] : space.held) {
    if (owner != r.owner && firstConflict(ranges, r.range, r.type) != nullptr) direct.insert(owner);
  }
  *dep = direct;
  for (size_t j = 0; j < earlier.size(); ++j) {
    const LockRequest& q = *earlier[j];
    if (q.owner == r.owner || !q.range.overlaps(r.range) || !typesConflict(q.type, r.type))
      continue;
    // q waits (perhaps through other waiters) for r's owner: holding r back behind q would be a
    // deadlock of our own making, so r is judged against held locks only as far as q goes.
    if (earlierDeps[j].count(r.owner) != 0) continue;
    direct.insert(q.owner);
    dep->insert(q.owner);
    dep->insert(earlierDeps[j].begin(), earlierDeps[j].end());
  }
  return direct;
}

std::vector<std::set<LockOwner>> LockTable::blockersOf(
    const Space& space, const std::vector<const LockRequest*>& queue) {
  std::vector<std::set<LockOwner>> direct, deps;
  std::vector<const LockRequest*> earlier;
  for (const LockRequest* r : queue) {
    std::set<LockOwner> dep;
    direct.push_back(blockersAfter(space, earlier, deps, *r, &dep));
    deps.push_back(std::move(dep));
    earlier.push_back(r);
  }
  return direct;
}

std::vector<const LockRequest*> LockTable::queuedRequests(const Space& space) const {
  std::vector<const LockRequest*> out;
  out.reserve(space.queue.size() + 1);
  for (WaiterId id : space.queue) out.push_back(&waiters_.at(id).req);
  return out;
}

std::set<LockOwner> LockTable::blockersOfNew(const Space& space, const LockRequest& req) const {
  std::vector<const LockRequest*> queue = queuedRequests(space);
  queue.push_back(&req);
  return blockersOf(space, queue).back();
}

bool LockTable::wouldDeadlock(const LockRequest& req, const std::set<LockOwner>& blockers) const {
  if (req.owner.kind != OwnerKind::kPosix) return false;
  std::map<LockOwner, std::vector<WaiterId>> waitsOf;
  for (const auto& [id, w] : waiters_) {
    if (w.req.owner.kind == OwnerKind::kPosix) waitsOf[w.req.owner].push_back(id);
  }
  std::map<InodeId, std::map<WaiterId, std::set<LockOwner>>> cache;
  auto blockersOfWaiter = [&](WaiterId id) -> const std::set<LockOwner>& {
    InodeId ino = waiters_.at(id).ino;
    auto [it, fresh] = cache.try_emplace(ino);
    if (fresh) {
      const Space& space = inodes_.at(ino).record;
      std::vector<std::set<LockOwner>> sets = blockersOf(space, queuedRequests(space));
      for (size_t k = 0; k < sets.size(); ++k) it->second[space.queue[k]] = std::move(sets[k]);
    }
    return it->second.at(id);
  };
  std::vector<LockOwner> stack;
  for (const LockOwner& b : blockers) {
    if (b.kind == OwnerKind::kPosix) stack.push_back(b);
  }
  std::set<LockOwner> seen;
  while (!stack.empty()) {
    LockOwner o = stack.back();
    stack.pop_back();
    if (o == req.owner) return true;
    if (!seen.insert(o).second) continue;
    auto it = waitsOf.find(o);
    if (it == waitsOf.end()) continue;
    for (WaiterId id : it->second) {
      for (const LockOwner& b : blockersOfWaiter(id)) {
        if (b.kind == OwnerKind::kPosix) stack.push_back(b);
      }
    }
  }
  return false;
}

void LockTable::grantWaiters(Space& space, Wakeups* out) {
  // A pass judges each waiter against the locks held at that moment (including grants made earlier
  // in the pass). A grant can make an EARLIER waiter grantable only through the fairness exception
  // (the granted owner now blocks someone ahead of it), so passes repeat until one grants nothing;
  // that last pass saw a constant state, so every waiter left is really blocked.
  for (;;) {
    bool progress = false;
    std::vector<const LockRequest*> earlier;
    std::vector<std::set<LockOwner>> deps;
    std::vector<WaiterId> keep;
    for (WaiterId id : space.queue) {
      const LockRequest& r = waiters_.at(id).req;
      std::set<LockOwner> dep;
      if (blockersAfter(space, earlier, deps, r, &dep).empty()) {
        applyRange(space.held[r.owner], r.range, r.type, r.pid);
        out->granted.push_back(id);
        waiters_.erase(id);
        progress = true;
      } else {
        earlier.push_back(&r);
        deps.push_back(std::move(dep));
        keep.push_back(id);
      }
    }
    space.queue.swap(keep);
    if (!progress) return;
  }
}

void LockTable::breakCycles(InodeId ino, Wakeups* out) {
  for (;;) {
    auto it = inodes_.find(ino);
    if (it == inodes_.end()) return;
    Space& space = it->second.record;
    bool anyPosix = false;
    for (WaiterId id : space.queue) anyPosix |= waiters_.at(id).req.owner.kind == OwnerKind::kPosix;
    if (!anyPosix) return;
    std::vector<std::set<LockOwner>> blockers = blockersOf(space, queuedRequests(space));
    size_t victim = space.queue.size();
    for (size_t k = space.queue.size(); k-- > 0;) {
      const LockRequest& r = waiters_.at(space.queue[k]).req;
      if (r.owner.kind == OwnerKind::kPosix && wouldDeadlock(r, blockers[k])) {
        victim = k;
        break;
      }
    }
    if (victim == space.queue.size()) return;
    WaiterId id = space.queue[victim];
    space.queue.erase(space.queue.begin() + static_cast<std::ptrdiff_t>(victim));
    waiters_.erase(id);
    out->deadlocked.push_back(id);
    grantWaiters(space, out);
  }
}

LockOutcome LockTable::acquire(InodeId ino, const LockRequest& req, Wakeups wakeups) {
  LockOutcome result;
  Space& space = spaceFor(inodes_[ino], req.owner);
  if (req.type == LockType::kUnlock) {
    auto it = space.held.find(req.owner);
    if (it != space.held.end()) {
      applyRange(it->second, req.range, req.type, req.pid);
      if (it->second.empty()) space.held.erase(it);
    }
    grantWaiters(space, &wakeups);
  } else {
    std::set<LockOwner> blockers = blockersOfNew(space, req);
    if (blockers.empty()) {
      applyRange(space.held[req.owner], req.range, req.type, req.pid);
      grantWaiters(space, &wakeups);  // a downgrade in place releases
    } else if (!req.wait) {
      result.error = EAGAIN;
    } else if (wouldDeadlock(req, blockers)) {
      result.error = EDEADLK;
    } else {
      waiters_[req.waiterId] = Waiter{ino, req};
      space.queue.push_back(req.waiterId);
      result.queued = true;
    }
  }
  breakCycles(ino, &wakeups);
  result.wakeups = std::move(wakeups);
  tidy(ino, req.owner.session);
  return result;
}

LockOutcome LockTable::setLock(InodeId ino, const LockRequest& req) {
  LockOutcome result;
  if (!req.owner.isRecord() || !validType(req.type) || req.range.start > req.range.end) {
    result.error = EINVAL;
  } else if (req.wait && req.type != LockType::kUnlock && waiters_.count(req.waiterId) != 0) {
    result.error = EEXIST;
  } else {
    return acquire(ino, req, Wakeups{});
  }
  return result;
}

LockOutcome LockTable::flock(InodeId ino, const LockRequest& req) {
  LockOutcome result;
  if (req.owner.kind != OwnerKind::kFlock || !validType(req.type)) {
    result.error = EINVAL;
    return result;
  }
  if (req.wait && req.type != LockType::kUnlock && waiters_.count(req.waiterId) != 0) {
    result.error = EEXIST;
    return result;
  }
  LockRequest whole = req;
  whole.range = kWholeFile;
  Wakeups wakeups;
  auto ino_it = inodes_.find(ino);
  if (ino_it != inodes_.end() && whole.type != LockType::kUnlock) {
    Space& space = ino_it->second.flock;
    auto it = space.held.find(whole.owner);
    if (it != space.held.end()) {
      if (it->second.front().type == whole.type) return result;  // already held: nothing to do
      if (blockersOfNew(space, whole).empty()) {
        // Nothing stands in the way: convert in place (a downgrade may let shared waiters in).
        applyRange(it->second, whole.range, whole.type, whole.pid);
        grantWaiters(space, &result.wakeups);
        return result;
      }
      // Blocked: drop the old lock first, as Linux does (see the header), then ask afresh.
      space.held.erase(it);
      grantWaiters(space, &wakeups);
    }
  }
  return acquire(ino, whole, std::move(wakeups));
}

int LockTable::getLock(InodeId ino, const LockOwner& owner, ByteRange range, LockType type,
                       std::optional<HeldLock>* conflict) const {
  if (!owner.isRecord() || (type != LockType::kRead && type != LockType::kWrite) ||
      range.start > range.end) {
    return EINVAL;
  }
  conflict->reset();
  auto it = inodes_.find(ino);
  if (it == inodes_.end()) return 0;
  for (const auto& [other, ranges] : it->second.record.held) {
    if (other == owner) continue;
    const HeldRange* h = firstConflict(ranges, range, type);
    // Owners are visited in ascending order, so a strict comparison breaks ties by lowest owner.
    if (h != nullptr && (!*conflict || h->start < (*conflict)->range.start)) {
      *conflict = HeldLock{other, h->range(), h->type, h->pid};
    }
  }
  return 0;
}

Wakeups LockTable::cancelWaiter(WaiterId id) {
  Wakeups wakeups;
  auto it = waiters_.find(id);
  if (it == waiters_.end()) return wakeups;
  InodeId ino = it->second.ino;
  LockOwner owner = it->second.req.owner;
  Space& space = spaceFor(inodes_.at(ino), owner);
  space.queue.erase(std::find(space.queue.begin(), space.queue.end(), id));
  waiters_.erase(it);
  grantWaiters(space, &wakeups);
  breakCycles(ino, &wakeups);
  tidy(ino, owner.session);
  return wakeups;
}

Wakeups LockTable::releaseOwner(InodeId ino, const LockOwner& owner) {
  Wakeups wakeups;
  auto it = inodes_.find(ino);
  if (it == inodes_.end()) return wakeups;
  Space& space = spaceFor(it->second, owner);
  if (space.held.erase(owner) != 0) grantWaiters(space, &wakeups);
  breakCycles(ino, &wakeups);
  tidy(ino, owner.session);
  return wakeups;
}

Wakeups LockTable::releaseSession(uint64_t session) {
  Wakeups wakeups;
  auto idx = sessionInodes_.find(session);
  if (idx == sessionInodes_.end()) return wakeups;
  const std::set<InodeId> inos = idx->second;
  for (InodeId ino : inos) {
    InodeLocks& locks = inodes_.at(ino);
    for (Space* space : {&locks.record, &locks.flock}) {
      std::vector<WaiterId> keep;
      for (WaiterId id : space->queue) {
        if (waiters_.at(id).req.owner.session == session) {
          wakeups.cancelled.push_back(id);
          waiters_.erase(id);
        } else {
          keep.push_back(id);
        }
      }
      space->queue.swap(keep);
      for (auto it = space->held.begin(); it != space->held.end();) {
        it = it->first.session == session ? space->held.erase(it) : std::next(it);
      }
      grantWaiters(*space, &wakeups);
    }
    breakCycles(ino, &wakeups);
    tidy(ino, session);
  }
  return wakeups;
}

Wakeups LockTable::releaseInode(InodeId ino) {
  Wakeups wakeups;
  auto it = inodes_.find(ino);
  if (it == inodes_.end()) return wakeups;
  std::set<uint64_t> sessions = sessionsOn(it->second, waiters_);
  for (const Space* space : {&it->second.record, &it->second.flock}) {
    for (WaiterId id : space->queue) {
      wakeups.cancelled.push_back(id);
      waiters_.erase(id);
    }
  }
  inodes_.erase(it);
  tidy(ino, sessions);
  return wakeups;
}

std::set<uint64_t> LockTable::sessionsOn(const InodeLocks& locks,
                                         const std::map<WaiterId, Waiter>& waiters) {
  std::set<uint64_t> out;
  for (const Space* space : {&locks.record, &locks.flock}) {
    for (const auto& entry : space->held) out.insert(entry.first.session);
    for (WaiterId id : space->queue) out.insert(waiters.at(id).req.owner.session);
  }
  return out;
}

void LockTable::tidy(InodeId ino, uint64_t session) {
  tidy(ino, std::set<uint64_t>{session});
}

void LockTable::tidy(InodeId ino, const std::set<uint64_t>& sessions) {
  std::set<uint64_t> present;
  auto it = inodes_.find(ino);
  if (it != inodes_.end()) {
    if (it->second.empty()) {
      inodes_.erase(it);
    } else {
      present = sessionsOn(it->second, waiters_);
    }
  }
  for (uint64_t session : sessions) {
    if (present.count(session) != 0) {
      sessionInodes_[session].insert(ino);
      continue;
    }
    auto idx = sessionInodes_.find(session);
    if (idx == sessionInodes_.end()) continue;
    idx->second.erase(ino);
    if (idx->second.empty()) sessionInodes_.erase(idx);
  }
}

std::vector<HeldLock> LockTable::locksOf(InodeId ino) const {
  std::vector<HeldLock> out;
  auto it = inodes_.find(ino);
  if (it == inodes_.end()) return out;
  for (const Space* space : {&it->second.record, &it->second.flock}) {
    for (const auto& [owner, ranges] : space->held) {
      for (const HeldRange& h : ranges) out.push_back(HeldLock{owner, h.range(), h.type, h.pid});
    }
  }
  std::sort(out.begin(), out.end(), [](const HeldLock& a, const HeldLock& b) {
    if (a.owner != b.owner) return a.owner < b.owner;
    return a.range.start < b.range.start;
  });
  return out;
}

std::vector<InodeId> LockTable::inodesWithLocks() const {
  std::vector<InodeId> out;
  for (const auto& entry : inodes_) out.push_back(entry.first);
  return out;
}

std::vector<InodeId> LockTable::inodesOfSession(uint64_t session) const {
  auto it = sessionInodes_.find(session);
  if (it == sessionInodes_.end()) return {};
  return std::vector<InodeId>(it->second.begin(), it->second.end());
}

}  // namespace basalt::meta
