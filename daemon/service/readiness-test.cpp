#include "service/readiness.h"

#include <catch2/catch.hpp>

namespace tenantd {

TEST_CASE("Readiness: not ready once the store is silent past the bound, degraded by upkeep") {
  ManualClock clock(1'000'000);
  WriteHealth writes;
  Readiness readiness(clock, writes);
  CHECK(readiness.now().ready);
  CHECK(readiness.now().reason.empty());

  clock.advance(Readiness::STORE_SILENCE_MS);
  CHECK(readiness.now().ready);
  clock.advance(1);
  CHECK_FALSE(readiness.now().ready);
  CHECK(readiness.now().reason == "the store is not answering");
  readiness.storeAnswered();
  CHECK(readiness.now().ready);

  readiness.upkeepFailed("storage upkeep failed; usage keeps growing");
  CHECK(readiness.now().ready);
  CHECK(readiness.now().reason == "storage upkeep failed; usage keeps growing");
  readiness.upkeepSucceeded();
  CHECK(readiness.now().reason.empty());
}

TEST_CASE("Readiness: degraded while writes fail and ready again once one commits") {
  ManualClock clock(1'000'000);
  WriteHealth writes;
  Readiness readiness(clock, writes);
  readiness.upkeepFailed("storage upkeep failed; usage keeps growing");
  writes.failed("database or disk is full");
  auto report = readiness.now();
  CHECK(report.ready);
  CHECK(report.reason.find("writes are failing (database or disk is full)") == 0);
  writes.committed();
  CHECK(readiness.now().reason == "storage upkeep failed; usage keeps growing");
}

}  // namespace tenantd
