#pragma once
// tenantd_limit_decisions_total{outcome, surface}: each decision a surface answers (each item
// of a batch is one), as allowed, warned (allowed, with a warn rule over its limit) or blocked.
// Resolved once per surface; counted on the event loop.

#include "core/limiter.h"
#include "util/metrics.h"

namespace tenantd {

class DecisionCounts {
public:
  DecisionCounts(Metrics& metrics, const char* surface)
      : allowed_(counter(metrics, "allowed", surface)),
        warned_(counter(metrics, "warned", surface)),
        blocked_(counter(metrics, "blocked", surface)) {}

  // Copyable: its counters live in Metrics, so a call completing after its server is gone
  // counts through a copy (capture it by value, not by pointer).
  void count(const Decision& d) const {
    if constexpr (METRICS_ENABLED) (!d.allowed ? blocked_ : d.warning ? warned_ : allowed_).add();
  }

private:
  static OwnedCounter& counter(Metrics& metrics, const char* outcome, const char* surface) {
    return metrics.counter("tenantd_limit_decisions_total",
                           "Limit decisions answered, by outcome and surface",
                           {{"outcome", outcome}, {"surface", surface}});
  }

  OwnedCounter& allowed_;
  OwnedCounter& warned_;
  OwnedCounter& blocked_;
};

}  // namespace tenantd
