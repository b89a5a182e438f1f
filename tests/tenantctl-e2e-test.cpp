// End to end: the real tenantctl binary against the real daemon. Exit codes, --json output
// parsed, human output where it matters, values fed on stdin.

#include <signal.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <fstream>

#include "support/daemon-fixture.h"
#include "support/http-client.h"

namespace tenantd::testing {

using namespace std::chrono_literals;
using nlohmann::json;

namespace {
const std::string DEMO = "tenant-123";

struct Ctl {
  RunningDaemon& d;

  RunResult operator()(std::vector<std::string> args) {
    args.insert(args.begin(), {"--socket", d.socketPath});
    return run(TENANTCTL_BIN, args, d.dir.path().string());
  }
  // With `input` on stdin (a file, through sh: Process gives children /dev/null).
  RunResult withStdin(std::vector<std::string> args, const std::string& input) {
    std::string path = d.dir.file("stdin");
    std::ofstream(path, std::ios::binary) << input;
    args.insert(args.begin(), {"-c", R"(exec "$0" "$@" < "$STDIN_FILE")", TENANTCTL_BIN, "--socket",
                               d.socketPath});
    return run("/bin/sh", args, d.dir.path().string(), {{"STDIN_FILE", path}});
  }
  // Exit 0 and --json output, parsed.
  json ok(std::vector<std::string> args) {
    args.push_back("--json");
    auto r = (*this)(args);
    INFO(json(args).dump() << " -> " << r.exitCode << "\n" << r.out << r.err);
    REQUIRE(r.exitCode == 0);
    return json::parse(r.out);
  }
};

HttpResult rest(RunningDaemon& d, const std::string& token, const std::string& method,
                const std::string& path, const json& body = nullptr) {
  return httpRequest(method, d.restUrl + path,
                     {{"Authorization", "Bearer " + token}, {"Content-Type", "application/json"}},
                     body.is_null() ? "" : body.dump());
}

void limitApiCalls(RunningDaemon& d, int64_t limit) {
  REQUIRE(
      rest(d, d.demoToken(), "PUT", "/tenant/limits/resources",
           json::array(
               {{{"resource", "api"}, {"metric", "calls"}, {"period", "day"}, {"limit", limit}}}))
          .status == 200);
}
}  // namespace

TEST_CASE("tenantctl limits check and track drive the daemon as the tenant's app") {
  RunningDaemon d;
  limitApiCalls(d, 10);
  Ctl ctl{d};
  auto tracked = ctl.ok(
      {"limits", "track", "-t", DEMO, "-r", "api", "-m", "calls", "-a", "4", "--id", "ctl-1"});
  CHECK(tracked["duplicate"] == false);
  CHECK(tracked["usage"][0]["current"] == 4);
  CHECK(ctl.ok({"limits", "track", "-t", DEMO, "-r", "api", "-m", "calls", "-a", "4", "--id",
                "ctl-1"})["duplicate"] == true);
  auto decision = ctl.ok({"limits", "check", "-t", DEMO, "-r", "api", "-m", "calls", "-a", "7"});
  CHECK(decision["allowed"] == false);
  CHECK(decision["current"] == 4);
  CHECK(decision["remaining"] == 6);
  auto human = ctl({"limits", "check", "-t", DEMO, "-r", "api", "-m", "calls"});
  CHECK(human.exitCode == 0);
  CHECK(human.out.rfind("allowed: 4 used of 10 per day (tenant scope, block), 6 remaining, resets ",
                        0) == 0);
  // The REST API sees what tenantctl recorded.
  auto usage = json::parse(rest(d, d.demoToken(), "GET", "/tenant/limits/resources/usage").body);
  CHECK(usage[0]["current"] == 4);
}

TEST_CASE("tenantctl secret get prints the exact value and exit codes say what went wrong") {
  RunningDaemon d;
  REQUIRE(rest(d, d.demoToken(), "POST", "/tenant/secrets",
               {{"key", "STRIPE_SECRET_KEY"}, {"value", "sk_live_ctl"}})
              .status == 200);
  Ctl ctl{d};
  auto got = ctl({"secret", "get", "-t", DEMO, "STRIPE_SECRET_KEY"});
  CHECK(got.exitCode == 0);
  CHECK(got.out == "sk_live_ctl");
  CHECK(ctl.ok({"secret", "get", "-t", DEMO, "STRIPE_SECRET_KEY"})["version"] == 1);

  auto missing = ctl({"secret", "get", "-t", DEMO, "NOPE"});
  CHECK(missing.exitCode == 3);
  CHECK(missing.err == "tenantctl: not-found: no such secret\n");
  CHECK(ctl({"limits", "check", "-t", "tenant-999", "-r", "a", "-m", "b"}).exitCode == 3);
  auto usage = ctl({"limits", "check", "-t", DEMO});
  CHECK(usage.exitCode == 2);
  CHECK(usage.err.rfind("tenantctl: ", 0) == 0);
  auto invalid = ctl({"limits", "check", "-t", DEMO, "-r", "API", "-m", "calls"});
  CHECK(invalid.exitCode == 1);
  CHECK(invalid.err.rfind("tenantctl: invalid-argument: ", 0) == 0);
}

TEST_CASE("tenantctl reports a stopped daemon as unavailable and honours TENANTD_SOCKET") {
  RunningDaemon d;
  auto viaEnv = run(TENANTCTL_BIN, {"--json", "limits", "check", "-t", DEMO, "-r", "a", "-m", "b"},
                    d.dir.path().string(), {{"TENANTD_SOCKET", d.socketPath}});
  CHECK(viaEnv.exitCode == 0);
  d.process->signal(SIGTERM);
  REQUIRE(d.process->waitForExit(10s) == 0);
  auto down = Ctl{d}({"limits", "check", "-t", DEMO, "-r", "a", "-m", "b"});
  CHECK(down.exitCode == 1);
  CHECK(down.err.rfind("tenantctl: unavailable: cannot connect to " + d.socketPath, 0) == 0);
  CHECK(down.err.find("is tenantd running?") != std::string::npos);
}

TEST_CASE("tenantctl bench measures the daemon four ways") {
  RunningDaemon d;
  auto rows = Ctl{d}.ok({"bench", "--duration", "0.2", "--threads", "4"});
  REQUIRE(rows.size() == 4);
  CHECK(rows[0]["mode"] == "sequential");
  for (auto& row : rows) {
    INFO(row.dump());
    CHECK(row["calls"].get<uint64_t>() > 0);
    CHECK(row["p99Us"].get<uint64_t>() >= row["p50Us"].get<uint64_t>());
  }
  CHECK(rows[2]["checks"].get<uint64_t>() == 128 * rows[2]["calls"].get<uint64_t>());
}

// ---- Admin: Sidecar.admin() (the test runs as the daemon's uid: an admin) ----

TEST_CASE("tenantctl status describes the running daemon") {
  RunningDaemon d;
  Ctl ctl{d};
  auto s = ctl.ok({"status"});
  CHECK(s["version"] == "0.1.0");
  CHECK(s["ready"] == true);
  CHECK(s["tenants"] == 1);
  CHECK(s["socketPath"] == d.socketPath);
  CHECK(s["databasePath"] == d.dataDir() + "/tenantd.db");
  CHECK(s["rpcConnections"].get<int>() >= 1);
  auto human = ctl({"status"});
  CHECK(human.exitCode == 0);
  CHECK(human.out.rfind("version ", 0) == 0);
  CHECK(human.out.find("\nready ") != std::string::npos);
}

TEST_CASE("tenantctl creates, lists, shows and updates tenants") {
  RunningDaemon d;
  Ctl ctl{d};
  auto created = ctl.ok({"tenant", "create", "acme-2", "--name", "Acme Two", "--plan", "free",
                         "--timezone", "Europe/Berlin", "--api-calls", "1000"});
  CHECK(created["id"] == "acme-2");
  CHECK(created["timezone"] == "Europe/Berlin");
  CHECK(created["limits"]["apiCalls"] == 1000);
  CHECK(created["limits"]["llmTokens"] == nullptr);
  auto again = ctl({"tenant", "create", "acme-2", "--name", "X", "--plan", "free"});
  CHECK(again.exitCode == 1);
  CHECK(again.err.rfind("tenantctl: already-exists: ", 0) == 0);
  CHECK(ctl({"tenant", "create", "bad id", "--name", "X", "--plan", "free"}).exitCode == 1);

  auto list = ctl.ok({"tenant", "list"});
  REQUIRE(list.size() == 2);
  auto table = ctl({"tenant", "list"});
  CHECK(table.out.rfind("ID ", 0) == 0);
  CHECK(table.out.find("acme-2") != std::string::npos);

  auto updated = ctl.ok({"tenant", "update", "acme-2", "--plan", "pro", "--llm-tokens", "5"});
  CHECK(updated["plan"] == "pro");
  CHECK(updated["name"] == "Acme Two");
  CHECK(updated["limits"]["apiCalls"] == 1000);
  CHECK(updated["limits"]["llmTokens"] == 5);
  CHECK(ctl.ok({"tenant", "show", "acme-2"}) == updated);
  CHECK(ctl({"tenant", "show", "nobody"}).exitCode == 3);
  // The new tenant serves at once: its app can act for it over RPC.
  CHECK(ctl.ok({"limits", "check", "-t", "acme-2", "-r", "a", "-m", "b"})["allowed"] == true);
}

TEST_CASE("tenantctl tokens work over REST until revoked") {
  RunningDaemon d;
  Ctl ctl{d};
  auto created = ctl.ok({"token", "create", "--tenant", DEMO, "--role", "reader", "--ttl", "1d"});
  std::string token = created["token"];
  std::string id = created["info"]["id"];
  CHECK(created["info"]["role"] == "reader");
  CHECK(created["info"]["expiresAt"].is_string());
  CHECK(rest(d, token, "GET", "/tenant/info").status == 200);
  auto list = ctl.ok({"token", "list", "--tenant", DEMO});
  CHECK(std::any_of(list.begin(), list.end(), [&](const json& t) { return t["id"] == id; }));
  CHECK(list.dump().find(token) == std::string::npos);  // Never the secret again.
  auto revoked = ctl({"token", "revoke", id});
  CHECK(revoked.exitCode == 0);
  CHECK(revoked.out == "revoked " + id + "\n");
  CHECK(rest(d, token, "GET", "/tenant/info").status == 401);
  CHECK(ctl({"token", "revoke", "tok_nope"}).exitCode == 3);
}

TEST_CASE("tenantctl sets and gets limits and shows usage") {
  RunningDaemon d;
  Ctl ctl{d};
  auto set =
      ctl.withStdin({"limits", "set", "-t", DEMO, "--json"},
                    R"([{"resource":"llm","metric":"tokens","period":"month","limit":100000}])");
  REQUIRE(set.exitCode == 0);
  auto rules = ctl.ok({"limits", "get", "-t", DEMO});
  REQUIRE(rules.size() == 1);
  CHECK(rules[0]["limit"] == 100000);
  auto table = ctl({"limits", "get", "-t", DEMO});
  CHECK(table.out.rfind("RESOURCE", 0) == 0);
  auto bad = ctl.withStdin({"limits", "set", "-t", DEMO}, "not json");
  CHECK(bad.exitCode == 2);
  auto refused = ctl.withStdin({"limits", "set", "-t", DEMO}, R"([{"resource":"LLM"}])");
  CHECK(refused.exitCode == 1);
  CHECK(refused.err.rfind("tenantctl: invalid-argument: ", 0) == 0);

  ctl.ok({"limits", "track", "-t", DEMO, "-r", "llm", "-m", "tokens", "-a", "1500", "-u", "u1"});
  auto usage = ctl.ok({"usage", "-t", DEMO});
  CHECK(usage[0]["current"] == 1500);
  auto summary = ctl.ok({"usage", "-t", DEMO, "--summary"});
  CHECK(summary["tenant_id"] == DEMO);
}

TEST_CASE("tenantctl stores secrets from stdin, lists and removes them") {
  RunningDaemon d;
  Ctl ctl{d};
  const std::string value = "sk_live_from_stdin\n";
  auto put = ctl.withStdin({"secret", "put", "-t", DEMO, "STRIPE_SECRET_KEY"}, value);
  CHECK(put.exitCode == 0);
  CHECK(put.out == "stored STRIPE_SECRET_KEY version 1\n");
  CHECK(ctl({"secret", "get", "-t", DEMO, "STRIPE_SECRET_KEY"}).out == value);
  std::string file = d.dir.file("value");
  std::ofstream(file) << "v2";
  CHECK(ctl.ok({"secret", "put", "-t", DEMO, "STRIPE_SECRET_KEY", "--file", file})["version"] == 2);
  CHECK(ctl.ok({"secret", "list", "-t", DEMO}) == json{"STRIPE_SECRET_KEY"});
  CHECK(ctl({"secret", "rm", "-t", DEMO, "STRIPE_SECRET_KEY"}).exitCode == 0);
  CHECK(ctl({"secret", "rm", "-t", DEMO, "STRIPE_SECRET_KEY"}).exitCode == 3);
  CHECK(ctl.ok({"secret", "list", "-t", DEMO}) == json::array());
  // The audit trail names the operator's uid and the secret, never the value.
  auto audit = ctl.ok({"audit", "-t", DEMO, "--limit", "5"});
  auto entries = audit["entries"];
  REQUIRE(entries.size() >= 3);
  CHECK(entries[0]["action"] == "secret.delete");
  CHECK(entries[0]["actor"].get<std::string>().rfind("uid:", 0) == 0);
  CHECK(audit.dump().find("sk_live_from_stdin") == std::string::npos);
  auto table = ctl({"audit", "-t", DEMO});
  CHECK(table.out.rfind("ID ", 0) == 0);
}

TEST_CASE("tenantctl config set and get with a version guard") {
  RunningDaemon d;
  Ctl ctl{d};
  auto saved = ctl.withStdin({"config", "set", "-t", DEMO, "--json"},
                             R"({"rateLimit":{"enabled":true,"default":{"max":500}}})");
  REQUIRE(saved.exitCode == 0);
  uint64_t version = json::parse(saved.out)["version"];
  auto got = ctl.ok({"config", "get", "-t", DEMO});
  CHECK(got["version"] == version);
  CHECK(got["config"]["rateLimit"]["default"]["max"] == 500);
  auto stale = ctl.withStdin(
      {"config", "set", "-t", DEMO, "--if-version", std::to_string(version + 5)}, "{}");
  CHECK(stale.exitCode == 1);
  CHECK(stale.err.rfind("tenantctl: conflict: ", 0) == 0);
  auto plain = ctl({"config", "get", "-t", DEMO});
  CHECK(json::parse(plain.out)["rateLimit"]["enabled"] == true);
  auto invalid = ctl.withStdin({"config", "set", "-t", DEMO}, R"({"features":{}})");
  CHECK(invalid.exitCode == 1);
  CHECK(invalid.err == "tenantctl: invalid-argument: features: unknown field\n");
  CHECK(plain.err == "version " + std::to_string(version) + "\n");
}

}  // namespace tenantd::testing
