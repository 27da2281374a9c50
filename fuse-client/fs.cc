#include "fuse-client/fs.h"

#include "fuse-client/cache_watcher.h"
#include "fuse-client/ops.h"

#include <unistd.h>

#include <algorithm>
#include <utility>

#include "fuse-client/errors.h"

namespace basalt::client {

Filesystem::Filesystem(EventLoop& loop, const MountOptions& opts, MetaSession& meta,
                       InodeTable& inodes, FileIo& io, Logger log)
    : loop(loop), opts(opts), meta(meta), inodes(inodes), io(io), log(std::move(log)),
      tasks_(*this) {
  // Size commits answer with the file's attributes: remember them.
  io.onAttr([this](rpc::Attr::Reader a) { rememberAttr(a); });
  if (opts.lockDelegation) tasks_.add(sweepLockDelegations());  // nothing to sweep otherwise
}

kj::Promise<void> Filesystem::sweepLockDelegations() {
  // A delegation nobody used for a while goes back, so the server does not keep one per file this
  // mount ever locked.
  return loop.timer().afterDelay(5 * kj::SECONDS).then([this]() {
    return ops::returnIdleDelegations(*this, 10 * kj::SECONDS).then([this]() { return sweepLockDelegations(); });
  });
}

kj::Own<Request> Filesystem::begin(fuse_req_t req, bool withGroups) {
  return kj::refcounted<Request>(req, withGroups);
}

void Filesystem::track(Request& r, kj::Promise<void> p) {
  tasks_.add(p.catch_([this, ref = kj::addRef(r)](kj::Exception&& e) mutable {
    int err = errnoFromException(e);
    if (!isErrnoException(e)) log->warn("request failed with EIO: {}", kj::str(e).cStr());
    else log->debug("request failed: {}", describeException(e));
    ref->err(err);
  }));
}

void Filesystem::taskFailed(kj::Exception&& e) {
  log->error("handler continuation failed: {}", kj::str(e).cStr());
}

bool Filesystem::replyIfError(const Request& r, rpc::Status::Reader status) {
  if (status.getCode() == 0) return false;
  int err = errnoFromStatus(status);
  if (err == EIO) log->warn("metadata server: {}", status.getMessage().cStr());
  r.err(err);
  return true;
}

void Filesystem::fillStat(rpc::Attr::Reader a, struct stat* st) const {
  *st = {};
  st->st_ino = a.getIno();
  st->st_mode = a.getMode();
  st->st_nlink = a.getNlink();
  st->st_uid = a.getUid();
  st->st_gid = a.getGid();
  st->st_rdev = a.getRdev();
  st->st_size = static_cast<off_t>(std::max(a.getSize(), io.uncommittedEnd(a.getIno())));
  st->st_blocks = static_cast<blkcnt_t>(a.getBlocks());
  st->st_blksize = static_cast<blksize_t>(opts.maxWrite);
  st->st_atim.tv_sec = a.getAtime().getSec();
  st->st_atim.tv_nsec = a.getAtime().getNsec();
  st->st_mtim.tv_sec = a.getMtime().getSec();
  st->st_mtim.tv_nsec = a.getMtime().getNsec();
  st->st_ctim.tv_sec = a.getCtime().getSec();
  st->st_ctim.tv_nsec = a.getCtime().getNsec();
}

void Filesystem::rememberAttr(rpc::Attr::Reader a) {
  struct stat server;
  fillStat(a, &server);
  server.st_size = static_cast<off_t>(a.getSize());  // without this client's uncommitted writes
  attrs.put(server);
}

bool Filesystem::replyCachedAttr(const Request& r, uint64_t ino) {
  const struct stat* cached = attrs.get(ino);
  if (cached == nullptr) return false;
  struct stat st = *cached;
  st.st_size = std::max<off_t>(st.st_size, static_cast<off_t>(io.uncommittedEnd(ino)));
  r.attr(st, opts.attrTimeout);
  return true;
}

AttrSnapshot Filesystem::snapshot(rpc::Attr::Reader a) const {
  AttrSnapshot s;
  s.ino = a.getIno();
  s.size = std::max(a.getSize(), io.uncommittedEnd(a.getIno()));
  s.mtime = FileTime{a.getMtime().getSec(), a.getMtime().getNsec()};
  s.chunkSize = a.getChunkSize();
  s.uid = a.getUid();
  s.mode = a.getMode();
  return s;
}

fuse_entry_param Filesystem::entryParam(rpc::Attr::Reader a) {
  rememberAttr(a);
  fuse_entry_param e = {};
  e.ino = a.getIno();
  e.generation = a.getGeneration();
  fillStat(a, &e.attr);
  e.attr_timeout = opts.attrTimeout;
  e.entry_timeout = opts.entryTimeout;
  return e;
}

void Filesystem::replyAttr(const Request& r, rpc::Attr::Reader a) {
  rememberAttr(a);
  struct stat st;
  fillStat(a, &st);
  inodes.noteAttr(snapshot(a));
  r.attr(st, opts.attrTimeout);
}

void Filesystem::replyEntry(const Request& r, rpc::Attr::Reader a) {
  fuse_entry_param e = entryParam(a);
  // Count first: the kernel may send forget for this entry as soon as it has it.
  inodes.addLookup(snapshot(a));
  if (!r.entry(e)) forgetLookups(e.ino, 1);
}

void Filesystem::forgetLookups(uint64_t ino, uint64_t n) {
  if (!inodes.forget(ino, n)) return;
  io.forgetInode(ino);
  attrs.drop(ino);
  names.forget(ino);
}

void Filesystem::invalidateAttrLater(uint64_t ino) {
  tasks_.add(kj::evalLater([this, ino]() {
    if (se_ == nullptr) return;
    int rc = fuse_lowlevel_notify_inval_inode(se_, ino, -1, 0);
    if (rc != 0 && rc != -ENOENT) log->debug("inval_inode {}: {}", ino, strerror(-rc));
  }));
}

namespace {
// FUSE_NOTIFY_INC_EPOCH (protocol 7.44, Linux 6.16): every cached dentry of the mount is
// revalidated before its next use. libfuse 3.14 has no call for it, so it is written by hand: a bare
// fuse_out_header whose error field carries the notify code. Returns 0 or -errno.
int incrementEpoch(fuse_session* se) {
  struct {
    uint32_t len;
    int32_t error;
    uint64_t unique;
  } header = {16, 8 /* FUSE_NOTIFY_INC_EPOCH */, 0};
  ssize_t n = ::write(fuse_session_fd(se), &header, sizeof header);
  return n == static_cast<ssize_t>(sizeof header) ? 0 : -errno;
}
}  // namespace

kj::Promise<void> Filesystem::invalidateCache(uint64_t ino) {
  attrs.drop(ino);
  if (se_ == nullptr) return kj::READY_NOW;
  fuse_session* se = se_;
  bool epoch = epochSupported_;
  return loop
      .offload<std::pair<int, int>>([se, ino, epoch]() {
        int data = fuse_lowlevel_notify_inval_inode(se, ino, 0, 0);
        return std::make_pair(data, epoch ? incrementEpoch(se) : 0);
      })
      .then([this, ino](std::pair<int, int> rc) {
        if (rc.first != 0 && rc.first != -ENOENT) log->debug("inval_inode {} (data): {}", ino, strerror(-rc.first));
        if (rc.second != 0 && epochSupported_) {
          epochSupported_ = false;
          log->warn("the kernel refused FUSE_NOTIFY_INC_EPOCH ({}): after a lock is granted, names cached from "
                    "before may stay stale for up to entry_timeout",
                    strerror(-rc.second));
        }
      });
}

void Filesystem::sessionOpened(rpc::Session::Client session, uint64_t id, bool reconnected) {
  // Lock delegations of an older session went with it at the server.
  delegations.useSession(id);
  watchCaches(kj::mv(session), reconnected);
}

void Filesystem::watchCaches(rpc::Session::Client session, bool reconnected) {
  auto req = session.watchRequest();
  req.setWatcher(kj::heap<CacheWatcherImpl>(*this));
  auto sent = req.send().then(
      [this](capnp::Response<rpc::Session::WatchResults>&& r) {
        if (r.getStatus().getCode() != 0) {
          log->warn("the metadata server refused this mount's cache watcher: {}; other clients' "
                    "changes show after attr_timeout/entry_timeout",
                    r.getStatus().getMessage().cStr());
        }
      },
      [this](kj::Exception&& e) { log->debug("watch: {}", e.getDescription().cStr()); });
  if (reconnected) {
    // Whatever changed while this mount was away was not pushed: forget it all (after the watcher
    // is registered, so nothing falls between the two).
    sent = sent.then([this]() { return dropAllCaches(); });
  }
  tasks_.add(kj::mv(sent));
}

kj::Promise<void> Filesystem::dropCaches(CacheDrop drop) {
  for (auto& [parent, name] : drop.entries) names.forget(parent);
  for (uint64_t ino : drop.inodes) names.forget(ino);  // its owner, mode or ACL may have changed
  for (uint64_t ino : drop.data) {
    io.fileChanged(ino);
    attrs.drop(ino);
  }
  for (uint64_t ino : drop.inodes) attrs.drop(ino);
  if (se_ == nullptr) return kj::READY_NOW;
  fuse_session* se = se_;
  auto shared = std::make_shared<CacheDrop>(std::move(drop));
  return loop
      .offload<int>([se, shared]() {
        int failures = 0;
        auto count = [&failures](int rc) {
          if (rc != 0 && rc != -ENOENT) ++failures;
        };
        for (uint64_t ino : shared->data) count(fuse_lowlevel_notify_inval_inode(se, ino, 0, 0));
        for (uint64_t ino : shared->inodes) count(fuse_lowlevel_notify_inval_inode(se, ino, -1, 0));
        for (auto& [parent, name] : shared->entries) {
          count(fuse_lowlevel_notify_inval_entry(se, parent, name.data(), name.size()));
        }
        return failures;
      })
      .then([this](int failures) {
        if (failures != 0) log->debug("{} cache invalidations failed", failures);
      });
}

kj::Promise<void> Filesystem::dropAllCaches() {
  CacheDrop drop;
  attrs.dropAll();
  names.forgetAll();
  drop.data = inodes.all();
  for (uint64_t ino : drop.data) io.fileChanged(ino);
  if (se_ == nullptr) return kj::READY_NOW;
  fuse_session* se = se_;
  bool epoch = epochSupported_;
  auto shared = std::make_shared<CacheDrop>(std::move(drop));
  log->info("dropping every cached attribute, page and name ({} inodes)", shared->data.size());
  return loop.offload<int>([se, shared, epoch]() {
    for (uint64_t ino : shared->data) fuse_lowlevel_notify_inval_inode(se, ino, 0, 0);
    return epoch ? incrementEpoch(se) : 0;
  }).ignoreResult();
}

Filesystem::Touch Filesystem::Touch::of(rpc::Command::Reader c) {
  auto str = [](capnp::Text::Reader t) { return std::string(t.cStr(), t.size()); };
  Touch t;
  t.kind = c.which();
  switch (t.kind) {
    case rpc::Command::CREATE:
      t.ino = c.getCreate().getParent();
      t.name = str(c.getCreate().getName());
      t.makesDir = S_ISDIR(c.getCreate().getMode());
      break;
    case rpc::Command::LINK:
      t.ino = c.getLink().getNewParent();
      t.name = str(c.getLink().getNewName());
      break;
    case rpc::Command::REMOVE:
      t.ino = c.getRemove().getParent();
      t.name = str(c.getRemove().getName());
      break;
    case rpc::Command::RENAME:
      t.ino = c.getRename().getParent();
      t.name = str(c.getRename().getName());
      t.toParent = c.getRename().getNewParent();
      t.toName = str(c.getRename().getNewName());
      t.exchange = (c.getRename().getFlags() & rpc::RENAME_FLAG_EXCHANGE) != 0;
      break;
    case rpc::Command::SET_ATTR:
      t.ino = c.getSetAttr().getIno();
      break;
    case rpc::Command::SET_XATTR:
      t.ino = c.getSetXattr().getIno();
      break;
    case rpc::Command::REMOVE_XATTR:
      t.ino = c.getRemoveXattr().getIno();
      break;
    default:
      break;
  }
  return t;
}

kj::Promise<capnp::Response<rpc::Session::MutateResults>> Filesystem::mutate(
    Request& r, std::string what, kj::Function<void(rpc::Command::Builder)> fill) {
  auto touch = std::make_shared<Touch>();
  auto wrapped = [fill = kj::mv(fill), touch](rpc::Command::Builder c) mutable {
    fill(c);
    *touch = Touch::of(c.asReader());
  };
  return meta.mutate(std::move(what), kj::addRef(r), r.cred(), kj::mv(wrapped))
      .then([this, touch](capnp::Response<rpc::Session::MutateResults>&& resp) {
        noteNames(*touch, resp.getReply());
        switch (touch->kind) {
          case rpc::Command::CREATE: {
            attrs.drop(touch->ino);
            auto reply = resp.getReply();
            // A new inode has no xattrs: the kernel's security.capability question before each
            // write is then answered here (attr_cache.h).
            if (reply.getStatus().getCode() == 0 && !reply.getExisted() && reply.hasAttr()) {
              attrs.putNoXattrs(reply.getAttr().getIno());
            }
            break;
          }
          case rpc::Command::SET_ATTR:
          case rpc::Command::SET_XATTR:
          case rpc::Command::REMOVE_XATTR: {
            // A setattr's reply brings the new attributes right after. A file known to have no
            // xattrs keeps none through a setattr (the kernel asks for security.capability
            // before each write: rsync writes after a chmod).
            bool none = touch->kind == rpc::Command::SET_ATTR && attrs.knownWithoutXattrs(touch->ino);
            attrs.drop(touch->ino);
            auto reply = resp.getReply();
            if (reply.getStatus().getCode() == 0 && reply.hasAttr() && reply.getAttr().getIno() == touch->ino) {
              if (none) attrs.putNoXattrs(touch->ino);
              names.attrsChanged(touch->ino, reply.getAttr().getUid(), reply.getAttr().getMode());
            } else {
              names.forget(touch->ino);  // the owner or mode of a directory known in full may have changed
            }
            break;
          }
          default:
            attrs.dropAll();  // link, unlink, rmdir, rename: link counts and times of others
            break;
        }
        return kj::mv(resp);
      }, [this, touch](kj::Exception&& e) -> capnp::Response<rpc::Session::MutateResults> {
        // Applied or not, nobody knows: ask the server next time.
        if (touch->changesAttrs()) {
          names.forget(touch->ino);
          attrs.drop(touch->ino);
        }
        kj::throwFatalException(kj::mv(e));
      });
}

void Filesystem::noteNames(const Touch& t, rpc::Reply::Reader reply) {
  bool ok = reply.getStatus().getCode() == 0;
  switch (t.kind) {
    case rpc::Command::CREATE:
    case rpc::Command::LINK:
      if (!ok) {
        names.forget(t.ino);  // EEXIST where it knew no such name, or whatever else: ask next time
        break;
      }
      if (t.makesDir && !reply.getExisted() && reply.hasAttr()) {
        auto a = reply.getAttr();
        names.madeEmpty(a.getIno(), a.getUid(), a.getMode());
      }
      names.added(t.ino, t.name);
      break;
    case rpc::Command::REMOVE:
      if (ok) {
        names.removed(t.ino, t.name);
      } else {
        names.forget(t.ino);
      }
      break;
    case rpc::Command::RENAME:
      if (!ok) {
        names.forget(t.ino);
        names.forget(t.toParent);
      } else if (!t.exchange) {  // an exchange leaves both names in place
        names.removed(t.ino, t.name);
        names.added(t.toParent, t.toName);
      }
      break;
    default:
      break;
  }
}

}  // namespace basalt::client
