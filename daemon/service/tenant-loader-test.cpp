#include "service/tenant-loader.h"

#include <catch2/catch.hpp>

#include "testing/service-stack.h"

namespace tenantd {

TEST_CASE("A tenant loads whole: rules, usage in window, reservations, config and roles") {
  kj::EventLoop loop;
  kj::WaitScope ws(loop);
  testing::ServiceStack s(ws, {"t1"});
  s.clock.set(1'700'000'000'000);
  TenantState& live = s.tenant("t1");
  auto rules = prepareRules(R"([{"resource": "api", "metric": "calls", "period": "day",
                                 "limit": 100}])",
                            {});
  REQUIRE(s.limits->putRules(live, std::get<NewRules>(std::move(rules)), "test").wait(ws));
  s.limits->track(live, TrackRequest{UsageRequest{"", "api", "calls", 7}, "req-1", std::nullopt})
      .wait(ws);
  auto reserved = s.limits->reserve(live, UsageRequest{"", "api", "calls", 3}, 60'000).wait(ws);
  REQUIRE(reserved.decision.allowed);
  s.saveConfig("t1", {{"cache", {{"ttl", 60}}}});
  RbacRole editor{"editor", "", {"read", "write"}};
  s.settings->createRole(live, editor, "test").wait(ws);
  s.batcher->idle().wait(ws);

  Db db(s.path, {});
  auto loaded = loadTenant(db, live.info, s.clock.now(), s.log);
  REQUIRE(loaded != nullptr);
  CHECK(loaded->info.id == "t1");
  CHECK(loaded->rulesJson == live.rulesJson);
  CHECK(loaded->rulesVersion == live.rulesVersion);
  auto usage = loaded->limiter.check(UsageQuery{"", "api", "calls", 1}, s.clock.now());
  CHECK(usage.reported.current == 7);
  CHECK(usage.reported.reserved == 3);
  CHECK(loaded->config.doc == nlohmann::json{{"cache", {{"ttl", 60}}}});
  CHECK(loaded->configVersion == live.configVersion);
  CHECK(loaded->rbac.roles == live.rbac.roles);
  CHECK(loaded->rbacVersion == live.rbacVersion);

  // loadTenants adopts every tenant of the catalog with its remembered track ids.
  Tenants all(s.log);
  loadTenants(db, all, s.clock.now(), s.log);
  REQUIRE(all.size() == 1);
  CHECK(all.find("t1")->trackIds.size() == 1);
}

TEST_CASE("A stored configuration that today's rules refuse is served as {} under its version") {
  kj::EventLoop loop;
  kj::WaitScope ws(loop);
  testing::ServiceStack s(ws, {"t1"});
  // Accepted before a rate limit of 0 was refused: it would lock the tenant out.
  int64_t version = 0;
  {
    Db db(s.path, {});
    version = SettingsStore(db).putConfig(
        "t1", R"({"rateLimit":{"enabled":true,"default":{"max":0}}})", s.clock.now());
  }
  Db db(s.path, {});
  auto loaded = loadTenant(db, s.tenant("t1").info, s.clock.now(), s.log);
  REQUIRE(loaded != nullptr);
  CHECK(loaded->config.doc == nlohmann::json::object());
  CHECK_FALSE(loaded->config.rateLimit.enabled);
  CHECK(loaded->configVersion == version);
}

}  // namespace tenantd
