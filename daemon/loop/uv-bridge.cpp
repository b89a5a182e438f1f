#include "uv-bridge.h"

#include <poll.h>

#include <kj/debug.h>

namespace tenantd {

UvBridge::UvBridge(kj::UnixEventPort& eventPort, kj::Timer& timer, uv_loop_t& loop,
                   kj::Duration maxKjPriority)
    : timer_(timer),
      loop_(loop),
      maxKjPriority_(maxKjPriority),
      observer_(eventPort, uv_backend_fd(&loop), kj::UnixEventPort::FdObserver::OBSERVE_READ) {}

UvBridge::~UvBridge() noexcept(false) {}

kj::Promise<void> UvBridge::run() {
  // Whatever libuv already holds (handles started before run()) gets a first pass.
  return passThenContinue();
}

void UvBridge::kick() {
  KJ_IF_MAYBE (f, kickFulfiller_) {
    (*f)->fulfill();
    kickFulfiller_ = nullptr;
  }
}

bool UvBridge::moreWorkReady() {
  if (!uv_loop_alive(&loop_)) return false;
  // uv_backend_timeout() is 0 when callbacks wait in libuv's pending queue (every completed
  // uv_write puts one there) or idle handles are active: run again without waiting for the fd.
  if (uv_backend_timeout(&loop_) == 0) return true;
  pollfd pfd{uv_backend_fd(&loop_), POLLIN, 0};
  return ::poll(&pfd, 1, 0) > 0;
}

kj::Promise<void> UvBridge::passThenContinue() {
  uv_run(&loop_, UV_RUN_NOWAIT);
  ++passes_;
  if (moreWorkReady()) {
    // A 0 ms timer, not evalLater: kj polls its own I/O before timers fire, so kj's sockets get a
    // turn between two uv passes however busy libuv is.
    return timer_.afterDelay(0 * kj::MILLISECONDS)
        .then([this]() { return afterQueuedKjWork(); })
        .then([this]() { return passThenContinue(); });
  }
  return waitForWork().then([this]() { return afterQueuedKjWork(); }).then([this]() {
    return passThenContinue();
  });
}

kj::Promise<void> UvBridge::afterQueuedKjWork() {
  // evalLast runs once nothing else is queued: kj work that the same poll woke (an RPC message
  // read, its dispatch, its reply) finishes before a pass that may take a millisecond. Bounded,
  // so a kj side that never drains still lets libuv run.
  return kj::evalLast([]() {}).exclusiveJoin(timer_.afterDelay(maxKjPriority_));
}

kj::Promise<void> UvBridge::waitForWork() {
  auto paf = kj::newPromiseAndFulfiller<void>();
  kickFulfiller_ = kj::mv(paf.fulfiller);
  kj::Promise<void> wake = observer_.whenBecomesReadable().exclusiveJoin(kj::mv(paf.promise));
  // With no live handles uv_backend_timeout() says 0, which means "nothing to wait for", not "run
  // now": wait for the fd or a kick only.
  if (uv_loop_alive(&loop_)) {
    int timeout = uv_backend_timeout(&loop_);
    if (timeout >= 0) {
      wake = wake.exclusiveJoin(timer_.afterDelay(timeout * kj::MILLISECONDS));
    }
  }
  return wake.then([this]() { kickFulfiller_ = nullptr; });
}

int UvBridge::closeAll(uv_loop_t& loop) {
  uv_walk(
      &loop,
      [](uv_handle_t* handle, void*) {
        if (!uv_is_closing(handle)) uv_close(handle, nullptr);
      },
      nullptr);
  uv_run(&loop, UV_RUN_DEFAULT);
  return uv_loop_close(&loop);
}

}  // namespace tenantd
