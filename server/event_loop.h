// One event loop per process (or per server in a test process): Cap'n Proto's kj loop and libuv in
// one thread.
//
// kj runs the thread (kj::setupAsyncIo): sockets, RPC and timers are kj's. libuv is embedded: its
// epoll fd is watched by kj, and a pump runs uv_run(NOWAIT) whenever libuv has work. libuv supplies
// the worker pool for blocking or CPU-heavy work (disk I/O, fsync, LMDB commits, CRC, zstd) and
// signal handling. This is "approach B" of ../shared/tech-notes.md §1.3: 40 lines of glue instead of a
// custom EventPort and socket stack, with kj's well-tested stream code and no busy loop.
//
// Thread-safety: everything here is for the loop's own thread, except that functions passed to
// offload() run on a worker thread and must only touch what they own or what is thread-safe.
#pragma once

#include <kj/async-io.h>
#include <kj/async-unix.h>
#include <kj/function.h>
#include <uv.h>

#include <functional>
#include <memory>
#include <optional>

namespace basalt {

class EventLoop {
 public:
  EventLoop();
  ~EventLoop() noexcept(false);
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  kj::WaitScope& waitScope() { return io_.waitScope; }
  kj::AsyncIoProvider& io() { return *io_.provider; }
  kj::Network& network() { return io_.provider->getNetwork(); }
  kj::Timer& timer() { return io_.provider->getTimer(); }
  kj::UnixEventPort& unixEventPort() { return io_.unixEventPort; }
  uv_loop_t* uv() { return &uv_; }

  // Runs `work` on libuv's worker pool; the returned promise resolves on this loop's thread with its
  // result, or rejects with the exception it threw. Dropping the promise does not stop the work.
  template <typename T>
  kj::Promise<T> offload(std::function<T()> work);
  kj::Promise<void> offloadVoid(std::function<void()> work);

  // Resolves with the signal number the first time one of `signals` arrives (e.g. SIGINT, SIGTERM).
  kj::Promise<int> onSignal(std::initializer_list<int> signals);

  // Must be called after a libuv call made from kj code that does not touch an fd
  // (uv_timer_start, uv_close, uv_queue_work), so the pump re-reads libuv's timeout.
  void kick();

 private:
  struct WorkItem;
  void queueWork(std::function<void()> work, std::function<void()> done);
  kj::Promise<void> pump();

  kj::AsyncIoContext io_;
  uv_loop_t uv_;
  kj::Own<kj::UnixEventPort::FdObserver> uvObserver_;
  kj::Own<kj::PromiseFulfiller<void>> kicker_;
  kj::Promise<void> pumpTask_ = nullptr;
};

template <typename T>
kj::Promise<T> EventLoop::offload(std::function<T()> work) {
  auto paf = kj::newPromiseAndFulfiller<T>();
  struct State {
    std::function<T()> work;
    std::optional<T> result;
    kj::Maybe<kj::Exception> error;
    kj::Own<kj::PromiseFulfiller<T>> fulfiller;
  };
  auto state = std::make_shared<State>();
  state->work = std::move(work);
  state->fulfiller = kj::mv(paf.fulfiller);
  queueWork(
      [state]() {
        KJ_IF_MAYBE(e, kj::runCatchingExceptions([&]() { state->result.emplace(state->work()); })) {
          state->error = kj::mv(*e);
        }
      },
      [state]() {
        KJ_IF_MAYBE(e, state->error) {
          state->fulfiller->reject(kj::mv(*e));
        } else {
          state->fulfiller->fulfill(kj::mv(*state->result));
        }
      });
  return kj::mv(paf.promise);
}

}  // namespace basalt
