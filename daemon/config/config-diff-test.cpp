#include "config/config-diff.h"

#include <catch2/catch.hpp>

#include <functional>

namespace tenantd {

TEST_CASE("A reload applies log level and [rpc] live and names what needs a restart") {
  Config running = devDefaults();
  CHECK_FALSE(planReload(running, running).logLevel);
  CHECK_FALSE(planReload(running, running).rpc);
  CHECK_FALSE(planReload(running, running).restartNeeded);

  Config next = running;
  next.logLevel = LogLevel::DEBUG;
  next.rpc.adminUids = {1234};
  auto plan = planReload(running, next);
  CHECK(plan.logLevel == LogLevel::DEBUG);
  REQUIRE(plan.rpc);
  CHECK(plan.rpc->adminUids == std::vector<uint32_t>{1234});
  CHECK_FALSE(plan.restartNeeded);

  for (auto change : std::vector<std::function<void(Config&)>>{
           [](Config& c) { c.dataDir = "/elsewhere"; },
           [](Config& c) { c.socketPath = "/run/other.sock"; },
           [](Config& c) { c.listen.port = 3001; },
           [](Config& c) {
             c.metricsListen = ListenAddress{"127.0.0.1", 9464};
           },
           [](Config& c) {
             c.sync = SyncLevel::FULL;
           }}) {
    Config moved = running;
    change(moved);
    CHECK(planReload(running, moved).restartNeeded);
  }
}

}  // namespace tenantd
