// Limits engine benchmarks, each beside its floor in the same run (results in BENCHMARKS.md):
//  1. in-process check() and record() rates on one core;
//  2. durable tracks/s through LimitsService -> UsageBatcher -> Writer (group commit, sync
//     normal), beside a plain SQLite upsert loop (1000 rows per transaction, same schema, same
//     statement, same sync level) as the floor;
//  3. start-up rebuild of the in-memory counters from 1 M stored bucket rows.
// Wall-clock numbers drift ~30 % between runs on these machines: compare within one run.

#include "core/limiter.h"
#include "service/limits-service.h"
#include "service/rules-json.h"
#include "service/tenant-loader.h"
#include "store/schema.h"
#include "store/usage-store.h"
#include "store/writer.h"
#include "util/malloc-tuning.h"

#include <sodium.h>

#include <kj/async.h>
#include <kj/vector.h>
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <limits>
#include <string>
#include <vector>

using namespace tenantd;
using Steady = std::chrono::steady_clock;

// Heap allocations so far (count-allocations.cpp), to back the claim that check() makes none.
extern uint64_t allocations;

namespace {

double seconds(Steady::time_point since) {
  return std::chrono::duration<double>(Steady::now() - since).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

Rule rule(const char* resource, const char* metric, Period period, int64_t limit,
          Scope scope = Scope::TENANT) {
  Rule r;
  r.resource = resource;
  r.metric = metric;
  r.period = period;
  r.limit = limit;
  r.scope = scope;
  return r;
}

// Three rules on one metric (tenant day, tenant month, per-user day).
std::vector<Rule> typicalRules() {
  return {rule("llm", "tokens", Period::DAY, int64_t{1} << 50),
          rule("llm", "tokens", Period::MONTH, int64_t{1} << 50),
          rule("llm", "tokens", Period::DAY, int64_t{1} << 50, Scope::USER)};
}

std::vector<std::string> userNames(int n) {
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) out.push_back("user-" + std::to_string(i));
  return out;
}

double checksPerSecond(int64_t n, uint64_t* allocationsOut) {
  UnixMillis now = SystemClock().now();
  Limiter l("pro", nullptr);
  l.setRules(typicalRules(), {}, now);
  auto names = userNames(1000);
  for (auto& u : names) l.record(u, "llm", "tokens", 1, now, now);
  int64_t allowed = 0;
  uint64_t allocationsBefore = allocations;
  auto start = Steady::now();
  for (int64_t i = 0; i < n; ++i) {
    allowed += l.check({names[i % 1000], "llm", "tokens", 1}, now).allowed;
  }
  double s = seconds(start);
  *allocationsOut = allocations - allocationsBefore;
  if (allowed != n) std::abort();
  return static_cast<double>(n) / s;
}

double recordsPerSecond(int64_t n) {
  UnixMillis now = SystemClock().now();
  Limiter l("pro", nullptr);
  l.setRules(typicalRules(), {}, now);
  auto names = userNames(1000);
  auto start = Steady::now();
  for (int64_t i = 0; i < n; ++i) l.record(names[i % 1000], "llm", "tokens", 1, now, now);
  return static_cast<double>(n) / seconds(start);
}

std::string freshDb(const std::string& dir, const std::string& name) {
  std::string path = dir + "/" + name;
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path + suffix);
  Db db(path, {});
  migrate(db);
  Catalog(db).createTenant(Tenant{"t1", "Bench", "pro", "UTC", 0, {}, {}, {}});
  UsageStore(db).putRules("t1", rulesToJson(typicalRules()).dump(), 0);
  return path;
}

// The floor: the same upsert statement in a plain loop, 1000 rows per transaction. With ids,
// each track's two rows (its usage and its idempotency id), as the service writes them.
double plainUpsertsPerSecond(const std::string& dir, int64_t n, bool withIds) {
  std::string path = freshDb(dir, withIds ? "floor-ids.db" : "floor.db");
  Db db(path, {});
  UsageStore store(db);
  auto names = userNames(1000);
  UnixMillis now = SystemClock().now();
  auto start = Steady::now();
  for (int64_t i = 0; i < n;) {
    Transaction tx(db);
    for (int64_t end = std::min(n, i + 1000); i < end; ++i) {
      store.addUsage("t1", "llm", "tokens", names[i % 1000], now, 1);
      if (withIds) store.rememberTrackId("t1", "id-" + std::to_string(i), now + DEDUPE_WINDOW_MS);
    }
    tx.commit();
  }
  return static_cast<double>(n) / seconds(start);
}

// The daemon's write path on `path`: a kj loop, the writer thread, the batcher, the service.
struct Service {
  explicit Service(const std::string& path)
      : writer(path, writerOptions(), log, stats),
        batcher(writer),
        tenants(log),
        limits(tenants, batcher, writer, worker, clock, log, benchQuotas()) {}
  // The per-tenant quota on idempotency ids (100 k by default) is lifted: a run sends more.
  static Quotas benchQuotas() {
    Quotas q;
    q.trackIds = std::numeric_limits<size_t>::max();
    return q;
  }
  static DbOptions writerOptions() {
    DbOptions options;
    options.open = DbOptions::Open::READ_WRITE;
    return options;
  }
  kj::EventLoop loop;
  kj::WaitScope ws{loop};
  Log log{Log::Sink::STDERR, LogLevel::WARN};  // Before the writer, which logs through it.
  StoreStats stats;
  Writer writer;
  Worker worker;
  UsageBatcher batcher;
  SystemClock clock;
  Tenants tenants;
  LimitsService limits;
};

// Tracks through the real service: requests arrive 1000 per loop turn (one uv pass over many
// busy connections), each answered after the group commit that holds it. At most WINDOW wait for
// their answer, as callers do (each connection has its calls in flight, then waits): the oldest
// is awaited before more are sent. (Holding every answer to the end instead grew the heap by
// ~1.5 KB a track, 110 k page faults per 300 k tracks, and measured the page faults.)
double durableTracksPerSecond(const std::string& dir, int64_t n, bool withIds) {
  constexpr size_t WINDOW = 2 * UsageBatcher::MAX_BATCH;
  std::string path = freshDb(dir, withIds ? "tracks-ids.db" : "tracks.db");
  Service svc(path);
  {
    Db db(path, {});
    loadTenants(db, svc.tenants, svc.clock.now(), svc.log);
  }
  TenantState& tenant = *svc.tenants.find("t1");
  auto names = userNames(1000);
  std::deque<kj::Promise<TrackResult>> pending;
  int64_t answered = 0;
  auto start = Steady::now();
  for (int64_t i = 0; i < n; ++i) {
    TrackRequest r;
    r.usage.userId = names[i % 1000];
    r.usage.resource = "llm";
    r.usage.metric = "tokens";
    if (withIds) r.id = "id-" + std::to_string(i);
    pending.push_back(svc.limits.track(tenant, std::move(r)));
    if (i % 1000 == 999) {
      svc.ws.poll();
      while (pending.size() > WINDOW) {
        pending.front().wait(svc.ws);
        pending.pop_front();
        ++answered;
      }
    }
  }
  for (auto& p : pending) {
    p.wait(svc.ws);
    ++answered;
  }
  double s = seconds(start);
  if (answered != n) std::abort();
  return static_cast<double>(n) / s;
}

// 1000 users x 1000 minute buckets this month: every row is read and replayed at start.
double rebuildSeconds(const std::string& dir, int64_t* rowsOut) {
  std::string path = freshDb(dir, "rebuild.db");
  UnixMillis now = SystemClock().now();
  UnixMillis monthStart = windowAt(Period::MONTH, now, nullptr).start;
  int64_t rows = 0;
  {
    Db db(path, {});
    UsageStore store(db);
    Transaction tx(db);
    auto names = userNames(1000);
    for (int m = 0; m < 1000; ++m) {
      UnixMillis at = std::min(now, monthStart + int64_t{m} * 60000);
      for (auto& u : names) {
        store.addUsage("t1", "llm", "tokens", u, at, 1);
        ++rows;
      }
    }
    tx.commit();
  }
  Service svc(path);
  Db db(path, {});
  auto start = Steady::now();
  loadTenants(db, svc.tenants, svc.clock.now(), svc.log);
  double s = seconds(start);
  *rowsOut = rows;
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  // The daemon's malloc settings (daemon/app/main.cpp), so its write path and the floor run as
  // they would inside tenantd: freed heap kept, freed blocks filled.
  holdFreedHeap();
  wipeFreedHeap();
  CLI::App app{"Limits engine benchmarks, side by side with their floors"};
  int64_t checks = 20'000'000, tracks = 300'000;
  int runs = 3;
  std::string dir = std::filesystem::temp_directory_path() / "tenantd-bench";
  app.add_option("--checks", checks, "check() calls per run");
  app.add_option("--tracks", tracks, "durable tracks per run");
  app.add_option("--runs", runs, "runs (the median is reported)");
  app.add_option("--dir", dir, "scratch directory for databases");
  std::string profile;
  app.add_option("--profile", profile,
                 "run one measurement alone, for valgrind --tool=callgrind: durable, durable-ids, "
                 "floor, floor-ids")
      ->check(CLI::IsMember({"durable", "durable-ids", "floor", "floor-ids"}));
  CLI11_PARSE(app, argc, argv);
  if (sodium_init() < 0) return 1;
  std::filesystem::create_directories(dir);
  if (!profile.empty()) {
    bool ids = profile.size() > 4 && profile.substr(profile.size() - 4) == "-ids";
    double rate = profile.rfind("floor", 0) == 0 ? plainUpsertsPerSecond(dir, tracks, ids)
                                                 : durableTracksPerSecond(dir, tracks, ids);
    std::filesystem::remove_all(dir);
    printf("%s: %.0f tracks/s\n", profile.c_str(), rate);
    return 0;
  }

  std::vector<double> c, r, floor, floorIds, durable, durableIds;
  uint64_t checkAllocations = 0;
  for (int i = 0; i < runs; ++i) {  // Interleaved, so drift hits every series alike.
    c.push_back(checksPerSecond(checks, &checkAllocations));
    r.push_back(recordsPerSecond(checks / 4));
    floor.push_back(plainUpsertsPerSecond(dir, tracks, false));
    floorIds.push_back(plainUpsertsPerSecond(dir, tracks, true));
    durable.push_back(durableTracksPerSecond(dir, tracks, false));
    durableIds.push_back(durableTracksPerSecond(dir, tracks, true));
    fprintf(stderr, "run %d/%d done\n", i + 1, runs);
  }
  int64_t rows = 0;
  double rebuild = rebuildSeconds(dir, &rows);
  std::filesystem::remove_all(dir);

  printf("| measurement | median of %d | floor, same run |\n|---|---|---|\n", runs);
  printf(
      "| in-process check(), 3 rules, 1 core | %.2f M/s, %llu heap allocations in %lld checks | — "
      "|\n",
      median(c) / 1e6, static_cast<unsigned long long>(checkAllocations),
      static_cast<long long>(checks));
  printf("| in-process record(), 3 rules | %.2f M/s | — |\n", median(r) / 1e6);
  printf(
      "| durable tracks, group commit, sync normal | %.0f k/s | plain SQLite upsert loop: %.0f k/s "
      "|\n",
      median(durable) / 1e3, median(floor) / 1e3);
  printf(
      "| durable tracks with idempotency ids | %.0f k/s | the same loop writing both rows: %.0f "
      "k/s |\n",
      median(durableIds) / 1e3, median(floorIds) / 1e3);
  printf("| start-up rebuild from %lld bucket rows | %.2f s | — |\n", static_cast<long long>(rows),
         rebuild);
  return 0;
}
