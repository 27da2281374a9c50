#include "fuse-client/fuse_channel.h"

#include <fcntl.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace basalt::client {

FuseChannel::FuseChannel(EventLoop& loop, fuse_session* se, Logger log)
    : se_(se), log_(std::move(log)) {
  int fd = fuse_session_fd(se_);
  int flags = fcntl(fd, F_GETFL);
  fcntl(fd, F_SETFL, flags | O_NONBLOCK);
  observer_ = kj::heap<kj::UnixEventPort::FdObserver>(loop.unixEventPort(), fd,
                                                      kj::UnixEventPort::FdObserver::OBSERVE_READ);
}

FuseChannel::~FuseChannel() { free(buf_.mem); }

kj::Promise<void> FuseChannel::run() {
  // Requests may already be queued (the kernel sends INIT at mount time): drain before waiting.
  if (!drain()) return kj::READY_NOW;
  return readLoop();
}

kj::Promise<void> FuseChannel::readLoop() {
  return observer_->whenBecomesReadable().then([this]() -> kj::Promise<void> {
    if (!drain()) return kj::READY_NOW;
    return readLoop();
  });
}

bool FuseChannel::drain() {
  for (;;) {
    if (fuse_session_exited(se_)) return false;
    int res = fuse_session_receive_buf(se_, &buf_);
    if (res == -EINTR) continue;
    if (res == -EAGAIN) return true;
    if (res <= 0) {
      // 0: the kernel ended the session (ENODEV, unmounted); <0: a real read error.
      if (res < 0) log_->error("reading /dev/fuse: {}", strerror(-res));
      return false;
    }
    fuse_session_process_buf(se_, &buf_);
  }
}

}  // namespace basalt::client
