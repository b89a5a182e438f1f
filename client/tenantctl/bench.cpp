// tenantctl bench: check() throughput and latency against the running daemon, four ways.
// sequential: one call at a time (the round trip). pipelined: --depth calls in flight on one
// connection. batched: --batches checkBatch calls of --batch items in flight. client: --threads
// app threads sharing one libtenantd-client Client, which merges their calls into batches.
// Checks change nothing, so this is safe against a live daemon; it does add load.

#include "tenantctl/bench.h"

#include "tenantctl/commands.h"
#include "tenantd/client.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <memory>
#include <mutex>
#include <thread>

namespace tenantd::ctl {

namespace {
using Clock = std::chrono::steady_clock;

uint32_t microsSince(Clock::time_point start) {
  return static_cast<uint32_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start).count());
}

// One mode's measurements.
struct Run {
  explicit Run(std::string mode) : mode(std::move(mode)) {}
  std::string mode;
  uint64_t calls = 0;
  uint64_t checks = 0;
  std::vector<uint32_t> latencyUs;  // Per call.
  double seconds = 0;
};

// The live line on stderr, only when it is a terminal.
class Progress {
public:
  explicit Progress(Context& ctx) : show_(&ctx.err == &std::cerr && isatty(STDERR_FILENO)) {}
  void update(const std::string& mode, double elapsed, uint64_t checks) {
    if (!show_) return;
    std::string line = mode + "  " + formatFixed(elapsed, 1) + " s  " + std::to_string(checks) +
                       " checks  " + formatRate(elapsed > 0 ? checks / elapsed : 0) + "/s";
    fprintf(stderr, "\r%-70s", line.c_str());
    fflush(stderr);
  }
  void clear() {
    if (show_) fprintf(stderr, "\r%-70s\r", "");
  }

private:
  bool show_;
};

void fill(rpc::UsageRequest::Builder b, const BenchOptions& o) {
  b.setResource(o.resource);
  b.setMetric(o.metric);
  b.setAmount(1);
}

// Runs `worker()` chains until the deadline on the kj loop, updating the progress line.
class LoopBench {
public:
  LoopBench(Context& ctx, Progress& progress, Run& run, double seconds)
      : ctx_(ctx), progress_(progress), run_(run), seconds_(seconds) {}

  void runWorkers(size_t n, const std::function<kj::Promise<void>()>& worker) {
    start_ = Clock::now();
    deadline_ = start_ + std::chrono::milliseconds(static_cast<int64_t>(seconds_ * 1000));
    kj::Vector<kj::Promise<void>> workers;
    for (size_t i = 0; i < n; ++i) workers.add(loop(worker));
    ctx_.wait(kj::joinPromises(workers.releaseAsArray()).exclusiveJoin(report()));
    run_.seconds = std::chrono::duration<double>(Clock::now() - start_).count();
  }

private:
  kj::Promise<void> loop(const std::function<kj::Promise<void>()>& worker) {
    if (Clock::now() >= deadline_) return kj::READY_NOW;
    return worker().then([this, &worker]() { return loop(worker); });
  }
  // Never resolves: redraws the progress line every 200 ms.
  kj::Promise<void> report() {
    return ctx_.io().provider->getTimer().afterDelay(200 * kj::MILLISECONDS).then([this]() {
      progress_.update(run_.mode, std::chrono::duration<double>(Clock::now() - start_).count(),
                       run_.checks);
      return report();
    });
  }

  Context& ctx_;
  Progress& progress_;
  Run& run_;
  double seconds_;
  Clock::time_point start_, deadline_;
};

// Single checks, `inFlight` at a time on one connection: 1 is sequential, more is pipelined.
Run checks(Context& ctx, Progress& progress, const BenchOptions& o, std::string name,
           size_t inFlight) {
  Run run{std::move(name)};
  auto tenant = ctx.tenant(o.tenant);
  LoopBench bench(ctx, progress, run, o.seconds);
  bench.runWorkers(inFlight, [&]() {
    auto request = tenant.checkRequest();
    fill(request.initRequest(), o);
    auto start = Clock::now();
    return request.send().then([&run, start](auto) {
      run.latencyUs.push_back(microsSince(start));
      ++run.calls;
      ++run.checks;
    });
  });
  return run;
}

Run batched(Context& ctx, Progress& progress, const BenchOptions& o) {
  Run run{"batched " + std::to_string(o.batch) + "x" + std::to_string(o.batches)};
  auto tenant = ctx.tenant(o.tenant);
  LoopBench bench(ctx, progress, run, o.seconds);
  bench.runWorkers(o.batches, [&]() {
    auto request = tenant.checkBatchRequest();
    auto items = request.initRequests(o.batch);
    for (auto item : items) fill(item, o);
    auto start = Clock::now();
    return request.send().then([&run, start](auto response) {
      run.latencyUs.push_back(microsSince(start));
      ++run.calls;
      run.checks += response.getDecisions().size();
    });
  });
  return run;
}

// App threads on the facade: calls are per thread, batching happens inside the Client.
Run facade(Context& ctx, Progress& progress, const BenchOptions& o) {
  Run run{"client " + std::to_string(o.threads) + " threads"};
  client::ClientOptions options;
  options.socketPath = ctx.socketPath();
  client::Client c(options);
  client::Usage usage{"", o.resource, o.metric, 1};
  c.check(o.tenant, usage);  // Connected, and the tenant exists, before the clock starts.
  std::atomic<uint64_t> checks{0};
  std::atomic<bool> stop{false};
  std::mutex mutex;
  std::string failure;
  auto start = Clock::now();
  std::vector<std::thread> threads;
  for (unsigned t = 0; t < o.threads; ++t) {
    threads.emplace_back([&] {
      std::vector<uint32_t> mine;
      try {
        while (!stop) {
          auto begin = Clock::now();
          c.check(o.tenant, usage);
          mine.push_back(microsSince(begin));
          ++checks;
        }
      } catch (const client::Error& e) {
        stop = true;
        std::lock_guard<std::mutex> lock(mutex);
        failure = e.what();
      }
      std::lock_guard<std::mutex> lock(mutex);
      run.latencyUs.insert(run.latencyUs.end(), mine.begin(), mine.end());
    });
  }
  auto deadline = start + std::chrono::milliseconds(static_cast<int64_t>(o.seconds * 1000));
  while (!stop && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));  // Not a test: a redraw pace.
    progress.update(run.mode, std::chrono::duration<double>(Clock::now() - start).count(), checks);
  }
  stop = true;
  for (auto& t : threads) t.join();
  if (!failure.empty()) throw client::errorFromText(failure);
  run.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  run.checks = run.calls = checks;
  return run;
}

uint32_t percentile(std::vector<uint32_t>& sorted, double p) {
  if (sorted.empty()) return 0;
  size_t at = static_cast<size_t>(p * (sorted.size() - 1));
  return sorted[at];
}
}  // namespace

std::string formatFixed(double value, int decimals) {
  char buf[64];
  snprintf(buf, sizeof(buf), "%.*f", decimals, value);
  return buf;
}

std::string formatRate(double perSecond) {
  if (perSecond >= 1e6) return formatFixed(perSecond / 1e6, 2) + " M";
  if (perSecond >= 1e3) return formatFixed(perSecond / 1e3, 1) + " k";
  return formatFixed(perSecond, 0);
}

std::string formatMicros(uint32_t us) {
  if (us >= 10'000) return formatFixed(us / 1000.0, 1) + " ms";
  if (us >= 1'000) return formatFixed(us / 1000.0, 2) + " ms";
  return std::to_string(us) + " us";
}

void addBenchCommand(CLI::App& app, Action& action) {
  auto o = std::make_shared<BenchOptions>();
  auto* bench = app.add_subcommand(
      "bench", "Measure check() against the daemon: sequential, pipelined, batched, client");
  bench->add_option("-t,--tenant", o->tenant, "Tenant to check")->capture_default_str();
  bench->add_option("-r,--resource", o->resource, "Resource")->capture_default_str();
  bench->add_option("-m,--metric", o->metric, "Metric")->capture_default_str();
  bench->add_option("-d,--duration", o->seconds, "Seconds per mode")
      ->check(CLI::Range(0.1, 3600.0))
      ->capture_default_str();
  bench->add_option("--depth", o->depth, "Pipelined: calls in flight")
      ->check(CLI::Range(1, 4096))
      ->capture_default_str();
  bench->add_option("--batch", o->batch, "Batched: items per checkBatch")
      ->check(CLI::Range(1, 10000))
      ->capture_default_str();
  bench->add_option("--batches", o->batches, "Batched: checkBatch calls in flight")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  bench->add_option("--threads", o->threads, "Client: app threads")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  bench->callback([&action, o] {
    action = [o](Context& ctx) {
      runBench(ctx, *o);
    };
  });
}

void runBench(Context& ctx, const BenchOptions& o) {
  Progress progress(ctx);
  std::vector<Run> runs;
  // Fails fast (not-found, unavailable) before any measurement.
  auto probe = ctx.tenant(o.tenant).checkRequest();
  fill(probe.initRequest(), o);
  ctx.wait(probe.send());
  runs.push_back(checks(ctx, progress, o, "sequential", 1));
  runs.push_back(checks(ctx, progress, o, "pipelined x" + std::to_string(o.depth), o.depth));
  runs.push_back(batched(ctx, progress, o));
  runs.push_back(facade(ctx, progress, o));
  progress.clear();

  Json rows = Json::array();
  Table table({"mode", "calls/s", "checks/s", "p50", "p99"});
  for (auto& run : runs) {
    std::sort(run.latencyUs.begin(), run.latencyUs.end());
    double seconds = std::max(run.seconds, 1e-9);
    uint32_t p50 = percentile(run.latencyUs, 0.50), p99 = percentile(run.latencyUs, 0.99);
    rows.push_back(Json{{"mode", run.mode},
                        {"calls", run.calls},
                        {"checks", run.checks},
                        {"seconds", run.seconds},
                        {"callsPerSecond", run.calls / seconds},
                        {"checksPerSecond", run.checks / seconds},
                        {"p50Us", p50},
                        {"p99Us", p99}});
    table.add({run.mode, formatRate(run.calls / seconds), formatRate(run.checks / seconds),
               formatMicros(p50), formatMicros(p99)});
  }
  if (ctx.json()) return ctx.printJson(rows);
  table.print(ctx.out);
}

}  // namespace tenantd::ctl
