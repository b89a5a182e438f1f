#pragma once
// Wall-clock time as a dependency: production code takes a Clock&, tests pass a ManualClock.

#include <chrono>
#include <cstdint>
#include <string>

namespace tenantd {

// Milliseconds since the Unix epoch, UTC.
using UnixMillis = int64_t;

class Clock {
public:
  virtual ~Clock() = default;
  virtual UnixMillis now() const = 0;
};

class SystemClock final : public Clock {
public:
  UnixMillis now() const override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
};

class ManualClock final : public Clock {
public:
  explicit ManualClock(UnixMillis start) : now_(start) {}
  UnixMillis now() const override { return now_; }
  void set(UnixMillis t) { now_ = t; }
  void advance(int64_t millis) { now_ += millis; }

private:
  UnixMillis now_;
};

// "2024-01-01T00:00:00Z" (seconds precision, UTC).
std::string formatIso8601(UnixMillis t);

}  // namespace tenantd
