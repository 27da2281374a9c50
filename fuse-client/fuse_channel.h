// Feeds /dev/fuse into the event loop: the session fd is non-blocking and watched by kj; when it is
// readable, every queued request is received and processed (libfuse calls the handlers here) until
// the read says EAGAIN. Handlers only start work and return, so this never blocks the loop. When
// the loop is otherwise idle it may poll the fd for up to spin_us first (idle_spin.h): the loop's
// other events (RPC answers) then wait at most that long.
// Thread-safety: loop thread only.
#pragma once

#include <fuse3/fuse_lowlevel.h>
#include <kj/async-unix.h>

#include "fuse-client/idle_spin.h"
#include "server/event_loop.h"
#include "server/log.h"

namespace basalt::client {

class FuseChannel {
 public:
  FuseChannel(EventLoop& loop, fuse_session* se, Logger log, uint32_t spinUs = 0);
  ~FuseChannel();
  KJ_DISALLOW_COPY(FuseChannel);

  // Resolves when the kernel ends the session (unmount, fusermount3 -u) or a handler called
  // fuse_session_exit.
  kj::Promise<void> run();

 private:
  kj::Promise<void> readLoop();
  // Receives and processes one request if one is queued (libfuse calls the handler).
  enum class Got { kNothing, kRequest, kEnded };  // kEnded: the session ended (a read error is logged)
  Got receiveOne();
  bool drain();  // every queued request; false when the session ended

  fuse_session* se_;
  Logger log_;
  kj::Own<kj::UnixEventPort::FdObserver> observer_;
  fuse_buf buf_ = {};
  IdleSpin spin_;
};

}  // namespace basalt::client
