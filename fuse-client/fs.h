// The state every FUSE handler shares: the metadata session, the file data path, the inode table,
// the options, and the plumbing that makes "send an RPC, return, reply when it completes" safe.
//
// Handlers (ops_*.cc) are free functions in the libfuse table; they find this object through
// fuse_req_userdata. Each builds a Request, chains its RPC and hands the chain to track(), which
// turns any failure into exactly one error reply.
// Thread-safety: loop thread only (libfuse runs the handlers on the loop, see fuse_channel.h).
#pragma once

#include <fuse3/fuse_lowlevel.h>
#include <kj/async.h>

#include <string>
#include <utility>
#include <vector>

#include "fuse-client/attr_cache.h"
#include "fuse-client/dir_names.h"
#include "fuse-client/file_io.h"
#include "fuse-client/inode_table.h"
#include "fuse-client/lock_delegations.h"
#include "fuse-client/lock_tracker.h"
#include "fuse-client/meta_session.h"
#include "fuse-client/mount_options.h"
#include "fuse-client/request.h"
#include "rpc-schema/meta.capnp.h"
#include "server/event_loop.h"
#include "server/log.h"

namespace basalt::client {

// What another client changed (CacheWatcher.invalidate): attributes, contents, names.
struct CacheDrop {
  std::vector<uint64_t> inodes, data;
  std::vector<std::pair<uint64_t, std::string>> entries;
};

class Filesystem final : public kj::TaskSet::ErrorHandler {
 public:
  Filesystem(EventLoop& loop, const MountOptions& opts, MetaSession& meta, InodeTable& inodes,
             FileIo& io, Logger log);
  KJ_DISALLOW_COPY(Filesystem);

  static Filesystem& of(fuse_req_t req) {
    return *static_cast<Filesystem*>(fuse_req_userdata(req));
  }
  // The session the notifications go to (set once mounted).
  void attach(fuse_session* se) { se_ = se; }

  // A Request for `req`; supplementary groups are read only when the server checks permissions.
  kj::Own<Request> begin(fuse_req_t req, bool withGroups = true);

  // Runs a handler's continuation. When it fails, the request gets the exception's errno (unless
  // it was answered already). `p` should keep a reference to `r` until it replies.
  void track(Request& r, kj::Promise<void> p);

  // Replies the errno of a failed wire status; returns true when it did (the caller stops).
  bool replyIfError(const Request& r, rpc::Status::Reader status);

  // stat(2) attributes for the kernel: size includes this client's uncommitted writes.
  void fillStat(rpc::Attr::Reader a, struct stat* st) const;
  // Keeps the server's attributes for getattr (attr_cache.h); every reply's attributes that reach
  // the kernel (entryParam, replyAttr) and every size commit's pass through here.
  void rememberAttr(rpc::Attr::Reader a);
  // getattr from what the server last said, without a round trip: true when answered.
  bool replyCachedAttr(const Request& r, uint64_t ino);
  AttrSnapshot snapshot(rpc::Attr::Reader a) const;
  fuse_entry_param entryParam(rpc::Attr::Reader a);  // also remembers the attributes

  // getattr/setattr reply with fresh attributes (also recorded in the inode table).
  void replyAttr(const Request& r, rpc::Attr::Reader a);
  // An entry reply that counts one lookup, only if the kernel accepted it.
  void replyEntry(const Request& r, rpc::Attr::Reader a);
  // The kernel dropped `n` lookups of `ino` (forget, or an entry reply it did not take): when none
  // is left, everything cached of the inode goes (layouts, attributes, the names of a directory).
  void forgetLookups(uint64_t ino, uint64_t n);

  // Posts an attribute invalidation of `ino` to run later on the loop (never from inside a
  // handler: libfuse forbids notifying from a related request).
  void invalidateAttrLater(uint64_t ino);
  // Drops the kernel's cached pages and attributes of `ino`, and makes it revalidate every cached
  // name of the mount (the epoch), and resolves when done: after a lock is granted, another client
  // may have changed the file, or created, removed or renamed names (sqlite's journal), while it
  // held the lock. Runs on a worker thread: the kernel may wait for a page that a READ this loop
  // must answer.
  kj::Promise<void> invalidateCache(uint64_t ino);

  // Every new (or resumed) session `id`: drops the lock delegations of an older one, then
  // registers this mount's cache watcher with it; after a reconnect also drops every cache, since
  // changes made meanwhile were not pushed.
  void sessionOpened(rpc::Session::Client session, uint64_t id, bool reconnected);
  void watchCaches(rpc::Session::Client session, bool reconnected);
  // Drops what another client changed from the kernel's caches and ours; resolves when done. Runs
  // the notifications on a worker thread (see invalidateCache).
  kj::Promise<void> dropCaches(CacheDrop drop);
  // Drops the kernel's attributes and pages of every inode it knows, and every cached name.
  kj::Promise<void> dropAllCaches();

  // Mutation helpers: `what` names the call in logs.
  kj::Promise<capnp::Response<rpc::Session::MutateResults>> mutate(
      Request& r, std::string what, kj::Function<void(rpc::Command::Builder)> fill);

  EventLoop& loop;
  const MountOptions& opts;
  MetaSession& meta;
  InodeTable& inodes;
  FileIo& io;
  Logger log;
  LockTracker locks;
  LockDelegations delegations;
  AttrCache attrs;
  DirNames names;  // directories known in full: lookups of absent names answered here

 private:
  // What one of this client's commands touches, as far as its caches go (attrs, names).
  struct Touch {
    rpc::Command::Which kind = rpc::Command::NOOP;
    uint64_t ino = 0;       // the directory of a create, link or remove (a rename's source); the
                            // inode of a setattr or xattr change
    std::string name;       // the name in `ino` (create, link, remove, a rename's source)
    uint64_t toParent = 0;  // a rename's target directory and name
    std::string toName;
    bool makesDir = false;  // a create of a directory
    bool exchange = false;  // a rename with RENAME_EXCHANGE
    static Touch of(rpc::Command::Reader c);
    // A setattr or an xattr change of `ino`.
    bool changesAttrs() const {
      return kind == rpc::Command::SET_ATTR || kind == rpc::Command::SET_XATTR ||
             kind == rpc::Command::REMOVE_XATTR;
    }
  };
  // Keeps `names` in step with one of this client's namespace commands and the server's answer.
  void noteNames(const Touch& t, rpc::Reply::Reader reply);
  void taskFailed(kj::Exception&& e) override;
  kj::Promise<void> sweepLockDelegations();
  fuse_session* se_ = nullptr;
  bool epochSupported_ = true;  // until the kernel refuses FUSE_NOTIFY_INC_EPOCH
  kj::TaskSet tasks_;
};

}  // namespace basalt::client
