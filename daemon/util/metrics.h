#pragma once
// The daemon's Prometheus metrics: prometheus-cpp's registry and text serializer, nothing
// formatted by hand. Labels are bounded: no tenant, user, token or secret names, only methods,
// route patterns, outcomes, surfaces and status classes.
//
// Cheap where requests pass: a caller resolves each counter or histogram it moves once (at start,
// or the first time it meets a label value) and keeps the reference. Those are OwnedCounter /
// OwnedHistogram values (util/histogram.h) that their one writer thread updates without a lock:
// the event loop for everything created through counter()/latency(), the store's writer thread
// for store().

#include "histogram.h"

#include <prometheus/counter.h>
#include <prometheus/labels.h>
#include <prometheus/metric_family.h>
#include <prometheus/registry.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace tenantd {

class Metrics {
public:
  Metrics();
  ~Metrics();

  // Secret reads over RPC by outcome: ok, not_found, expired, open_failed.
  prometheus::Counter& secretReads(const std::string& outcome);
  // Requests a per-tenant rate limit refused, by surface ("rest": the REST limiter's 429s,
  // "rpc": Tenant.rateLimit answers that refused). Event-loop thread.
  OwnedCounter& rateLimited(const std::string& surface) {
    return counter("tenantd_rate_limited_total",
                   "Requests refused by a per-tenant rate limit, by surface",
                   {{"surface", surface}});
  }

  // A counter or latency histogram (seconds) of family `name`, created on first use for
  // `labels`; the reference stays valid for the life of Metrics. Event-loop thread only, for
  // both creating and writing. A counter shows from the start, or with ONCE_MOVED (for series
  // created ahead, like every outcome of every RPC method) from its first count; a histogram
  // from its first observation.
  enum class Show { ALWAYS, ONCE_MOVED };
  OwnedCounter& counter(const std::string& name, const std::string& help,
                        const prometheus::Labels& labels, Show show = Show::ALWAYS);
  LatencyHistogram& latency(const std::string& name, const std::string& help,
                            const prometheus::Labels& labels);

  // A gauge whose value `read` gives when /metrics is rendered (on the event loop), until the
  // returned registration is destroyed.
  class Gauge;
  [[nodiscard]] std::unique_ptr<Gauge> gauge(const std::string& name, const std::string& help,
                                             const prometheus::Labels& labels,
                                             std::function<double()> read);

  // Written by the store's writer thread.
  StoreStats& store() { return store_; }

  // The text exposition format, for GET /metrics.
  std::string render() const;

private:
  struct Owned {
    std::string help;
    prometheus::MetricType type;
    struct Counter {
      std::unique_ptr<OwnedCounter> value;
      Show show;
    };
    std::map<prometheus::Labels, Counter> counters;
    std::map<prometheus::Labels, std::unique_ptr<LatencyHistogram>> histograms;
    std::map<prometheus::Labels, std::function<double()>> gauges;
  };
  Owned& owned(const std::string& name, const std::string& help, prometheus::MetricType type);
  std::vector<prometheus::MetricFamily> collectOwned() const;

  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>* secretReads_;
  StoreStats store_;
  std::map<std::string, Owned, std::less<>> owned_;
};

class Metrics::Gauge {
public:
  Gauge(Metrics& metrics, std::string name, prometheus::Labels labels)
      : metrics_(metrics), name_(std::move(name)), labels_(std::move(labels)) {}
  ~Gauge();
  Gauge(const Gauge&) = delete;
  Gauge& operator=(const Gauge&) = delete;

private:
  Metrics& metrics_;
  std::string name_;
  prometheus::Labels labels_;
};

// The process_* families Prometheus' own clients export, read from /proc/self.
std::vector<prometheus::MetricFamily> collectProcessMetrics();

}  // namespace tenantd
