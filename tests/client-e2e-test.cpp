// End to end: libtenantd-client's synchronous facade (and its example programs) against the real
// daemon over its real socket: every call, durability of tracks across kill -9, reconnect after
// a restart, and batching of many threads' calls.

#include <signal.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <atomic>
#include <thread>
#include <vector>

#include "support/daemon-fixture.h"
#include "support/http-client.h"
#include "tenantd/client.h"

namespace tenantd::testing {

using namespace std::chrono_literals;
using nlohmann::json;
namespace tc = tenantd::client;

namespace {
const std::string DEMO = "tenant-123";
const tc::Usage API_CALL{"", "api", "calls", 1};

// The demo tenant's rules and secrets, set over REST with the --dev token.
void rest(RunningDaemon& d, const std::string& method, const std::string& path, const json& body) {
  auto r = httpRequest(
      method, d.restUrl + path,
      {{"Authorization", "Bearer " + d.demoToken()}, {"Content-Type", "application/json"}},
      body.dump());
  INFO(method << " " << path << " -> " << r.status << " " << r.body);
  REQUIRE(r.status == 200);
}

void limitApiCalls(RunningDaemon& d, int64_t limit) {
  rest(d, "PUT", "/tenant/limits/resources",
       json::array(
           {{{"resource", "api"}, {"metric", "calls"}, {"period", "day"}, {"limit", limit}}}));
}

tc::ClientOptions optionsFor(RunningDaemon& d) {
  tc::ClientOptions o;
  o.socketPath = d.socketPath;
  o.timeout = 10s;
  o.minReconnectBackoff = o.maxReconnectBackoff = 0ms;  // Reconnect on the next call.
  return o;
}

std::optional<tc::ErrorKind> kindOf(const std::function<void()>& f) {
  try {
    f();
  } catch (const tc::Error& e) {
    return e.kind();
  }
  return std::nullopt;
}
}  // namespace

TEST_CASE("The client library checks, tracks, consumes, reserves and reads secrets") {
  RunningDaemon d;
  limitApiCalls(d, 10);
  rest(d, "POST", "/tenant/secrets", {{"key", "STRIPE_SECRET_KEY"}, {"value", "sk_live_e2e"}});
  tc::Client client(optionsFor(d));

  tc::Health h = client.health();
  CHECK(h.status == "ok");
  CHECK(h.version == "0.1.0");

  CHECK(client.check(DEMO, API_CALL).allowed);
  tc::TrackResult tracked = client.track(DEMO, {{"u1", "api", "calls", 3}, "e2e-1"});
  CHECK_FALSE(tracked.duplicate);
  REQUIRE(tracked.usage.size() == 1);
  CHECK(tracked.usage[0].current == 3);
  CHECK(client.track(DEMO, {{"u1", "api", "calls", 3}, "e2e-1"}).duplicate);
  CHECK(client.consume(DEMO, {"", "api", "calls", 2}).allowed);

  tc::Reservation held = client.reserve(DEMO, {"", "api", "calls", 5});
  REQUIRE(held.decision.allowed);
  tc::Decision full = client.check(DEMO, API_CALL);
  CHECK_FALSE(full.allowed);
  CHECK(full.reserved == 5);
  client.commit(DEMO, held.id, 1);
  tc::Decision after = client.check(DEMO, API_CALL);
  CHECK(after.current == 6);
  CHECK(after.remaining == 4);

  tc::Secret secret = client.getSecret(DEMO, "STRIPE_SECRET_KEY");
  CHECK(secret.value == "sk_live_e2e");
  CHECK(secret.version == 1);
  CHECK(kindOf([&] { client.getSecret(DEMO, "MISSING"); }) == tc::ErrorKind::NOT_FOUND);
  CHECK(kindOf([&] { client.check("tenant-999", API_CALL); }) == tc::ErrorKind::NOT_FOUND);
}

TEST_CASE("Tracks acknowledged to the client survive kill -9 and the client reconnects") {
  RunningDaemon d;
  limitApiCalls(d, 1000);
  tc::Client client(optionsFor(d));
  for (int i = 0; i < 20; ++i) {
    client.track(DEMO, {{"", "api", "calls", 2}, "kill-" + std::to_string(i)});
  }
  d.process->signal(SIGKILL);
  REQUIRE(d.process->waitForExit(5s) == 128 + SIGKILL);
  auto down = kindOf([&] { client.check(DEMO, API_CALL); });
  CHECK((down == tc::ErrorKind::DISCONNECTED || down == tc::ErrorKind::UNAVAILABLE));

  d.restart();
  tc::Decision d1 = client.check(DEMO, API_CALL);  // Same Client: it reconnected by itself.
  CHECK(d1.current == 40);
  // Ids are durable too: a retry of an acknowledged track is not counted again.
  CHECK(client.track(DEMO, {{"", "api", "calls", 2}, "kill-7"}).duplicate);
  CHECK(client.stats().connects == 2);
}

TEST_CASE("After a clean restart the client reconnects and secrets still open") {
  RunningDaemon d;
  rest(d, "POST", "/tenant/secrets", {{"key", "K"}, {"value", "v1"}});
  tc::Client client(optionsFor(d));
  CHECK(client.getSecret(DEMO, "K").value == "v1");
  d.process->signal(SIGTERM);
  REQUIRE(d.process->waitForExit(10s) == 0);
  d.restart();
  CHECK(client.getSecret(DEMO, "K").value == "v1");
}

TEST_CASE("Many threads' checks reach the daemon as fewer batch calls") {
  RunningDaemon d;
  limitApiCalls(d, 1'000'000);
  tc::Client client(optionsFor(d));
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 16; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 100; ++i) {
        try {
          client.consume(DEMO, API_CALL);
        } catch (const tc::Error&) {
          ++failures;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(failures == 0);
  CHECK(client.check(DEMO, API_CALL).current == 1600);
  tc::ClientStats stats = client.stats();
  CHECK(stats.batchedItems == 1601);
  CHECK(stats.batchCalls < stats.batchedItems);
}

TEST_CASE("The example programs run against the daemon") {
  RunningDaemon d;
  rest(d, "POST", "/tenant/secrets", {{"key", "STRIPE_SECRET_KEY"}, {"value", "sk_live_x"}});
  auto first = run(TENANTD_CLIENT_QUICKSTART, {d.socketPath}, d.dir.path().string());
  INFO(first.err);
  CHECK(first.exitCode == 0);
  CHECK(first.out.find("check: allowed") != std::string::npos);
  CHECK(first.out.find("track: recorded") != std::string::npos);
  CHECK(first.out.find("secret STRIPE_SECRET_KEY: version 1, 9 bytes") != std::string::npos);
  auto second = run(TENANTD_CLIENT_QUICKSTART, {d.socketPath}, d.dir.path().string());
  CHECK(second.out.find("track: duplicate, not counted") != std::string::npos);

  auto raw = run(TENANTD_CLIENT_RAW, {d.socketPath}, d.dir.path().string());
  CHECK(raw.exitCode == 0);
  CHECK(raw.out == "check: allowed\ncheck: allowed\ncheck: allowed\n");
  auto missing = run(TENANTD_CLIENT_RAW, {d.socketPath, "tenant-999"}, d.dir.path().string());
  CHECK(missing.exitCode == 1);
  CHECK(missing.err.find("raw: not-found: no such tenant") != std::string::npos);
}

}  // namespace tenantd::testing
