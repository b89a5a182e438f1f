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
  auto parsed = parseTenantConfig(nlohmann::json::object());
  auto stale =
      s.settings->saveConfig(s.tenant("t1"), std::get<TenantConfig>(std::move(parsed)), 7, "test")
          .wait(ws);
  CHECK(stale.kind == SaveOutcome::Kind::STALE);
  CHECK(listener.calls == 0);
  subscription = nullptr;
  CHECK(s.settings->configWatchers() == 0);
  s.saveConfig("t1", nlohmann::json::object());
  CHECK(listener.calls == 0);
}

}  // namespace tenantd
