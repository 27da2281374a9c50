// Names and attributes: lookup/forget, getattr/setattr, the entry-creating calls, remove, rename,
// readlink, statfs, access.
#include <spdlog/fmt/fmt.h>
#include <sys/statvfs.h>

#include "fuse-client/fs.h"
#include "fuse-client/ops.h"
#include "fuse-client/setattr.h"

namespace basalt::client::ops {

namespace {

using MutateResponse = capnp::Response<rpc::Session::MutateResults>;

// mknod, mkdir, symlink, link: a mutation whose reply attrs become an entry reply.
void entryMutation(fuse_req_t req, uint64_t parent, std::string what,
                   kj::Function<void(rpc::Command::Builder)> fill) {
  auto& fs = Filesystem::of(req);
  auto r = fs.begin(req);
  auto p = fs.mutate(*r, std::move(what), kj::mv(fill))
               .then([&fs, r = kj::addRef(*r), parent](MutateResponse&& resp) {
                 auto reply = resp.getReply();
                 if (fs.replyIfError(*r, reply.getStatus())) return;
                 fs.replyEntry(*r, reply.getAttr());
                 fs.invalidateAttrLater(parent);
               });
  fs.track(*r, kj::mv(p));
}

void createNode(fuse_req_t req, fuse_ino_t parent, const char* name, uint32_t mode, uint64_t rdev,
                const char* target, const char* opName) {
  std::string n = name;
  std::string t = target ? target : "";
  entryMutation(req, parent, fmt::format("{} {}/{}", opName, parent, n),
                [parent, n, t, mode, rdev](rpc::Command::Builder c) {
                  auto cr = c.initCreate();
                  cr.setParent(parent);
                  cr.setName(n);
                  cr.setMode(mode);
                  cr.setRdev(rdev);
                  cr.setTarget(t);
                  cr.setExclusive(true);
                });
}

// unlink, rmdir, rename: a mutation answered with 0; `parents` get their attrs invalidated.
void plainMutation(fuse_req_t req, std::string what, std::vector<uint64_t> parents,
                   kj::Function<void(rpc::Command::Builder)> fill) {
  auto& fs = Filesystem::of(req);
  auto r = fs.begin(req);
  auto p = fs.mutate(*r, std::move(what), kj::mv(fill))
               .then([&fs, r = kj::addRef(*r), parents](MutateResponse&& resp) {
                 auto reply = resp.getReply();
                 if (fs.replyIfError(*r, reply.getStatus())) return;
                 if (reply.hasAttr() && reply.getAttr().getIno() != 0) {
                   fs.inodes.noteAttr(fs.snapshot(reply.getAttr()));
                 }
                 r->err(0);
                 for (uint64_t p : parents) fs.invalidateAttrLater(p);
               });
  fs.track(*r, kj::mv(p));
}

// A negative entry: the kernel remembers that the name does not exist (cp, git and rsync ask
// before every create). Another client's create of it is pushed (docs/client.md, "Caches"); this
// client's own creates replace it.
void replyAbsent(Filesystem& fs, const Request& r) {
  fuse_entry_param e = {};
  e.ino = 0;
  e.entry_timeout = fs.opts.entryTimeout;
  r.entry(e);
}
}  // namespace

void lookup(fuse_req_t req, fuse_ino_t parent, const char* name) {
  auto& fs = Filesystem::of(req);
  std::string n = name;
  if (fs.meta.isConnected() && fs.names.knownAbsent(parent, n, fuse_req_ctx(req)->uid)) {
    // A directory this client knows in full (dir_names.h): no round trip. Not while the session
    // is down: nothing would be pushed, and the next lookup must not be answered here forever.
    auto r = fs.begin(req, false);
    return replyAbsent(fs, *r);
  }
  auto r = fs.begin(req);
  auto p = fs.meta
               .call<rpc::Session::LookupResults>(
                   fmt::format("lookup {}/{}", parent, n), kj::addRef(*r),
                   [cred = r->cred(), parent, n](rpc::Session::Client& s) {
                     auto q = s.lookupRequest();
                     cred.toWire(q.initCred());
                     q.setParent(parent);
                     q.setName(n);
                     return q.send();
                   })
               .then([&fs, r = kj::addRef(*r)](capnp::Response<rpc::Session::LookupResults>&& resp) {
                 if (resp.getStatus().getCode() == ENOENT) return replyAbsent(fs, *r);
                 if (fs.replyIfError(*r, resp.getStatus())) return;
                 fs.replyEntry(*r, resp.getAttr());
               });
  fs.track(*r, kj::mv(p));
}

void forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup) {
  auto& fs = Filesystem::of(req);
  fs.forgetLookups(ino, nlookup);
  fuse_reply_none(req);
}

void forgetMulti(fuse_req_t req, size_t count, fuse_forget_data* forgets) {
  auto& fs = Filesystem::of(req);
  for (size_t i = 0; i < count; ++i) {
    fs.forgetLookups(forgets[i].ino, forgets[i].nlookup);
  }
  fuse_reply_none(req);
}

void getattr(fuse_req_t req, fuse_ino_t ino, fuse_file_info*) {
  auto& fs = Filesystem::of(req);
  auto r = fs.begin(req, false);
  if (fs.replyCachedAttr(*r, ino)) return;
  auto p = fs.meta
               .call<rpc::Session::GetAttrResults>(fmt::format("getattr {}", ino), kj::addRef(*r),
                                                   [ino](rpc::Session::Client& s) {
                                                     auto q = s.getAttrRequest();
                                                     q.setIno(ino);
                                                     return q.send();
                                                   })
               .then([&fs, r = kj::addRef(*r)](capnp::Response<rpc::Session::GetAttrResults>&& resp) {
                 if (fs.replyIfError(*r, resp.getStatus())) return;
                 fs.replyAttr(*r, resp.getAttr());
               });
  fs.track(*r, kj::mv(p));
}

void setattr(fuse_req_t req, fuse_ino_t ino, struct stat* attr, int toSet, fuse_file_info* fi) {
  auto& fs = Filesystem::of(req);
  auto r = fs.begin(req);
  SetAttrSpec spec = translateSetAttr(*attr, toSet, fi);
  auto send = [&fs, r = kj::addRef(*r), ino, spec](std::optional<FileIo::WriteCommit> commit) {
    return fs.mutate(const_cast<Request&>(*r), fmt::format("setattr {}", ino), [ino, spec, commit](rpc::Command::Builder c) {
      auto s = c.initSetAttr();
      fillSetAttr(spec, ino, s);
      if (commit) {
        s.setValid(s.getValid() | rpc::SET_COMMIT_WRITE);
        s.setCommitSize(commit->size);
        s.setCommitKillSuidGid(commit->killSuidGid);
      }
    });
  };
  // A truncate must not be overtaken by an older uncommitted write extending the file again, and
  // explicit times must not be overwritten by the commit of writes made before them (cp -a writes,
  // sets the source's mtime with futimens, then closes: the close's commit moved mtime to "now").
  // So these come after this client's writes, with their size commit folded in (one commit).
  kj::Promise<MutateResponse> sent = nullptr;
  if (spec.valid & (rpc::SET_SIZE | rpc::SET_MTIME | rpc::SET_MTIME_NOW | rpc::SET_ATIME)) {
    sent = fs.io.afterWrites(ino, r->cred(), kj::mv(send));
  } else {
    sent = send(std::nullopt);
  }
  auto p = sent.then([&fs, r = kj::addRef(*r), ino, spec](MutateResponse&& resp) {
                 auto reply = resp.getReply();
                 if (fs.replyIfError(*r, reply.getStatus())) return;
                 if (spec.valid & rpc::SET_SIZE) fs.io.noteTruncate(ino, spec.size);
                 fs.replyAttr(*r, reply.getAttr());
               });
  fs.track(*r, kj::mv(p));
}

void readlink(fuse_req_t req, fuse_ino_t ino) {
  auto& fs = Filesystem::of(req);
  auto r = fs.begin(req, false);
  auto p = fs.meta
               .call<rpc::Session::ReadLinkResults>(fmt::format("readlink {}", ino), kj::addRef(*r),
                                                    [ino](rpc::Session::Client& s) {
                                                      auto q = s.readLinkRequest();
                                                      q.setIno(ino);
                                                      return q.send();
                                                    })
               .then([&fs, r = kj::addRef(*r)](capnp::Response<rpc::Session::ReadLinkResults>&& resp) {
                 if (fs.replyIfError(*r, resp.getStatus())) return;
                 r->readlink(resp.getTarget().cStr());
               });
  fs.track(*r, kj::mv(p));
}

void mknod(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode, dev_t rdev) {
  createNode(req, parent, name, mode, rdev, nullptr, "mknod");
}

void mkdir(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode) {
  createNode(req, parent, name, S_IFDIR | (mode & 07777), 0, nullptr, "mkdir");
}

void symlink(fuse_req_t req, const char* link, fuse_ino_t parent, const char* name) {
  createNode(req, parent, name, S_IFLNK | 0777, 0, link, "symlink");
}

void link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char* newname) {
  std::string n = newname;
  entryMutation(req, newparent, fmt::format("link {} -> {}/{}", ino, newparent, n),
                [ino, newparent, n](rpc::Command::Builder c) {
                  auto l = c.initLink();
                  l.setIno(ino);
                  l.setNewParent(newparent);
                  l.setNewName(n);
                });
}

void unlink(fuse_req_t req, fuse_ino_t parent, const char* name) {
  std::string n = name;
  plainMutation(req, fmt::format("unlink {}/{}", parent, n), {parent},
                [parent, n](rpc::Command::Builder c) {
                  auto rm = c.initRemove();
                  rm.setParent(parent);
                  rm.setName(n);
                  rm.setDirectory(false);
                });
}

void rmdir(fuse_req_t req, fuse_ino_t parent, const char* name) {
  std::string n = name;
  plainMutation(req, fmt::format("rmdir {}/{}", parent, n), {parent},
                [parent, n](rpc::Command::Builder c) {
                  auto rm = c.initRemove();
                  rm.setParent(parent);
                  rm.setName(n);
                  rm.setDirectory(true);
                });
}

void rename(fuse_req_t req, fuse_ino_t parent, const char* name, fuse_ino_t newparent,
            const char* newname, unsigned int flags) {
  // renameat2: only NOREPLACE and EXCHANGE, and not both (RENAME_WHITEOUT is for overlayfs).
  const unsigned known = rpc::RENAME_FLAG_NO_REPLACE | rpc::RENAME_FLAG_EXCHANGE;
  if ((flags & ~known) != 0 || flags == known) {
    fuse_reply_err(req, EINVAL);
    return;
  }
  std::string n = name, nn = newname;
  std::vector<uint64_t> parents = {parent};
  if (newparent != parent) parents.push_back(newparent);
  plainMutation(req, fmt::format("rename {}/{} -> {}/{}", parent, n, newparent, nn), parents,
                [parent, n, newparent, nn, flags](rpc::Command::Builder c) {
                  auto rn = c.initRename();
                  rn.setParent(parent);
                  rn.setName(n);
                  rn.setNewParent(newparent);
                  rn.setNewName(nn);
                  rn.setFlags(flags);
                });
}

void statfs(fuse_req_t req, fuse_ino_t) {
  auto& fs = Filesystem::of(req);
  auto r = fs.begin(req, false);
  auto p = fs.meta
               .call<rpc::Session::StatFsResults>("statfs", kj::addRef(*r),
                                                  [](rpc::Session::Client& s) {
                                                    return s.statFsRequest().send();
                                                  })
               .then([&fs, r = kj::addRef(*r)](capnp::Response<rpc::Session::StatFsResults>&& resp) {
                 if (fs.replyIfError(*r, resp.getStatus())) return;
                 auto s = resp.getStat();
                 struct statvfs st = {};
                 st.f_bsize = s.getBlockSize();
                 st.f_frsize = s.getBlockSize();
                 st.f_blocks = s.getBlocks();
                 st.f_bfree = s.getBlocksFree();
                 st.f_bavail = s.getBlocksAvail();
                 st.f_files = s.getFiles();
                 st.f_ffree = s.getFilesFree();
                 st.f_favail = s.getFilesFree();
                 st.f_namemax = s.getNameMax();
                 r->statfs(st);
               });
  fs.track(*r, kj::mv(p));
}

void access(fuse_req_t req, fuse_ino_t ino, int mask) {
  auto& fs = Filesystem::of(req);
  auto r = fs.begin(req);
  auto p = fs.meta
               .call<rpc::Session::AccessResults>(
                   fmt::format("access {}", ino), kj::addRef(*r),
                   [cred = r->cred(), ino, mask](rpc::Session::Client& s) {
                     auto q = s.accessRequest();
                     cred.toWire(q.initCred());
                     q.setIno(ino);
                     q.setMask(static_cast<uint32_t>(mask));
                     return q.send();
                   })
               .then([&fs, r = kj::addRef(*r)](capnp::Response<rpc::Session::AccessResults>&& resp) {
                 if (fs.replyIfError(*r, resp.getStatus())) return;
                 r->err(0);
               });
  fs.track(*r, kj::mv(p));
}

}  // namespace basalt::client::ops
