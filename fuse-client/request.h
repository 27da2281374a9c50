// One FUSE request in flight: the fuse_req_t, the caller's credentials, exactly-once replies and
// FUSE_INTERRUPT.
//
// A handler makes a Request, starts its RPC and returns; the continuation replies through the
// Request. Every reply helper marks it replied; a second reply is dropped (and logged by nobody:
// it happens legitimately after an interrupt already answered EINTR). A Request destroyed without a
// reply answers EIO, so no kernel request is ever left hanging.
//
// Interrupts: the kernel sends FUSE_INTERRUPT for any signal, and most calls finish quickly, so a
// request is not failed at once; code that may wait long (retrying an unreachable server) asks
// interrupted() before waiting and races its wait against whenInterrupted(), then fails with EINTR.
// libfuse calls the interrupt callback from inside fuse_session_process_buf, so it only records the
// fact and fulfils a promise; replies happen later on the loop.
// Thread-safety: loop thread only.
#pragma once

#include <fuse3/fuse_lowlevel.h>
#include <kj/async.h>
#include <kj/refcount.h>

#include <string>
#include <string_view>
#include <vector>

#include "rpc-schema/common.capnp.h"

namespace basalt::client {

// Something whose long waits can be cut short (a FUSE request; the heartbeat is not).
class Interruptible : public kj::Refcounted {
 public:
  virtual ~Interruptible() = default;
  virtual bool interrupted() const = 0;
  virtual kj::Promise<void> whenInterrupted() = 0;
};

struct Credentials {
  uint32_t uid = 0;
  uint32_t gid = 0;
  uint32_t pid = 0;
  uint32_t umask = 0;
  std::vector<uint32_t> groups;
  void toWire(rpc::Credentials::Builder out) const;
};

// The supplementary groups of thread `tid`, from /proc/TID/task/TID/status ("Groups:"); empty
// when it cannot be read (the thread is gone).
std::vector<uint32_t> callerGroups(uint32_t tid);
// The numbers of the "Groups:" line of a /proc status text (empty without one).
std::vector<uint32_t> parseStatusGroups(std::string_view status);

class Request final : public Interruptible {
 public:
  // Captures the credentials and registers for FUSE_INTERRUPT. With `withGroups`, the caller's
  // supplementary groups are read (from /proc) the first time cred() is asked for, so that a
  // request answered from a cache never pays for them.
  Request(fuse_req_t req, bool withGroups);
  ~Request();
  KJ_DISALLOW_COPY(Request);

  fuse_req_t req() const { return req_; }
  const Credentials& cred() const;
  bool replied() const { return replied_; }
  bool interrupted() const override { return interrupted_; }
  kj::Promise<void> whenInterrupted() override;

  // Replying is not a change of the Request as a value (it is a handle on the kernel's request),
  // so the helpers are const and callable through captured references.
  // Each returns true when libfuse delivered the reply (false: already replied, or the kernel
  // dropped the request, e.g. it was interrupted meanwhile).
  bool err(int errnum) const;
  bool entry(const fuse_entry_param& e) const;
  bool create(const fuse_entry_param& e, const fuse_file_info& fi) const;
  bool attr(const struct stat& st, double timeout) const;
  bool open(const fuse_file_info& fi) const;
  bool buf(const char* data, size_t size) const;
  bool write(size_t count) const;
  bool readlink(const std::string& target) const;
  bool statfs(const struct statvfs& st) const;
  bool xattrSize(size_t size) const;
  bool lock(const struct flock& l) const;
  void none() const;

 private:
  static void onInterrupt(fuse_req_t req, void* self);
  bool claim() const;

  fuse_req_t req_;
  mutable Credentials cred_;
  mutable bool groupsPending_;
  mutable bool replied_ = false;
  bool interrupted_ = false;
  kj::Own<kj::PromiseFulfiller<void>> interruptFulfiller_;
  kj::ForkedPromise<void> interruptPromise_;
};

}  // namespace basalt::client
