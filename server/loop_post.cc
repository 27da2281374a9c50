#include "server/loop_post.h"

#include <kj/debug.h>

namespace basalt {

struct LoopPost::State {
  uv_async_t async;
  std::mutex mutex;
  std::vector<std::function<void()>> queue;
};

LoopPost::LoopPost(EventLoop& loop) : state_(new State) {
  state_->async.data = state_;
  int rc = uv_async_init(loop.uv(), &state_->async, [](uv_async_t* a) {
    auto* st = static_cast<State*>(a->data);
    std::vector<std::function<void()>> run;
    {
      std::lock_guard<std::mutex> lock(st->mutex);
      run.swap(st->queue);
    }
    for (auto& fn : run) fn();
  });
  KJ_REQUIRE(rc == 0, "uv_async_init failed", uv_strerror(rc));
  // Not what keeps the loop alive: an idle loop with only this handle still sleeps.
  uv_unref(reinterpret_cast<uv_handle_t*>(&state_->async));
  loop.kick();
}

LoopPost::~LoopPost() {
  {
    std::lock_guard<std::mutex> lock(state_->mutex);
    state_->queue.clear();
  }
  uv_close(reinterpret_cast<uv_handle_t*>(&state_->async),
           [](uv_handle_t* h) { delete static_cast<State*>(h->data); });
}

void LoopPost::post(std::function<void()> fn) {
  {
    std::lock_guard<std::mutex> lock(state_->mutex);
    state_->queue.push_back(std::move(fn));
  }
  uv_async_send(&state_->async);
}

}  // namespace basalt
