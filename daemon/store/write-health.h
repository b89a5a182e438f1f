#pragma once
// Whether the store's writes are committing. The writer thread records the outcome of each
// write transaction; readiness reads it from the event-loop thread. A failure (disk full, I/O
// error, the database locked past the busy timeout) holds until a transaction that changed rows
// commits again, so a commit of nothing (the watchdog's probe) cannot hide a full disk.

#include <kj/mutex.h>

#include <atomic>
#include <string>

namespace tenantd {

class WriteHealth {
public:
  // Writer thread.
  void committed() {
    if (!failing_.load(std::memory_order_relaxed)) return;
    *reason_.lockExclusive() = std::string();
    failing_.store(false, std::memory_order_release);
  }
  void failed(std::string reason) {
    *reason_.lockExclusive() = std::move(reason);
    failing_.store(true, std::memory_order_release);
  }

  // Any thread.
  bool failing() const { return failing_.load(std::memory_order_acquire); }
  // What the last failure said (SQLite's words, never a value); empty when writes commit.
  std::string reason() const { return *reason_.lockShared(); }

private:
  std::atomic<bool> failing_{false};
  kj::MutexGuarded<std::string> reason_;
};

}  // namespace tenantd
