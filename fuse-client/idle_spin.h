// When to poll /dev/fuse for a while before the mount's loop goes to sleep.
//
// A process that makes one system call after another on the mount (fcntl locks in a loop, stat
// after stat, cp's create/write/setxattr/utimens/close) sends its next request a few microseconds
// after it got the reply to the last one. If the mount is asleep in epoll by then, every request
// pays two cross-CPU wake-ups (the mount's, and the caller's for the reply); on this project's
// 2-vCPU VM that is most of a FUSE round trip (a lock+unlock loop: 8,000 pairs/s asleep, 26,000
// polling for 20 µs). So when the loop has nothing else to do, the mount keeps reading /dev/fuse
// for up to `spinUs`, but only while that pays: each poll that ends without a request costs a
// credit, each one that catches a request (or a wake-up that came within the window, which a
// poll would have caught) restores them. An idle mount stops polling after kCredits misses.
// Pure policy, no I/O. Thread-safety: one thread.
#pragma once

#include <chrono>
#include <cstdint>

namespace basalt::client {

class IdleSpin {
 public:
  static constexpr int kCredits = 8;

  explicit IdleSpin(uint32_t spinUs) : window_(std::chrono::microseconds(spinUs)) {}

  // How long to poll now (zero: go to sleep at once).
  std::chrono::nanoseconds budget() const { return credits_ > 0 ? window_ : std::chrono::nanoseconds(0); }
  // A poll caught a request.
  void caught() { credits_ = kCredits; }
  // A poll ran out without one.
  void missed() {
    if (credits_ > 0) --credits_;
  }
  // The loop slept and woke for a request `idle` after it went idle.
  void wokeAfter(std::chrono::nanoseconds idle) {
    if (window_.count() > 0 && idle <= window_) credits_ = kCredits;
  }

 private:
  std::chrono::nanoseconds window_;
  int credits_ = 0;
};

}  // namespace basalt::client
