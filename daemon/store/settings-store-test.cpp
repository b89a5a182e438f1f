#include "settings-store.h"

#include <catch2/catch.hpp>

#include "catalog.h"
#include "schema.h"
#include "testing/temp-dir.h"
#include "usage-store.h"

namespace tenantd {

namespace {
constexpr UnixMillis MIN = 60'000, HOUR = 3'600'000, DAY = 86'400'000;
constexpr UnixMillis NOV1_10Z = 1793527200000;  // 2026-11-01T10:00:00Z
constexpr int64_t MAX = std::numeric_limits<int64_t>::max();

struct Fixture {
  testing::TempDir dir;
  Db db{dir.file("s.db"), {}};
  UsageStore usage{(migrate(db), db)};
  SettingsStore settings{db};
  explicit Fixture(const char* zone = "UTC") {
    Catalog(db).createTenant(Tenant{"t1", "T", "pro", zone, 0, {}, {}, {}});
  }
  std::vector<std::pair<std::string, int64_t>> history(const char* month,
                                                       const date::time_zone* zone) {
    std::vector<std::pair<std::string, int64_t>> out;
    for (auto& d : settings.days("t1", *parseMonth(month, zone), zone)) {
      out.emplace_back(d.date, d.apiCalls);
    }
    return out;
  }
};
using History = std::vector<std::pair<std::string, int64_t>>;
}  // namespace

TEST_CASE("Reports use the tenant's calendar and read the same after compaction") {
  // Found by the usage model: Kolkata's usage of November 1st at 10:00Z was reported as
  // 2026-11-01 before upkeep and as October's after it, because compaction keys local days and
  // the reports grouped by UTC day and month.
  auto kolkata = date::locate_zone("Asia/Kolkata");
  Fixture f("Asia/Kolkata");
  f.usage.addUsage("t1", "api", "calls", "", NOV1_10Z, 5);
  f.usage.addUsage("t1", "api", "calls", "", NOV1_10Z + MIN, 5);
  f.usage.addUsage("t1", "api", "calls", "", NOV1_10Z - 10 * HOUR, 7);  // 05:30 local, Nov 1st.
  f.usage.addUsage("t1", "api", "calls", "", NOV1_10Z - 11 * HOUR, 3);  // 04:30 local, Nov 1st.
  f.usage.addUsage("t1", "api", "calls", "", NOV1_10Z - 16 * HOUR, 1);  // Oct 31st, 23:30 local.
  auto report = [&] {
    return std::make_tuple(f.history("2026-11", kolkata), f.history("2026-10", kolkata),
                           f.settings.totals("t1", *parseMonth("2026-11", kolkata)).apiCalls,
                           f.settings.totals("t1", *parseMonth("2026-10", kolkata)).apiCalls);
  };
  auto before = report();
  CHECK(std::get<0>(before) == History{{"2026-11-01", 20}});
  CHECK(std::get<1>(before) == History{{"2026-10-31", 1}});
  CHECK(std::get<2>(before) == 20);
  CHECK(std::get<3>(before) == 1);
  UnixMillis cutoff = windowAt(Period::DAY, NOV1_10Z + 5 * DAY, kolkata).start;
  REQUIRE(f.usage.compact("t1", cutoff, kolkata) > 0);
  CHECK(report() == before);
}

TEST_CASE("New York's reports keep the hours between 00:00Z and 05:00Z on their local day") {
  auto ny = date::locate_zone("America/New_York");
  Fixture f("America/New_York");
  UnixMillis dec2_03z = NOV1_10Z + 30 * DAY + 17 * HOUR;  // 2026-12-02T03:00Z, Dec 1st locally.
  f.usage.addUsage("t1", "api", "calls", "u", dec2_03z, 3);
  f.usage.addUsage("t1", "api", "calls", "u", dec2_03z + MIN, 1);
  f.usage.addUsage("t1", "llm", "tokens", "u", dec2_03z, 9);
  CHECK(f.history("2026-12", ny) == History{{"2026-12-01", 4}});
  REQUIRE(f.usage.compact("t1", dec2_03z + 3 * DAY, ny) > 0);
  CHECK(f.history("2026-12", ny) == History{{"2026-12-01", 4}});
  CHECK(f.settings.totals("t1", *parseMonth("2026-12", ny)).llmTokens == 9);
  CHECK(f.settings.totals("t1", *parseMonth("2026-11", ny)).llmTokens == 0);
}

TEST_CASE("A month whose sum passes int64 saturates in both reports, like the engine") {
  // Found by the usage model: SQLite's sum() failed the statement ("integer overflow") and the
  // reports answered 503.
  Fixture f;
  for (int i = 0; i < 3; ++i) {
    f.usage.addUsage("t1", "api", "calls", "u" + std::to_string(i), NOV1_10Z + i * DAY, MAX);
    f.usage.addUsage("t1", "api", "calls", "u", NOV1_10Z + i * MIN, MAX - 1);
  }
  auto month = *parseMonth("2026-11", nullptr);
  CHECK(f.settings.totals("t1", month).apiCalls == MAX);
  auto days = f.settings.days("t1", month, nullptr);
  REQUIRE(days.size() == 3);
  for (auto& d : days) CHECK(d.apiCalls == MAX);
}

TEST_CASE("A gauge's latest reading and its day sums survive compaction") {
  auto berlin = date::locate_zone("Europe/Berlin");
  Fixture f("Europe/Berlin");
  for (int i = 0; i < 10; ++i) {
    f.usage.addUsage("t1", "storage", "bytes", "", NOV1_10Z + i * 7 * MIN, 1000 + i);
    f.usage.addUsage("t1", "storage", "bytes", "u", NOV1_10Z + i * 5 * MIN, 50 + i);
  }
  auto month = *parseMonth("2026-11", berlin);
  auto daySum = [&] {
    int64_t sum = 0;
    for (auto& b : f.usage.loadUsage("t1", "storage", "bytes", month.start)) sum += b.amount;
    return sum;
  };
  int64_t latest = f.settings.totals("t1", month).storageBytes;
  int64_t sum = daySum();
  CHECK(latest == 1009);  // Minute 63: the other user's last reading is at minute 45.
  REQUIRE(f.usage.compact("t1", NOV1_10Z + 3 * DAY, berlin) > 0);
  CHECK(f.settings.totals("t1", month).storageBytes == latest);
  CHECK(daySum() == sum);
  CHECK(f.usage.compact("t1", NOV1_10Z + 3 * DAY, berlin) == 0);  // Idempotent.
}

}  // namespace tenantd
