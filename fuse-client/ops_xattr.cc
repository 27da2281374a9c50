// Extended attributes. A size-0 get/list asks for the size needed; a buffer too small is ERANGE.
#include <spdlog/fmt/fmt.h>

#include <optional>
#include <string>

#include "fuse-client/fs.h"
#include "fuse-client/ops.h"

namespace basalt::client::ops {

namespace {
using MutateResponse = capnp::Response<rpc::Session::MutateResults>;

void replyXattrValue(const Request& r, const void* data, size_t n, size_t size) {
  if (size == 0) {
    r.xattrSize(n);
  } else if (n > size) {
    r.err(ERANGE);
  } else {
    r.buf(static_cast<const char*>(data), n);
  }
}
}  // namespace

namespace {

kj::Promise<capnp::Response<rpc::Session::GetXattrResults>> fetchXattr(Filesystem& fs, Request& r,
                                                                      uint64_t ino, const std::string& n) {
  return fs.meta.call<rpc::Session::GetXattrResults>(
      fmt::format("getxattr {} {}", ino, n), kj::addRef(r), [cred = r.cred(), ino, n](rpc::Session::Client& s) {
        auto q = s.getXattrRequest();
        cred.toWire(q.initCred());
        q.setIno(ino);
        q.setName(n);
        return q.send();
      });
}

kj::Promise<void> storeXattr(Filesystem& fs, kj::Own<Request> r, uint64_t ino, std::string n, std::string v,
                             int flags) {
  return fs.mutate(*r, fmt::format("setxattr {} {}", ino, n),
                   [ino, n, v, flags](rpc::Command::Builder c) {
                     auto x = c.initSetXattr();
                     x.setIno(ino);
                     x.setName(n);
                     x.setValue(kj::arrayPtr(reinterpret_cast<const kj::byte*>(v.data()), v.size()));
                     x.setFlags(static_cast<uint32_t>(flags));
                   })
      .then([&fs, r = kj::mv(r), ino, n](MutateResponse&& resp) {
        auto reply = resp.getReply();
        if (fs.replyIfError(*r, reply.getStatus())) return;
        r->err(0);
        if (n == "system.posix_acl_access") {
          // The server set the mode from the ACL (as Linux does): the kernel's copy is stale.
          if (reply.hasAttr() && reply.getAttr().getIno() != 0) fs.inodes.noteAttr(fs.snapshot(reply.getAttr()));
          fs.invalidateAttrLater(ino);
        }
      });
}

}  // namespace

void setxattr(fuse_req_t req, fuse_ino_t ino, const char* name, const char* value, size_t size,
              int flags) {
  auto& fs = Filesystem::of(req);
  auto r = fs.begin(req);
  std::string n = name;
  std::string v(value, size);
  // An access ACL also sets the mode, and one that says no more than the mode is not stored: the
  // metadata server applies Linux's rules (meta/acl.h).
  fs.track(*r, storeXattr(fs, kj::addRef(*r), ino, n, v, flags));
}

void getxattr(fuse_req_t req, fuse_ino_t ino, const char* name, size_t size) {
  auto& fs = Filesystem::of(req);
  auto r = fs.begin(req);
  std::string n = name;
  if (const std::optional<std::string>* cached = fs.attrs.getXattr(ino, n)) {
    if (!*cached) {
      r->err(ENODATA);
    } else {
      replyXattrValue(*r, (*cached)->data(), (*cached)->size(), size);
    }
    return;
  }
  uint64_t epoch = fs.attrs.epoch();
  auto p = fetchXattr(fs, *r, ino, n)
               .then([&fs, r = kj::addRef(*r), size, ino, n, epoch](
                         capnp::Response<rpc::Session::GetXattrResults>&& resp) {
                 int code = resp.getStatus().getCode();
                 auto v = resp.getValue();
                 if (code == 0) {
                   fs.attrs.putXattr(ino, n, std::string(v.asChars().begin(), v.size()), epoch);
                 } else if (code == ENODATA) {
                   fs.attrs.putXattr(ino, n, std::nullopt, epoch);
                 }
                 if (fs.replyIfError(*r, resp.getStatus())) return;
                 replyXattrValue(*r, v.begin(), v.size(), size);
               });
  fs.track(*r, kj::mv(p));
}

void listxattr(fuse_req_t req, fuse_ino_t ino, size_t size) {
  auto& fs = Filesystem::of(req);
  auto r = fs.begin(req);
  auto p = fs.meta
               .call<rpc::Session::ListXattrResults>(fmt::format("listxattr {}", ino),
                                                     kj::addRef(*r),
                                                     [cred = r->cred(), ino](rpc::Session::Client& s) {
                                                       auto q = s.listXattrRequest();
                                                       cred.toWire(q.initCred());
                                                       q.setIno(ino);
                                                       return q.send();
                                                     })
               .then([&fs, r = kj::addRef(*r), size](
                         capnp::Response<rpc::Session::ListXattrResults>&& resp) {
                 if (fs.replyIfError(*r, resp.getStatus())) return;
                 std::string joined;
                 for (auto name : resp.getNames()) {
                   joined.append(name.cStr(), name.size());
                   joined.push_back('\0');
                 }
                 replyXattrValue(*r, joined.data(), joined.size(), size);
               });
  fs.track(*r, kj::mv(p));
}

void removexattr(fuse_req_t req, fuse_ino_t ino, const char* name) {
  auto& fs = Filesystem::of(req);
  auto r = fs.begin(req);
  std::string n = name;
  auto p = fs.mutate(*r, fmt::format("removexattr {} {}", ino, n),
                     [ino, n](rpc::Command::Builder c) {
                       auto x = c.initRemoveXattr();
                       x.setIno(ino);
                       x.setName(n);
                     })
               .then([&fs, r = kj::addRef(*r)](MutateResponse&& resp) {
                 if (fs.replyIfError(*r, resp.getReply().getStatus())) return;
                 r->err(0);
               });
  fs.track(*r, kj::mv(p));
}

}  // namespace basalt::client::ops
