// End to end: the tenant REST API (docs/openapi.yaml) against the real daemon — every curl
// example of the original tenant API contract verbatim, then the semantics where it was thin.
// The HTTP client checks every answer against docs/openapi.yaml.

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <string>

#include "support/daemon-fixture.h"
#include "support/http-client.h"

namespace tenantd::testing {

using nlohmann::json;

namespace {
struct Api {
  RunningDaemon& d;
  std::string token;
  HttpResult call(const std::string& method, const std::string& path, const std::string& body = "",
                  std::map<std::string, std::string> headers = {}) {
    if (!token.empty()) headers.emplace("Authorization", "Bearer " + token);
    if (!body.empty()) headers.emplace("Content-Type", "application/json");
    return httpRequest(method, d.restUrl + path, headers, body);
  }
  json ok(const std::string& method, const std::string& path, const std::string& body = "") {
    auto r = call(method, path, body);
    INFO(method << " " << path << " -> " << r.status << " " << r.body);
    REQUIRE(r.status / 100 == 2);
    return json::parse(r.body);
  }
};

std::string tokenFor(RunningDaemon& d, const std::string& tenant, const std::string& role) {
  auto r = d.cli({"token", "create", "--tenant", tenant, "--role", role});
  REQUIRE(r.exitCode == 0);
  return r.out.substr(r.out.rfind("tnt_"), 47);
}

void twoTenants(RunningDaemon& self) {
  self.cli({"tenant", "create", "tenant-123", "--name", "Acme Corp", "--plan", "pro"});
  self.cli({"tenant", "create", "tenant-456", "--name", "Other Inc", "--plan", "free"});
}
}  // namespace

// Each example of the spec, with its method, headers and body exactly as published and <token>
// replaced by the demo token.
TEST_CASE("Every curl example of the spec works verbatim with the demo token") {
  RunningDaemon d;
  Api api{d, d.demoToken()};
  std::map<std::string, std::string> tenantHeader{{"X-Tenant-ID", "tenant-123"}};
  struct Example {
    std::string method, path, body;
    bool withTenantHeader;
  };
  std::vector<Example> examples = {
      {"GET", "/tenant/config", "", true},
      {"POST", "/tenant/config", R"({
    "routes": [
      {
        "path": "/custom",
        "method": "get",
        "description": "Custom endpoint"
      }
    ],
    "rateLimit": {
      "enabled": true,
      "default": { "max": 500 }
    }
  })",
       true},
      {"GET", "/tenant/secrets", "", true},
      {"POST", "/tenant/secrets", R"({
    "key": "STRIPE_SECRET_KEY",
    "value": "sk_live_..."
  })",
       true},
      {"DELETE", "/tenant/secrets/STRIPE_SECRET_KEY", "", true},
      {"GET", "/usage/summary", "", true},
      {"GET", "/usage/history?period=2024-01", "", true},
      {"GET", "/tenant/info", "", true},
      {"GET", "/tenant/rbac", "", false},
      {"POST", "/tenant/rbac/roles", R"({
    "name": "editor",
    "description": "Can edit content",
    "permissions": ["read", "write"]
  })",
       false},
      {"PUT", "/tenant/rbac/roles/editor", R"({
    "permissions": ["read", "write", "publish"]
  })",
       false},
      {"DELETE", "/tenant/rbac/roles/editor", "", false},
      {"GET", "/tenant/limits/resources", "", false},
      {"PUT", "/tenant/limits/resources", R"([
    {
      "resource": "llm",
      "metric": "tokens",
      "period": "month",
      "limit": 100000,
      "gateAction": "block"
    }
  ])",
       false},
      {"GET", "/tenant/limits/resources/usage?userId=user-123", "", false},
      {"POST", "/tenant/limits/resources/check", R"({
    "userId": "user-123",
    "resource": "workflow",
    "metric": "count",
    "amount": 1
  })",
       false},
      {"POST", "/tenant/limits/resources/track", R"({
    "userId": "user-123",
    "resource": "llm",
    "metric": "tokens",
    "amount": 1500
  })",
       false},
  };
  for (auto& e : examples) {
    auto r = api.call(e.method, e.path, e.body,
                      e.withTenantHeader ? tenantHeader : decltype(tenantHeader){});
    INFO(e.method << " " << e.path << " -> " << r.status << " " << r.body);
    CHECK(r.status / 100 == 2);
    CHECK_NOTHROW(json::parse(r.body));
  }
  auto summary = api.ok("GET", "/usage/summary");
  CHECK(summary["tenant_id"] == "tenant-123");
  CHECK(summary["llm_tokens"] == 1500);
  for (const char* k : {"period", "api_calls", "storage_bytes", "bandwidth_bytes"}) {
    CHECK(summary.contains(k));
  }
  auto info = api.ok("GET", "/tenant/info");
  CHECK(info["id"] == "tenant-123");
  CHECK(info["name"] == "Acme Corp");
  CHECK(info["plan"] == "pro");
  CHECK(info["createdAt"].get<std::string>().back() == 'Z');
  CHECK(info["limits"].contains("apiCalls"));
}

TEST_CASE("Config saves are validated whole, versioned with ETag, and guarded by If-Match") {
  RunningDaemon d;
  Api api{d, d.demoToken()};
  auto first = api.call("GET", "/tenant/config");
  CHECK(first.headers["etag"] == "\"0\"");
  CHECK(json::parse(first.body) == json::object());

  std::string config = R"({"routes": [{"path": "/x", "method": "post"}], "cache": {"ttl": 5}})";
  auto saved = api.call("POST", "/tenant/config", config);
  CHECK(json::parse(saved.body) == json{{"success", true}, {"message", "Configuration saved"}});
  CHECK(saved.headers["etag"] == "\"1\"");
  auto stale = api.call("POST", "/tenant/config", config, {{"If-Match", "\"0\""}});
  CHECK(stale.status == 412);
  CHECK(api.call("POST", "/tenant/config", config, {{"If-Match", "\"1\""}}).status == 200);
  // RFC 9110 §13.1.1: a well-formed tag that is not current is a failed precondition, whatever it
  // holds; a weak tag never matches; a list matches if one of its tags does.
  for (std::string tag : {"\"anything-not-current\"", "\"02\"", "W/\"2\"", "\"1\", \"3\""}) {
    INFO(tag);
    auto refused = api.call("POST", "/tenant/config", config, {{"If-Match", tag}});
    CHECK(refused.status == 412);
    CHECK(refused.headers["etag"] == "\"2\"");
  }
  CHECK(api.call("POST", "/tenant/config", config, {{"If-Match", "\"1\", \"2\""}}).status == 200);
  CHECK(api.call("POST", "/tenant/config", config, {{"If-Match", "*"}}).status == 200);
  CHECK(api.call("POST", "/tenant/config", config, {{"If-Match", "4"}}).status == 200);
  auto malformed = api.call("POST", "/tenant/config", config, {{"If-Match", "\"5"}});
  CHECK(malformed.status == 400);
  CHECK(json::parse(malformed.body)["error"]["field"] == "If-Match");
  CHECK(api.call("GET", "/tenant/config").headers["etag"] == "\"5\"");

  // Rejected documents change nothing.
  auto before = api.call("GET", "/tenant/config");
  auto unknown = api.call("POST", "/tenant/config", R"({"routez": []})");
  CHECK(unknown.status == 400);
  CHECK(json::parse(unknown.body)["error"]["field"] == "routez");
  auto badMethod =
      api.call("POST", "/tenant/config", R"({"routes": [{"path": "/x", "method": "fetch"}]})");
  CHECK(json::parse(badMethod.body)["error"]["field"] == "routes[0].method");
  // A rate limit of 0 would lock the tenant out of this very save; a lower-case method in a
  // rate-limit key would match no request.
  auto zero = api.call("POST", "/tenant/config",
                       R"({"rateLimit": {"enabled": true, "default": {"max": 0}}})");
  CHECK(zero.status == 400);
  CHECK(json::parse(zero.body)["error"]["field"] == "rateLimit.default.max");
  auto lower = api.call("POST", "/tenant/config",
                        R"({"rateLimit": {"routes": {"get /tenant/info": {"max": 5}}}})");
  CHECK(lower.status == 400);
  CHECK(json::parse(lower.body)["error"]["field"] == "rateLimit.routes.get /tenant/info");
  auto longKey =
      json{{"rateLimit", {{"routes", {{"GET /" + std::string(252, 'a'), {{"max", 5}}}}}}}};
  CHECK(api.call("POST", "/tenant/config", longKey.dump()).status == 400);
  // credentials name secrets, never hold values.
  auto raw = api.call("POST", "/tenant/config", R"({"credentials": {"stripe": "sk_live_123"}})");
  CHECK(raw.status == 400);
  CHECK(json::parse(raw.body)["error"]["field"] == "credentials.stripe");
  auto after = api.call("GET", "/tenant/config");
  CHECK(after.body == before.body);
  CHECK(after.headers["etag"] == before.headers["etag"]);

  api.ok("POST", "/tenant/secrets", R"({"key": "STRIPE_SECRET_KEY", "value": "sk"})");
  CHECK(api.call("POST", "/tenant/config", R"({"credentials": {"stripe": "STRIPE_SECRET_KEY"}})")
            .status == 200);
}

TEST_CASE("RBAC roles: defaults, create, conflicts, updates and deletes") {
  RunningDaemon d;
  Api api{d, d.demoToken()};
  auto rbac = api.ok("GET", "/tenant/rbac");
  CHECK(rbac == json::parse(R"({"enabled": true, "defaultRole": "viewer", "roles": [
      {"name": "viewer", "permissions": ["read"]},
      {"name": "admin", "permissions": ["read", "write", "delete"]}]})"));
  std::string editor = R"({"name": "editor", "permissions": ["read", "billing:*"]})";
  CHECK(api.call("POST", "/tenant/rbac/roles", editor).status == 201);
  CHECK(api.call("POST", "/tenant/rbac/roles", editor).status == 409);
  CHECK(api.call("PUT", "/tenant/rbac/roles/ghost", R"({"permissions": ["read"]})").status == 404);
  CHECK(api.call("DELETE", "/tenant/rbac/roles/ghost").status == 404);
  CHECK(api.call("DELETE", "/tenant/rbac/roles/viewer").status == 409);
  auto badName = api.call("POST", "/tenant/rbac/roles", R"({"name": "Editor", "permissions": []})");
  CHECK(json::parse(badName.body)["error"]["field"] == "name");
  auto badPerm =
      api.call("POST", "/tenant/rbac/roles", R"({"name": "x", "permissions": ["Read"]})");
  CHECK(json::parse(badPerm.body)["error"]["field"] == "permissions[0]");
  api.ok("PUT", "/tenant/rbac/roles/editor", R"({"permissions": ["read", "write", "publish"]})");
  auto roles = api.ok("GET", "/tenant/rbac")["roles"];
  REQUIRE(roles.size() == 3);
  CHECK(roles[2]["permissions"] == json{"read", "write", "publish"});
  api.ok("DELETE", "/tenant/rbac/roles/editor");
  CHECK(api.ok("GET", "/tenant/rbac")["roles"].size() == 2);
  auto audit = api.ok("GET", "/tenant/audit")["entries"];
  CHECK(audit[0]["action"] == "rbac.role.delete");
}

TEST_CASE("Usage summary and history read the tracked usage") {
  RunningDaemon d;
  Api api{d, d.demoToken()};
  auto track = [&](const char* resource, const char* metric, int amount, const char* ts) {
    api.ok("POST", "/tenant/limits/resources/track",
           json{{"resource", resource}, {"metric", metric}, {"amount", amount}, {"timestamp", ts}}
               .dump());
  };
  // Last month: this month's 2nd is still ahead on the 1st, and a track may not come from the
  // future. (The test failed every 1st of the month until it did this.)
  std::string current = api.ok("GET", "/usage/summary")["period"];
  int year = std::stoi(current.substr(0, 4)), monthOfYear = std::stoi(current.substr(5, 2));
  if (--monthOfYear == 0) {
    monthOfYear = 12;
    --year;
  }
  std::string month =
      std::to_string(year) + (monthOfYear < 10 ? "-0" : "-") + std::to_string(monthOfYear);
  std::string day1 = month + "-01T10:00:00Z", day2 = month + "-02T10:00:00Z";
  track("api", "calls", 500, day1.c_str());
  track("api", "calls", 520, day2.c_str());
  track("llm", "tokens", 8000, day1.c_str());
  track("bandwidth", "bytes", 100, day2.c_str());
  track("storage", "bytes", 1000, day1.c_str());
  track("storage", "bytes", 1500, day2.c_str());  // A gauge: the latest value counts.
  auto summary = api.ok("GET", "/usage/summary?period=" + month);
  CHECK(summary["api_calls"] == 1020);
  CHECK(summary["llm_tokens"] == 8000);
  CHECK(summary["bandwidth_bytes"] == 100);
  CHECK(summary["storage_bytes"] == 1500);
  auto history = api.ok("GET", "/usage/history?period=" + month)["history"];
  REQUIRE(history.size() == 2);
  CHECK(history[0]["date"] == month + "-01");
  CHECK(history[0]["api_calls"] == 500);
  CHECK(history[0]["llm_tokens"] == 8000);
  CHECK(history[1]["api_calls"] == 520);
  CHECK(api.call("GET", "/usage/history?period=2024-13").status == 400);
  CHECK(api.call("GET", "/usage/summary?period=jan").status == 400);
  CHECK(api.ok("GET", "/usage/history?period=2001-01")["history"] == json::array());
}

TEST_CASE("The per-tenant REST rate limit answers 429 with its headers and spares others") {
  std::string other;
  RunningDaemon d({}, [&](RunningDaemon& self) {
    twoTenants(self);
    other = tokenFor(self, "tenant-456", "admin");
  });
  Api acme{d, d.demoToken()};
  Api them{d, other};
  acme.ok("POST", "/tenant/config", R"({"rateLimit": {"enabled": true,
      "default": {"max": 100}, "routes": {"GET /tenant/info": {"max": 2, "windowSeconds": 60}}}})");
  auto first = acme.call("GET", "/tenant/info");
  CHECK(first.status == 200);
  CHECK(first.headers["ratelimit-limit"] == "2");
  CHECK(first.headers["ratelimit-remaining"] == "1");
  CHECK(!first.headers["ratelimit-reset"].empty());
  CHECK(acme.call("GET", "/tenant/info").status == 200);
  auto limited = acme.call("GET", "/tenant/info");
  CHECK(limited.status == 429);
  CHECK(limited.headers["retry-after"] == "30");
  CHECK(limited.headers["ratelimit-remaining"] == "0");
  CHECK(json::parse(limited.body)["error"]["code"] == "rate_limited");
  // Other routes use the default; other tenants are untouched.
  CHECK(acme.call("GET", "/tenant/rbac").headers["ratelimit-limit"] == "100");
  for (int i = 0; i < 5; ++i) CHECK(them.call("GET", "/tenant/info").status == 200);
}

TEST_CASE("No tenant can read or change another's config, roles, info, usage or audit") {
  std::string other, reader;
  RunningDaemon d({}, [&](RunningDaemon& self) {
    twoTenants(self);
    other = tokenFor(self, "tenant-456", "admin");
    reader = tokenFor(self, "tenant-123", "reader");
  });
  Api acme{d, d.demoToken()};
  Api them{d, other};
  acme.ok("POST", "/tenant/config", R"({"cache": {"acme": true}})");
  acme.ok("POST", "/tenant/rbac/roles", R"({"name": "acme-role", "permissions": ["read"]})");
  CHECK(them.ok("GET", "/tenant/config") == json::object());
  CHECK(them.ok("GET", "/tenant/rbac")["roles"].size() == 2);
  CHECK(them.ok("GET", "/tenant/info")["id"] == "tenant-456");
  CHECK(them.ok("GET", "/usage/summary")["tenant_id"] == "tenant-456");
  // Their audit trail holds their own entries only (their offline creation), none of Acme's.
  json theirAudit = them.ok("GET", "/tenant/audit");  // Named: a range-for over a temporary's
  for (auto& entry : theirAudit["entries"]) {         // member would dangle.
    CHECK(entry["action"] != "config.put");
    CHECK(entry["target"] != "acme-role");
    CHECK(entry["target"] != "tenant-123");
  }
  CHECK(them.call("DELETE", "/tenant/rbac/roles/acme-role").status == 404);
  std::vector<std::pair<std::string, std::string>> endpoints = {
      {"GET", "/tenant/config"},       {"POST", "/tenant/config"},
      {"GET", "/tenant/secrets"},      {"POST", "/tenant/secrets"},
      {"DELETE", "/tenant/secrets/X"}, {"GET", "/usage/summary"},
      {"GET", "/usage/history"},       {"GET", "/tenant/info"},
      {"GET", "/tenant/rbac"},         {"POST", "/tenant/rbac/roles"},
      {"PUT", "/tenant/rbac/roles/x"}, {"DELETE", "/tenant/rbac/roles/x"},
      {"GET", "/tenant/audit"}};
  for (auto& [method, path] : endpoints) {
    INFO(method << " " << path);
    CHECK(them.call(method, path, "{}", {{"X-Tenant-ID", "tenant-123"}}).status == 403);
    CHECK(Api{d, ""}.call(method, path).status == 401);
    if (method != "GET") CHECK(Api{d, reader}.call(method, path, "{}").status == 403);
  }
  CHECK(acme.ok("GET", "/tenant/config") == json{{"cache", {{"acme", true}}}});
}

TEST_CASE("Health, readiness and metrics answer without a token") {
  RunningDaemon d;
  CHECK(httpRequest("GET", d.restUrl + "/healthz").status == 200);
  auto ready = httpRequest("GET", d.restUrl + "/readyz");
  CHECK(ready.status == 200);
  CHECK(json::parse(ready.body)["status"] == "ready");
  auto metrics = httpRequest("GET", d.restUrl + "/metrics");
  CHECK(metrics.status == 200);
  CHECK(metrics.body.find("tenantd_secret_reads_total") != std::string::npos);
}

}  // namespace tenantd::testing
