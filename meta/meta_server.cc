#include "meta/meta_server.h"

#include <fcntl.h>

#include <kj/debug.h>

#include <random>

#include "meta/commands/command.h"
#include "meta/keys.h"
#include "meta/reads.h"
#include "server/rpc.h"

namespace basalt::meta {

MetaServer::MetaServer(EventLoop& loop, Store& store, Clock& clock, CapacitySource& capacity, Logger log,
                       MetaOptions options)
    : loop_(loop),
      store_(store),
      clock_(clock),
      capacity_(capacity),
      log_(std::move(log)),
      options_(options),
      committer_(loop, store, log_),
      watchers_(log_),
      startedAt_(loop.timer().now()) {
  errorHandler_ = kj::heap<TaskLogger>(log_);
  tasks_ = kj::heap<kj::TaskSet>(*errorHandler_);
  committer_.setAfterCommit([this](rpc::Command::Reader cmd, Applied& a) { afterCommit(cmd, a); });
  locks_ = kj::heap<LockManager>(*this, log_);
}

MetaServer::~MetaServer() = default;

void MetaServer::start() {
  startedAt_ = loop_.timer().now();
  generation_ = store_.boots();
  // Handles carry the boot count in their high bits: a handle from before a restart never names a
  // handle of this run.
  nextHandle_ = (store_.boots() << 32) + 1;
  size_t lockedInodes = 0;
  {
    Txn txn = store_.beginRead();
    auto next = txn.get(Table::kMeta, "next_ino");
    nextIno_ = next ? readBe64(*next) : 2;
    auto expires = loop_.timer().now() + options_.leaseMs * kj::MILLISECONDS;
    txn.scan(Table::kSessions, "", [&](std::string_view k, std::string_view v) {
      sessions_[readBe64(k)] = SessionState{std::string(v), expires, {}, {}, false};
      return true;
    });
    txn.scan(Table::kOrphans, "", [&](std::string_view k, std::string_view) {
      orphans_.insert(readBe64(k));
      return true;
    });
    std::set<uint64_t> live;
    for (auto& [id, s] : sessions_) live.insert(id);
    lockedInodes = locks_->restore(txn, live);
  }
  log_->info("metadata store {} open: next inode {}, {} sessions to resume, {} orphans, {} inodes with locks",
             store_.dir(), nextIno_, sessions_.size(), orphans_.size(), lockedInodes);
  tasks_->add(watchLeases());
  auto endGrace = [this]() {
    graceOver_ = true;
    std::vector<uint64_t> all(orphans_.begin(), orphans_.end());
    for (uint64_t ino : all) maybeReclaim(ino);
  };
  if (sessions_.empty()) {
    endGrace();  // nobody can come back to re-declare open files: no grace period
  } else {
    tasks_->add(loop_.timer().afterDelay(options_.leaseMs * kj::MILLISECONDS).then(kj::mv(endGrace)));
  }
}

uint64_t MetaServer::newSessionId() {
  std::random_device rd;
  for (;;) {
    uint64_t id = (static_cast<uint64_t>(rd()) << 32) | rd();
    if (id != 0 && sessions_.count(id) == 0) return id;
  }
}

kj::Own<capnp::MallocMessageBuilder> MetaServer::newCommand(uint64_t session) {
  auto msg = kj::heap<capnp::MallocMessageBuilder>();
  auto cmd = msg->initRoot<rpc::Command>();
  cmd.setSession(session);
  WallTime now = clock_.now();
  cmd.initTime().setSec(now.sec);
  cmd.getTime().setNsec(now.nsec);
  return msg;
}

kj::Promise<Result<SessionGrant>> MetaServer::openSession(std::string clientName, uint64_t resume) {
  if (stopping_) return Result<SessionGrant>(Status::error(ESHUTDOWN, "metadata server is shutting down"));
  if (resume != 0) {
    auto it = sessions_.find(resume);
    if (it != sessions_.end() && !it->second.closing) {
      it->second.expires = loop_.timer().now() + options_.leaseMs * kj::MILLISECONDS;
      log_->info("session {:x} ({}) resumed", resume, it->second.clientName);
      return Result<SessionGrant>(SessionGrant{resume, options_.leaseMs});
    }
  }
  uint64_t id = newSessionId();
  auto msg = newCommand(0);
  auto open = msg->getRoot<rpc::Command>().initOpenSession();
  open.setId(id);
  open.setClientName(clientName);
  // Reserve the id now so a concurrent open cannot pick it.
  sessions_[id] = SessionState{clientName, loop_.timer().now() + options_.leaseMs * kj::MILLISECONDS, {}, {}, true};
  return committer_.submit(kj::mv(msg)).then([this, id, clientName](Applied a) -> Result<SessionGrant> {
    Status st = Status::fromWire(a.reply().getStatus());
    if (!st.isOk()) {
      sessions_.erase(id);
      return st;
    }
    auto& s = sessions_[id];
    s.closing = false;
    s.expires = loop_.timer().now() + options_.leaseMs * kj::MILLISECONDS;
    log_->info("session {:x} opened for {}", id, clientName);
    return SessionGrant{id, options_.leaseMs};
  });
}

Status MetaServer::watch(uint64_t session, rpc::CacheWatcher::Client watcher) {
  Status st = touch(session);
  if (st.isOk()) watchers_.watch(session, kj::mv(watcher));
  return st;
}

Status MetaServer::touch(uint64_t session) {
  auto it = sessions_.find(session);
  if (it == sessions_.end() || it->second.closing) {
    return Status::error(ESTALE, "session " + std::to_string(session) + " is not open (expired?)");
  }
  it->second.expires = loop_.timer().now() + options_.leaseMs * kj::MILLISECONDS;
  return Status::ok();
}

Result<uint32_t> MetaServer::renew(uint64_t session, const std::vector<uint64_t>& openInodes) {
  Status st = touch(session);
  if (!st.isOk()) return st;
  auto& s = sessions_[session];
  std::vector<uint64_t> old = std::move(s.declared);
  s.declared = openInodes;
  for (uint64_t ino : s.declared) pin(ino);
  for (uint64_t ino : old) unpin(ino);
  return options_.leaseMs;
}

bool MetaServer::nameExists(uint64_t parent, kj::StringPtr name) const {
  Txn txn = store_.beginRead();
  return findEntry(txn, parent, std::string(name.cStr(), name.size())).has_value();
}

kj::Promise<Applied> MetaServer::mutate(uint64_t session, rpc::Command::Reader command) {
  auto fail = [](Status st) {
    Applied a;
    a.message = kj::heap<capnp::MallocMessageBuilder>();
    st.toWire(a.message->initRoot<rpc::Reply>().initStatus());
    return kj::Promise<Applied>(kj::mv(a));
  };
  if (stopping_) return fail(Status::error(ESHUTDOWN, "metadata server is shutting down"));
  Status st = touch(session);
  if (!st.isOk()) return fail(st);
  switch (command.which()) {
    case rpc::Command::RECLAIM:
    case rpc::Command::OPEN_SESSION:
    case rpc::Command::CLOSE_SESSION:
    case rpc::Command::SET_CHUNK:
    case rpc::Command::REGISTER_SERVER:
    case rpc::Command::DROP_GARBAGE:
    case rpc::Command::SET_LOCKS:
    case rpc::Command::SET_SERVER_DRAINING:
      return fail(Status::error(EPERM, "server-internal command kind from session " + std::to_string(session)));
    default: break;
  }
  if (command.isSetAttr() && command.getSetAttr().getHandle() != 0) {
    auto it = handles_.find(command.getSetAttr().getHandle());
    if (it == handles_.end() || it->second.session != session || it->second.ino != command.getSetAttr().getIno()) {
      return fail(Status::error(EBADF, "handle " + std::to_string(command.getSetAttr().getHandle()) +
                                           " is not open on inode " + std::to_string(command.getSetAttr().getIno())));
    }
  }
  auto msg = kj::heap<capnp::MallocMessageBuilder>();
  msg->setRoot(command);
  auto cmd = msg->getRoot<rpc::Command>();
  cmd.setSession(session);
  WallTime now = clock_.now();
  cmd.initTime().setSec(now.sec);
  cmd.getTime().setNsec(now.nsec);
  if (cmd.isCreate()) {
    auto cr = cmd.getCreate();
    cr.setIno(nextIno_++);
    cr.setGeneration(generation_);
    cr.setHandle(cr.getOpen() ? nextHandle_++ : 0);
  }
  log_->debug("session {:x} seq {}: command {}", session, cmd.getSeq(), static_cast<int>(cmd.which()));
  if (createsRegularFile(cmd) && createHook_ && !nameExists(cmd.getCreate().getParent(), cmd.getCreate().getName())) {
    uint64_t ino = cmd.getCreate().getIno(), parent = cmd.getCreate().getParent();
    auto applied = committer_.submit(kj::mv(msg));
    auto ready = createHook_(ino, parent);
    return applied.then([ready = kj::mv(ready)](Applied a) mutable {
      return ready.then([a = kj::mv(a)]() mutable { return kj::mv(a); });
    });
  }
  bool setsSize = cmd.isSetAttr() && (cmd.getSetAttr().getValid() & rpc::SET_SIZE);
  if (!setsSize || !truncateHook_) return committer_.submit(kj::mv(msg));
  uint64_t ino = cmd.getSetAttr().getIno(), size = cmd.getSetAttr().getSize();
  return committer_.submit(kj::mv(msg)).then([this, ino, size](Applied a) -> kj::Promise<Applied> {
    if (a.reply().getStatus().getCode() != 0 || a.effects.replayed) return kj::mv(a);
    return truncateHook_(ino, size).then([a = kj::mv(a)](Status st) mutable {
      if (!st.isOk()) st.toWire(a.message->getRoot<rpc::Reply>().initStatus());
      return kj::mv(a);
    });
  });
}

kj::Promise<Applied> MetaServer::submitInternal(kj::Function<void(rpc::Command::Builder)> fill) {
  auto msg = newCommand(0);
  fill(msg->getRoot<rpc::Command>());
  return committer_.submit(kj::mv(msg));
}

kj::Promise<Result<Opened>> MetaServer::open(uint64_t session, const Cred& cred, uint64_t ino, uint32_t flags,
                                             uint64_t seq) {
  Status st = stopping_ ? Status::error(ESHUTDOWN, "metadata server is shutting down") : touch(session);
  if (!st.isOk()) return Result<Opened>(st);
  auto n = checkOpen(store_, cred, ino, flags);
  if (!n.isOk()) return Result<Opened>(n.status());
  if (orphans_.count(ino) && !pins_.count(ino)) {
    return Result<Opened>(Status::error(ENOENT, "inode " + std::to_string(ino) + " is being reclaimed"));
  }
  uint64_t handle = nextHandle_++;
  handles_[handle] = Handle{session, ino};
  sessions_[session].handles.insert(handle);
  pin(ino);
  if (!(flags & O_TRUNC) || !n->isReg()) return Result<Opened>(Opened{*n, handle});

  auto msg = newCommand(session);
  auto cmd = msg->getRoot<rpc::Command>();
  cmd.setSeq(seq);
  auto credOut = cmd.initCred();
  credOut.setUid(cred.uid);
  credOut.setGid(cred.gid);
  auto groups = credOut.initGroups(cred.groups.size());
  for (size_t i = 0; i < cred.groups.size(); ++i) groups.set(i, cred.groups[i]);
  auto sa = cmd.initSetAttr();
  sa.setIno(ino);
  sa.setValid(rpc::SET_SIZE | rpc::SET_KILL_SUID_GID);
  sa.setSize(0);
  sa.setHandle(handle);
  return committer_.submit(kj::mv(msg)).then([this, session, handle, ino](Applied a) -> Result<Opened> {
    Status st = Status::fromWire(a.reply().getStatus());
    if (!st.isOk()) {
      release(session, handle);
      return st;
    }
    auto attr = getAttr(store_, ino);
    if (!attr.isOk()) return attr.status();
    return Opened{*attr, handle};
  });
}

Status MetaServer::release(uint64_t session, uint64_t handle) {
  auto it = handles_.find(handle);
  if (it == handles_.end() || it->second.session != session) {
    return Status::error(EBADF, "handle " + std::to_string(handle) + " is not open in session " + std::to_string(session));
  }
  uint64_t ino = it->second.ino;
  handles_.erase(it);
  auto s = sessions_.find(session);
  if (s != sessions_.end()) s->second.handles.erase(handle);
  unpin(ino);
  return Status::ok();
}

void MetaServer::pin(uint64_t ino) { ++pins_[ino]; }

void MetaServer::unpin(uint64_t ino) {
  auto it = pins_.find(ino);
  if (it == pins_.end()) return;
  if (--it->second == 0) {
    pins_.erase(it);
    maybeReclaim(ino);
  }
}

void MetaServer::maybeReclaim(uint64_t ino) {
  if (!graceOver_ || stopping_ || !orphans_.count(ino) || pins_.count(ino) || reclaiming_.count(ino)) return;
  reclaiming_.insert(ino);
  auto msg = newCommand(0);
  msg->getRoot<rpc::Command>().initReclaim().setIno(ino);
  tasks_->add(committer_.submit(kj::mv(msg)).then([this, ino](Applied a) {
    reclaiming_.erase(ino);
    Status st = Status::fromWire(a.reply().getStatus());
    if (!st.isOk()) log_->warn("reclaim of inode {} failed: {}", ino, st.toString());
  }));
}

void MetaServer::afterCommit(rpc::Command::Reader cmd, Applied& applied) {
  if (applied.effects.replayed) return;
  auto reply = applied.reply();
  if (cmd.getSession() != 0) watchers_.changed(cmd.getSession(), cacheChangesOf(cmd, reply));
  if (cmd.isCreate() && reply.getStatus().getCode() == 0 && reply.getHandle() != 0) {
    auto s = sessions_.find(cmd.getSession());
    if (s != sessions_.end() && !s->second.closing) {
      handles_[reply.getHandle()] = Handle{cmd.getSession(), reply.getAttr().getIno()};
      s->second.handles.insert(reply.getHandle());
      pin(reply.getAttr().getIno());
    }
  }
  for (uint64_t ino : applied.effects.reclaimed) {
    orphans_.erase(ino);
    locks_->releaseInode(ino);
    log_->debug("inode {} reclaimed", ino);
  }
  for (uint64_t ino : applied.effects.orphaned) {
    orphans_.insert(ino);
    maybeReclaim(ino);
  }
}

void MetaServer::closeSession(uint64_t id, const char* why) {
  auto it = sessions_.find(id);
  if (it == sessions_.end() || it->second.closing) return;
  it->second.closing = true;
  watchers_.forget(id);
  log_->info("session {:x} ({}) {}: closing, {} open handles released", id, it->second.clientName, why,
             it->second.handles.size());
  tasks_->add(locks_->releaseSession(id));
  auto msg = newCommand(0);
  msg->getRoot<rpc::Command>().initCloseSession().setId(id);
  tasks_->add(committer_.submit(kj::mv(msg)).then([this, id](Applied a) {
    Status st = Status::fromWire(a.reply().getStatus());
    if (!st.isOk()) log_->warn("closing session {:x}: {}", id, st.toString());
    auto it = sessions_.find(id);
    if (it == sessions_.end()) return;
    std::vector<uint64_t> handles(it->second.handles.begin(), it->second.handles.end());
    std::vector<uint64_t> declared = std::move(it->second.declared);
    for (uint64_t h : handles) release(id, h);
    sessions_.erase(id);
    for (uint64_t ino : declared) unpin(ino);
  }));
}

kj::Promise<void> MetaServer::watchLeases() {
  uint32_t periodMs = std::max<uint32_t>(10, std::min<uint32_t>(options_.leaseMs / 4, 1000));
  return loop_.timer().afterDelay(periodMs * kj::MILLISECONDS).then([this]() {
    auto now = loop_.timer().now();
    std::vector<uint64_t> expired;
    for (auto& [id, s] : sessions_) {
      if (!s.closing && s.expires < now) expired.push_back(id);
    }
    for (uint64_t id : expired) closeSession(id, "lease expired");
    return watchLeases();
  });
}

std::vector<SessionSummary> MetaServer::sessions() const {
  std::vector<SessionSummary> out;
  auto now = loop_.timer().now();
  for (auto& [id, s] : sessions_) {
    if (s.closing) continue;
    out.push_back(SessionSummary{id, s.clientName, (s.expires - now) / kj::MILLISECONDS,
                                 static_cast<uint32_t>(s.handles.size())});
  }
  return out;
}

uint64_t MetaServer::uptimeMs() const { return (loop_.timer().now() - startedAt_) / kj::MILLISECONDS; }

kj::Promise<void> MetaServer::shutdown() {
  stopping_ = true;
  return committer_.stop();
}

}  // namespace basalt::meta
