// Locks: getlk/setlk (fcntl record locks) and flock, held by the metadata server for the whole
// cluster (Session.setLock & co.). The owner is (this mount's session, the kernel's lock_owner) for
// record locks and (session, open handle) for flock. OFD locks arrive as record locks whose
// lock_owner is the open file description; the kernel does not tell them apart.
//
// Blocking requests (F_SETLKW, flock without LOCK_NB) are one RPC answered when the lock is granted,
// with no per-call deadline. On FUSE_INTERRUPT the mount sends cancelLock; the blocked call then
// answers EINTR (or success, if the grant won the race) and that is the one reply.
//
// Coherence: before an unlock this client's writes to the file are committed, and after a grant
// the file's cached pages and attributes are dropped, so whoever takes the lock next sees what the
// previous holder wrote (what sqlite and friends rely on across machines).
//
// Lost locks: if the session the locks were taken under expired (see lock_tracker.h), lock calls
// on that file fail with ENOLCK until its last close, with a log line saying why.
//
// Lock delegation (lock_delegations.h, docs/client.md): when the server answers a lock call with a
// delegation, this mount decides that inode's lock calls itself, with the same LockTable code, and
// no RPC: while it holds the delegation and its lease is surely valid. A call that must wait gives
// the delegation back first (the server queues waits and checks deadlocks across inodes and
// mounts). Before the delegation goes back (recalled by the server, or returned) the file's writes
// are committed, so whoever locks next on another mount sees them; a grant decided here drops no
// caches (the previous holder was this mount), except the first one under a new delegation.
#include <spdlog/fmt/fmt.h>
#include <sys/file.h>

#include "fuse-client/fs.h"
#include "fuse-client/ops.h"

namespace basalt::client::ops {

namespace {

constexpr uint64_t kToEof = UINT64_MAX;

const char* kindName(uint8_t kind) { return kind == rpc::LOCK_KIND_FLOCK ? "flock" : "posix"; }
const char* typeName(uint8_t type) {
  return type == rpc::LOCK_TYPE_WRITE ? "write" : type == rpc::LOCK_TYPE_READ ? "read" : "unlock";
}

struct LockArgs {
  uint64_t ino = 0;
  uint64_t owner = 0;
  uint8_t kind = rpc::LOCK_KIND_POSIX;
  uint8_t type = rpc::LOCK_TYPE_UNLOCK;
  uint64_t start = 0;
  uint64_t end = kToEof;
  uint32_t pid = 0;
  bool wait = false;
  std::string what() const {
    return fmt::format("{} {} lock on inode {} [{}, {}] owner {:x}", kindName(kind), typeName(type), ino, start,
                       end == kToEof ? std::string("EOF") : std::to_string(end), owner);
  }
};

// The fields setLock and getLock requests share.
template <typename Request>
void fillLock(Request& q, const LockArgs& a) {
  q.setIno(a.ino);
  q.setOwner(a.owner);
  q.setKind(a.kind);
  q.setType(a.type);
  q.setStart(a.start);
  q.setEnd(a.end);
}

// A setLock request for `a` (its wait flag, and `waiter` to cancel a wait by).
kj::Promise<capnp::Response<rpc::Session::SetLockResults>> sendSetLock(rpc::Session::Client& s, const LockArgs& a,
                                                                        uint64_t waiter, bool mayDelegate) {
  auto q = s.setLockRequest();
  fillLock(q, a);
  q.setPid(a.pid);
  q.setWait(a.wait);
  q.setWaiter(waiter);
  q.setMayDelegate(mayDelegate);
  return q.send();
}

// fcntl's (l_start, l_len) as libfuse delivers them (absolute start, l_len 0 = to EOF).
bool rangeOf(const struct flock& l, uint64_t* start, uint64_t* end) {
  if (l.l_start < 0 || l.l_len < 0) return false;
  *start = static_cast<uint64_t>(l.l_start);
  if (l.l_len == 0) {
    *end = kToEof;
  } else {
    uint64_t len = static_cast<uint64_t>(l.l_len);
    if (len - 1 > kToEof - *start) return false;
    *end = *start + len - 1;
  }
  return true;
}

bool typeOf(short lType, uint8_t* out) {
  switch (lType) {
    case F_RDLCK: *out = rpc::LOCK_TYPE_READ; return true;
    case F_WRLCK: *out = rpc::LOCK_TYPE_WRITE; return true;
    case F_UNLCK: *out = rpc::LOCK_TYPE_UNLOCK; return true;
  }
  return false;
}

// ENOLCK (logged) when the mount's locks on the inode were lost with an expired session.
bool failIfLost(Filesystem& fs, const Request& r, uint64_t ino) {
  auto lost = fs.locks.lostUnder(ino, fs.meta.sessionId());
  if (!lost) return false;
  fs.log->warn("lock call on inode {} fails with ENOLCK: the locks this mount held there were released when its "
               "session {:x} expired (cut off from the metadata server for longer than the lease); now session "
               "{:x}. Close the file to start over.",
               ino, *lost, fs.meta.sessionId());
  r.err(ENOLCK);
  return true;
}

meta::LockRequest requestOf(const LockArgs& a) {
  meta::LockRequest q;
  q.owner = meta::LockOwner{0, a.owner, a.kind == rpc::LOCK_KIND_FLOCK ? meta::OwnerKind::kFlock : meta::OwnerKind::kPosix};
  q.range = meta::ByteRange{a.start, a.end};
  q.type = static_cast<meta::LockType>(a.type);
  q.pid = a.pid;
  return q;
}

// Whether this mount decides `ino`'s locks itself now. (Delegations of an older session were
// dropped when the new one opened: Filesystem::sessionOpened.)
bool decidesHere(Filesystem& fs, uint64_t ino) {
  return fs.delegations.holds(ino) && !fs.delegations.handingOver(ino) && fs.meta.leaseFresh();
}

// Commits the file's writes, then takes delegation `gen` of `ino` out of the mount with its locks
// (nullopt: not held). Calls on the inode wait from now until the caller's endHandover.
kj::Promise<std::optional<std::string>> handOver(Filesystem& fs, uint64_t ino, uint64_t gen) {
  if (fs.delegations.handingOver(ino)) {
    return fs.delegations.whenSettled(ino).then([&fs, ino, gen]() { return handOver(fs, ino, gen); });
  }
  fs.delegations.beginHandover(ino);
  if (fs.delegations.generationOf(ino) != gen) return fs.delegations.take(ino, gen);
  return fs.io.flush(ino, fs.delegations.credOf(ino), kj::Own<Interruptible>())
      .catch_([&fs, ino](kj::Exception&& e) {
        fs.log->warn("inode {}: committing its writes before giving its lock delegation back: {}", ino,
                     describeException(e));
      })
      .then([&fs, ino, gen]() { return fs.delegations.take(ino, gen); });
}

// Gives the delegation of `ino` back to the server on this mount's own initiative.
kj::Promise<void> giveBack(Filesystem& fs, uint64_t ino, const char* why) {
  if (fs.delegations.handingOver(ino)) {
    return fs.delegations.whenSettled(ino).then([&fs, ino, why]() { return giveBack(fs, ino, why); });
  }
  uint64_t gen = fs.delegations.generationOf(ino);
  if (gen == 0) return kj::READY_NOW;
  // From here to the take, the inode is this hand-over's: a recall waits for it to end.
  fs.log->debug("inode {}: giving its lock delegation back ({})", ino, why);
  auto ended = kj::defer([&fs, ino]() { fs.delegations.endHandover(ino); });
  return handOver(fs, ino, gen)
      .then([&fs, ino, gen](std::optional<std::string> state) -> kj::Promise<void> {
        if (!state) return kj::READY_NOW;
        std::string what = fmt::format("return of the lock delegation of inode {}", ino);
        return fs.meta
            .call<rpc::Session::ReturnLocksResults>(what, kj::Own<Interruptible>(),
                                                    [ino, gen, state = kj::mv(*state)](rpc::Session::Client& s) {
                                                      auto q = s.returnLocksRequest();
                                                      q.setIno(ino);
                                                      q.setDelegation(gen);
                                                      q.setState(kj::arrayPtr(
                                                          reinterpret_cast<const kj::byte*>(state.data()),
                                                          state.size()));
                                                      return q.send();
                                                    })
            .then(
                [&fs, what](capnp::Response<rpc::Session::ReturnLocksResults>&& resp) {
                  // ESTALE: the session expired; its locks went with it (LockTracker reports that).
                  if (resp.getStatus().getCode() != 0) {
                    fs.log->warn("{}: {}", what, resp.getStatus().getMessage().cStr());
                  }
                },
                [&fs, what](kj::Exception&& e) { fs.log->warn("{}: {}", what, describeException(e)); });
      })
      .attach(kj::mv(ended));
}

kj::Promise<void> setLock(Filesystem& fs, kj::Own<Request> r, LockArgs a);

// Decides `a` under the delegation this mount holds for its inode. `fresh`: the delegation was
// just taken, so the caches go as after any grant from the server.
kj::Promise<void> decideHere(Filesystem& fs, kj::Own<Request> r, LockArgs a, bool fresh) {
  auto out = fs.delegations.setLock(a.ino, requestOf(a), r->cred(), fs.loop.timer().now());
  if (out.error == EAGAIN && a.wait) {
    // Waiting is the server's business (fair queues, deadlock checks across inodes and mounts).
    return giveBack(fs, a.ino, "a lock call must wait").then([&fs, r = kj::mv(r), a]() mutable {
      return setLock(fs, kj::mv(r), a);
    });
  }
  if (out.error != 0) {
    fs.log->debug("{}: {} (decided here)", a.what(), strerror(out.error));
    r->err(out.error);
    return kj::READY_NOW;
  }
  if (a.type != rpc::LOCK_TYPE_UNLOCK) fs.locks.noteLocked(a.ino, fs.delegations.session());
  if (!fresh || a.type == rpc::LOCK_TYPE_UNLOCK) {
    r->err(0);
    return kj::READY_NOW;
  }
  fs.io.fileChanged(a.ino);
  return fs.invalidateCache(a.ino).then([r = kj::mv(r)]() { r->err(0); });
}

// The server answered a call about `ino` with delegation `gen`: true when the call is now to be
// decided here (*fresh: the delegation is new), false when it must go to the server again.
bool takeDelegation(Filesystem& fs, uint64_t ino, uint64_t gen, bool* fresh) {
  *fresh = fs.delegations.generationOf(ino) != gen;
  if (fs.delegations.handingOver(ino)) return false;
  if (!fs.delegations.adopt(ino, gen, fs.loop.timer().now())) return false;
  if (*fresh) fs.log->debug("inode {}: this mount now decides its locks (delegation {:x})", ino, gen);
  return true;
}

kj::Promise<void> setLock(Filesystem& fs, kj::Own<Request> r, LockArgs a) {
  if (failIfLost(fs, *r, a.ino)) return kj::READY_NOW;
  if (a.wait && r->interrupted()) {
    r->err(EINTR);
    return kj::READY_NOW;
  }
  if (fs.delegations.handingOver(a.ino)) {
    return fs.delegations.whenSettled(a.ino).then([&fs, r = kj::mv(r), a]() mutable {
      return setLock(fs, kj::mv(r), a);
    });
  }
  if (decidesHere(fs, a.ino)) return decideHere(fs, kj::mv(r), a, false);
  uint64_t waiter = a.wait ? fs.locks.newWaiter() : 0;
  bool mayDelegate = fs.opts.lockDelegation;
  auto send = [a, waiter, mayDelegate](rpc::Session::Client& s) { return sendSetLock(s, a, waiter, mayDelegate); };
  using Response = capnp::Response<rpc::Session::SetLockResults>;
  // Commit this client's writes before anyone else can take the lock.
  kj::Promise<void> before = a.type == rpc::LOCK_TYPE_UNLOCK ? fs.io.flush(a.ino, r->cred(), kj::addRef(*r))
                                                              : kj::Promise<void>(kj::READY_NOW);
  auto p = before
               .then([&fs, r = kj::addRef(*r), a, send = kj::mv(send)]() mutable {
                 return a.wait ? fs.meta.callWaiting<rpc::Session::SetLockResults>(a.what(), kj::addRef(*r),
                                                                                      kj::mv(send))
                               : fs.meta.call<rpc::Session::SetLockResults>(a.what(), kj::addRef(*r), kj::mv(send));
               })
               .then([&fs, r = kj::addRef(*r), a](Response&& resp) mutable -> kj::Promise<void> {
                 auto st = resp.getStatus();
                 if (st.getCode() == 0 && resp.getDelegation() != 0) {
                   bool fresh = false;
                   if (takeDelegation(fs, a.ino, resp.getDelegation(), &fresh)) {
                     return decideHere(fs, kj::addRef(*r), a, fresh);
                   }
                   return setLock(fs, kj::addRef(*r), a);  // that delegation was recalled already: ask again
                 }
                 if (st.getCode() == 0) {
                   if (a.type == rpc::LOCK_TYPE_UNLOCK) {
                     r->err(0);
                     return kj::READY_NOW;
                   }
                   if (fs.locks.lostUnder(a.ino, fs.meta.sessionId())) {
                     // The call was retried under a new session (the old one expired meanwhile): the
                     // older locks are gone, so this grant must not look like business as usual.
                     LockArgs undo = a;
                     undo.type = rpc::LOCK_TYPE_UNLOCK;
                     undo.wait = false;
                     fs.track(*r, fs.meta
                                      .call<rpc::Session::SetLockResults>(
                                          undo.what(), kj::Own<Interruptible>(),
                                          [undo](rpc::Session::Client& s) { return sendSetLock(s, undo, 0, false); })
                                      .ignoreResult());
                     failIfLost(fs, *r, a.ino);
                     return kj::READY_NOW;
                   }
                   fs.locks.noteLocked(a.ino, fs.meta.sessionId());
                   fs.io.fileChanged(a.ino);
                   return fs.invalidateCache(a.ino).then([r = kj::addRef(*r)]() { r->err(0); });
                 }
                 int err = errnoFromStatus(st);
                 if (err == ESTALE) {
                   fs.log->warn("{} fails with ENOLCK: {}", a.what(), st.getMessage().cStr());
                   err = ENOLCK;
                 } else {
                   fs.log->debug("{}: {}", a.what(), st.getMessage().cStr());
                 }
                 r->err(err);
                 return kj::READY_NOW;
               });
  if (a.wait) {
    // The interrupt only asks the server to end the wait; the wait's own answer is the reply.
    auto cancel = r->whenInterrupted()
                      .then([&fs, a, waiter]() {
                        fs.log->debug("{}: interrupted, cancelling waiter {}", a.what(), waiter);
                        return fs.meta
                            .call<rpc::Session::CancelLockResults>(
                                "cancel " + a.what(), kj::Own<Interruptible>(),
                                [waiter](rpc::Session::Client& s) {
                                  auto q = s.cancelLockRequest();
                                  q.setWaiter(waiter);
                                  return q.send();
                                })
                            .ignoreResult();
                      })
                      .eagerlyEvaluate([&fs, a](kj::Exception&& e) {
                        fs.log->warn("cancelling {}: {}", a.what(), describeException(e));
                      });
    p = p.attach(kj::mv(cancel));
  }
  return p;
}

}  // namespace

kj::Promise<std::optional<std::string>> recallLocks(Filesystem& fs, uint64_t ino, uint64_t gen) {
  fs.log->debug("inode {}: the metadata server recalls its lock delegation {:x}", ino, gen);
  auto ended = kj::defer([&fs, ino]() { fs.delegations.endHandover(ino); });
  return handOver(fs, ino, gen).attach(kj::mv(ended));
}

kj::Promise<void> returnIdleDelegations(Filesystem& fs, kj::Duration idleFor) {
  auto idle = fs.delegations.idleSince(fs.loop.timer().now() - idleFor);
  auto all = kj::heapArrayBuilder<kj::Promise<void>>(idle.size());
  for (uint64_t ino : idle) all.add(giveBack(fs, ino, "unused"));
  return kj::joinPromises(all.finish());
}

namespace {

void startSetLock(Filesystem& fs, kj::Own<Request> r, LockArgs a) {
  auto held = kj::addRef(*r);  // the request must outlive setLock, which may answer and drop `r`
  fs.track(*held, setLock(fs, kj::mv(r), a));
}

// F_GETLK's answer: what was asked, with the conflicting lock in it (F_UNLCK when there is none).
struct flock getlkAnswer(struct flock asked, const std::optional<meta::HeldLock>& conflict) {
  if (!conflict) {
    asked.l_type = F_UNLCK;
    return asked;
  }
  asked.l_type = conflict->type == meta::LockType::kWrite ? F_WRLCK : F_RDLCK;
  asked.l_whence = SEEK_SET;
  asked.l_start = static_cast<off_t>(conflict->range.start);
  asked.l_len = conflict->range.end == kToEof ? 0 : static_cast<off_t>(conflict->range.end - conflict->range.start + 1);
  asked.l_pid = static_cast<pid_t>(conflict->pid);
  return asked;
}

// F_GETLK under a delegation held here.
void getHere(Filesystem& fs, const Request& r, const LockArgs& a, const struct flock& asked) {
  std::optional<meta::HeldLock> conflict;
  meta::LockRequest q = requestOf(a);
  int err = fs.delegations.getLock(a.ino, q.owner, q.range, q.type, &conflict);
  if (err != 0) {
    r.err(err);
    return;
  }
  r.lock(getlkAnswer(asked, conflict));
}

}  // namespace

namespace {

kj::Promise<void> getLock(Filesystem& fs, kj::Own<Request> r, LockArgs a, struct flock asked) {
  if (failIfLost(fs, *r, a.ino)) return kj::READY_NOW;
  if (fs.delegations.handingOver(a.ino)) {
    return fs.delegations.whenSettled(a.ino).then([&fs, r = kj::mv(r), a, asked]() mutable {
      return getLock(fs, kj::mv(r), a, asked);
    });
  }
  if (decidesHere(fs, a.ino)) {
    getHere(fs, *r, a, asked);
    return kj::READY_NOW;
  }
  return fs.meta
      .call<rpc::Session::GetLockResults>(fmt::format("getlk {}", a.what()), kj::addRef(*r),
                                          [a](rpc::Session::Client& s) {
                                            auto q = s.getLockRequest();
                                            fillLock(q, a);
                                            return q.send();
                                          })
      .then([&fs, r = kj::mv(r), a, asked](capnp::Response<rpc::Session::GetLockResults>&& resp) mutable
            -> kj::Promise<void> {
        if (resp.getStatus().getCode() == ESTALE) {
          fs.log->warn("getlk fails with ENOLCK: {}", resp.getStatus().getMessage().cStr());
          r->err(ENOLCK);
          return kj::READY_NOW;
        }
        if (fs.replyIfError(*r, resp.getStatus())) return kj::READY_NOW;
        if (resp.getDelegation() != 0) {
          // This mount holds the delegation (the answer raced with its grant): decide here.
          bool fresh = false;
          if (!takeDelegation(fs, a.ino, resp.getDelegation(), &fresh)) return getLock(fs, kj::mv(r), a, asked);
          getHere(fs, *r, a, asked);
          return kj::READY_NOW;
        }
        std::optional<meta::HeldLock> conflict;
        if (resp.getConflict()) {
          conflict = meta::HeldLock{};
          conflict->type = resp.getType() == rpc::LOCK_TYPE_WRITE ? meta::LockType::kWrite : meta::LockType::kRead;
          conflict->range = meta::ByteRange{resp.getStart(), resp.getEnd()};
          conflict->pid = resp.getPid();
        }
        r->lock(getlkAnswer(asked, conflict));
        return kj::READY_NOW;
      });
}

}  // namespace

void getlk(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi, struct flock* lock) {
  auto& fs = Filesystem::of(req);
  auto r = fs.begin(req, false);
  LockArgs a;
  a.ino = ino;
  a.owner = fi->lock_owner;
  if (!typeOf(lock->l_type, &a.type) || a.type == rpc::LOCK_TYPE_UNLOCK || !rangeOf(*lock, &a.start, &a.end)) {
    r->err(EINVAL);
    return;
  }
  auto held = kj::addRef(*r);  // the request must outlive getLock, which may answer and drop `r`
  fs.track(*held, getLock(fs, kj::mv(r), a, *lock));
}

void setlk(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi, struct flock* lock, int sleep) {
  auto& fs = Filesystem::of(req);
  auto r = fs.begin(req, false);
  LockArgs a;
  a.ino = ino;
  a.owner = fi->lock_owner;
  a.pid = lock->l_pid > 0 ? static_cast<uint32_t>(lock->l_pid) : 0;
  a.wait = sleep != 0;
  if (!typeOf(lock->l_type, &a.type) || !rangeOf(*lock, &a.start, &a.end)) {
    r->err(EINVAL);
    return;
  }
  if (a.type == rpc::LOCK_TYPE_UNLOCK) a.wait = false;
  startSetLock(fs, kj::mv(r), a);
}

void flock(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi, int op) {
  auto& fs = Filesystem::of(req);
  auto r = fs.begin(req, false);
  LockArgs a;
  a.ino = ino;
  a.owner = fi->fh;  // one per open file description
  a.kind = rpc::LOCK_KIND_FLOCK;
  a.pid = r->cred().pid;
  a.wait = (op & LOCK_NB) == 0;
  switch (op & (LOCK_SH | LOCK_EX | LOCK_UN)) {
    case LOCK_SH: a.type = rpc::LOCK_TYPE_READ; break;
    case LOCK_EX: a.type = rpc::LOCK_TYPE_WRITE; break;
    case LOCK_UN: a.type = rpc::LOCK_TYPE_UNLOCK; a.wait = false; break;
    default: r->err(EINVAL); return;
  }
  startSetLock(fs, kj::mv(r), a);
}

kj::Promise<void> releaseLocks(Filesystem& fs, uint64_t ino, uint64_t owner, bool flock) {
  if (!fs.locks.mayHold(ino)) return kj::READY_NOW;
  if (fs.delegations.handingOver(ino)) {
    return fs.delegations.whenSettled(ino).then([&fs, ino, owner, flock]() { return releaseLocks(fs, ino, owner, flock); });
  }
  meta::LockOwner local{0, owner, flock ? meta::OwnerKind::kFlock : meta::OwnerKind::kPosix};
  if (fs.delegations.holds(ino)) {
    fs.delegations.releaseOwner(ino, local);  // releasing never conflicts: no lease needed
    return kj::READY_NOW;
  }
  uint8_t kind = flock ? rpc::LOCK_KIND_FLOCK : rpc::LOCK_KIND_POSIX;
  std::string what = fmt::format("release of {} locks of owner {:x} on inode {}", kindName(kind), owner, ino);
  return fs.meta
      .call<rpc::Session::ReleaseLocksResults>(what, kj::Own<Interruptible>(),
                                               [ino, owner, kind](rpc::Session::Client& s) {
                                                 auto q = s.releaseLocksRequest();
                                                 q.setIno(ino);
                                                 q.setOwner(owner);
                                                 q.setKind(kind);
                                                 return q.send();
                                               })
      .then(
          [&fs, what, ino, owner, flock, local](capnp::Response<rpc::Session::ReleaseLocksResults>&& resp)
              -> kj::Promise<void> {
            // ESTALE: the session expired and the server released them already.
            if (resp.getStatus().getCode() != 0) {
              fs.log->warn("{}: {}", what, resp.getStatus().getMessage().cStr());
              return kj::READY_NOW;
            }
            if (resp.getDelegation() != 0) {
              bool fresh = false;
              if (!takeDelegation(fs, ino, resp.getDelegation(), &fresh)) return releaseLocks(fs, ino, owner, flock);
              fs.delegations.releaseOwner(ino, local);
            }
            return kj::READY_NOW;
          },
          [&fs, what](kj::Exception&& e) { fs.log->warn("{}: {}", what, describeException(e)); });
}

}  // namespace basalt::client::ops
