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

// A setLock request for `a` (its wait flag, and `waiter` to cancel a wait by).
kj::Promise<capnp::Response<rpc::Session::SetLockResults>> sendSetLock(rpc::Session::Client& s, const LockArgs& a,
                                                                        uint64_t waiter) {
  auto q = s.setLockRequest();
  q.setIno(a.ino);
  q.setOwner(a.owner);
  q.setKind(a.kind);
  q.setType(a.type);
  q.setStart(a.start);
  q.setEnd(a.end);
  q.setPid(a.pid);
  q.setWait(a.wait);
  q.setWaiter(waiter);
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

void setLock(Filesystem& fs, kj::Own<Request> r, LockArgs a) {
  if (failIfLost(fs, *r, a.ino)) return;
  if (a.wait && r->interrupted()) {
    r->err(EINTR);
    return;
  }
  uint64_t waiter = a.wait ? fs.locks.newWaiter() : 0;
  auto send = [a, waiter](rpc::Session::Client& s) { return sendSetLock(s, a, waiter); };
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
                                          [undo](rpc::Session::Client& s) { return sendSetLock(s, undo, 0); })
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
  fs.track(*r, kj::mv(p));
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
  if (failIfLost(fs, *r, ino)) return;
  struct flock asked = *lock;
  auto p = fs.meta
               .call<rpc::Session::GetLockResults>(fmt::format("getlk {}", a.what()), kj::addRef(*r),
                                                   [a](rpc::Session::Client& s) {
                                                     auto q = s.getLockRequest();
                                                     q.setIno(a.ino);
                                                     q.setOwner(a.owner);
                                                     q.setKind(a.kind);
                                                     q.setType(a.type);
                                                     q.setStart(a.start);
                                                     q.setEnd(a.end);
                                                     return q.send();
                                                   })
               .then([&fs, r = kj::addRef(*r), asked](capnp::Response<rpc::Session::GetLockResults>&& resp) {
                 if (resp.getStatus().getCode() == ESTALE) {
                   fs.log->warn("getlk fails with ENOLCK: {}", resp.getStatus().getMessage().cStr());
                   r->err(ENOLCK);
                   return;
                 }
                 if (fs.replyIfError(*r, resp.getStatus())) return;
                 struct flock out = asked;
                 if (!resp.getConflict()) {
                   out.l_type = F_UNLCK;
                 } else {
                   out.l_type = resp.getType() == rpc::LOCK_TYPE_WRITE ? F_WRLCK : F_RDLCK;
                   out.l_whence = SEEK_SET;
                   out.l_start = static_cast<off_t>(resp.getStart());
                   out.l_len = resp.getEnd() == kToEof ? 0 : static_cast<off_t>(resp.getEnd() - resp.getStart() + 1);
                   out.l_pid = static_cast<pid_t>(resp.getPid());
                 }
                 r->lock(out);
               });
  fs.track(*r, kj::mv(p));
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
  setLock(fs, kj::mv(r), a);
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
  setLock(fs, kj::mv(r), a);
}

kj::Promise<void> releaseLocks(Filesystem& fs, uint64_t ino, uint64_t owner, bool flock) {
  if (!fs.locks.mayHold(ino)) return kj::READY_NOW;
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
          [&fs, what](capnp::Response<rpc::Session::ReleaseLocksResults>&& resp) {
            // ESTALE: the session expired and the server released them already.
            if (resp.getStatus().getCode() != 0) {
              fs.log->warn("{}: {}", what, resp.getStatus().getMessage().cStr());
            }
          },
          [&fs, what](kj::Exception&& e) { fs.log->warn("{}: {}", what, describeException(e)); });
}

}  // namespace basalt::client::ops
