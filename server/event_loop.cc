#include "server/event_loop.h"

#include <poll.h>

#include <kj/debug.h>

namespace basalt {

struct EventLoop::WorkItem {
  uv_work_t req;
  std::function<void()> work;
  std::function<void()> done;
};

EventLoop::EventLoop() : io_(kj::setupAsyncIo()) {
  KJ_REQUIRE(uv_loop_init(&uv_) == 0, "uv_loop_init failed");
  uvObserver_ = kj::heap<kj::UnixEventPort::FdObserver>(
      io_.unixEventPort, uv_backend_fd(&uv_), kj::UnixEventPort::FdObserver::OBSERVE_READ);
  pumpTask_ = pump().eagerlyEvaluate([](kj::Exception&& e) {
    KJ_LOG(FATAL, "libuv pump failed", e);
    abort();
  });
}

EventLoop::~EventLoop() noexcept(false) {
  pumpTask_ = nullptr;
  kicker_ = nullptr;
  uvObserver_ = nullptr;
  // Close every handle still open (signal watchers), then let libuv finish closing them. Queued work
  // items finish on their threads; their completions run here and find their promises gone.
  uv_walk(
      &uv_,
      [](uv_handle_t* h, void*) {
        if (uv_is_closing(h) || h->type != UV_SIGNAL) return;
        uv_close(h, [](uv_handle_t* h) {
          delete static_cast<std::shared_ptr<kj::Own<kj::PromiseFulfiller<int>>>*>(h->data);
          delete reinterpret_cast<uv_signal_t*>(h);
        });
      },
      nullptr);
  for (int i = 0; i < 1000 && uv_loop_close(&uv_) == UV_EBUSY; ++i) uv_run(&uv_, UV_RUN_ONCE);
}

kj::Promise<void> EventLoop::pump() {
  uv_run(&uv_, UV_RUN_NOWAIT);
  int timeoutMs = uv_loop_alive(&uv_) ? uv_backend_timeout(&uv_) : -1;
  // kj's observer is edge-triggered; libuv's epoll is level-triggered inside: if events are still
  // pending after this pass, go round again at once.
  struct pollfd p = {uv_backend_fd(&uv_), POLLIN, 0};
  if (::poll(&p, 1, 0) > 0) timeoutMs = 0;
  auto paf = kj::newPromiseAndFulfiller<void>();
  kicker_ = kj::mv(paf.fulfiller);
  kj::Promise<void> next = uvObserver_->whenBecomesReadable().exclusiveJoin(kj::mv(paf.promise));
  if (timeoutMs >= 0) {
    next = next.exclusiveJoin(timer().afterDelay(timeoutMs * kj::MILLISECONDS));
  }
  return next.then([this]() { return pump(); });
}

void EventLoop::kick() {
  if (kicker_ && kicker_->isWaiting()) kicker_->fulfill();
}

void EventLoop::queueWork(std::function<void()> work, std::function<void()> done) {
  auto* item = new WorkItem{};
  item->req.data = item;
  item->work = std::move(work);
  item->done = std::move(done);
  int rc = uv_queue_work(
      &uv_, &item->req, [](uv_work_t* req) { static_cast<WorkItem*>(req->data)->work(); },
      [](uv_work_t* req, int) {
        auto* item = static_cast<WorkItem*>(req->data);
        item->done();
        delete item;
      });
  KJ_REQUIRE(rc == 0, "uv_queue_work failed", uv_strerror(rc));
  kick();
}

kj::Promise<void> EventLoop::offloadVoid(std::function<void()> work) {
  return offload<bool>([work = std::move(work)]() {
           work();
           return true;
         })
      .ignoreResult();
}

kj::Promise<int> EventLoop::onSignal(std::initializer_list<int> signals) {
  auto paf = kj::newPromiseAndFulfiller<int>();
  auto fulfiller = std::make_shared<kj::Own<kj::PromiseFulfiller<int>>>(kj::mv(paf.fulfiller));
  for (int signum : signals) {
    auto* h = new uv_signal_t;
    uv_signal_init(&uv_, h);
    // The handle's data points at a heap copy of the shared fulfiller; freed with the loop.
    h->data = new std::shared_ptr<kj::Own<kj::PromiseFulfiller<int>>>(fulfiller);
    uv_signal_start(
        h,
        [](uv_signal_t* h, int signum) {
          auto& f = *static_cast<std::shared_ptr<kj::Own<kj::PromiseFulfiller<int>>>*>(h->data);
          if ((*f)->isWaiting()) (*f)->fulfill(kj::cp(signum));
        },
        signum);
    // The handle stays referenced: libuv only registers its signal pipe with epoll while the loop
    // is alive. An alive loop with nothing else to do has an infinite timeout, so this costs nothing.
  }
  kick();
  return kj::mv(paf.promise);
}

}  // namespace basalt
