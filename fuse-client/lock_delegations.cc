#include "fuse-client/lock_delegations.h"

#include <kj/debug.h>

namespace basalt::client {

namespace {
constexpr size_t kOverKept = 1024;
}

void LockDelegations::useSession(uint64_t session) {
  if (session == session_) return;
  for (auto& [ino, h] : held_) table_.releaseInode(ino);
  held_.clear();
  over_.clear();
  overOrder_.clear();
  session_ = session;
}

uint64_t LockDelegations::generationOf(uint64_t ino) const {
  auto it = held_.find(ino);
  return it == held_.end() ? 0 : it->second.gen;
}

bool LockDelegations::adopt(uint64_t ino, uint64_t gen, kj::TimePoint now) {
  if (over_.count(gen)) return false;
  auto it = held_.find(ino);
  if (it != held_.end()) {
    if (it->second.gen == gen) return true;
    table_.releaseInode(ino);  // an older generation the server ended without telling us
    held_.erase(it);
  }
  Held h;
  h.gen = gen;
  h.lastUsed = now;
  held_.emplace(ino, kj::mv(h));
  return true;
}

meta::LockOutcome LockDelegations::setLock(uint64_t ino, meta::LockRequest req, const Credentials& cred,
                                           kj::TimePoint now) {
  auto it = held_.find(ino);
  KJ_REQUIRE(it != held_.end(), "lock call decided locally without a delegation", ino);
  it->second.lastUsed = now;
  it->second.cred = cred;
  req.owner.session = session_;
  req.wait = false;
  return req.owner.kind == meta::OwnerKind::kFlock ? table_.flock(ino, req) : table_.setLock(ino, req);
}

int LockDelegations::getLock(uint64_t ino, meta::LockOwner owner, meta::ByteRange range, meta::LockType type,
                             std::optional<meta::HeldLock>* conflict) const {
  owner.session = session_;
  return table_.getLock(ino, owner, range, type, conflict);
}

void LockDelegations::releaseOwner(uint64_t ino, meta::LockOwner owner) {
  owner.session = session_;
  table_.releaseOwner(ino, owner);
}

Credentials LockDelegations::credOf(uint64_t ino) const {
  auto it = held_.find(ino);
  return it == held_.end() ? Credentials() : it->second.cred;
}

std::optional<std::string> LockDelegations::take(uint64_t ino, uint64_t gen) {
  auto it = held_.find(ino);
  if (it == held_.end() || it->second.gen != gen) {
    auto over = over_.find(gen);
    if (over != over_.end()) return over->second;  // asked again (the server restarted meanwhile)
    remember(gen, std::nullopt);
    return std::nullopt;
  }
  std::string state = table_.locksOf(ino).empty() ? std::string() : table_.encodeInode(ino);
  table_.releaseInode(ino);
  held_.erase(it);
  remember(gen, state);
  return state;
}

void LockDelegations::remember(uint64_t gen, std::optional<std::string> state) {
  if (!over_.emplace(gen, std::move(state)).second) return;
  overOrder_.push_back(gen);
  if (overOrder_.size() > kOverKept) {
    over_.erase(overOrder_.front());
    overOrder_.pop_front();
  }
}

std::vector<uint64_t> LockDelegations::idleSince(kj::TimePoint before) const {
  std::vector<uint64_t> out;
  for (const auto& [ino, h] : held_) {
    if (h.lastUsed < before && table_.locksOf(ino).empty() && !handingOver(ino)) out.push_back(ino);
  }
  return out;
}

void LockDelegations::endHandover(uint64_t ino) {
  auto it = handovers_.find(ino);
  if (it == handovers_.end()) return;
  auto waiting = kj::mv(it->second);
  handovers_.erase(it);
  for (auto& f : waiting) f->fulfill();
}

kj::Promise<void> LockDelegations::whenSettled(uint64_t ino) {
  auto it = handovers_.find(ino);
  if (it == handovers_.end()) return kj::READY_NOW;
  auto paf = kj::newPromiseAndFulfiller<void>();
  it->second.push_back(kj::mv(paf.fulfiller));
  return kj::mv(paf.promise);
}

}  // namespace basalt::client
