#include "metrics.h"

#include "util/version.h"

#include <prometheus/gauge.h>
#include <prometheus/text_serializer.h>

#include <dirent.h>
#include <time.h>
#include <unistd.h>

#include <cmath>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace tenantd {

namespace {
using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

std::vector<ClientMetric::Label> toLabels(const prometheus::Labels& labels) {
  std::vector<ClientMetric::Label> out;
  for (auto& [k, v] : labels) out.push_back({k, v});
  return out;
}

template <size_t N>
ClientMetric histogramMetric(const OwnedHistogram<N>& h, std::vector<ClientMetric::Label> labels) {
  auto snap = h.read();
  ClientMetric m;
  m.label = std::move(labels);
  uint64_t cumulative = 0;
  for (size_t i = 0; i <= N; ++i) {
    cumulative += snap.counts[i];
    m.histogram.bucket.push_back(
        {cumulative, i < N ? h.bounds()[i] : std::numeric_limits<double>::infinity()});
  }
  m.histogram.sample_count = cumulative;
  m.histogram.sample_sum = snap.sum;
  return m;
}

MetricFamily family(std::string name, std::string help, MetricType type) {
  return MetricFamily{std::move(name), std::move(help), type, {}};
}

ClientMetric counterMetric(double value, std::vector<ClientMetric::Label> labels = {}) {
  ClientMetric m;
  m.label = std::move(labels);
  m.counter.value = value;
  return m;
}

ClientMetric gaugeMetric(double value) {
  ClientMetric m;
  m.gauge.value = value;
  return m;
}
}  // namespace

Metrics::Metrics() : registry_(std::make_shared<prometheus::Registry>()) {
  secretReads_ = &prometheus::BuildCounter()
                      .Name("tenantd_secret_reads_total")
                      .Help("Secret reads over RPC, by outcome")
                      .Register(*registry_);
  for (const char* o : {"ok", "not_found", "expired", "open_failed"}) secretReads(o);
  prometheus::BuildGauge()
      .Name("tenantd_build_info")
      .Help("The running build; always 1")
      .Register(*registry_)
      .Add({{"version", TENANTD_VERSION}})
      .Set(1);
}

prometheus::Counter& Metrics::secretReads(const std::string& outcome) {
  return secretReads_->Add({{"outcome", outcome}});
}

Metrics::~Metrics() = default;

Metrics::Owned& Metrics::owned(const std::string& name, const std::string& help, MetricType type) {
  auto it = owned_.find(name);
  if (it == owned_.end()) it = owned_.emplace(name, Owned{help, type, {}, {}, {}}).first;
  if (it->second.type != type) {
    throw std::logic_error("metric family " + name + " registered with two types");
  }
  return it->second;
}

OwnedCounter& Metrics::counter(const std::string& name, const std::string& help,
                               const prometheus::Labels& labels, Show show) {
  auto& slot = owned(name, help, MetricType::Counter).counters[labels];
  if (!slot.value) slot = {std::make_unique<OwnedCounter>(), show};
  return *slot.value;
}

LatencyHistogram& Metrics::latency(const std::string& name, const std::string& help,
                                   const prometheus::Labels& labels) {
  auto& slot = owned(name, help, MetricType::Histogram).histograms[labels];
  if (!slot) slot = std::make_unique<LatencyHistogram>(LATENCY_BOUNDS);
  return *slot;
}

std::unique_ptr<Metrics::Gauge> Metrics::gauge(const std::string& name, const std::string& help,
                                               const prometheus::Labels& labels,
                                               std::function<double()> read) {
  owned(name, help, MetricType::Gauge).gauges[labels] = std::move(read);
  return std::make_unique<Gauge>(*this, name, labels);
}

Metrics::Gauge::~Gauge() {
  auto it = metrics_.owned_.find(name_);
  if (it != metrics_.owned_.end()) it->second.gauges.erase(labels_);
}

std::vector<MetricFamily> Metrics::collectOwned() const {
  std::vector<MetricFamily> out;
  auto commits = family("tenantd_store_commits_total", "Group commits of the store's writer",
                        MetricType::Counter);
  commits.metric.push_back(counterMetric(static_cast<double>(store_.commits.read())));
  out.push_back(std::move(commits));
  auto failures = family("tenantd_store_commit_failures_total",
                         "Group commits that failed; every job in them was refused (503) and "
                         "recorded nothing",
                         MetricType::Counter);
  failures.metric.push_back(counterMetric(static_cast<double>(store_.commitFailures.read())));
  out.push_back(std::move(failures));
  auto jobs =
      family("tenantd_store_commit_jobs", "Jobs (writes) per group commit", MetricType::Histogram);
  jobs.metric.push_back(histogramMetric(store_.batchJobs, {}));
  out.push_back(std::move(jobs));
  auto latency = family("tenantd_store_commit_duration_seconds",
                        "Time to COMMIT a group, fsync included", MetricType::Histogram);
  latency.metric.push_back(histogramMetric(store_.commitSeconds, {}));
  out.push_back(std::move(latency));

  for (auto& [name, f] : owned_) {
    MetricFamily mf = family(name, f.help, f.type);
    for (auto& [labels, c] : f.counters) {
      uint64_t n = c.value->read();
      if (n == 0 && c.show == Show::ONCE_MOVED) continue;
      mf.metric.push_back(counterMetric(static_cast<double>(n), toLabels(labels)));
    }
    for (auto& [labels, h] : f.histograms) {
      ClientMetric m = histogramMetric(*h, toLabels(labels));
      if (m.histogram.sample_count > 0) mf.metric.push_back(std::move(m));
    }
    for (auto& [labels, read] : f.gauges) {
      ClientMetric m = gaugeMetric(read());
      m.label = toLabels(labels);
      mf.metric.push_back(std::move(m));
    }
    if (!mf.metric.empty()) out.push_back(std::move(mf));
  }
  return out;
}

std::vector<MetricFamily> collectProcessMetrics() {
  std::vector<MetricFamily> out;
  // /proc/self/stat: fields after the command's closing parenthesis, numbered from 3 (state).
  std::ifstream statFile("/proc/self/stat");
  std::string stat((std::istreambuf_iterator<char>(statFile)), std::istreambuf_iterator<char>());
  auto close = stat.rfind(')');
  if (close != std::string::npos) {
    std::istringstream fields(stat.substr(close + 2));
    std::vector<std::string> f;
    for (std::string x; fields >> x;) f.push_back(x);
    // Index i holds field i + 3 of proc(5): utime 14, stime 15, starttime 22, rss 24.
    if (f.size() > 21) {
      double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
      double cpu = (std::stod(f[11]) + std::stod(f[12])) / ticks;
      auto c = family("process_cpu_seconds_total", "User and system CPU time spent in seconds",
                      MetricType::Counter);
      c.metric.push_back(counterMetric(cpu));
      out.push_back(std::move(c));
      double rss = std::stod(f[21]) * static_cast<double>(sysconf(_SC_PAGESIZE));
      auto r = family("process_resident_memory_bytes", "Resident memory size in bytes",
                      MetricType::Gauge);
      r.metric.push_back(gaugeMetric(rss));
      out.push_back(std::move(r));
      // starttime is in ticks since boot. Boot time from the clocks, not /proc/stat's btime:
      // under systemd's ProcSubset=pid only the processes' own directories are visible. Read
      // once, so the figure stays the same number from scrape to scrape, as btime's would.
      static const double bootTime = []() {
        timespec wall{}, sinceBoot{};
        clock_gettime(CLOCK_REALTIME, &wall);
        clock_gettime(CLOCK_BOOTTIME, &sinceBoot);
        return static_cast<double>(wall.tv_sec - sinceBoot.tv_sec) +
               static_cast<double>(wall.tv_nsec - sinceBoot.tv_nsec) / 1e9;
      }();
      auto s = family("process_start_time_seconds",
                      "Start time of the process since unix epoch in seconds", MetricType::Gauge);
      s.metric.push_back(gaugeMetric(bootTime + std::stod(f[19]) / ticks));
      out.push_back(std::move(s));
    }
  }
  if (DIR* dir = opendir("/proc/self/fd")) {
    double fds = 0;
    while (dirent* e = readdir(dir)) fds += e->d_name[0] != '.';
    closedir(dir);
    auto o = family("process_open_fds", "Number of open file descriptors", MetricType::Gauge);
    o.metric.push_back(gaugeMetric(fds - 1));  // Not the one opendir() holds.
    out.push_back(std::move(o));
  }
  return out;
}

std::string Metrics::render() const {
  auto families = registry_->Collect();
  for (auto& f : collectOwned()) families.push_back(std::move(f));
  for (auto& f : collectProcessMetrics()) families.push_back(std::move(f));
  return prometheus::TextSerializer().Serialize(families);
}

}  // namespace tenantd
