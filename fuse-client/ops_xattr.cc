// Extended attributes. A size-0 get/list asks for the size needed; a buffer too small is ERANGE.
#include <spdlog/fmt/fmt.h>

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

void setxattr(fuse_req_t req, fuse_ino_t ino, const char* name, const char* value, size_t size,
              int flags) {
  auto& fs = Filesystem::of(req);
  auto r = fs.begin(req);
  std::string n = name;
  std::string v(value, size);
  auto p = fs.mutate(*r, fmt::format("setxattr {} {}", ino, n),
                     [ino, n, v, flags](rpc::Command::Builder c) {
                       auto x = c.initSetXattr();
                       x.setIno(ino);
                       x.setName(n);
                       x.setValue(kj::arrayPtr(reinterpret_cast<const kj::byte*>(v.data()), v.size()));
                       x.setFlags(static_cast<uint32_t>(flags));
                     })
               .then([&fs, r = kj::addRef(*r)](MutateResponse&& resp) {
                 if (fs.replyIfError(*r, resp.getReply().getStatus())) return;
                 r->err(0);
               });
  fs.track(*r, kj::mv(p));
}

void getxattr(fuse_req_t req, fuse_ino_t ino, const char* name, size_t size) {
  auto& fs = Filesystem::of(req);
  auto r = fs.begin(req);
  std::string n = name;
  auto p = fs.meta
               .call<rpc::Session::GetXattrResults>(
                   fmt::format("getxattr {} {}", ino, n), kj::addRef(*r),
                   [cred = r->cred(), ino, n](rpc::Session::Client& s) {
                     auto q = s.getXattrRequest();
                     cred.toWire(q.initCred());
                     q.setIno(ino);
                     q.setName(n);
                     return q.send();
                   })
               .then([&fs, r = kj::addRef(*r), size](
                         capnp::Response<rpc::Session::GetXattrResults>&& resp) {
                 if (fs.replyIfError(*r, resp.getStatus())) return;
                 auto v = resp.getValue();
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
