#include "fuse-client/request.h"

#include <cerrno>

namespace basalt::client {

void Credentials::toWire(rpc::Credentials::Builder out) const {
  out.setUid(uid);
  out.setGid(gid);
  out.setPid(pid);
  out.setUmask(umask);
  auto g = out.initGroups(static_cast<unsigned>(groups.size()));
  for (unsigned i = 0; i < groups.size(); ++i) g.set(i, groups[i]);
}

namespace {
struct InterruptPair {
  kj::Own<kj::PromiseFulfiller<void>> fulfiller;
  kj::ForkedPromise<void> promise;
};
InterruptPair makeInterruptPair() {
  auto paf = kj::newPromiseAndFulfiller<void>();
  return InterruptPair{kj::mv(paf.fulfiller), paf.promise.fork()};
}
}  // namespace

Request::Request(fuse_req_t req, bool withGroups)
    : req_(req), interruptPromise_(nullptr) {
  auto pair = makeInterruptPair();
  interruptFulfiller_ = kj::mv(pair.fulfiller);
  interruptPromise_ = kj::mv(pair.promise);
  const fuse_ctx* ctx = fuse_req_ctx(req);
  cred_.uid = ctx->uid;
  cred_.gid = ctx->gid;
  cred_.pid = static_cast<uint32_t>(ctx->pid);
  cred_.umask = ctx->umask;
  if (withGroups) {
    gid_t list[64];
    int n = fuse_req_getgroups(req, 64, list);
    std::vector<gid_t> big;
    gid_t* src = list;
    if (n > 64) {
      big.resize(static_cast<size_t>(n));
      n = fuse_req_getgroups(req, n, big.data());
      src = big.data();
    }
    for (int i = 0; i < n && i >= 0; ++i) cred_.groups.push_back(src[i]);
  }
  // May call onInterrupt at once when the interrupt arrived before this request was handled.
  fuse_req_interrupt_func(req, &Request::onInterrupt, this);
}

Request::~Request() {
  if (!replied_) {
    replied_ = true;
    fuse_reply_err(req_, EIO);
  }
}

void Request::onInterrupt(fuse_req_t, void* self) {
  auto* r = static_cast<Request*>(self);
  r->interrupted_ = true;
  if (r->interruptFulfiller_->isWaiting()) r->interruptFulfiller_->fulfill();
}

kj::Promise<void> Request::whenInterrupted() { return interruptPromise_.addBranch(); }

bool Request::claim() const {
  if (replied_) return false;
  replied_ = true;
  return true;
}

bool Request::err(int errnum) const { return claim() && fuse_reply_err(req_, errnum) == 0; }
bool Request::entry(const fuse_entry_param& e) const { return claim() && fuse_reply_entry(req_, &e) == 0; }
bool Request::create(const fuse_entry_param& e, const fuse_file_info& fi) const {
  return claim() && fuse_reply_create(req_, &e, &fi) == 0;
}
bool Request::attr(const struct stat& st, double timeout) const {
  return claim() && fuse_reply_attr(req_, &st, timeout) == 0;
}
bool Request::open(const fuse_file_info& fi) const { return claim() && fuse_reply_open(req_, &fi) == 0; }
bool Request::buf(const char* data, size_t size) const {
  return claim() && fuse_reply_buf(req_, data, size) == 0;
}
bool Request::write(size_t count) const { return claim() && fuse_reply_write(req_, count) == 0; }
bool Request::readlink(const std::string& target) const {
  return claim() && fuse_reply_readlink(req_, target.c_str()) == 0;
}
bool Request::statfs(const struct statvfs& st) const { return claim() && fuse_reply_statfs(req_, &st) == 0; }
bool Request::xattrSize(size_t size) const { return claim() && fuse_reply_xattr(req_, size) == 0; }
bool Request::lock(const struct flock& l) const { return claim() && fuse_reply_lock(req_, &l) == 0; }
void Request::none() const {
  if (claim()) fuse_reply_none(req_);
}

}  // namespace basalt::client
