#include "settings-service.h"

#include <catch2/catch.hpp>

#include "testing/service-stack.h"

namespace tenantd {

namespace {
struct Counting final : ConfigListener {
  int calls = 0;
  void configChanged() override { ++calls; }
};
}  // namespace

TEST_CASE("Config listeners hear each saved change of their own tenant only") {
  kj::EventLoop loop;
  kj::WaitScope ws(loop);
  testing::ServiceStack s(ws, {"t1", "t2"});
  Counting one, two;
  auto a = s.settings->watchConfig("t1", one);
  auto b = s.settings->watchConfig("t2", two);
  CHECK(s.settings->configWatchers() == 2);
  s.saveConfig("t1", {{"cache", nlohmann::json::object()}});
  s.saveConfig("t1", {{"cache", {{"ttl", 5}}}});
  CHECK(one.calls == 2);
  CHECK(two.calls == 0);
  CHECK(s.tenant("t1").configVersion == 2);
}

TEST_CASE("A refused save tells no listener, and a dropped subscription hears nothing more") {
  kj::EventLoop loop;
  kj::WaitScope ws(loop);
  testing::ServiceStack s(ws, {"t1"});
  Counting listener;
  auto subscription = s.settings->watchConfig("t1", listener);
  auto prepared = prepareConfig("{}", {});
  auto stale = s.settings
                   ->saveConfig(s.tenant("t1"), std::get<NewConfig>(std::move(prepared)),
                                std::vector<int64_t>{7}, "test")
                   .wait(ws);
  CHECK(stale.kind == SaveOutcome::Kind::STALE);
  CHECK(listener.calls == 0);
  subscription = nullptr;
  CHECK(s.settings->configWatchers() == 0);
  s.saveConfig("t1", nlohmann::json::object());
  CHECK(listener.calls == 0);
}

TEST_CASE("A save holds its precondition when any of the versions it names is the stored one") {
  kj::EventLoop loop;
  kj::WaitScope ws(loop);
  testing::ServiceStack s(ws, {"t1"});
  auto save = [&](IfVersions versions) {
    auto prepared = prepareConfig("{}", {});
    return s.settings
        ->saveConfig(s.tenant("t1"), std::get<NewConfig>(std::move(prepared)), versions, "test")
        .wait(ws);
  };
  auto none = save(std::vector<int64_t>{});
  CHECK(none.kind == SaveOutcome::Kind::STALE);
  CHECK(none.version == 0);
  CHECK(save(std::vector<int64_t>{7, 0}).kind == SaveOutcome::Kind::SAVED);
  CHECK(save(std::vector<int64_t>{0}).kind == SaveOutcome::Kind::STALE);
  CHECK(save(std::nullopt).version == 2);
}

}  // namespace tenantd

namespace tenantd {

TEST_CASE("One tenant's role changes sent at once each start from the last one's roles") {
  // Role changes edit the in-memory roles and serialise them on the worker: without their
  // queue, two changes in flight would both start from the same roles and one would be lost.
  kj::EventLoop loop;
  kj::WaitScope ws(loop);
  testing::ServiceStack s(ws, {"t1"});
  TenantState& t = s.tenant("t1");
  auto role = [](std::string name, std::string permission) {
    return RbacRole{std::move(name), "", {std::move(permission)}};
  };
  auto changes = kj::heapArrayBuilder<kj::Promise<SaveOutcome>>(5);
  changes.add(s.settings->createRole(t, role("a", "read"), "test"));
  changes.add(s.settings->createRole(t, role("b", "read"), "test"));
  changes.add(s.settings->createRole(t, role("a", "write"), "test"));  // Exists by its turn.
  changes.add(s.settings->updateRole(t, role("b", "write"), "test"));
  changes.add(s.settings->deleteRole(t, "a", "test"));
  auto outcomes = kj::joinPromises(changes.finish()).wait(ws);
  CHECK(outcomes[0].kind == SaveOutcome::Kind::SAVED);
  CHECK(outcomes[1].kind == SaveOutcome::Kind::SAVED);
  CHECK(outcomes[2].kind == SaveOutcome::Kind::CONFLICT);
  CHECK(outcomes[3].kind == SaveOutcome::Kind::SAVED);
  CHECK(outcomes[4].kind == SaveOutcome::Kind::SAVED);
  CHECK(outcomes[4].version == 4);
  CHECK(t.rbacVersion == 4);
  std::vector<std::string> names;
  for (auto& r : t.rbac.roles) names.push_back(r.name);
  CHECK(std::count(names.begin(), names.end(), "a") == 0);
  auto b = std::find_if(t.rbac.roles.begin(), t.rbac.roles.end(),
                        [](const RbacRole& r) { return r.name == "b"; });
  REQUIRE(b != t.rbac.roles.end());
  CHECK(b->permissions == std::vector<std::string>{"write"});
  // What the store holds is what the tenant is served.
  Db db(s.path, {});
  auto stored = SettingsStore(db).getRbac("t1");
  REQUIRE(stored);
  CHECK(stored->version == 4);
  CHECK(nlohmann::json::parse(stored->doc) == rbacToJson(t.rbac));
  // Each change is audited under the role's name, newest first.
  auto audit = s.auditOf("t1");
  REQUIRE(audit.size() == 4);
  CHECK(audit[0].action == "rbac.role.delete");
  CHECK(audit[0].target == "a");
  CHECK(audit[1].action == "rbac.role.update");
  CHECK(audit[1].target == "b");
  CHECK(audit[2].action == "rbac.role.create");
  CHECK(audit[2].target == "b");
  CHECK(audit[3].target == "a");
  CHECK(audit[3].version == 1);
}

}  // namespace tenantd
