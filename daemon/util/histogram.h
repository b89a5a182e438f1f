#pragma once
// Counters and histograms that one thread writes and any thread reads, without a lock: the owner
// updates each value with a relaxed load and store (no read-modify-write), readers load them.
// The event loop and the writer each own theirs; GET /metrics reads them all. A reader may see
// an observation's bucket before its sum: Prometheus tolerates that, and the count it is given
// is the sum of the buckets it read, so a histogram's count and +Inf bucket always agree.

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>

#ifndef TENANTD_METRICS
#define TENANTD_METRICS 1
#endif

namespace tenantd {

// False only in bench/metrics-overhead's comparison build (cmake -DTENANTD_METRICS=OFF): every
// update, and each instrumentation point on a request's path (its clock reads and lookups), is
// `if constexpr (METRICS_ENABLED)`, so that build shows what the metrics cost.
constexpr bool METRICS_ENABLED = TENANTD_METRICS != 0;

class OwnedCounter {
public:
  void add(uint64_t n = 1) {
    if constexpr (METRICS_ENABLED) {
      value_.store(value_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
    }
  }
  uint64_t read() const { return value_.load(std::memory_order_relaxed); }

private:
  std::atomic<uint64_t> value_{0};
};

template <size_t N>
class OwnedHistogram {
public:
  // Upper bounds, ascending; +Inf is implied.
  explicit constexpr OwnedHistogram(const std::array<double, N>& bounds) : bounds_(bounds) {}

  void observe(double value) {
    if constexpr (!METRICS_ENABLED) return;
    size_t i = 0;
    while (i < N && value > bounds_[i]) ++i;
    counts_[i].add();
    sum_.store(sum_.load(std::memory_order_relaxed) + value, std::memory_order_relaxed);
  }

  struct Snapshot {
    std::array<uint64_t, N + 1> counts;  // Per bucket, not cumulative; the last is +Inf.
    double sum;
  };
  Snapshot read() const {
    Snapshot s{};
    for (size_t i = 0; i <= N; ++i) s.counts[i] = counts_[i].read();
    s.sum = sum_.load(std::memory_order_relaxed);
    return s;
  }
  const std::array<double, N>& bounds() const { return bounds_; }

private:
  std::array<double, N> bounds_;
  std::array<OwnedCounter, N + 1> counts_;
  std::atomic<double> sum_{0};
};

// Latencies in seconds, from 50 µs (an RPC check) to 2.5 s (a commit behind a full disk).
using LatencyHistogram = OwnedHistogram<12>;
constexpr std::array<double, 12> LATENCY_BOUNDS = {0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025,
                                                   0.005,   0.01,   0.025,   0.05,   0.25,  2.5};

// The store's group commits, counted on the writer thread.
struct StoreStats {
  OwnedCounter commits;
  OwnedCounter commitFailures;  // Each refused every job of its batch with 503; nothing recorded.
  OwnedHistogram<8> batchJobs{{1, 2, 4, 16, 64, 256, 1024, 4096}};
  LatencyHistogram commitSeconds{LATENCY_BOUNDS};
};

}  // namespace tenantd
