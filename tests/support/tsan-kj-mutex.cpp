// Explains kj's mutex to ThreadSanitizer (TENANTD_TSAN builds only, linked into each test
// executable). Debian's libkj is not instrumented, so TSan never saw kj::_::Mutex (a futex)
// order anything: every hand-off through a kj::Executor, a MutexGuarded or a cross-thread
// promise, all of which kj queues under such a mutex, looked like a race. These definitions
// take the place of libkj's (symbol interposition: the executable's come first), tell TSan what
// the lock means, and call libkj's own, found with dlsym(RTLD_NEXT).
//
// Shared locks are treated as exclusive: that can hide a race between two readers, never invent
// one.

#include <dlfcn.h>
#include <kj/mutex.h>
#include <sanitizer/tsan_interface.h>

#include <cstdio>
#include <cstdlib>

namespace kj::_ {

namespace {

template <typename Fn>
Fn libkj(const char* symbol) {
  void* f = dlsym(RTLD_NEXT, symbol);
  if (f == nullptr) {
    std::fprintf(stderr, "tsan-kj-mutex: %s not found in libkj\n", symbol);
    std::abort();
  }
  return reinterpret_cast<Fn>(f);
}

// libkj checks a waiter's predicate with the mutex held, on the waiting thread or on whichever
// thread unlocks: what the predicate reads was written under the lock by whoever released it
// last. The predicate itself lives on the waiter's stack: its own address orders the waiter's
// making it before any check, and every check before the waiter returns (and reuses the stack).
class AcquiringPredicate final : public Mutex::Predicate {
public:
  AcquiringPredicate(Mutex& mutex, Mutex::Predicate& inner) : mutex_(mutex), inner_(inner) {}
  bool check() override {
    __tsan_acquire(this);
    __tsan_acquire(&mutex_);
    bool ready = inner_.check();
    __tsan_release(this);
    return ready;
  }

private:
  Mutex& mutex_;
  Mutex::Predicate& inner_;
};

}  // namespace

bool Mutex::lock(Exclusivity exclusivity, Maybe<Duration> timeout, LockSourceLocationArg location) {
  using Fn = bool (*)(Mutex*, Exclusivity, Maybe<Duration>, LockSourceLocationArg);
  static Fn real = libkj<Fn>(
      "_ZN2kj1_5Mutex4lockENS1_11ExclusivityENS_5MaybeINS_8QuantityIlNS0_15NanosecondLabelEEEEENS_"
      "18NoopSourceLocationE");
  bool locked = real(this, exclusivity, kj::mv(timeout), location);
  if (locked) __tsan_acquire(this);
  return locked;
}

void Mutex::unlock(Exclusivity exclusivity, Waiter* waiterToSkip) {
  using Fn = void (*)(Mutex*, Exclusivity, Waiter*);
  static Fn real = libkj<Fn>("_ZN2kj1_5Mutex6unlockENS1_11ExclusivityEPNS1_6WaiterE");
  __tsan_release(this);
  real(this, exclusivity, waiterToSkip);
}

void Mutex::wait(Predicate& predicate, Maybe<Duration> timeout, LockSourceLocationArg location) {
  using Fn = void (*)(Mutex*, Predicate&, Maybe<Duration>, LockSourceLocationArg);
  static Fn real = libkj<Fn>(
      "_ZN2kj1_5Mutex4waitERNS1_9PredicateENS_5MaybeINS_8QuantityIlNS0_15NanosecondLabelEEEEENS_"
      "18NoopSourceLocationE");
  AcquiringPredicate acquiring(*this, predicate);
  __tsan_release(&acquiring);
  __tsan_release(this);  // wait() lets go of the lock while it sleeps.
  real(this, acquiring, kj::mv(timeout), location);
  __tsan_acquire(this);
  __tsan_acquire(&acquiring);
}

}  // namespace kj::_
