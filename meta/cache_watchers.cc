#include "meta/cache_watchers.h"

#include "server/rpc.h"

namespace basalt::meta {

namespace {

// A batch larger than this is split over several calls (messages stay small).
constexpr size_t kMaxPerCall = 4096;

// Moves the first `n` elements of `from` out through put(i, element).
template <typename Set, typename Put>
void takeFirst(Set& from, size_t n, Put&& put) {
  for (size_t i = 0; i < n; ++i) {
    put(static_cast<unsigned>(i), *from.begin());
    from.erase(from.begin());
  }
}
}  // namespace

void CacheChanges::merge(const CacheChanges& o) {
  inodes.insert(o.inodes.begin(), o.inodes.end());
  data.insert(o.data.begin(), o.data.end());
  entries.insert(o.entries.begin(), o.entries.end());
}

CacheChanges cacheChangesOf(rpc::Command::Reader cmd, rpc::Reply::Reader reply) {
  CacheChanges c;
  if (reply.getStatus().getCode() != 0) return c;
  uint64_t changed = reply.hasAttr() ? reply.getAttr().getIno() : 0;
  switch (cmd.which()) {
    case rpc::Command::CREATE: {
      auto x = cmd.getCreate();
      c.inodes.insert(x.getParent());
      c.entries.emplace(x.getParent(), x.getName());
      // Opening an existing file with O_TRUNC changed it.
      if (reply.getExisted() && x.getTruncate() && changed) c.data.insert(changed);
      break;
    }
    case rpc::Command::LINK: {
      auto x = cmd.getLink();
      c.inodes.insert(x.getIno());
      c.inodes.insert(x.getNewParent());
      c.entries.emplace(x.getNewParent(), x.getNewName());
      break;
    }
    case rpc::Command::REMOVE: {
      auto x = cmd.getRemove();
      c.inodes.insert(x.getParent());
      c.entries.emplace(x.getParent(), x.getName());
      if (changed) c.inodes.insert(changed);
      break;
    }
    case rpc::Command::RENAME: {
      auto x = cmd.getRename();
      c.inodes.insert(x.getParent());
      c.inodes.insert(x.getNewParent());
      c.entries.emplace(x.getParent(), x.getName());
      c.entries.emplace(x.getNewParent(), x.getNewName());
      if (changed) c.inodes.insert(changed);
      break;
    }
    case rpc::Command::SET_ATTR: {
      auto x = cmd.getSetAttr();
      c.inodes.insert(x.getIno());
      if (x.getValid() & (rpc::SET_SIZE | rpc::SET_COMMIT_WRITE)) c.data.insert(x.getIno());
      break;
    }
    case rpc::Command::SET_XATTR:
      c.inodes.insert(cmd.getSetXattr().getIno());
      break;
    case rpc::Command::REMOVE_XATTR:
      c.inodes.insert(cmd.getRemoveXattr().getIno());
      break;
    case rpc::Command::COMMIT_WRITE:
      c.data.insert(cmd.getCommitWrite().getIno());
      break;
    default:
      break;
  }
  c.inodes.erase(0);
  c.data.erase(0);
  for (uint64_t ino : c.data) c.inodes.erase(ino);  // a data invalidation covers the attributes
  return c;
}

CacheWatchers::CacheWatchers(Logger log)
    : log_(std::move(log)),
      errorHandler_(kj::heap<TaskLogger>(log_)),
      tasks_(kj::heap<kj::TaskSet>(*errorHandler_)) {}

CacheWatchers::~CacheWatchers() = default;

void CacheWatchers::watch(uint64_t session, rpc::CacheWatcher::Client watcher) {
  watchers_.erase(session);
  watchers_.emplace(session, Watcher{kj::mv(watcher), {}, false});
}

void CacheWatchers::forget(uint64_t session) { watchers_.erase(session); }

void CacheWatchers::changed(uint64_t origin, const CacheChanges& changes) {
  if (changes.empty()) return;
  for (auto& [session, w] : watchers_) {
    if (session == origin) continue;
    w.pending.merge(changes);
    if (w.scheduled) continue;
    w.scheduled = true;
    uint64_t s = session;
    tasks_->add(kj::evalLater([this, s]() { flush(s); }));
  }
}

kj::Maybe<rpc::CacheWatcher::Client> CacheWatchers::clientOf(uint64_t session) {
  auto it = watchers_.find(session);
  if (it == watchers_.end()) return nullptr;
  return it->second.client;
}

void CacheWatchers::flush(uint64_t session) {
  auto it = watchers_.find(session);
  if (it == watchers_.end()) return;
  Watcher& w = it->second;
  w.scheduled = false;
  while (!w.pending.empty()) {
    auto req = w.client.invalidateRequest();
    size_t budget = kMaxPerCall;
    auto take = [&budget](auto& from, size_t& n) {
      n = std::min(from.size(), budget);
      budget -= n;
    };
    size_t ni, nd, ne;
    take(w.pending.inodes, ni);
    take(w.pending.data, nd);
    take(w.pending.entries, ne);
    auto inodes = req.initInodes(ni);
    takeFirst(w.pending.inodes, ni, [&](unsigned i, uint64_t ino) { inodes.set(i, ino); });
    auto data = req.initData(nd);
    takeFirst(w.pending.data, nd, [&](unsigned i, uint64_t ino) { data.set(i, ino); });
    auto entries = req.initEntries(ne);
    takeFirst(w.pending.entries, ne, [&](unsigned i, const std::pair<uint64_t, std::string>& e) {
      entries[i].setParent(e.first);
      entries[i].setName(e.second);
    });
    ++sent_;
    tasks_->add(req.send().ignoreResult().catch_([this, session](kj::Exception&& e) {
      // The mount went away or is unreachable: it drops all its caches when it comes back.
      if (watchers_.erase(session) != 0) {
        log_->info("session {:x}: cache watcher dropped ({})", session, e.getDescription().cStr());
      }
    }));
  }
}

}  // namespace basalt::meta
