#include "admin.h"

#include <catch2/catch.hpp>

#include "rpc/rpc-fixture.h"
#include "util/version.h"

namespace tenantd {

namespace {
using testing::RpcFixture;

// The client sees "remote exception: <kind>: <message>".
bool hasKind(const std::string& error, const char* kind) {
  return error.find(kind) != std::string::npos;
}

std::string me() {
  return "uid:" + std::to_string(getuid());
}

capnp::Request<rpc::Admin::CreateTenantParams, rpc::Admin::CreateTenantResults> newTenant(
    rpc::Admin::Client& admin, const char* id) {
  auto request = admin.createTenantRequest();
  request.setId(id);
  request.setName("Acme Corp");
  request.setPlan("pro");
  request.setTimezone("Europe/Berlin");
  request.initLimits().setApiCalls(1000);
  return request;
}

// The audit log of a tenant as Admin.audit returns it, parsed.
nlohmann::json auditOf(RpcFixture& f, const char* tenant, uint32_t limit = 0, int64_t before = 0) {
  auto request = f.admin().auditRequest();
  request.setTenantId(tenant);
  request.setLimit(limit);
  request.setBeforeId(before);
  auto response = request.send().wait(f.io.waitScope);
  return nlohmann::json::parse(response.getJson().cStr())["entries"];
}

std::vector<std::string> actionsOf(const nlohmann::json& entries) {
  std::vector<std::string> out;
  for (auto& e : entries) out.push_back(e["action"].get<std::string>());
  return out;
}
}  // namespace

TEST_CASE("Admin.status reports version, readiness, tenants and where the daemon serves") {
  RpcFixture f;
  f.stack.services->readiness.upkeepFailed("storage upkeep failed");
  auto response = f.admin().statusRequest().send().wait(f.io.waitScope);
  auto s = response.getStatus();
  CHECK(s.getVersion() == TENANTD_VERSION);
  CHECK(s.getUptimeSeconds() == 6);
  CHECK(s.getReady());
  CHECK(s.getReason() == "storage upkeep failed");
  CHECK(s.getTenants() == 2);
  CHECK(s.getRestListen() == "127.0.0.1:3000");
  CHECK(s.getSocketPath() == "/run/tenantd/tenantd.sock");
  CHECK(s.getDatabasePath() == f.path);
  CHECK(s.getRpcConnections() == 1);
}

TEST_CASE("Admin creates a tenant that is served at once, and refuses a second with its id") {
  RpcFixture f;
  auto admin = f.admin();
  auto created = newTenant(admin, "acme").send().wait(f.io.waitScope);
  auto info = created.getTenant();
  CHECK(info.getId() == "acme");
  CHECK(info.getName() == "Acme Corp");
  CHECK(info.getPlan() == "pro");
  CHECK(info.getTimezone() == "Europe/Berlin");
  CHECK(info.getCreatedAt() == "1970-01-01T00:00:10Z");
  CHECK(info.getLimits().getApiCalls() == 1000);
  CHECK(info.getLimits().getLlmTokens() == -1);

  // Visible to the limits engine and to app peers without a restart.
  auto viaTenant = f.tenant("acme").infoRequest().send().wait(f.io.waitScope);
  CHECK(viaTenant.getName() == "Acme Corp");
  auto get = admin.getTenantRequest();
  get.setId("acme");
  CHECK(get.send().wait(f.io.waitScope).getTenant().getPlan() == "pro");
  auto list = admin.listTenantsRequest().send().wait(f.io.waitScope);
  REQUIRE(list.getTenants().size() == 3);
  CHECK(list.getTenants()[0].getId() == "acme");

  CHECK(hasKind(f.errorOf(newTenant(admin, "acme").send().ignoreResult()), "already-exists:"));
  CHECK(hasKind(f.errorOf(newTenant(admin, "bad id").send().ignoreResult()), "invalid-argument:"));
  auto badZone = newTenant(admin, "other");
  badZone.setTimezone("Mars/Olympus");
  CHECK(hasKind(f.errorOf(badZone.send().ignoreResult()), "invalid-argument: timezone"));
  auto badPlan = newTenant(admin, "other");
  badPlan.setPlan("Gold Plan");
  CHECK(hasKind(f.errorOf(badPlan.send().ignoreResult()), "invalid-argument: plan"));
  auto badLimit = newTenant(admin, "other");
  badLimit.getLimits().setStorage(-5);
  CHECK(hasKind(f.errorOf(badLimit.send().ignoreResult()), "invalid-argument: limits.storage"));
  auto unknown = admin.getTenantRequest();
  unknown.setId("nobody");
  CHECK(hasKind(f.errorOf(unknown.send().ignoreResult()), "not-found:"));

  auto audit = auditOf(f, "acme");
  REQUIRE(audit.size() == 1);
  CHECK(audit[0]["action"] == "tenant.create");
  CHECK(audit[0]["actor"] == me());
}

TEST_CASE("Admin updates only the tenant fields it is given") {
  RpcFixture f;
  auto admin = f.admin();
  auto update = admin.updateTenantRequest();
  update.setId("t1");
  update.initUpdate().setPlan("enterprise");
  update.getUpdate().initLimits().setLlmTokens(42);
  auto response = update.send().wait(f.io.waitScope);
  auto t = response.getTenant();
  CHECK(t.getName() == "Tenant t1");
  CHECK(t.getPlan() == "enterprise");
  CHECK(t.getLimits().getLlmTokens() == 42);
  CHECK(t.getLimits().getApiCalls() == -1);
  CHECK(f.tenants->find("t1")->info.plan == "enterprise");

  auto missing = admin.updateTenantRequest();
  missing.setId("nobody");
  CHECK(hasKind(f.errorOf(missing.send().ignoreResult()), "not-found:"));
  auto bad = admin.updateTenantRequest();
  bad.setId("t1");
  bad.initUpdate().setName(std::string(201, 'x'));
  CHECK(hasKind(f.errorOf(bad.send().ignoreResult()), "invalid-argument: name"));
  CHECK(actionsOf(auditOf(f, "t1")) == std::vector<std::string>{"tenant.update"});
}

TEST_CASE("Admin tokens authenticate at once, are listed, and stop working once revoked") {
  RpcFixture f;
  auto admin = f.admin();
  auto create = admin.createTokenRequest();
  create.setTenantId("t1");
  create.setRole("reader");
  create.setTtlSeconds(3600);
  auto created = create.send().wait(f.io.waitScope);
  std::string token = created.getToken();
  std::string id = created.getInfo().getId();
  CHECK(created.getInfo().getRole() == "reader");
  CHECK(created.getInfo().getExpiresAt() == "1970-01-01T01:00:10Z");
  CHECK_FALSE(created.getInfo().getRevoked());

  // The daemon's REST authentication knows it now, as does the store.
  auto who = f.stack.auth.authenticate("Bearer " + token);
  REQUIRE(std::holds_alternative<Principal>(who));
  CHECK(std::get<Principal>(who).tenantId == "t1");
  CHECK(std::get<Principal>(who).role == Role::READER);
  {
    Db db(f.path, {});
    auto stored = Catalog(db).findTokenByHash(hashToken(token));
    REQUIRE(stored);
    CHECK(stored->id == id);
  }

  auto list = [&]() {
    auto request = admin.listTokensRequest();  // A request is sent once: one per call.
    request.setTenantId("t1");
    return request.send();
  };
  {
    auto listed = list().wait(f.io.waitScope);
    REQUIRE(listed.getTokens().size() == 1);
    CHECK(listed.getTokens()[0].getId() == id);
  }

  auto revoke = [&]() {
    auto request = admin.revokeTokenRequest();
    request.setTokenId(id);
    return request.send();
  };
  revoke().wait(f.io.waitScope);
  CHECK(std::get<AuthFailure>(f.stack.auth.authenticate("Bearer " + token)) ==
        AuthFailure::REVOKED);
  {
    auto listed = list().wait(f.io.waitScope);
    CHECK(listed.getTokens()[0].getRevoked());
  }
  CHECK(f.errorOf(revoke().ignoreResult()) == "");  // Already revoked: not an error.
  CHECK(actionsOf(auditOf(f, "t1")) == std::vector<std::string>{"token.revoke", "token.create"});
  CHECK(auditOf(f, "t1")[1]["target"] == id);

  auto unknown = admin.revokeTokenRequest();
  unknown.setTokenId("tok_0000000000000000");
  CHECK(hasKind(f.errorOf(unknown.send().ignoreResult()), "not-found:"));
  auto badRole = admin.createTokenRequest();
  badRole.setTenantId("t1");
  badRole.setRole("owner");
  CHECK(hasKind(f.errorOf(badRole.send().ignoreResult()), "invalid-argument: role"));
  auto badTtl = admin.createTokenRequest();
  badTtl.setTenantId("t1");
  badTtl.setRole("admin");
  badTtl.setTtlSeconds(-1);
  CHECK(hasKind(f.errorOf(badTtl.send().ignoreResult()), "invalid-argument: ttlSeconds"));
  auto noTenant = admin.createTokenRequest();
  noTenant.setTenantId("nobody");
  noTenant.setRole("admin");
  CHECK(hasKind(f.errorOf(noTenant.send().ignoreResult()), "not-found:"));
  auto noList = admin.listTokensRequest();
  noList.setTenantId("nobody");
  CHECK(hasKind(f.errorOf(noList.send().ignoreResult()), "not-found:"));
}

TEST_CASE("Admin limits and usage have the REST documents") {
  RpcFixture f;
  auto admin = f.admin();
  auto set = admin.setLimitsRequest();
  set.setTenantId("t1");
  set.setJson(R"([{"resource":"api","metric":"calls","period":"day","limit":5}])");
  auto saved = set.send().wait(f.io.waitScope);
  CHECK(nlohmann::json::parse(saved.getJson().cStr()) ==
        nlohmann::json{{"success", true}, {"message", "Resource limits saved"}, {"version", 1}});

  auto get = admin.getLimitsRequest();
  get.setTenantId("t1");
  auto rules = nlohmann::json::parse(get.send().wait(f.io.waitScope).getJson().cStr());
  REQUIRE(rules.size() == 1);
  CHECK(rules[0]["limit"] == 5);

  auto consume = f.tenant("t1").consumeRequest();
  auto u = consume.initRequest();
  u.setResource("api");
  u.setMetric("calls");
  u.setAmount(2);
  consume.send().wait(f.io.waitScope);
  auto usage = admin.usageRequest();
  usage.setTenantId("t1");
  auto rows = nlohmann::json::parse(usage.send().wait(f.io.waitScope).getJson().cStr());
  REQUIRE(rows.size() == 1);
  CHECK(rows[0]["current"] == 2);
  CHECK(rows[0]["percentage"] == 40);
  CHECK(rows[0]["resource"] == "api");

  auto summary = admin.usageSummaryRequest();
  summary.setTenantId("t1");
  auto totals = nlohmann::json::parse(summary.send().wait(f.io.waitScope).getJson().cStr());
  CHECK(totals["tenant_id"] == "t1");
  CHECK(totals["period"] == "1970-01");
  CHECK(totals["api_calls"] == 2);

  auto badJson = admin.setLimitsRequest();
  badJson.setTenantId("t1");
  badJson.setJson("[{");
  CHECK(hasKind(f.errorOf(badJson.send().ignoreResult()), "invalid-argument: json"));
  auto badRule = admin.setLimitsRequest();
  badRule.setTenantId("t1");
  badRule.setJson(R"([{"resource":"api","metric":"calls","period":"fortnight","limit":5}])");
  CHECK(hasKind(f.errorOf(badRule.send().ignoreResult()), "invalid-argument: [0].period"));
  auto badPeriod = admin.usageSummaryRequest();
  badPeriod.setTenantId("t1");
  badPeriod.setPeriod("2024-13");
  CHECK(hasKind(f.errorOf(badPeriod.send().ignoreResult()), "invalid-argument: period"));
  auto unknown = admin.getLimitsRequest();
  unknown.setTenantId("nobody");
  CHECK(hasKind(f.errorOf(unknown.send().ignoreResult()), "not-found:"));
  auto audit = auditOf(f, "t1");
  REQUIRE(audit.size() == 1);
  CHECK(audit[0]["action"] == "limits.put");
  CHECK(audit[0]["actor"] == me());
}

TEST_CASE("Admin secrets: put, list, read back through Tenant, remove") {
  RpcFixture f;
  auto admin = f.admin();
  for (uint64_t version = 1; version <= 2; ++version) {
    auto put = admin.putSecretRequest();
    put.setTenantId("t1");
    put.setName("STRIPE_KEY");
    std::string value = "sk_" + std::to_string(version);
    put.setValue(
        capnp::Data::Reader(reinterpret_cast<const capnp::byte*>(value.data()), value.size()));
    CHECK(put.send().wait(f.io.waitScope).getVersion() == version);
  }
  auto list = [&]() {
    auto request = admin.listSecretsRequest();
    request.setTenantId("t1");
    return request.send();
  };
  {
    auto names = list().wait(f.io.waitScope);
    REQUIRE(names.getNames().size() == 1);
    CHECK(names.getNames()[0] == "STRIPE_KEY");
  }
  auto read = admin.tenantRequest();
  read.setId("t1");
  auto get = read.send().getTenant().getSecretRequest();
  get.setName("STRIPE_KEY");
  {
    auto secret = get.send().wait(f.io.waitScope);
    auto value = secret.getValue();
    CHECK(std::string(reinterpret_cast<const char*>(value.begin()), value.size()) == "sk_2");
  }
  auto remove = [&]() {
    auto request = admin.removeSecretRequest();
    request.setTenantId("t1");
    request.setName("STRIPE_KEY");
    return request.send();
  };
  remove().wait(f.io.waitScope);
  CHECK(list().wait(f.io.waitScope).getNames().size() == 0);
  CHECK(hasKind(f.errorOf(remove().ignoreResult()), "not-found:"));
  auto badName = admin.putSecretRequest();
  badName.setTenantId("t1");
  badName.setName("no/slash");
  CHECK(hasKind(f.errorOf(badName.send().ignoreResult()), "invalid-argument: name"));
  auto noTenant = admin.listSecretsRequest();
  noTenant.setTenantId("nobody");
  CHECK(hasKind(f.errorOf(noTenant.send().ignoreResult()), "not-found:"));
  CHECK(actionsOf(auditOf(f, "t1")) ==
        std::vector<std::string>{"secret.delete", "secret.put", "secret.put"});
}

TEST_CASE("Admin config: get, set unconditionally, set if the version still matches") {
  RpcFixture f;
  auto admin = f.admin();
  auto get = [&]() {
    auto request = admin.getConfigRequest();
    request.setTenantId("t1");
    return request.send();
  };
  {
    auto initial = get().wait(f.io.waitScope);
    CHECK(initial.getJson() == "{}");
    CHECK(initial.getVersion() == 0);
  }
  auto set = [&](const char* json, uint64_t ifVersion) {
    auto request = admin.setConfigRequest();
    request.setTenantId("t1");
    request.setJson(json);
    request.setIfVersion(ifVersion);
    return request.send();
  };
  CHECK(set(R"({"cache":{}})", 0).wait(f.io.waitScope).getVersion() == 1);
  CHECK(set(R"({"cache":{"ttl":1}})", 1).wait(f.io.waitScope).getVersion() == 2);
  CHECK(hasKind(f.errorOf(set(R"({"cache":{}})", 1).ignoreResult()), "conflict:"));
  {
    auto now = get().wait(f.io.waitScope);
    CHECK(now.getJson() == R"({"cache":{"ttl":1}})");
    CHECK(now.getVersion() == 2);
  }
  CHECK(f.tenants->find("t1")->configVersion == 2);
  CHECK(
      hasKind(f.errorOf(set(R"({"colour":"red"})", 0).ignoreResult()), "invalid-argument: colour"));
  CHECK(hasKind(f.errorOf(set(R"({"credentials":{"stripe":"NO_SUCH_SECRET"}})", 0).ignoreResult()),
                "invalid-argument: credentials.stripe"));
  CHECK(hasKind(f.errorOf(set("not json", 0).ignoreResult()), "invalid-argument: json"));
  auto audit = auditOf(f, "t1");
  CHECK(actionsOf(audit) == std::vector<std::string>{"config.put", "config.put"});
  CHECK(audit[0]["version"] == 2);
}

TEST_CASE("Admin.audit pages through the log newest first") {
  RpcFixture f;
  for (int i = 1; i <= 3; ++i) f.stack.saveConfig("t1", {{"cache", {{"ttl", i}}}});
  auto firstPage = auditOf(f, "t1", 2);
  REQUIRE(firstPage.size() == 2);
  CHECK(firstPage[0]["version"] == 3);
  auto next = auditOf(f, "t1", 2, firstPage[1]["id"].get<int64_t>());
  REQUIRE(next.size() == 1);
  CHECK(next[0]["version"] == 1);
  auto tooMany = f.admin().auditRequest();
  tooMany.setTenantId("t1");
  tooMany.setLimit(1001);
  CHECK(hasKind(f.errorOf(tooMany.send().ignoreResult()), "invalid-argument: limit"));
}

TEST_CASE("Admin.tenant gives any tenant's capability, and not-found for unknown ones") {
  RpcFixture f;
  auto request = f.admin().tenantRequest();
  request.setId("t2");
  auto info = request.send().getTenant().infoRequest().send().wait(f.io.waitScope);
  CHECK(info.getId() == "t2");
  auto unknown = f.admin().tenantRequest();
  unknown.setId("nobody");
  CHECK(hasKind(f.errorOf(unknown.send().ignoreResult()), "not-found:"));
}

TEST_CASE("A store that fails is unavailable over Admin, and the write left nothing behind") {
  RpcFixture f;
  {
    Db other(f.path, {});
    other.exec("ALTER TABLE audit RENAME TO audit_moved");  // Every audited write now fails.
  }
  auto admin = f.admin();
  CHECK(hasKind(f.errorOf(newTenant(admin, "acme").send().ignoreResult()), "unavailable:"));
  CHECK(f.tenants->find("acme") == nullptr);
  {
    Db other(f.path, {});
    CHECK_FALSE(Catalog(other).findTenant("acme"));
  }
  auto token = admin.createTokenRequest();
  token.setTenantId("t1");
  token.setRole("admin");
  CHECK(hasKind(f.errorOf(token.send().ignoreResult()), "unavailable:"));
  CHECK(f.stack.auth.size() == 0);
}

}  // namespace tenantd
