// End to end: the limits endpoints of the real daemon over real HTTP, including durability of
// acknowledged tracks across SIGKILL.

#include <signal.h>
#include <sqlite3.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <atomic>
#include <fstream>
#include <mutex>
#include <set>
#include <thread>

#include "support/daemon-fixture.h"
#include "support/http-client.h"

namespace tenantd::testing {

using namespace std::chrono_literals;
using nlohmann::json;

namespace {
const std::string LIMITS = "/tenant/limits/resources";

struct Api {
  RunningDaemon& d;
  std::string token;

  HttpResult call(const std::string& method, const std::string& path, const json& body = nullptr,
                  std::map<std::string, std::string> headers = {}) {
    if (!token.empty()) headers.emplace("Authorization", "Bearer " + token);
    std::string text;
    if (!body.is_null()) {
      headers.emplace("Content-Type", "application/json");
      text = body.dump();
    }
    return httpRequest(method, d.restUrl + path, headers, text);
  }
  json ok(const std::string& method, const std::string& path, const json& body = nullptr) {
    auto r = call(method, path, body);
    INFO(method << " " << path << " -> " << r.status << " " << r.body);
    REQUIRE(r.status == 200);
    return json::parse(r.body);
  }
};

// A token for a second tenant, created offline before the daemon starts.
std::string otherTenantToken(RunningDaemon& d, const std::string& role = "admin") {
  auto created = d.cli({"tenant", "create", "tenant-456", "--name", "Other Inc", "--plan", "free"});
  REQUIRE((created.exitCode == 0 || created.err.find("already exists") != std::string::npos));
  auto token = d.cli({"token", "create", "--tenant", "tenant-456", "--role", role});
  REQUIRE(token.exitCode == 0);
  return token.out.substr(token.out.rfind("tnt_"), 47);
}

const json SPEC_RULES = json::parse(R"([
  {"resource": "llm", "metric": "tokens", "period": "month", "limit": 100000, "gateAction": "block"},
  {"resource": "workflow", "metric": "count", "period": "day", "limit": 100,
   "tiers": {"free": 10, "pro": 100}}
])");
}  // namespace

TEST_CASE("The spec's limit requests work with the demo token") {
  RunningDaemon d;
  Api api{d, d.demoToken()};
  auto saved = api.ok("PUT", LIMITS, SPEC_RULES);
  CHECK(saved["success"] == true);
  CHECK(saved["version"] == 1);
  auto rules = api.ok("GET", LIMITS);
  REQUIRE(rules.size() == 2);
  CHECK(rules[1]["tiers"]["pro"] == 100);
  CHECK(rules[1]["scope"] == "tenant");

  auto check = api.ok(
      "POST", LIMITS + "/check",
      {{"userId", "user-123"}, {"resource", "workflow"}, {"metric", "count"}, {"amount", 1}});
  CHECK(check["allowed"] == true);
  CHECK(check["gateAction"] == "block");
  CHECK(check["usage"] == json{{"current", 0}, {"limit", 100}});  // The pro tier.
  CHECK(check["rule"] == json{{"period", "day"}, {"scope", "tenant"}});

  auto track =
      api.ok("POST", LIMITS + "/track",
             {{"userId", "user-123"}, {"resource", "llm"}, {"metric", "tokens"}, {"amount", 1500}});
  CHECK(track["success"] == true);
  CHECK(track["usage"][0]["current"] == 1500);

  auto usage = api.ok("GET", LIMITS + "/usage?userId=user-123");
  REQUIRE(usage.size() == 2);
  CHECK(usage[0]["resource"] == "llm");
  CHECK(usage[0]["current"] == 1500);
  CHECK(usage[0]["limit"] == 100000);
  CHECK(usage[0]["percentage"] == 1);
  CHECK(usage[0]["scope"] == "tenant");
  CHECK(usage[0]["resetAt"].is_string());

  auto none = api.ok("POST", LIMITS + "/check", {{"resource", "storage"}, {"metric", "bytes"}});
  CHECK(none == json{{"allowed", true},
                     {"gateAction", nullptr},
                     {"usage", {{"current", 0}, {"limit", nullptr}}}});
}

TEST_CASE("Consume blocks at the limit and records only what it allows") {
  RunningDaemon d;
  Api api{d, d.demoToken()};
  api.ok("PUT", LIMITS,
         json::array(
             {{{"resource", "workflow"}, {"metric", "count"}, {"period", "day"}, {"limit", 2}}}));
  json q = {{"resource", "workflow"}, {"metric", "count"}};
  CHECK(api.ok("POST", LIMITS + "/consume", q)["allowed"] == true);
  CHECK(api.ok("POST", LIMITS + "/consume", q)["allowed"] == true);
  auto third = api.ok("POST", LIMITS + "/consume", q);
  CHECK(third["allowed"] == false);
  CHECK(third["recorded"] == false);
  CHECK(third["remaining"] == 0);
  CHECK(api.ok("GET", LIMITS + "/usage")[0]["current"] == 2);
}

TEST_CASE("Reservations hold capacity until committed or released") {
  RunningDaemon d;
  Api api{d, d.demoToken()};
  api.ok("PUT", LIMITS,
         json::array(
             {{{"resource", "llm"}, {"metric", "tokens"}, {"period", "month"}, {"limit", 1000}}}));
  auto r = api.ok("POST", LIMITS + "/reserve",
                  {{"resource", "llm"}, {"metric", "tokens"}, {"amount", 800}, {"ttlSeconds", 60}});
  REQUIRE(r["allowed"] == true);
  std::string id = r["reservationId"];
  CHECK(api.ok("POST", LIMITS + "/check",
               {{"resource", "llm"}, {"metric", "tokens"}, {"amount", 201}})["allowed"] == false);
  auto committed = api.ok("POST", LIMITS + "/commit", {{"reservationId", id}, {"amount", 650}});
  CHECK(committed["usage"][0]["current"] == 650);
  CHECK(api.call("POST", LIMITS + "/commit", {{"reservationId", id}, {"amount", 1}}).status == 404);
  auto r2 = api.ok("POST", LIMITS + "/reserve",
                   {{"resource", "llm"}, {"metric", "tokens"}, {"amount", 300}});
  CHECK(api.ok("POST", LIMITS + "/release", {{"reservationId", r2["reservationId"]}})["success"] ==
        true);
  CHECK(api.ok("GET", LIMITS + "/usage")[0]["current"] == 650);

  // An open reservation is durable: it still holds capacity after a restart and can be settled.
  auto r3 = api.ok("POST", LIMITS + "/reserve",
                   {{"resource", "llm"}, {"metric", "tokens"}, {"amount", 300}});
  REQUIRE(r3["allowed"] == true);
  d.process->signal(SIGTERM);
  REQUIRE(d.process->waitForExit(5s) == 0);
  d.restart();
  Api after{d, d.demoToken()};
  CHECK(after.ok("GET", LIMITS + "/usage")[0]["reserved"] == 300);
  CHECK(after.ok("POST", LIMITS + "/check",
                 {{"resource", "llm"}, {"metric", "tokens"}, {"amount", 51}})["allowed"] == false);
  CHECK(after.ok("POST", LIMITS + "/commit",
                 {{"reservationId", r3["reservationId"]},
                  {"amount", 100}})["usage"][0]["current"] == 750);
}

TEST_CASE("Auth failures get 401 with a challenge, forbidden actions 403") {
  RunningDaemon d;
  Api anonymous{d, ""};
  auto missing = anonymous.call("GET", LIMITS);
  CHECK(missing.status == 401);
  CHECK(missing.headers["www-authenticate"].rfind("Bearer", 0) == 0);
  Api wrong{d, "tnt_" + std::string(43, 'A')};
  auto unknown = wrong.call("GET", LIMITS);
  CHECK(unknown.status == 401);
  CHECK(unknown.headers["www-authenticate"].find("invalid_token") != std::string::npos);
  auto malformed = httpRequest("GET", d.restUrl + LIMITS, {{"Authorization", "Basic abc"}});
  CHECK(malformed.status == 401);

  Api admin{d, d.demoToken()};
  CHECK(admin.call("GET", LIMITS, nullptr, {{"X-Tenant-ID", "tenant-999"}}).status == 403);
  CHECK(admin.call("GET", LIMITS, nullptr, {{"X-Tenant-ID", "tenant-123"}}).status == 200);
}

TEST_CASE("Reader tokens may read but not write, and a revoked token stops working") {
  std::string reader, revocable, revocableId;
  RunningDaemon d({}, [&](RunningDaemon& self) {
    self.cli({"tenant", "create", "tenant-123", "--name", "Acme Corp", "--plan", "pro"});
    auto r = self.cli({"token", "create", "--tenant", "tenant-123", "--role", "reader"});
    reader = r.out.substr(r.out.rfind("tnt_"), 47);
    auto a = self.cli({"token", "create", "--tenant", "tenant-123"});
    revocable = a.out.substr(a.out.rfind("tnt_"), 47);
    revocableId = a.out.substr(a.out.find("tok_"), 20);
  });
  Api api{d, reader};
  CHECK(api.call("GET", LIMITS).status == 200);
  CHECK(api.call("PUT", LIMITS, json::array()).status == 403);
  CHECK(api.call("POST", LIMITS + "/check", {{"resource", "a"}, {"metric", "b"}}).status == 403);

  Api admin{d, revocable};
  CHECK(admin.call("GET", LIMITS).status == 200);
  REQUIRE(d.cli({"token", "revoke", revocableId}).exitCode == 0);
  // The daemon notices outside changes within a second; SIGHUP makes it reload now, and READY=1
  // after RELOADING=1 means the reload is done.
  d.process->signal(SIGHUP);
  REQUIRE(d.notify->waitFor("RELOADING=1", 10s));
  REQUIRE(d.notify->waitFor("READY=1", 10s));
  auto revoked = admin.call("GET", LIMITS);
  CHECK(revoked.status == 401);
  CHECK(revoked.headers["www-authenticate"].find("invalid_token") != std::string::npos);
}

TEST_CASE("Each bound of the request contract, at and past it, over REST") {
  RunningDaemon d;
  Api api{d, d.demoToken()};
  api.ok("PUT", LIMITS, SPEC_RULES);
  auto usage = [](json extra) {
    json body = {{"resource", "llm"}, {"metric", "tokens"}, {"amount", 1}};
    body.update(extra);
    return body;
  };
  const int64_t maxAmount = int64_t{1} << 53;
  struct Case {
    std::string path;
    json body;
    std::string refusedField;  // Empty: accepted.
  };
  std::vector<Case> cases = {
      {"/check", usage({{"amount", maxAmount}}), ""},
      {"/check", usage({{"amount", maxAmount + 1}}), "amount"},
      {"/check", usage({{"amount", 0}}), "amount"},
      {"/check", usage({{"resource", std::string(64, 'r')}}), ""},
      {"/check", usage({{"resource", std::string(65, 'r')}}), "resource"},
      {"/check", usage({{"metric", std::string(65, 'm')}}), "metric"},
      {"/check", usage({{"userId", std::string(128, 'u')}}), ""},
      {"/check", usage({{"userId", std::string(129, 'u')}}), "userId"},
      {"/track", usage({{"id", std::string(128, 'i')}}), ""},
      {"/track", usage({{"id", std::string(129, 'i')}}), "id"},
      {"/track", usage({{"timestamp", 946684800000}}), ""},
      {"/track", usage({{"timestamp", 946684799999}}), "timestamp"},
      {"/reserve", usage({{"ttlSeconds", 86400}}), ""},
      {"/reserve", usage({{"ttlSeconds", 86401}}), "ttlSeconds"},
      {"/reserve", usage({{"ttlSeconds", 0}}), "ttlSeconds"},
      {"/commit", {{"reservationId", std::string(129, 'r')}, {"amount", 1}}, "reservationId"},
      {"/commit", {{"reservationId", "rsv_x"}, {"amount", -1}}, "amount"},
      {"/commit", {{"reservationId", "rsv_x"}, {"amount", maxAmount + 1}}, "amount"},
      {"/release", {{"reservationId", std::string(129, 'r')}}, "reservationId"},
  };
  for (auto& c : cases) {
    auto r = api.call("POST", LIMITS + c.path, c.body);
    INFO(c.path << " " << c.body.dump().substr(0, 120) << " -> " << r.status << " " << r.body);
    if (c.refusedField.empty()) {
      CHECK(r.status == 200);
    } else {
      CHECK(r.status == 400);
      CHECK(json::parse(r.body)["error"]["field"] == c.refusedField);
    }
  }
  auto query = api.call("GET", LIMITS + "/usage?userId=" + std::string(129, 'u'));
  CHECK(query.status == 400);
  CHECK(json::parse(query.body)["error"]["field"] == "userId");
  CHECK(api.call("GET", LIMITS + "/usage?userId=" + std::string(128, 'u')).status == 200);
}

TEST_CASE("Bad input gets a 400 naming the field and changes nothing") {
  RunningDaemon d;
  Api api{d, d.demoToken()};
  api.ok("PUT", LIMITS, SPEC_RULES);
  api.ok("POST", LIMITS + "/track", {{"resource", "llm"}, {"metric", "tokens"}, {"amount", 5}});
  auto rulesBefore = api.ok("GET", LIMITS);
  auto usageBefore = api.ok("GET", LIMITS + "/usage");

  auto dup = api.call("PUT", LIMITS, json::array({SPEC_RULES[0], SPEC_RULES[0]}));
  CHECK(dup.status == 400);
  CHECK(json::parse(dup.body)["error"]["field"] == "[1]");
  auto badPeriod = api.call(
      "PUT", LIMITS,
      json::array({{{"resource", "a"}, {"metric", "b"}, {"period", "fortnight"}, {"limit", 1}}}));
  CHECK(json::parse(badPeriod.body)["error"]["field"] == "[0].period");
  auto unknown = api.call("POST", LIMITS + "/track",
                          {{"resource", "llm"}, {"metric", "tokens"}, {"amount", 1}, {"x", 1}});
  CHECK(unknown.status == 400);
  CHECK(json::parse(unknown.body)["error"]["field"] == "x");
  auto negative = api.call("POST", LIMITS + "/track",
                           {{"resource", "llm"}, {"metric", "tokens"}, {"amount", -3}});
  CHECK(json::parse(negative.body)["error"]["field"] == "amount");
  auto future = api.call("POST", LIMITS + "/track",
                         {{"resource", "llm"},
                          {"metric", "tokens"},
                          {"amount", 1},
                          {"timestamp", "2999-01-01T00:00:00Z"}});
  CHECK(future.status == 400);
  CHECK(json::parse(future.body)["error"]["field"] == "timestamp");
  auto badName = api.call("POST", LIMITS + "/check", {{"resource", "LLM"}, {"metric", "tokens"}});
  CHECK(json::parse(badName.body)["error"]["field"] == "resource");
  auto malformed =
      httpRequest("POST", d.restUrl + LIMITS + "/track",
                  {{"Authorization", "Bearer " + api.token}, {"Content-Type", "application/json"}},
                  "{\"resource\": ");
  CHECK(malformed.status == 400);
  auto notJson =
      httpRequest("PUT", d.restUrl + LIMITS,
                  {{"Authorization", "Bearer " + api.token}, {"Content-Type", "text/plain"}}, "[]");
  CHECK(notJson.status == 415);

  CHECK(api.ok("GET", LIMITS) == rulesBefore);
  CHECK(api.ok("GET", LIMITS + "/usage") == usageBefore);
}

TEST_CASE("No tenant can read or change another tenant's limits or usage") {
  std::string other;
  RunningDaemon d({}, [&](RunningDaemon& self) { other = otherTenantToken(self); });
  Api acme{d, d.demoToken()};
  Api them{d, other};
  acme.ok("PUT", LIMITS, SPEC_RULES);
  acme.ok("POST", LIMITS + "/track", {{"resource", "llm"}, {"metric", "tokens"}, {"amount", 7}});

  CHECK(them.ok("GET", LIMITS) == json::array());
  CHECK(them.ok("GET", LIMITS + "/usage") == json::array());
  CHECK(them.ok("POST", LIMITS + "/check",
                {{"resource", "llm"}, {"metric", "tokens"}})["usage"]["limit"]
            .is_null());
  for (auto [method, path] :
       std::vector<std::pair<std::string, std::string>>{{"GET", LIMITS},
                                                        {"PUT", LIMITS},
                                                        {"GET", LIMITS + "/usage"},
                                                        {"POST", LIMITS + "/check"},
                                                        {"POST", LIMITS + "/track"},
                                                        {"POST", LIMITS + "/consume"},
                                                        {"POST", LIMITS + "/reserve"},
                                                        {"POST", LIMITS + "/commit"},
                                                        {"POST", LIMITS + "/release"}}) {
    INFO(method << " " << path);
    CHECK(them.call(method, path, json::object(), {{"X-Tenant-ID", "tenant-123"}}).status == 403);
  }
  // Their writes land in their own counters only.
  them.ok("PUT", LIMITS, SPEC_RULES);
  them.ok("POST", LIMITS + "/track", {{"resource", "llm"}, {"metric", "tokens"}, {"amount", 1}});
  CHECK(acme.ok("GET", LIMITS + "/usage")[0]["current"] == 7);
  CHECK(them.ok("GET", LIMITS + "/usage")[0]["current"] == 1);
  CHECK(them.ok("GET", LIMITS + "/usage")[1]["limit"] == 10);  // Their plan's tier.
}

TEST_CASE("When the store cannot commit, writes get 503 and change nothing") {
  // No waiting for locks, so a lock held by another process makes the daemon's commit fail.
  RunningDaemon d({"--config", "tenantd.toml"}, [](RunningDaemon& self) {
    std::ofstream(self.dir.file("tenantd.toml")) << "[store]\nbusy_timeout_ms = 0\n";
  });
  Api api{d, d.demoToken()};
  api.ok(
      "PUT", LIMITS,
      json::array({{{"resource", "api"}, {"metric", "calls"}, {"period", "day"}, {"limit", 100}}}));
  json t = {{"resource", "api"}, {"metric", "calls"}, {"amount", 5}, {"id", "r-1"}};
  sqlite3* other = nullptr;
  REQUIRE(sqlite3_open((d.dataDir() + "/tenantd.db").c_str(), &other) == SQLITE_OK);
  REQUIRE(sqlite3_exec(other, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) == SQLITE_OK);
  auto refused = api.call("POST", LIMITS + "/track", t);
  CHECK(refused.status == 503);
  CHECK(json::parse(refused.body)["error"]["code"] == "unavailable");
  CHECK(api.call("POST", LIMITS + "/consume", {{"resource", "api"}, {"metric", "calls"}}).status ==
        503);
  CHECK(api.ok("GET", LIMITS + "/usage")[0]["current"] == 0);  // Undone in memory too.
  sqlite3_exec(other, "ROLLBACK", nullptr, nullptr, nullptr);
  sqlite3_close(other);
  // The same id was not remembered: the retry counts.
  auto retried = api.ok("POST", LIMITS + "/track", t);
  CHECK(retried["duplicate"] == false);
  CHECK(api.ok("GET", LIMITS + "/usage")[0]["current"] == 5);
}

TEST_CASE("A body over the limit gets 413 in the JSON error shape") {
  RunningDaemon d;
  Api api{d, d.demoToken()};
  auto big =
      httpRequest("PUT", d.restUrl + LIMITS,
                  {{"Authorization", "Bearer " + api.token}, {"Content-Type", "application/json"}},
                  "[" + std::string(1 << 20, ' ') + "]");
  CHECK(big.status == 413);
  CHECK(json::parse(big.body)["error"]["code"] == "payload_too_large");
}

TEST_CASE("A repeated track id is acknowledged once and counted once, across restarts") {
  RunningDaemon d;
  Api api{d, d.demoToken()};
  api.ok(
      "PUT", LIMITS,
      json::array(
          {{{"resource", "api"}, {"metric", "calls"}, {"period", "lifetime"}, {"limit", 1000}}}));
  json t = {{"resource", "api"}, {"metric", "calls"}, {"amount", 3}, {"id", "req-1"}};
  CHECK(api.ok("POST", LIMITS + "/track", t)["duplicate"] == false);
  CHECK(api.ok("POST", LIMITS + "/track", t)["duplicate"] == true);
  CHECK(api.ok("GET", LIMITS + "/usage")[0]["current"] == 3);
  d.process->signal(SIGTERM);
  REQUIRE(d.process->waitForExit(5s) == 0);
  d.restart();
  Api again{d, d.demoToken()};
  CHECK(again.ok("GET", LIMITS + "/usage")[0]["current"] == 3);
  CHECK(again.ok("POST", LIMITS + "/track", t)["duplicate"] == true);
  CHECK(again.ok("GET", LIMITS + "/usage")[0]["current"] == 3);
}

// The durability promise: SIGKILL under sustained track load from several clients; after a
// restart every acknowledged track is counted exactly once and unacknowledged ones at most once.
TEST_CASE("After SIGKILL under load every acknowledged track is counted exactly once") {
  // sync = full makes each group commit wait for fsync: more acknowledgements are in flight
  // when the kill lands, so acknowledging before the commit could not pass unnoticed.
  RunningDaemon d({"--config", "tenantd.toml"}, [](RunningDaemon& self) {
    std::ofstream(self.dir.file("tenantd.toml")) << "[store]\nsync = \"full\"\n";
  });
  Api api{d, d.demoToken()};
  api.ok("PUT", LIMITS,
         json::array({{{"resource", "api"},
                       {"metric", "calls"},
                       {"period", "lifetime"},
                       {"limit", int64_t{1} << 40}}}));
  constexpr int CLIENTS = 8;
  constexpr int KILL_AFTER_ACKS = 1500;
  std::mutex mutex;
  std::set<std::string> acked, attempted;
  std::atomic<int> ackCount{0};
  std::atomic<bool> killed{false};
  std::string url = d.restUrl + LIMITS + "/track";
  std::string auth = "Bearer " + api.token;
  std::vector<std::thread> clients;
  for (int c = 0; c < CLIENTS; ++c) {
    clients.emplace_back([&, c]() {
      for (int i = 0; !killed.load(); ++i) {
        std::string id = "c" + std::to_string(c) + "-" + std::to_string(i);
        {
          std::lock_guard<std::mutex> lock(mutex);
          attempted.insert(id);
        }
        try {
          auto r = httpRequest(
              "POST", url, {{"Authorization", auth}, {"Content-Type", "application/json"}},
              json{{"resource", "api"}, {"metric", "calls"}, {"amount", 1}, {"id", id}}.dump());
          if (r.status != 200) return;
          std::lock_guard<std::mutex> lock(mutex);
          acked.insert(id);
          ++ackCount;
        } catch (const std::exception&) {
          return;  // The daemon died mid-request: this one is unacknowledged.
        }
      }
    });
  }
  // Kill once enough tracks were acknowledged, with the clients still sending.
  while (ackCount.load() < KILL_AFTER_ACKS) {
    REQUIRE_FALSE(d.process->waitForExit(1ms).has_value());
  }
  d.process->signal(SIGKILL);
  REQUIRE(d.process->waitForExit(5s) == 128 + SIGKILL);
  killed = true;
  for (auto& t : clients) t.join();

  d.restart();
  Api after{d, d.demoToken()};
  int64_t counted = after.ok("GET", LIMITS + "/usage")[0]["current"];
  INFO("acked " << acked.size() << ", attempted " << attempted.size() << ", counted " << counted);
  CHECK(counted >= static_cast<int64_t>(acked.size()));
  CHECK(counted <= static_cast<int64_t>(attempted.size()));
  // Every acknowledged id is known: resending it is a duplicate and changes nothing.
  for (auto& id : acked) {
    auto r = after.ok("POST", LIMITS + "/track",
                      {{"resource", "api"}, {"metric", "calls"}, {"amount", 1}, {"id", id}});
    REQUIRE(r["duplicate"] == true);
  }
  // Resending the unacknowledged ones counts each exactly once: the total is then one per id.
  for (auto& id : attempted) {
    if (!acked.count(id)) {
      after.ok("POST", LIMITS + "/track",
               {{"resource", "api"}, {"metric", "calls"}, {"amount", 1}, {"id", id}});
    }
  }
  CHECK(after.ok("GET", LIMITS + "/usage")[0]["current"] == static_cast<int64_t>(attempted.size()));
}

}  // namespace tenantd::testing
