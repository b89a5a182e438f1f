// End to end: fleet-wide counting (docs/FLEET.md) with the real binaries. Debian's redis-server,
// started here on a Unix socket, and three `tenantd --dev` sidecars sharing it (each its own
// store and host id, the same demo tenant): mixed load counts exactly once in the fleet; a
// local-first limit overshoots by no more than the stated bound; strict consumes never pass their
// limit; a sidecar SIGKILLed and Redis restarted empty both end with exact totals; and with Redis
// gone each on_unavailable policy holds until it returns.

#include <signal.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <thread>

#include "support/daemon-fixture.h"
#include "support/http-client.h"
#include "support/redis-server.h"
#include "tenantd/client.h"

namespace tenantd::testing {

using namespace std::chrono_literals;
using nlohmann::json;
namespace tc = tenantd::client;

namespace {
const std::string DEMO = "tenant-123";
constexpr int64_t FLUSH_MS = 50;
constexpr int64_t BIG = 1'000'000'000'000;

const json RULES = json::array({
    {{"resource", "llm"}, {"metric", "tokens"}, {"period", "month"}, {"limit", BIG}},
    {{"resource", "llm"},
     {"metric", "tokens"},
     {"period", "day"},
     {"limit", BIG},
     {"scope", "user"}},
    {{"resource", "api"}, {"metric", "calls"}, {"period", "day"}, {"limit", BIG}},
    {{"resource", "burst"}, {"metric", "calls"}, {"period", "day"}, {"limit", 300}},
    {{"resource", "paid"},
     {"metric", "calls"},
     {"period", "day"},
     {"limit", 200},
     {"fleet", "strict"}},
    {{"resource", "spare"}, {"metric", "calls"}, {"period", "day"}, {"limit", 1000}},
});

HttpResult rest(const RunningDaemon& d, const std::string& method, const std::string& path,
                const std::string& body = "") {
  std::map<std::string, std::string> headers{{"Authorization", "Bearer " + d.demoToken()}};
  if (!body.empty()) headers.emplace("Content-Type", "application/json");
  return httpRequest(method, d.restUrl + path, headers, body);
}

// Waits for `condition` (which asks a real process something) to hold, up to `deadline`.
bool waitFor(const std::function<bool()>& condition, std::chrono::milliseconds deadline) {
  auto end = std::chrono::steady_clock::now() + deadline;
  while (std::chrono::steady_clock::now() < end) {
    if (condition()) return true;
  }
  return condition();
}

struct Sidecar {
  std::unique_ptr<RunningDaemon> daemon;
  std::string hostId;  // Empty: none configured, the sidecar makes its own.

  Sidecar(const RedisBackend& redis, std::string id, const std::string& policy = "local",
          const std::string& password = "")
      : hostId(std::move(id)) {
    std::string where = redis.fleetConfig();
    daemon = std::make_unique<RunningDaemon>(std::vector<std::string>{}, [&](RunningDaemon& d) {
      std::string config = d.dir.file("tenantd.toml");
      std::ofstream out(config);
      out << "[fleet]\n"
          << where << (hostId.empty() ? "" : "host_id = \"" + hostId + "\"\n")
          << "flush_interval_ms = " << FLUSH_MS
          << "\nmax_backoff_ms = 100\nconnect_timeout_ms = 500\n"
          << "timeout_ms = 500\non_unavailable = \"" << policy << "\"\n";
      if (!password.empty()) {
        std::ofstream(d.dir.file("redis.password")) << password << "\n";
        out << "password_file = \"" << d.dir.file("redis.password") << "\"\n";
      }
      d.args.push_back("--config");
      d.args.push_back(config);
    });
    auto r = rest(*daemon, "PUT", "/tenant/limits/resources", RULES.dump());
    INFO(r.body);
    REQUIRE(r.status == 200);
  }

  tc::ClientOptions clientOptions() const {
    tc::ClientOptions o;
    o.socketPath = daemon->socketPath;
    o.timeout = 10s;
    o.minReconnectBackoff = 5ms;
    o.maxReconnectBackoff = 50ms;
    return o;
  }

  json usage() const {
    auto r = rest(*daemon, "GET", "/tenant/limits/resources/usage");
    REQUIRE(r.status == 200);
    return json::parse(r.body);
  }
  // The current figure of the tenant-scoped row of `resource`.
  int64_t current(const std::string& resource) const {
    for (auto& row : usage()) {
      if (row["resource"] == resource && row["scope"] == "tenant") return row["current"];
    }
    return -1;
  }
  bool ready() const {
    auto r = httpRequestOutsideApi("GET", daemon->restUrl + "/readyz");
    return r.status == 200 && r.body.find("degraded") == std::string::npos;
  }
  // SIGTERM: the drain flushes this host's last counts to the fleet.
  void stop() {
    daemon->process->signal(SIGTERM);
    REQUIRE(daemon->process->waitForExit(10s) == std::optional<int>(0));
  }
};

enum class Backend { NODE, CLUSTER, SENTINEL };

struct Fleet {
  std::unique_ptr<RedisBackend> redis;
  RedisCluster* cluster = nullptr;       // Set for Backend::CLUSTER.
  RedisSentinelSet* sentinel = nullptr;  // Set for Backend::SENTINEL.
  std::vector<std::unique_ptr<Sidecar>> sidecars;

  explicit Fleet(Backend backend, std::vector<std::string> policies = {"local", "local", "local"}) {
    if (backend == Backend::CLUSTER) {
      auto c = std::make_unique<RedisCluster>();
      cluster = c.get();
      redis = std::move(c);
    } else if (backend == Backend::SENTINEL) {
      auto s = std::make_unique<RedisSentinelSet>();
      sentinel = s.get();
      redis = std::move(s);
    } else {
      redis = std::make_unique<RedisServer>();
    }
    for (size_t i = 0; i < policies.size(); ++i) {
      sidecars.push_back(std::make_unique<Sidecar>(*redis, "h" + std::to_string(i), policies[i]));
    }
  }
  void stopAll() {
    for (auto& s : sidecars) s->stop();
  }
  // The fleet's counter of `resource`'s rule (`scope`, `period`) in its current window.
  std::map<std::string, std::string> counter(const std::string& period, const std::string& scope,
                                             const std::string& resource,
                                             const std::string& user = "") {
    auto keys = redis->keys("tenantd:{" + DEMO + "}:" + period + ":" + scope + ":" + resource +
                            ":*:" + user);
    if (keys.empty()) return {};
    REQUIRE(keys.size() == 1);
    return redis->hash(keys[0]);
  }
};

int64_t total(const std::map<std::string, std::string>& counter) {
  auto it = counter.find("_total");
  return it == counter.end() ? 0 : std::stoll(it->second);
}

// The sum of every host's field: what `_total` must equal.
int64_t sumOfHosts(const std::map<std::string, std::string>& counter) {
  int64_t sum = 0;
  for (auto& [field, value] : counter) {
    if (field != "_total") sum += std::stoll(value);
  }
  return sum;
}

// What a load thread had acknowledged.
struct Acknowledged {
  std::mutex mutex;
  int64_t tokens = 0;
  std::map<std::string, int64_t> tokensByUser;
  int64_t apiCalls = 0;
  std::atomic<bool> gaveUp{false};  // A track never acknowledged within its retry time.
  void addTokens(const std::string& user, int64_t amount) {
    std::lock_guard lock(mutex);
    tokens += amount;
    tokensByUser[user] += amount;
  }
  void addCalls(int64_t amount) {
    std::lock_guard lock(mutex);
    apiCalls += amount;
  }
};

// At least `ops` mixed operations on `sidecar`, and more while `keepGoing` holds: tracks with
// ids (retried with the same id until acknowledged, so a crash between commit and answer counts
// once), consumes, and reservations committed with less than they held.
void mixedLoad(Sidecar& sidecar, const std::string& prefix, int ops, Acknowledged& ack,
               const std::atomic<bool>* keepGoing) {
  tc::Client client(sidecar.clientOptions());
  for (int i = 0; i < ops || (keepGoing != nullptr && keepGoing->load()); ++i) {
    std::string user = "u" + std::to_string(i % 5);
    int64_t amount = i % 7 + 1;
    // A failed attempt returns at once while the sidecar restarts: retried for a while, not a
    // number of times, or one committed before a SIGKILL could go unacknowledged here.
    auto giveUp = std::chrono::steady_clock::now() + 30s;
    for (;;) {
      try {
        switch (i % 3) {
          case 0: {
            // A retry answered "duplicate" is the first attempt's commit: counted once either way.
            client.track(DEMO, {{user, "llm", "tokens", amount}, prefix + std::to_string(i)});
            ack.addTokens(user, amount);
            break;
          }
          case 1:
            if (client.consume(DEMO, {"", "api", "calls", 1}).allowed) ack.addCalls(1);
            break;
          case 2: {
            auto held = client.reserve(DEMO, {"", "api", "calls", 3});
            if (held.decision.allowed) {
              client.commit(DEMO, held.id, 2);
              ack.addCalls(2);
            }
            break;
          }
        }
        break;
      } catch (const tc::Error&) {
        // Only tracks are retried (their id makes a retry safe); the others were not
        // acknowledged, so whatever the store kept of them is not expected here.
        if (i % 3 != 0) break;
        if (std::chrono::steady_clock::now() > giveUp) {
          ack.gaveUp = true;  // Checked by the test's thread (Catch asserts on one thread).
          break;
        }
      }
    }
  }
}
}  // namespace

namespace {
// Mixed load on three sidecars; on a cluster, the tenant's slot moves to another master while
// the load runs.
void countsEveryUseOnce(Backend backend) {
  Fleet f(backend);
  Acknowledged ack;
  std::atomic<bool> migrating{f.cluster != nullptr || f.sentinel != nullptr};
  std::vector<std::thread> threads;
  for (size_t s = 0; s < f.sidecars.size(); ++s) {
    for (int t = 0; t < 2; ++t) {
      threads.emplace_back(mixedLoad, std::ref(*f.sidecars[s]),
                           "s" + std::to_string(s) + "t" + std::to_string(t) + "-", 240,
                           std::ref(ack), &migrating);
    }
  }
  if (f.cluster != nullptr) {
    // Once the tenant's counters are in Redis, their slot moves key by key while the load goes
    // on; after each key, the test waits until a sidecar has written that key on its new node
    // (through ASK while the slot is half moved), so the hosts cross the migration mid-flight.
    std::string tenantKeys = "tenantd:{" + DEMO + "}:*";
    REQUIRE(waitFor([&]() { return f.redis->keys(tenantKeys).size() >= 5; }, 5s));
    int slot = f.cluster->slotOf("{" + DEMO + "}");
    size_t from = f.cluster->ownerOf(slot);
    size_t to = (from + 1) % f.cluster->size();
    size_t moved = 0, writtenAfterMove = 0;
    auto onNewNode = [&](const std::string& key) {
      f.cluster->node(to).command({"ASKING"});  // The slot is still importing there.
      return f.cluster->node(to).hash(key);
    };
    f.cluster->migrate(slot, to, [&](const std::string& key) {
      ++moved;
      auto before = onNewNode(key);
      if (waitFor([&]() { return onNewNode(key) != before; }, 1s)) {
        ++writtenAfterMove;
      }
    });
    migrating = false;
    CHECK(f.cluster->ownerOf(slot) == to);
    CHECK(moved >= 5);
    CHECK(writtenAfterMove > 0);
    WARN("slot " << slot << " moved from node " << from << " to " << to << " during load: " << moved
                 << " key(s), " << writtenAfterMove
                 << " written by a sidecar on the new node mid-migration");
  }
  if (f.sentinel != nullptr) {
    // Mid-load, Sentinel makes the replica master: what the old master took but had not
    // replicated is gone, and the hosts must find the new master and put it back.
    REQUIRE(waitFor([&]() { return f.redis->keys("tenantd:{" + DEMO + "}:*").size() >= 5; }, 5s));
    RedisServer& before = f.sentinel->master();
    f.sentinel->failover();
    CHECK(&f.sentinel->master() != &before);
    for (auto& s : f.sidecars) CHECK(waitFor([&]() { return s->ready(); }, 10s));
    migrating = false;
  }
  auto connects = [](const Sidecar& s) {
    std::string log = s.daemon->process->err();
    size_t n = 0;
    for (size_t at = 0; (at = log.find("connected to Redis;", at)) != std::string::npos; ++at) ++n;
    return n;
  };
  for (auto& t : threads) t.join();
  REQUIRE_FALSE(ack.gaveUp);
  REQUIRE(ack.tokens > 0);

  // Every sidecar shows the fleet's figure, not its own, within a few flushes.
  for (auto& s : f.sidecars) {
    CHECK(waitFor([&]() { return s->current("llm") == ack.tokens; }, 2s));
    CHECK(s->usage()[0]["counted"] == "fleet");
    // Under Sentinel each host found the new master by itself (and resent everything there).
    if (f.sentinel != nullptr) CHECK(connects(*s) >= 2);
  }
  f.stopAll();
  auto tokens = f.counter("month", "tenant", "llm");
  CHECK(total(tokens) == ack.tokens);
  CHECK(sumOfHosts(tokens) == ack.tokens);
  CHECK(tokens.size() == 4);  // h0, h1, h2 and _total.
  for (auto& [user, amount] : ack.tokensByUser) {
    INFO(user);
    CHECK(total(f.counter("day", "user", "llm", user)) == amount);
  }
  auto calls = f.counter("day", "tenant", "api");
  CHECK(total(calls) == ack.apiCalls);
  CHECK(sumOfHosts(calls) == ack.apiCalls);
}
}  // namespace

TEST_CASE("Mixed load on three sidecars counts every acknowledged use exactly once in the fleet") {
  countsEveryUseOnce(Backend::NODE);
}

TEST_CASE("On a Redis Cluster mixed load counts exactly once while the tenant's slot migrates") {
  countsEveryUseOnce(Backend::CLUSTER);
}

TEST_CASE("Under Redis Sentinel mixed load counts exactly once across a failover") {
  countsEveryUseOnce(Backend::SENTINEL);
}

namespace {
struct Burst {
  std::atomic<int64_t> allowed{0};
  std::chrono::steady_clock::time_point first, last;
  std::mutex mutex;
};

// Consumes one `resource` call at a time until `refusals` refusals in a row.
void burst(Sidecar& sidecar, const std::string& resource, Burst& b) {
  tc::Client client(sidecar.clientOptions());
  int refused = 0;
  while (refused < 40) {
    if (client.consume(DEMO, {"", resource, "calls", 1}).allowed) {
      refused = 0;
      b.allowed.fetch_add(1);
      auto now = std::chrono::steady_clock::now();
      std::lock_guard lock(b.mutex);
      if (b.first == std::chrono::steady_clock::time_point()) b.first = now;
      b.last = now;
    } else {
      ++refused;
    }
  }
}

// The slowest flush round trip a sidecar has seen: the smallest histogram bound holding every
// observation of tenantd_fleet_flush_seconds.
double slowestFlushSeconds(const Sidecar& s) {
  auto text = httpRequestOutsideApi("GET", s.daemon->restUrl + "/metrics").body;
  std::istringstream lines(text);
  std::string line;
  double count = -1;
  std::vector<std::pair<double, double>> buckets;
  while (std::getline(lines, line)) {
    if (line.rfind("tenantd_fleet_flush_seconds_count ", 0) == 0)
      count = std::stod(line.substr(34));
    const std::string b = "tenantd_fleet_flush_seconds_bucket{le=\"";
    if (line.rfind(b, 0) == 0 && line.find("+Inf") == std::string::npos) {
      size_t end = line.find('"', b.size());
      buckets.emplace_back(std::stod(line.substr(b.size(), end - b.size())),
                           std::stod(line.substr(line.find("} ") + 2)));
    }
  }
  for (auto& [bound, n] : buckets) {
    if (n >= count) return bound;
  }
  WARN("count " << count << " buckets " << buckets.size() << " text " << text.size());
  return 1.0;
}
}  // namespace

namespace {
void overshootsWithinBound(Backend backend) {
  Fleet f(backend);
  std::vector<std::unique_ptr<Burst>> bursts;
  std::vector<std::thread> threads;
  for (auto& s : f.sidecars) {
    bursts.push_back(std::make_unique<Burst>());
    for (int t = 0; t < 2; ++t) {
      threads.emplace_back(burst, std::ref(*s), "burst", std::ref(*bursts.back()));
    }
  }
  for (auto& t : threads) t.join();
  // docs/FLEET.md: overshoot <= (hosts - 1) x r x (2 x flush interval + 2 x flush round trip),
  // r the fastest host's rate of allowed units.
  int64_t allowed = 0;
  double fastest = 0, slowestTrip = 0;
  for (size_t i = 0; i < f.sidecars.size(); ++i) {
    allowed += bursts[i]->allowed;
    double seconds =
        std::max(1e-3, std::chrono::duration<double>(bursts[i]->last - bursts[i]->first).count());
    fastest = std::max(fastest, bursts[i]->allowed / seconds);
    slowestTrip = std::max(slowestTrip, slowestFlushSeconds(*f.sidecars[i]));
  }
  double bound = (f.sidecars.size() - 1) * fastest * (2 * FLUSH_MS / 1000.0 + 2 * slowestTrip);
  WARN("burst: " << allowed << " allowed against a limit of 300; bound " << bound
                 << " (fastest host " << fastest << "/s, slowest flush " << slowestTrip * 1000
                 << " ms)");
  CHECK(allowed >= 300);
  CHECK(allowed - 300 <= bound);
  f.stopAll();
  CHECK(total(f.counter("day", "tenant", "burst")) == allowed);
}

void strictNeverOver(Backend backend) {
  Fleet f(backend);
  std::vector<std::unique_ptr<Burst>> bursts;
  std::vector<std::thread> threads;
  for (auto& s : f.sidecars) {
    bursts.push_back(std::make_unique<Burst>());
    for (int t = 0; t < 2; ++t) {
      threads.emplace_back(burst, std::ref(*s), "paid", std::ref(*bursts.back()));
    }
  }
  for (auto& t : threads) t.join();
  int64_t allowed = 0;
  for (auto& b : bursts) allowed += b->allowed;
  CHECK(allowed == 200);
  for (auto& s : f.sidecars) CHECK(s->current("paid") == 200);
  f.stopAll();
  auto paid = f.counter("day", "tenant", "paid");
  CHECK(total(paid) == 200);
  CHECK(sumOfHosts(paid) == 200);
}

void exactAfterCrashes(Backend backend) {
  Fleet f(backend);
  Acknowledged ack;
  std::vector<std::thread> threads;
  for (size_t s = 0; s < f.sidecars.size(); ++s) {
    threads.emplace_back(mixedLoad, std::ref(*f.sidecars[s]), "s" + std::to_string(s) + "-", 600,
                         std::ref(ack), nullptr);
  }
  // Mid-load: h1 dies without a word and comes back on its store; then Redis loses everything.
  REQUIRE(waitFor([&]() { return f.sidecars[1]->current("llm") > 0; }, 5s));
  f.sidecars[1]->daemon->process->signal(SIGKILL);
  REQUIRE(f.sidecars[1]->daemon->process->waitForExit(5s).has_value());
  f.sidecars[1]->daemon->restart();
  f.redis->kill();
  f.redis->start();
  for (auto& t : threads) t.join();
  REQUIRE_FALSE(ack.gaveUp);

  for (auto& s : f.sidecars) {
    CHECK(waitFor([&]() { return s->ready() && s->current("llm") == ack.tokens; }, 5s));
  }
  f.stopAll();
  auto tokens = f.counter("month", "tenant", "llm");
  CHECK(total(tokens) == ack.tokens);
  CHECK(sumOfHosts(tokens) == ack.tokens);
  for (auto& [user, amount] : ack.tokensByUser) {
    INFO(user);
    CHECK(total(f.counter("day", "user", "llm", user)) == amount);
  }
}

void policiesHold(Backend backend) {
  Fleet f(backend, {"local", "open", "closed"});
  auto& local = *f.sidecars[0];
  auto& open = *f.sidecars[1];
  auto& closed = *f.sidecars[2];
  {
    tc::Client client(local.clientOptions());
    for (int i = 0; i < 300; ++i) REQUIRE(client.consume(DEMO, {"", "burst", "calls", 1}).allowed);
    CHECK_FALSE(client.consume(DEMO, {"", "burst", "calls", 1}).allowed);
    for (int i = 0; i < 200; ++i) REQUIRE(client.consume(DEMO, {"", "paid", "calls", 1}).allowed);
    CHECK_FALSE(client.consume(DEMO, {"", "paid", "calls", 1}).allowed);
  }
  // Every host has read the fleet's figures: both limits are used up.
  for (auto& s : f.sidecars) {
    REQUIRE(waitFor([&]() { return s->current("burst") == 300 && s->current("paid") == 200; }, 2s));
  }

  f.redis->kill();
  for (auto& s : f.sidecars) {
    REQUIRE(waitFor([&]() { return !s->ready(); }, 3s));
    auto r = httpRequestOutsideApi("GET", s->daemon->restUrl + "/readyz");
    CHECK(r.status == 200);  // Degraded, still serving.
    CHECK(r.body.find("Redis unreachable") != std::string::npos);
  }
  tc::Client toLocal(local.clientOptions()), toOpen(open.clientOptions()),
      toClosed(closed.clientOptions());
  auto l = toLocal.consume(DEMO, {"", "burst", "calls", 1});
  CHECK_FALSE(l.allowed);  // This host's counts on the last fleet figures.
  CHECK(l.counted == "local");
  CHECK(toOpen.consume(DEMO, {"", "burst", "calls", 1}).allowed);
  CHECK_FALSE(toClosed.consume(DEMO, {"", "spare", "calls", 1}).allowed);
  CHECK(toLocal.consume(DEMO, {"", "spare", "calls", 1}).allowed);
  // A strict rule (its limit used up) falls back to the policy too.
  CHECK_FALSE(toLocal.consume(DEMO, {"", "paid", "calls", 1}).allowed);
  CHECK(toOpen.consume(DEMO, {"", "paid", "calls", 1}).allowed);
  CHECK_FALSE(toClosed.consume(DEMO, {"", "paid", "calls", 1}).allowed);

  f.redis->start();  // Empty: every host refills it.
  for (auto& s : f.sidecars) REQUIRE(waitFor([&]() { return s->ready(); }, 5s));
  for (auto& s : f.sidecars) CHECK(waitFor([&]() { return s->current("burst") == 301; }, 2s));
  CHECK(local.usage()[0]["counted"] == "fleet");

  // The tenantd_fleet_* families moved, and promtool accepts the exposition.
  std::string metrics = httpRequestOutsideApi("GET", local.daemon->restUrl + "/metrics").body;
  for (const char* line : {"tenantd_fleet_up 1", "tenantd_fleet_disconnects_total 1"}) {
    INFO(line);
    CHECK(metrics.find(std::string("\n") + line + "\n") != std::string::npos);
  }
  CHECK(metrics.find("tenantd_fleet_flushes_total{outcome=\"ok\"}") != std::string::npos);
  std::string file = local.daemon->dir.file("metrics.txt");
  std::ofstream(file) << metrics;
  auto checked = run("/bin/sh", {"-c", "promtool check metrics < " + file}, "/");
  INFO(checked.out << checked.err);
  CHECK(checked.exitCode == 0);
  f.stopAll();
  CHECK(total(f.counter("day", "tenant", "burst")) == 301);
  CHECK(total(f.counter("day", "tenant", "spare")) == 1);
  CHECK(total(f.counter("day", "tenant", "paid")) == 201);
}
}  // namespace

TEST_CASE("A usage report on a host that never checked shows what the fleet has counted") {
  Fleet f(Backend::NODE, {"local", "local"});
  auto& busy = *f.sidecars[0];
  auto& idle = *f.sidecars[1];
  REQUIRE(idle.current("llm") == 0);  // Read once before: the figure it holds is 0.
  tc::Client(busy.clientOptions()).track(DEMO, {{"u0", "llm", "tokens", 40}, "idle-1"});
  REQUIRE(waitFor([&]() { return total(f.counter("month", "tenant", "llm")) == 40; }, 2s));
  // No check on `idle` since: its report waits for one flush and shows the fleet's figure.
  CHECK(idle.current("llm") == 40);
  CHECK(idle.usage()[0]["counted"] == "fleet");
  f.stopAll();
}

namespace {
// The value of a metric line `name value` in a sidecar's /metrics, or -1.
double metric(const Sidecar& s, const std::string& name) {
  std::string text = httpRequestOutsideApi("GET", s.daemon->restUrl + "/metrics").body;
  size_t at = text.find("\n" + name + " ");
  return at == std::string::npos ? -1 : std::stod(text.substr(at + name.size() + 2));
}

// The fleet's total of the demo tenant's monthly tokens, or -1 while it has no key.
int64_t monthTokens(RedisServer& redis) {
  auto keys = redis.keys("tenantd:{" + DEMO + "}:month:tenant:llm:*");
  return keys.size() == 1 ? total(redis.hash(keys[0])) : -1;
}
}  // namespace

TEST_CASE("A Redis that refuses flushes leaves the policy to decide until it takes them again") {
  RedisServer redis;
  Sidecar s(redis, "h0", "closed");
  tc::Client client(s.clientOptions());
  client.track(DEMO, {{"u0", "llm", "tokens", 5}, "refuse-1"});
  REQUIRE(waitFor([&]() { return monthTokens(redis) == 5 && s.ready(); }, 2s));

  // Out of memory: every write is refused, and the connection stays up. A strict call answered
  // with an error is the policy's to decide, before any flush is refused as after.
  redis.command({"CONFIG", "SET", "maxmemory", "1"});
  CHECK_FALSE(client.consume(DEMO, {"", "paid", "calls", 1}).allowed);
  client.track(DEMO, {{"u0", "llm", "tokens", 3}, "refuse-2"});  // Acknowledged: stored here.
  REQUIRE(waitFor([&]() { return !s.ready(); }, 3s));
  auto r = httpRequestOutsideApi("GET", s.daemon->restUrl + "/readyz");
  CHECK(r.status == 200);
  CHECK(r.body.find("Redis refuses this host's counts (OOM") != std::string::npos);
  CHECK(metric(s, "tenantd_fleet_up") == 0);
  CHECK(metric(s, "tenantd_fleet_disconnects_total") == 0);
  auto refused = client.consume(DEMO, {"", "spare", "calls", 1});
  CHECK_FALSE(refused.allowed);  // closed: with no fleet figures, nothing is admitted.
  CHECK(refused.counted == "local");
  CHECK_FALSE(client.consume(DEMO, {"", "paid", "calls", 1}).allowed);  // Strict too.

  redis.command({"CONFIG", "SET", "maxmemory", "0"});
  REQUIRE(waitFor([&]() { return s.ready(); }, 3s));
  CHECK(waitFor([&]() { return monthTokens(redis) == 8; }, 2s));
  CHECK(client.consume(DEMO, {"", "spare", "calls", 1}).allowed);

  // The scripts flushed out of Redis: the sidecar reconnects, loads them again and goes on.
  redis.command({"SCRIPT", "FLUSH"});
  client.track(DEMO, {{"u0", "llm", "tokens", 2}, "refuse-3"});
  CHECK(waitFor([&]() { return monthTokens(redis) == 10; }, 3s));
  CHECK(waitFor([&]() { return s.ready(); }, 3s));
  CHECK(client.consume(DEMO, {"", "paid", "calls", 1}).allowed);
  CHECK(s.daemon->process->err().find("NOSCRIPT") != std::string::npos);
  s.stop();
}

TEST_CASE("A tenant of tens of thousands of counters is resent in calls of a few hundred") {
  // One call carrying all of them would hold Redis (and the sidecar's loop, writing it) for
  // about as long as the default timeout_ms: a little more and the connection drops and the
  // resend starts over, forever.
  constexpr int USERS = 40'000, THREADS = 32;
  RedisServer redis;
  Sidecar s(redis, "h0");
  tc::Client client(s.clientOptions());  // Concurrent tracks go out as one trackBatch.
  std::vector<std::thread> threads;
  for (int t = 0; t < THREADS; ++t) {
    threads.emplace_back([&client, t]() {
      for (int i = t; i < USERS; i += THREADS) {
        client.track(DEMO, {{"user-" + std::to_string(i), "llm", "tokens", 1}});
      }
    });
  }
  for (auto& t : threads) t.join();
  std::string userKeys = "tenantd:{" + DEMO + "}:day:user:llm:tokens:*";
  REQUIRE(waitFor(
      [&]() { return monthTokens(redis) == USERS && redis.keys(userKeys).size() == USERS; }, 10s));

  // Redis back empty: the sidecar sends all of it again, whole.
  redis.kill();
  redis.start();
  CHECK(waitFor(
      [&]() {
        return s.ready() && monthTokens(redis) == USERS && redis.keys(userKeys).size() == USERS;
      },
      10s));
  // Redis's own count of the flush script's calls since it started: at least one per 512
  // counters (and a few ordinary flushes).
  std::string stats = redis.command({"INFO", "commandstats"});
  size_t at = stats.find("cmdstat_evalsha:calls=");
  REQUIRE(at != std::string::npos);
  int64_t calls = std::stoll(stats.substr(at + 22));
  CHECK(calls >= (USERS + 1 + 511) / 512);
  CHECK(metric(s, "tenantd_fleet_disconnects_total") == 1);  // The restart alone.
  s.stop();
}

TEST_CASE("Sidecars that name no host id make their own and keep it across a restart") {
  RedisServer redis;
  Sidecar a(redis, ""), b(redis, "");
  // The id each one printed when it became ready ("fleet ... as host ID").
  auto printedId = [](const Sidecar& s) {
    std::string out = s.daemon->process->out();
    size_t at = out.rfind(" as host ");
    REQUIRE(at != std::string::npos);
    return out.substr(at + 9, out.find('\n', at) - at - 9);
  };
  std::string idA = printedId(a), idB = printedId(b);
  INFO(idA << " " << idB);
  CHECK(idA.starts_with("host-"));
  CHECK(idA.size() == 21);  // "host-" and 8 random bytes in hex.
  CHECK(idA != idB);        // One machine, two stores: two hosts.
  tc::Client(a.clientOptions()).track(DEMO, {{"u0", "llm", "tokens", 5}, "id-1"});
  tc::Client(b.clientOptions()).track(DEMO, {{"u0", "llm", "tokens", 7}, "id-2"});
  auto counter = [&]() {
    auto keys = redis.keys("tenantd:{" + DEMO + "}:month:tenant:llm:*");
    return keys.size() == 1 ? redis.hash(keys[0]) : std::map<std::string, std::string>{};
  };
  REQUIRE(waitFor([&]() { return total(counter()) == 12; }, 2s));
  CHECK(counter() == std::map<std::string, std::string>{{idA, "5"}, {idB, "7"}, {"_total", "12"}});

  // SIGKILLed and started again on its store: the same host, not a third one.
  a.daemon->process->signal(SIGKILL);
  REQUIRE(a.daemon->process->waitForExit(5s).has_value());
  a.daemon->restart();
  CHECK(printedId(a) == idA);
  tc::Client(a.clientOptions()).track(DEMO, {{"u0", "llm", "tokens", 1}, "id-3"});
  REQUIRE(waitFor([&]() { return total(counter()) == 13; }, 2s));
  CHECK(counter() == std::map<std::string, std::string>{{idA, "6"}, {idB, "7"}, {"_total", "13"}});
  a.stop();
  b.stop();
}

TEST_CASE("A Redis password is sent from its file and never shown and a wrong one is refused") {
  const std::string PASSWORD = "pw-7f2a9c-redis-only";
  RedisServer redis(RedisServer::Options{0, false, PASSWORD});
  Sidecar good(redis, "h0", "local", PASSWORD);
  Sidecar wrong(redis, "h1", "local", "not-" + PASSWORD);
  REQUIRE(waitFor([&]() { return good.ready(); }, 5s));
  tc::Client(good.clientOptions()).track(DEMO, {{"u0", "llm", "tokens", 5}, "pw-1"});
  auto counted = [&]() {
    auto keys = redis.keys("tenantd:{" + DEMO + "}:month:tenant:llm:*");
    return keys.size() == 1 && total(redis.hash(keys[0])) == 5;
  };
  CHECK(waitFor(counted, 2s));

  // The wrong password: degraded, said so in Redis's words, and the host writes nothing.
  auto readyz = [&]() {
    return httpRequestOutsideApi("GET", wrong.daemon->restUrl + "/readyz");
  };
  REQUIRE(waitFor([&]() { return readyz().body.find("AUTH refused") != std::string::npos; }, 5s));
  CHECK(readyz().status == 200);
  for (auto& key : redis.keys("tenantd:*")) CHECK(redis.hash(key).count("h1") == 0);

  for (Sidecar* s : {&good, &wrong}) {
    std::string shown = httpRequestOutsideApi("GET", s->daemon->restUrl + "/readyz").body +
                        httpRequestOutsideApi("GET", s->daemon->restUrl + "/metrics").body;
    s->stop();
    shown += s->daemon->process->out() + s->daemon->process->err();
    CHECK(shown.find(PASSWORD) == std::string::npos);
  }
}

TEST_CASE("A concurrent burst overshoots a local-first limit by no more than the stated bound") {
  overshootsWithinBound(Backend::NODE);
}

TEST_CASE("Strict consumes never pass their limit across the fleet") {
  strictNeverOver(Backend::NODE);
}

TEST_CASE("A sidecar SIGKILLed and Redis restarted empty both end with exact totals") {
  exactAfterCrashes(Backend::NODE);
}

TEST_CASE("With Redis gone each policy holds and the sidecars recover when it returns") {
  policiesHold(Backend::NODE);
}

TEST_CASE("On a Redis Cluster a burst overshoots a local-first limit within the bound") {
  overshootsWithinBound(Backend::CLUSTER);
}

TEST_CASE("On a Redis Cluster strict consumes never pass their limit") {
  strictNeverOver(Backend::CLUSTER);
}

TEST_CASE("On a Redis Cluster a SIGKILLed sidecar and every node restarted empty end exact") {
  exactAfterCrashes(Backend::CLUSTER);
}

TEST_CASE("On a Redis Cluster with every node gone each policy holds and recovers") {
  policiesHold(Backend::CLUSTER);
}

}  // namespace tenantd::testing
