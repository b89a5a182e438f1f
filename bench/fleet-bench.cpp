// Fleet-wide counting (docs/FLEET.md) against its floors, in one run (bench/fleet-bench starts
// redis-server and two tenantd --dev, one with [fleet] and one without):
//  (a) RPC check p50/p99 through the client library, fleet on against fleet off, interleaved
//      round by round;
//  (b) the flush path's capacity: FleetSync in this process over a real Redis, counters sent
//      and read back per second (every counter changed before each flush);
//  (c) strict consume p50/p99 over RPC beside a local-first consume (both durable: answered
//      after the local commit) and the floors of one Redis round trip from this process
//      (hiredis, sequential): EVALSHA of the same strict script on one key, and INCR.

#include "fleet/fleet-sync.h"
#include "fleet/scripts.h"
#include "loop/uv-bridge.h"
#include "service/tenants.h"
#include "tenantd/client.h"

#include <hiredis/hiredis.h>
#include <kj/async-io.h>
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <map>
#include <vector>

namespace tenantd {
namespace {
using Clock = std::chrono::steady_clock;
namespace tc = tenantd::client;

struct Latency {
  double p50, p99;  // Microseconds.
};

Latency measure(int n, const std::function<void()>& call) {
  std::vector<double> us;
  us.reserve(n);
  for (int i = 0; i < n; ++i) {
    auto start = Clock::now();
    call();
    us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - start).count());
  }
  std::sort(us.begin(), us.end());
  return {us[n / 2], us[std::min<size_t>(n - 1, n * 99 / 100)]};
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

tc::Client clientFor(const std::string& socket) {
  tc::ClientOptions o;
  o.socketPath = socket;
  return tc::Client(o);
}

// (b): `tenants` tenants, each with a user-scoped rule and `users` users, every counter changed
// before each of `rounds` flushes. Returns counters per second, by the median round.
double flushCapacity(const std::string& redisSocket, int tenants, int users, int rounds) {
  auto io = kj::setupAsyncIo();
  io.waitScope.setBusyPollInterval(UvBridge::BUSY_POLL_INTERVAL);
  uv_loop_t uv;
  uv_loop_init(&uv);
  double perSecond = 0;
  {
    UvBridge bridge(io.unixEventPort, io.provider->getTimer(), uv);
    auto running = bridge.run().eagerlyEvaluate(nullptr);
    Log log(Log::Sink::STDERR, LogLevel::WARN);
    SystemClock clock;
    WriteHealth health;
    Readiness readiness(clock, health);
    Metrics metrics;
    Tenants all(log);
    Rule rule;
    rule.resource = "llm";
    rule.metric = "tokens";
    rule.period = Period::MONTH;
    rule.limit = 1'000'000'000;
    rule.scope = Scope::USER;
    UnixMillis now = clock.now();
    for (int t = 0; t < tenants; ++t) {
      Tenant info;
      info.id = "bench-" + std::to_string(t);
      info.plan = "pro";
      auto state = std::make_unique<TenantState>(info, nullptr);
      state->limiter.setRules({rule}, {}, now);
      all.adopt(std::move(state));
    }
    FleetConfig config;
    config.redis = "unix:" + redisSocket;
    config.keyPrefix = "bench";
    config.flushIntervalMs = 60'000;  // Flushes here are the ones this bench asks for.
    fleet::RedisOptions redis;
    redis.address = *parseRedisAddress(config.redis);
    redis.timeoutMs = 30'000;
    fleet::FleetSync sync(
        uv, [&bridge]() { bridge.kick(); }, config, redis, "bench-host", all, readiness, metrics,
        log, clock);
    sync.start();
    while (!sync.reachable())
      io.provider->getTimer().afterDelay(kj::MILLISECONDS).wait(io.waitScope);
    sync.flushNow().wait(io.waitScope);  // The first, whole resend.
    std::vector<double> rates;
    int64_t counters = int64_t{tenants} * users;
    for (int r = 0; r < rounds; ++r) {
      UnixMillis at = clock.now();
      all.forEach([&](TenantState& t) {
        for (int u = 0; u < users; ++u) {
          t.limiter.record("user-" + std::to_string(u), "llm", "tokens", 1, at, at);
        }
      });
      auto start = Clock::now();
      sync.flushNow().wait(io.waitScope);
      double seconds = std::chrono::duration<double>(Clock::now() - start).count();
      rates.push_back(counters / seconds);
    }
    perSecond = median(rates);
  }
  UvBridge::closeAll(uv);
  return perSecond;
}

redisContext* redisAt(const std::string& socket) {
  redisContext* c = redisConnectUnix(socket.c_str());
  KJ_REQUIRE(c != nullptr && c->err == 0, "cannot reach redis", socket);
  return c;
}

void redisCall(redisContext* c, const std::vector<std::string>& argv) {
  std::vector<const char*> args;
  std::vector<size_t> lengths;
  for (auto& a : argv) {
    args.push_back(a.data());
    lengths.push_back(a.size());
  }
  auto* r = static_cast<redisReply*>(
      redisCommandArgv(c, static_cast<int>(args.size()), args.data(), lengths.data()));
  KJ_REQUIRE(r != nullptr && r->type != REDIS_REPLY_ERROR, "redis refused", argv[0]);
  freeReplyObject(r);
}
}  // namespace
}  // namespace tenantd

int main(int argc, char** argv) {
  using namespace tenantd;
  CLI::App app{"Fleet counting beside its floors (run by bench/fleet-bench)"};
  std::string on, off, redisSocket;
  int runs = 5, calls = 10000, tenants = 100, users = 1000, rounds = 5;
  std::string checksOnly;
  app.add_option("--fleet-on", on, "RPC socket of the tenantd with [fleet]");
  app.add_option("--fleet-off", off, "RPC socket of the tenantd without");
  app.add_option("--redis", redisSocket, "redis-server's Unix socket");
  app.add_option("--runs", runs, "interleaved rounds (medians are reported)");
  app.add_option("--calls", calls, "sequential calls per round");
  app.add_option("--tenants", tenants, "tenants in the flush measurement");
  app.add_option("--users", users, "users per tenant in the flush measurement");
  app.add_option("--rounds", rounds, "flushes measured");
  app.add_option("--checks-only", checksOnly,
                 "only `--calls` sequential checks on this RPC socket (for a daemon under "
                 "callgrind), then exit");
  CLI11_PARSE(app, argc, argv);

  const std::string tenant = "tenant-123";
  const tc::Usage check{"", "workflow", "count", 1};
  if (!checksOnly.empty()) {
    tc::Client client = clientFor(checksOnly);
    for (int i = 0; i < calls; ++i) client.check(tenant, check);
    return 0;
  }
  if (on.empty() || off.empty() || redisSocket.empty()) {
    fprintf(stderr, "--fleet-on, --fleet-off and --redis are required\n");
    return 2;
  }
  tc::Client toOn = clientFor(on), toOff = clientFor(off);
  redisContext* redis = redisAt(redisSocket);
  auto* loaded =
      static_cast<redisReply*>(redisCommand(redis, "SCRIPT LOAD %s", fleet::STRICT_SCRIPT));
  KJ_REQUIRE(loaded != nullptr && loaded->type == REDIS_REPLY_STRING);
  std::string sha(loaded->str, loaded->len);
  freeReplyObject(loaded);

  std::map<std::string, std::vector<double>> p50, p99;
  auto add = [&](const std::string& name, Latency l) {
    p50[name].push_back(l.p50);
    p99[name].push_back(l.p99);
  };
  const tc::Usage paid{"", "paid", "calls", 1};
  for (int r = 0; r < runs; ++r) {
    // Which side goes first alternates: neither always runs on a cache the other warmed.
    for (int side = 0; side < 2; ++side) {
      if ((side + r) % 2 == 0) {
        add("check off", measure(calls, [&]() { toOff.check(tenant, check); }));
      } else {
        add("check on", measure(calls, [&]() { toOn.check(tenant, check); }));
      }
    }
    add("local-first consume", measure(calls, [&]() { toOn.consume(tenant, check); }));
    add("strict consume", measure(calls, [&]() { toOn.consume(tenant, paid); }));
    add("EVALSHA", measure(calls, [&]() {
          redisCall(redis, {"EVALSHA", sha, "1", "bench:{t}:floor", "floor-host", "1", "-1", "0"});
        }));
    add("INCR", measure(calls, [&]() { redisCall(redis, {"INCR", "bench:{t}:incr"}); }));
  }
  redisFree(redis);
  double capacity = flushCapacity(redisSocket, tenants, users, rounds);

  printf("\n| fleet (%d interleaved rounds of %d sequential calls; medians) | p50 | p99 |\n", runs,
         calls);
  printf("| --- | --- | --- |\n");
  for (const char* name :
       {"check off", "check on", "local-first consume", "strict consume", "EVALSHA", "INCR"}) {
    printf("| %s | %.1f µs | %.1f µs |\n", name, median(p50[name]), median(p99[name]));
  }
  printf("\ncheck, fleet on / off: p50 %.2fx, p99 %.2fx\n",
         median(p50["check on"]) / median(p50["check off"]),
         median(p99["check on"]) / median(p99["check off"]));
  printf("strict consume - local-first consume: p50 +%.1f µs (EVALSHA floor %.1f µs)\n",
         median(p50["strict consume"]) - median(p50["local-first consume"]),
         median(p50["EVALSHA"]));
  printf("flush: %.0f counters/s (%d tenants x %d users, every counter changed, median of %d)\n",
         capacity, tenants, users, rounds);
  return 0;
}
