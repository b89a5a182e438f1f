// End to end: GET /metrics after known traffic. promtool (Debian's prometheus package) must
// accept the exposition, and each counter must move by exactly what the traffic was.

#include <catch2/catch.hpp>

#include "support/daemon-fixture.h"
#include "support/http-client.h"
#include "util/version.h"

#include <capnp/ez-rpc.h>

#include "tenantd.capnp.h"

#include <csignal>
#include <fstream>
#include <optional>

namespace tenantd::testing {

namespace {

HttpResult as(RunningDaemon& d, const std::string& token, const std::string& method,
              const std::string& path, const std::string& body = "") {
  std::map<std::string, std::string> headers;
  if (!token.empty()) headers.emplace("Authorization", "Bearer " + token);
  if (!body.empty()) headers.emplace("Content-Type", "application/json");
  return httpRequest(method, d.restUrl + path, headers, body);
}

// The value of the sample `series` (name and labels exactly as exposed), if present.
std::optional<double> sample(const std::string& exposition, const std::string& series) {
  std::string line = "\n" + series + " ";
  auto at = ("\n" + exposition).find(line);
  if (at == std::string::npos) return std::nullopt;
  return std::stod(exposition.substr(at + line.size() - 1));
}

double delta(const std::string& before, const std::string& after, const std::string& series) {
  auto b = sample(before, series);
  auto a = sample(after, series);
  REQUIRE(a.has_value());
  return *a - b.value_or(0);
}

// One RPC connection to the demo tenant, as an app holds it.
struct App {
  capnp::EzRpcClient client;
  rpc::Tenant::Client tenant;
  explicit App(RunningDaemon& d) : client("unix:" + d.socketPath), tenant(nullptr) {
    auto request = client.getMain<rpc::Sidecar>().tenantRequest();
    request.setId("tenant-123");
    tenant = request.send().wait(client.getWaitScope()).getTenant();
  }
  bool check(int64_t amount) {
    auto request = tenant.checkRequest();
    auto usage = request.initRequest();
    usage.setResource("api");
    usage.setMetric("calls");
    usage.setAmount(amount);
    return request.send().wait(client.getWaitScope()).getDecision().getAllowed();
  }
  std::string getSecret(const char* name) {
    auto request = tenant.getSecretRequest();
    request.setName(name);
    KJ_IF_MAYBE (e,
                 kj::runCatchingExceptions([&]() { request.send().wait(client.getWaitScope()); })) {
      return e->getDescription().cStr();
    }
    return "ok";
  }
};

std::string rpc(const char* interface, const char* method, const char* outcome) {
  return std::string("tenantd_rpc_calls_total{interface=\"") + interface + "\",method=\"" + method +
         "\",outcome=\"" + outcome + "\"}";
}

std::string decisions(const char* outcome, const char* surface) {
  return std::string("tenantd_limit_decisions_total{outcome=\"") + outcome + "\",surface=\"" +
         surface + "\"}";
}

std::string rest(const char* code, const char* method, const char* route) {
  return std::string("tenantd_rest_requests_total{code=\"") + code + "\",method=\"" + method +
         "\",route=\"" + route + "\"}";
}

}  // namespace

TEST_CASE("Metrics after known traffic pass promtool and move by exactly that traffic") {
  RunningDaemon d;
  std::string t = d.demoToken();
  // One route limited to a single request an hour, so the limiter refuses what follows it.
  REQUIRE(
      as(d, t, "POST", "/tenant/config",
         R"({"rateLimit":{"enabled":true,"routes":{"GET /usage/summary":{"max":1,"windowSeconds":3600}}}})")
          .status == 200);
  REQUIRE(as(d, t, "PUT", "/tenant/limits/resources",
             R"([{"resource":"api","metric":"calls","period":"day","limit":1000}])")
              .status == 200);

  App app(d);
  std::string before = httpRequest("GET", d.restUrl + "/metrics").body;
  for (int i = 0; i < 3; ++i) REQUIRE(app.check(1));
  REQUIRE_FALSE(app.check(5000));  // Over the day's 1000: the rule blocks.
  REQUIRE(app.getSecret("NOT_THERE").find("not-found:") != std::string::npos);
  REQUIRE(as(d, t, "POST", "/tenant/limits/resources/check",
             R"({"resource":"api","metric":"calls","amount":1})")
              .status == 200);
  for (int i = 0; i < 5; ++i) REQUIRE(as(d, t, "GET", "/tenant/info").status == 200);
  for (int i = 0; i < 3; ++i) REQUIRE(as(d, "", "GET", "/tenant/info").status == 401);
  for (int i = 0; i < 2; ++i) REQUIRE(as(d, t, "GET", "/no/such/path").status == 404);
  REQUIRE(as(d, t, "DELETE", "/tenant/secrets/NOT_THERE").status == 404);
  for (int i = 0; i < 4; ++i) {
    REQUIRE(as(d, t, "POST", "/tenant/limits/resources/track",
               R"({"resource":"api","metric":"calls","amount":1})")
                .status == 200);
  }
  REQUIRE(as(d, t, "GET", "/usage/summary").status == 200);
  REQUIRE(as(d, t, "GET", "/usage/summary").status == 429);
  REQUIRE(as(d, t, "GET", "/usage/summary").status == 429);
  std::string after = httpRequest("GET", d.restUrl + "/metrics").body;

  SECTION("promtool accepts the exposition") {
    std::string file = d.dir.file("metrics.txt");
    std::ofstream(file) << after;
    auto checked =
        run("/bin/sh", {"-c", "promtool check metrics < " + file}, d.dir.path().string());
    INFO(checked.out << checked.err);
    CHECK(checked.exitCode == 0);
  }

  SECTION("REST requests by method, route pattern and status class") {
    CHECK(delta(before, after, rest("2xx", "GET", "/tenant/info")) == 5);
    CHECK(delta(before, after, rest("4xx", "GET", "/tenant/info")) == 3);
    CHECK(delta(before, after, rest("4xx", "GET", "unmatched")) == 2);
    CHECK(delta(before, after, rest("4xx", "DELETE", "/tenant/secrets/:key")) == 1);
    CHECK(delta(before, after, rest("2xx", "POST", "/tenant/limits/resources/track")) == 4);
    CHECK(delta(before, after, rest("2xx", "GET", "/usage/summary")) == 1);
    CHECK(delta(before, after, rest("4xx", "GET", "/usage/summary")) == 2);
    // The first scrape is counted once it has answered, so the second one shows it.
    CHECK(delta(before, after, rest("2xx", "GET", "/metrics")) == 1);
    CHECK(delta(before, after, "tenantd_rate_limited_total{surface=\"rest\"}") == 2);
    CHECK(
        delta(
            before, after,
            R"(tenantd_rest_request_duration_seconds_count{method="GET",route="/tenant/info"})") ==
        8);
    CHECK(
        delta(
            before, after,
            R"(tenantd_rest_request_duration_seconds_bucket{method="GET",route="/tenant/info",le="+Inf"})") ==
        8);
  }

  SECTION("RPC calls by interface, method and outcome; decisions by outcome and surface") {
    CHECK(delta(before, after, rpc("Tenant", "check", "ok")) == 4);
    CHECK(delta(before, after, rpc("Tenant", "getSecret", "not-found")) == 1);
    CHECK(delta(before, after,
                R"(tenantd_rpc_call_duration_seconds_count{interface="Tenant",method="check"})") ==
          4);
    CHECK(sample(after, rpc("Sidecar", "tenant", "ok")) == 1);
    CHECK(delta(before, after, decisions("allowed", "rpc")) == 3);
    CHECK(delta(before, after, decisions("blocked", "rpc")) == 1);
    CHECK(delta(before, after, decisions("allowed", "rest")) == 1);
    CHECK(delta(before, after, decisions("blocked", "rest")) == 0);
    CHECK(sample(after, R"(tenantd_open_connections{listener="rpc"})") == 1);
    CHECK(sample(after, "tenantd_config_watches") == 0);
  }

  SECTION("Store commits: every acknowledged track committed, each commit's jobs observed") {
    // Four tracks, each acknowledged after its own commit (sequential requests); the store's
    // readiness probe may commit in between, so at least four.
    CHECK(delta(before, after, "tenantd_store_commits_total") >= 4);
    CHECK(delta(before, after, "tenantd_store_commit_failures_total") == 0);
    auto commits = sample(after, "tenantd_store_commits_total");
    auto jobsCount = sample(after, "tenantd_store_commit_jobs_count");
    auto latencyCount = sample(after, "tenantd_store_commit_duration_seconds_count");
    REQUIRE(commits.has_value());
    CHECK(jobsCount == commits);
    CHECK(latencyCount == commits);
  }

  SECTION("Build and process families, and no tenant in any label") {
    CHECK(sample(after, std::string("tenantd_build_info{version=\"") + TENANTD_VERSION + "\"}") ==
          1);
    CHECK(sample(after, "process_open_fds").value_or(0) > 3);
    CHECK(sample(after, "process_resident_memory_bytes").value_or(0) > 1e6);
    CHECK(sample(after, "process_cpu_seconds_total").has_value());
    double start = sample(after, "process_start_time_seconds").value_or(0);
    double now = static_cast<double>(std::time(nullptr));
    CHECK(start <= now + 1);
    CHECK(start > now - 600);
    // The same number on every scrape, as a start time must be (restart alerts compare it).
    CHECK(sample(before, "process_start_time_seconds") ==
          sample(after, "process_start_time_seconds"));
    CHECK(after.find("tenant-123") == std::string::npos);
  }
}

}  // namespace tenantd::testing

namespace tenantd::testing {

TEST_CASE(
    "With metrics listen set, scrapes have a listener of their own that serves nothing else") {
  TempDir configDir;
  std::string config = configDir.file("tenantd.toml");
  std::ofstream(config) << "[metrics]\nlisten = \"127.0.0.1:0\"\n";
  RunningDaemon d({"--config", config});
  std::string out = d.process->out();
  auto at = out.find("  metrics http://");
  REQUIRE(at != std::string::npos);
  std::string url = out.substr(at + 10, out.find('\n', at) - at - 10);  // ".../metrics"
  std::string base = url.substr(0, url.rfind("/metrics"));

  auto scrape = httpRequestOutsideApi("GET", url);
  CHECK(scrape.status == 200);
  CHECK(scrape.headers["content-type"].rfind("text/plain; version=0.0.4", 0) == 0);
  CHECK(scrape.body.find("tenantd_build_info") != std::string::npos);
  CHECK(httpRequestOutsideApi("GET", base + "/healthz").status == 200);
  // The tenant API is not there, with or without a token.
  std::string t = d.demoToken();
  CHECK(httpRequestOutsideApi("GET", base + "/tenant/info", {{"Authorization", "Bearer " + t}})
            .status == 404);
  CHECK(httpRequestOutsideApi("POST", base + "/metrics").status == 405);
  // The REST listener still serves /metrics too.
  CHECK(httpRequest("GET", d.restUrl + "/metrics").status == 200);
  d.process->signal(SIGTERM);
  CHECK(d.process->waitForExit(std::chrono::seconds(10)) == 0);
}

}  // namespace tenantd::testing
