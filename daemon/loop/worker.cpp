#include "worker.h"

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace tenantd {

Worker::Worker() {
  thread_ = kj::heap<kj::Thread>([this]() { threadMain(); });
  auto lock = started_.lockExclusive();
  lock.wait([](const Started& s) { return s.done; });
}

Worker::~Worker() noexcept(false) {
  // Queued behind every job already submitted, so those run first.
  executor().executeSync([this]() { stop_->fulfill(); });
  thread_ = nullptr;  // Joins.
}

const kj::Executor& Worker::executor() {
  auto lock = started_.lockShared();
  return *lock->executor;
}

void Worker::threadMain() {
  // Below the loop and the writer, which answer requests: on a busy two-core host a document
  // being parsed here yields the CPU to them (Linux sets nice per thread).
  (void)setpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)), NICENESS);
  kj::EventLoop loop;
  kj::WaitScope waitScope(loop);
  auto stop = kj::newPromiseAndFulfiller<void>();
  stop_ = kj::mv(stop.fulfiller);
  {
    auto lock = started_.lockExclusive();
    lock->executor = &kj::getCurrentThreadExecutor();
    lock->done = true;
  }
  stop.promise.wait(waitScope);
  // Let the last results reach the threads that asked for them.
  waitScope.poll();
}

}  // namespace tenantd
