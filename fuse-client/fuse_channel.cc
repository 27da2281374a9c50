#include "fuse-client/fuse_channel.h"

#include <fcntl.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>

namespace basalt::client {

FuseChannel::FuseChannel(EventLoop& loop, fuse_session* se, Logger log, uint32_t spinUs)
    : se_(se), log_(std::move(log)), spin_(spinUs) {
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
  // Once everything else the loop had to do is done (evalLast), poll a little (idle_spin.h)...
  return kj::evalLast([this]() -> kj::Promise<void> {
    using Clock = std::chrono::steady_clock;
    auto budget = spin_.budget();
    if (budget.count() > 0) {
      auto until = Clock::now() + budget;
      do {
        Got got = receiveOne();
        if (got == Got::kEnded) return kj::READY_NOW;
        if (got == Got::kRequest) {
          spin_.caught();
          return drain() ? readLoop() : kj::Promise<void>(kj::READY_NOW);
        }
      } while (Clock::now() < until);
      spin_.missed();
    }
    // ...then sleep until the kernel has a request.
    auto idleSince = Clock::now();
    return observer_->whenBecomesReadable().then([this, idleSince]() -> kj::Promise<void> {
      spin_.wokeAfter(Clock::now() - idleSince);
      if (!drain()) return kj::READY_NOW;
      return readLoop();
    });
  });
}

FuseChannel::Got FuseChannel::receiveOne() {
  for (;;) {
    if (fuse_session_exited(se_)) return Got::kEnded;
    int res = fuse_session_receive_buf(se_, &buf_);
    if (res == -EINTR) continue;
    if (res == -EAGAIN) return Got::kNothing;
    if (res <= 0) {
      // 0: the kernel ended the session (ENODEV, unmounted); <0: a real read error.
      if (res < 0) log_->error("reading /dev/fuse: {}", strerror(-res));
      return Got::kEnded;
    }
    fuse_session_process_buf(se_, &buf_);
    return Got::kRequest;
  }
}

bool FuseChannel::drain() {
  for (;;) {
    Got got = receiveOne();
    if (got != Got::kRequest) return got == Got::kNothing;
  }
}

}  // namespace basalt::client
