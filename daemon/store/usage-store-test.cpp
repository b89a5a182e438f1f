#include "usage-store.h"

#include <catch2/catch.hpp>

#include "catalog.h"
#include "schema.h"
#include "testing/temp-dir.h"

namespace tenantd {

namespace {
constexpr UnixMillis MIN = 60'000, HOUR = 3'600'000, DAY = 86'400'000;
constexpr UnixMillis T0 = 1705312800000;  // 2024-01-15T10:00:00Z

struct Fixture {
  testing::TempDir dir;
  Db db{dir.file("u.db"), {}};
  UsageStore store{(migrate(db), db)};
  Fixture() { Catalog(db).createTenant(Tenant{"t1", "T", "pro", "UTC", 0, {}, {}, {}}); }

  int64_t sum(UnixMillis from, UnixMillis to) {
    int64_t total = 0;
    for (auto& b : store.loadUsage("t1", "api", "calls", std::numeric_limits<int64_t>::min())) {
      if (b.bucket >= from && b.bucket < to) total += b.amount;
    }
    return total;
  }
  size_t rows() {
    return store.loadUsage("t1", "api", "calls", std::numeric_limits<int64_t>::min()).size();
  }
};
}  // namespace

TEST_CASE("Usage aggregates per minute and user") {
  Fixture f;
  f.store.addUsage("t1", "api", "calls", "u", T0 + 1000, 2);
  f.store.addUsage("t1", "api", "calls", "u", T0 + 59000, 3);
  f.store.addUsage("t1", "api", "calls", "v", T0 + 1000, 4);
  f.store.addUsage("t1", "api", "calls", "u", T0 + MIN, 5);
  auto buckets = f.store.loadUsage("t1", "api", "calls", 0);
  REQUIRE(buckets.size() == 3);
  CHECK(f.sum(T0, T0 + MIN) == 9);
  CHECK(minuteBucket(T0 + 59999) == T0);
  CHECK(minuteBucket(-1) == -MIN);
}

TEST_CASE("Compaction merges old minutes into local days and keeps every day-or-longer sum") {
  Fixture f;
  auto berlin = date::locate_zone("Europe/Berlin");
  // Three days of usage, every 7 minutes, two users.
  for (UnixMillis t = T0 - 3 * DAY; t < T0; t += 7 * MIN) {
    f.store.addUsage("t1", "api", "calls", "u", t, 1);
    f.store.addUsage("t1", "api", "calls", "v", t, 2);
  }
  size_t before = f.rows();
  std::vector<Window> windows;
  for (UnixMillis t = T0 - 3 * DAY; t < T0; t += 6 * HOUR) {
    windows.push_back(windowAt(Period::DAY, t, berlin));
  }
  windows.push_back(windowAt(Period::WEEK, T0 - DAY, berlin));
  windows.push_back(windowAt(Period::MONTH, T0, berlin));
  std::vector<int64_t> sums;
  for (auto& w : windows) sums.push_back(f.sum(w.start, w.end));

  UnixMillis cutoff = windowAt(Period::DAY, T0 - DAY, berlin).start;
  size_t removed = f.store.compact("t1", cutoff, berlin);
  CHECK(removed > 0);
  CHECK(f.rows() == before - removed);
  for (size_t i = 0; i < windows.size(); ++i) {
    CHECK(f.sum(windows[i].start, windows[i].end) == sums[i]);
  }
  CHECK(f.store.compact("t1", cutoff, berlin) == 0);  // Idempotent.
  // Minutes after the cutoff are untouched.
  CHECK(f.sum(cutoff, T0) > 0);
}

TEST_CASE("Retirement folds old rows into a lifetime total") {
  Fixture f;
  for (int i = 0; i < 10; ++i) f.store.addUsage("t1", "api", "calls", "u", T0 - i * DAY, 3);
  int64_t lifetime =
      f.sum(std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max());
  CHECK(f.store.retire("t1", T0 - 4 * DAY) == 5);  // Days 5..9 back; day 4 is the cutoff.
  CHECK(f.sum(std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max()) ==
        lifetime);
  CHECK(f.sum(T0 - 3 * DAY, T0 + 1) == 12);  // The recent detail stays.
  CHECK(f.store.retire("t1", T0 - 4 * DAY) == 0);
}

}  // namespace tenantd
