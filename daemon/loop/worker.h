#pragma once
// A thread for CPU-heavy pure work that must not hold the event loop: parsing, checking and
// serialising a tenant's large documents (256 rules, a 64 KiB configuration or roles
// document). On the loop, each took 2–8 ms during which every other tenant's REST and RPC
// requests waited (bench/writer-fairness); here they run beside the loop and the writer.
//
// A job gets copies of what it reads (never loop-owned state) and returns a value; the promise
// resolves on the submitting thread's kj event loop, in submission order. Jobs run one at a
// time, so a flood of large documents queues here instead of taking the loop or the writer.
// Dropping a promise cancels its job; kj makes the dropping thread wait until a job already
// running on the worker has finished (at most a document's parse, ~8 ms at the bounds).

#include <kj/async.h>
#include <kj/function.h>
#include <kj/mutex.h>
#include <kj/thread.h>

namespace tenantd {

class Worker {
public:
  static constexpr int NICENESS = 10;

  Worker();
  // Drains: every job already submitted runs before the thread exits.
  ~Worker() noexcept(false);
  KJ_DISALLOW_COPY(Worker);

  // Runs `job` on the worker thread; an exception it throws rejects the promise.
  template <typename T>
  kj::Promise<T> run(kj::Function<T()> job) {
    return executor().executeAsync(kj::mv(job));
  }

private:
  const kj::Executor& executor();
  void threadMain();

  struct Started {
    const kj::Executor* executor = nullptr;
    bool done = false;
  };
  kj::MutexGuarded<Started> started_;
  kj::Own<kj::PromiseFulfiller<void>> stop_;  // Fulfilled on the worker thread to end it.
  kj::Own<kj::Thread> thread_;
};

}  // namespace tenantd
