#pragma once
// The daemon's Prometheus metrics (prometheus-cpp). Counters are atomic, so the writer thread
// may count too. No tenant ids or secret names in labels: they are unbounded and may be private.

#include <prometheus/counter.h>
#include <prometheus/registry.h>

#include <memory>
#include <string>

namespace tenantd {

class Metrics {
public:
  Metrics();

  // Secret reads over RPC by outcome: ok, not_found, expired, open_failed.
  prometheus::Counter& secretReads(const std::string& outcome);
  // Store writes that failed to commit (the request was refused with 503 and changed nothing).
  prometheus::Counter& commitFailures() { return *commitFailures_; }
  // REST requests answered with an error, by status.
  prometheus::Counter& restErrors(int status);

  // The text exposition format, for GET /metrics.
  std::string render() const;

private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>* secretReads_;
  prometheus::Family<prometheus::Counter>* restErrors_;
  prometheus::Counter* commitFailures_;
};

}  // namespace tenantd
