// Open files: open/create hand out the server's handle as fi->fh; read/write go through FileIo;
// flush and release commit this client's writes (close-to-open); release drops the server handle.
#include <spdlog/fmt/fmt.h>

#include "fuse-client/fs.h"
#include "fuse-client/ops.h"

namespace basalt::client::ops {

namespace {

using MutateResponse = capnp::Response<rpc::Session::MutateResults>;

kj::Promise<void> releaseHandle(Filesystem& fs, uint64_t ino, uint64_t handle) {
  return fs.meta
      .call<rpc::Session::ReleaseResults>(fmt::format("release {} handle {}", ino, handle),
                                          kj::Own<Interruptible>(),
                                          [handle](rpc::Session::Client& s) {
                                            auto q = s.releaseRequest();
                                            q.setHandle(handle);
                                            return q.send();
                                          })
      .then([&fs, ino, handle](capnp::Response<rpc::Session::ReleaseResults>&& resp) {
        if (resp.getStatus().getCode() != 0) {
          fs.log->warn("release of inode {} handle {}: {}", ino, handle,
                       resp.getStatus().getMessage().cStr());
        }
      });
}

void openReply(Filesystem& fs, const Request& r, rpc::Attr::Reader attr, uint64_t handle, int flags,
               const fuse_entry_param* entry) {
  bool keep = fs.inodes.noteOpen(fs.snapshot(attr));
  if (!keep) fs.io.fileChanged(attr.getIno());
  if (flags & O_TRUNC) fs.io.noteTruncate(attr.getIno(), 0);
  fuse_file_info fi = {};
  fi.flags = flags;
  fi.fh = handle;
  fi.keep_cache = keep;
  bool delivered;
  if (entry != nullptr) {
    fs.inodes.addLookup(fs.snapshot(attr));
    delivered = r.create(*entry, fi);
    if (!delivered) fs.forgetLookups(attr.getIno(), 1);
  } else {
    delivered = r.open(fi);
  }
  if (!delivered) {
    // The kernel will never release this handle: do it now.
    uint64_t ino = attr.getIno();
    fs.inodes.noteRelease(ino);
    auto p = releaseHandle(fs, ino, handle).catch_([](kj::Exception&&) {});
    fs.track(const_cast<Request&>(r), kj::mv(p));
  }
}

}  // namespace

void open(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  auto& fs = Filesystem::of(req);
  auto r = fs.begin(req);
  int flags = fi->flags;
  uint64_t seq = fs.meta.allocateSeq();
  // A truncation must not be overtaken by this client's earlier writes still in flight.
  auto p = ((flags & O_TRUNC) ? fs.io.settle(ino) : kj::Promise<void>(kj::READY_NOW))
               .then([&fs, r = kj::addRef(*r), ino, flags, seq]() mutable {
                 return fs.meta.call<rpc::Session::OpenResults>(
                     fmt::format("open {}", ino), kj::addRef(*r),
                     [cred = r->cred(), ino, flags, seq](rpc::Session::Client& s) {
                       auto q = s.openRequest();
                       cred.toWire(q.initCred());
                       q.setIno(ino);
                       q.setFlags(static_cast<uint32_t>(flags));
                       q.setSeq(seq);
                       return q.send();
                     });
               })
               .then([&fs, r = kj::addRef(*r), ino, flags](capnp::Response<rpc::Session::OpenResults>&& resp) {
                 if (resp.getStatus().getCode() == ENOENT) {
                   // The kernel named an inode another client has removed since (its dentry is
                   // cached): ESTALE makes the VFS look the name up again and retry the open.
                   fs.log->debug("open {}: {}; answering ESTALE", ino, resp.getStatus().getMessage().cStr());
                   r->err(ESTALE);
                   return;
                 }
                 if (fs.replyIfError(*r, resp.getStatus())) return;
                 openReply(fs, *r, resp.getAttr(), resp.getHandle(), flags, nullptr);
               });
  fs.track(*r, kj::mv(p));
}

void create(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode, fuse_file_info* fi) {
  auto& fs = Filesystem::of(req);
  auto r = fs.begin(req);
  std::string n = name;
  int flags = fi->flags;
  // O_TRUNC without O_EXCL may truncate an existing file, whose writes may still be in flight.
  bool mayTruncate = (flags & O_TRUNC) && !(flags & O_EXCL);
  auto p = (mayTruncate ? fs.io.settle(0) : kj::Promise<void>(kj::READY_NOW))
               .then([&fs, r = kj::addRef(*r), parent, n, mode, flags]() mutable {
                 return fs.mutate(*r, fmt::format("create {}/{}", parent, n),
                     [parent, n, mode, flags](rpc::Command::Builder c) {
                       auto cr = c.initCreate();
                       cr.setParent(parent);
                       cr.setName(n);
                       cr.setMode(S_IFREG | (mode & 07777));
                       cr.setExclusive((flags & O_EXCL) != 0);
                       cr.setTruncate((flags & O_TRUNC) != 0);
                       cr.setOpen(true);
                       cr.setOpenFlags(static_cast<uint32_t>(flags));
                     });
               })
               .then([&fs, r = kj::addRef(*r), parent, flags](MutateResponse&& resp) {
                 auto reply = resp.getReply();
                 if (fs.replyIfError(*r, reply.getStatus())) return;
                 fuse_entry_param e = fs.entryParam(reply.getAttr());
                 openReply(fs, *r, reply.getAttr(), reply.getHandle(), flags, &e);
                 if (reply.getExisted()) return;
                 // Chunk 0, allocated with the create, whose primary already holds a lease. Cached
                 // after openReply: the first open of an inode drops its layouts (fileChanged),
                 // and no request of the kernel's can come in between (one loop thread).
                 if (resp.hasLayout() && resp.getLayout().getChunk().getId() != 0) {
                   Layout l = Layout::fromWire(resp.getLayout(), true, fs.loop.timer().now());
                   l.index = 0;
                   fs.io.layouts().put(reply.getAttr().getIno(), kj::mv(l));
                 }
                 fs.invalidateAttrLater(parent);
               });
  fs.track(*r, kj::mv(p));
}

void read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info*) {
  auto& fs = Filesystem::of(req);
  auto r = fs.begin(req, false);
  auto p = fs.io.read(ino, static_cast<uint64_t>(off), size, kj::addRef(*r))
               .then([r = kj::addRef(*r)](kj::Array<kj::byte>&& data) {
                 r->buf(reinterpret_cast<const char*>(data.begin()), data.size());
               });
  fs.track(*r, kj::mv(p));
}

void write(fuse_req_t req, fuse_ino_t ino, const char* buf, size_t size, off_t off,
           fuse_file_info* fi) {
  auto& fs = Filesystem::of(req);
  auto r = fs.begin(req, false);
  auto data = kj::heapArray<kj::byte>(reinterpret_cast<const kj::byte*>(buf), size);
  // Synchronous and direct writes wait for every replica; the others may go behind.
  bool behind = (fi->flags & (O_SYNC | O_DSYNC | O_DIRECT)) == 0;
  auto p = fs.io.write(ino, static_cast<uint64_t>(off), kj::mv(data), r->cred(), kj::addRef(*r), behind)
               .then([r = kj::addRef(*r)](size_t n) { r->write(n); });
  fs.track(*r, kj::mv(p));
}

void fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t offset, off_t length,
               fuse_file_info*) {
  auto& fs = Filesystem::of(req);
  auto r = fs.begin(req, false);
  if (offset < 0 || length <= 0) {
    r->err(EINVAL);
    return;
  }
  auto p = fs.io.fallocate(ino, mode, static_cast<uint64_t>(offset), static_cast<uint64_t>(length),
                           r->cred(), kj::addRef(*r))
               .then([r = kj::addRef(*r)]() { r->err(0); });
  fs.track(*r, kj::mv(p));
}

void flush(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  auto& fs = Filesystem::of(req);
  auto r = fs.begin(req, false);
  uint64_t owner = fi->lock_owner;
  // close(2) drops the process's POSIX locks on the file, after its writes are committed; a failed
  // commit still releases them.
  auto p = fs.io.flush(ino, r->cred(), kj::addRef(*r))
               .then([&fs, ino, owner]() { return releaseLocks(fs, ino, owner, false); },
                     [&fs, ino, owner](kj::Exception&& e) {
                       return releaseLocks(fs, ino, owner, false).then([e = kj::mv(e)]() mutable -> kj::Promise<void> {
                         return kj::mv(e);
                       });
                     })
               .then([r = kj::addRef(*r)]() { r->err(0); });
  fs.track(*r, kj::mv(p));
}

void fsync(fuse_req_t req, fuse_ino_t ino, int, fuse_file_info*) {
  auto& fs = Filesystem::of(req);
  auto r = fs.begin(req, false);
  auto p = fs.io.fsync(ino, r->cred(), kj::addRef(*r)).then([r = kj::addRef(*r)]() { r->err(0); });
  fs.track(*r, kj::mv(p));
}

void release(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  auto& fs = Filesystem::of(req);
  auto r = fs.begin(req, false);
  uint64_t handle = fi->fh;
  bool flockRelease = fi->flock_release;
  // The kernel ignores release errors; a failed commit is logged (flush already reported it).
  auto p = fs.io.flush(ino, r->cred(), kj::Own<Interruptible>())
               .catch_([&fs, ino](kj::Exception&& e) {
                 fs.log->warn("commit on release of inode {}: {}", ino, describeException(e));
               })
               .then([&fs, ino, handle, flockRelease]() {
                 // The last close of the open file description drops its flock lock.
                 return flockRelease ? releaseLocks(fs, ino, handle, true) : kj::Promise<void>(kj::READY_NOW);
               })
               .then([&fs, ino, handle]() { return releaseHandle(fs, ino, handle); })
               .catch_([&fs, ino](kj::Exception&& e) {
                 fs.log->warn("release of inode {}: {}", ino, describeException(e));
               })
               .then([&fs, r = kj::addRef(*r), ino]() {
                 fs.inodes.noteRelease(ino);
                 const InodeInfo* info = fs.inodes.find(ino);
                 if (info == nullptr || info->openHandles == 0) fs.locks.forget(ino);
                 r->err(0);
               });
  fs.track(*r, kj::mv(p));
}

}  // namespace basalt::client::ops
