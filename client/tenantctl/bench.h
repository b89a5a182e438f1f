#pragma once
// tenantctl bench (see bench.cpp): check() four ways against the running daemon, with a live
// progress line on stderr (when it is a terminal) and a table of calls/s, checks/s, p50, p99.

#include "tenantctl/context.h"

#include <cstdint>
#include <string>

namespace tenantd::ctl {

struct BenchOptions {
  std::string tenant = "tenant-123";  // The --dev demo tenant.
  std::string resource = "api";
  std::string metric = "calls";
  double seconds = 2;    // Per mode.
  unsigned depth = 64;   // pipelined: calls in flight.
  unsigned batch = 128;  // batched: items per call...
  unsigned batches = 4;  // ...and calls in flight.
  unsigned threads = 8;  // client: app threads.
};

void runBench(Context& ctx, const BenchOptions& options);

// "21.3 k", "1.70 M", "950".
std::string formatRate(double perSecond);
// "45 us", "3.04 ms", "12.5 ms".
std::string formatMicros(uint32_t us);
std::string formatFixed(double value, int decimals);

}  // namespace tenantd::ctl
