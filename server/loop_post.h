// Hands work from any thread to an event loop's thread: a worker that must wait for something
// only the loop knows (a replicated commit) posts a function and blocks on its own condition.
//
// Thread-safety: post() may be called from any thread; construction and destruction on the loop's
// thread. Functions run on the loop's thread in the order posted.
#pragma once

#include <uv.h>

#include <functional>
#include <mutex>
#include <vector>

#include "server/event_loop.h"

namespace basalt {

class LoopPost {
 public:
  explicit LoopPost(EventLoop& loop);
  ~LoopPost();  // functions still queued are dropped
  LoopPost(const LoopPost&) = delete;
  LoopPost& operator=(const LoopPost&) = delete;

  void post(std::function<void()> fn);

 private:
  struct State;
  State* state_;  // freed by libuv's close callback
};

}  // namespace basalt
