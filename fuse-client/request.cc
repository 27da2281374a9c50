#include "fuse-client/request.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <string>
#include <string_view>

namespace basalt::client {

void Credentials::toWire(rpc::Credentials::Builder out) const {
  out.setUid(uid);
  out.setGid(gid);
  out.setPid(pid);
  out.setUmask(umask);
  auto g = out.initGroups(static_cast<unsigned>(groups.size()));
  for (unsigned i = 0; i < groups.size(); ++i) g.set(i, groups[i]);
}

std::vector<uint32_t> parseStatusGroups(std::string_view status) {
  std::vector<uint32_t> groups;
  size_t at = status.find("\nGroups:");
  if (at == std::string_view::npos) return groups;
  size_t end = status.find('\n', at + 1);
  std::string line(status.substr(at + 8, end == std::string_view::npos ? std::string_view::npos : end - at - 8));
  const char* p = line.c_str();
  for (;;) {
    char* next = nullptr;
    unsigned long g = strtoul(p, &next, 10);
    if (next == p) break;
    groups.push_back(static_cast<uint32_t>(g));
    p = next;
  }
  return groups;
}

std::vector<uint32_t> callerGroups(uint32_t tid) {
  // libfuse's fuse_req_getgroups opens and reads the file twice per call (a 1 KiB buffer first;
  // the file is larger). One open and reads of 4 KiB until the "Groups:" line is whole.
  std::string path = "/proc/" + std::to_string(tid) + "/task/" + std::to_string(tid) + "/status";
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return {};
  std::string text;
  char buf[4096];
  for (ssize_t n; (n = ::read(fd, buf, sizeof(buf))) > 0;) {
    text.append(buf, static_cast<size_t>(n));
    size_t at = text.find("\nGroups:");
    if (at != std::string::npos && text.find('\n', at + 1) != std::string::npos) break;
  }
  ::close(fd);
  return parseStatusGroups(text);
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
    : req_(req), groupsPending_(withGroups), interruptPromise_(nullptr) {
  auto pair = makeInterruptPair();
  interruptFulfiller_ = kj::mv(pair.fulfiller);
  interruptPromise_ = kj::mv(pair.promise);
  const fuse_ctx* ctx = fuse_req_ctx(req);
  cred_.uid = ctx->uid;
  cred_.gid = ctx->gid;
  cred_.pid = static_cast<uint32_t>(ctx->pid);
  cred_.umask = ctx->umask;
  // May call onInterrupt at once when the interrupt arrived before this request was handled.
  fuse_req_interrupt_func(req, &Request::onInterrupt, this);
}

const Credentials& Request::cred() const {
  if (groupsPending_) {
    groupsPending_ = false;
    // The caller is blocked in its system call until the reply, so its /proc entry is still there.
    // Root's groups never matter to the metadata server (every group check comes after a root
    // check), so root's calls skip the /proc read.
    if (!replied_ && cred_.uid != 0) cred_.groups = callerGroups(cred_.pid);
  }
  return cred_;
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
