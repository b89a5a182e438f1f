#include "period.h"

#include <catch2/catch.hpp>

#include <random>

namespace tenantd {

namespace {
// Milliseconds for a UTC civil time.
UnixMillis utc(int y, unsigned m, unsigned d, int hh = 0, int mm = 0, int ss = 0) {
  using namespace date;
  auto tp = sys_days{year{y} / month{m} / day{d}} + std::chrono::hours{hh} +
            std::chrono::minutes{mm} + std::chrono::seconds{ss};
  return std::chrono::duration_cast<std::chrono::milliseconds>(tp.time_since_epoch()).count();
}
const date::time_zone* zone(const char* name) {
  return date::locate_zone(name);
}
}  // namespace

TEST_CASE("Period names round-trip") {
  for (auto p : {Period::MINUTE, Period::HOUR, Period::DAY, Period::WEEK, Period::MONTH,
                 Period::YEAR, Period::LIFETIME}) {
    CHECK(parsePeriod(periodName(p)) == p);
  }
  CHECK_FALSE(parsePeriod("fortnight"));
  CHECK_FALSE(parsePeriod("Month"));
}

TEST_CASE("Months are calendar months, including February in leap and common years") {
  CHECK(windowAt(Period::MONTH, utc(2024, 1, 31, 23, 59, 59), nullptr) ==
        Window{utc(2024, 1, 1), utc(2024, 2, 1)});
  CHECK(windowAt(Period::MONTH, utc(2024, 2, 29, 12), nullptr) ==
        Window{utc(2024, 2, 1), utc(2024, 3, 1)});
  CHECK(windowAt(Period::MONTH, utc(2023, 2, 28, 12), nullptr) ==
        Window{utc(2023, 2, 1), utc(2023, 3, 1)});
  CHECK(windowAt(Period::MONTH, utc(2024, 12, 31, 23, 59, 59), nullptr) ==
        Window{utc(2024, 12, 1), utc(2025, 1, 1)});
  // The epoch-anchored "30 days" mistake would put Mar 1 2024 in a window starting Feb 9.
  CHECK(windowAt(Period::MONTH, utc(2024, 3, 1), nullptr).start == utc(2024, 3, 1));
}

TEST_CASE("Years start on January 1 and leap years last 366 days") {
  auto w = windowAt(Period::YEAR, utc(2024, 7, 4), nullptr);
  CHECK(w == Window{utc(2024, 1, 1), utc(2025, 1, 1)});
  CHECK(w.end - w.start == 366LL * 86400 * 1000);
  CHECK(windowAt(Period::YEAR, utc(2100, 3, 1), nullptr).end - utc(2100, 1, 1) ==
        365LL * 86400 * 1000);  // 2100 is not a leap year.
}

TEST_CASE("ISO weeks start on Monday, across year ends") {
  // Wed 2025-01-01 belongs to the week starting Mon 2024-12-30 (ISO week 2025-W01).
  CHECK(windowAt(Period::WEEK, utc(2025, 1, 1, 10), nullptr) ==
        Window{utc(2024, 12, 30), utc(2025, 1, 6)});
  // Sun 2021-01-03 belongs to 2020-W53, starting Mon 2020-12-28.
  CHECK(windowAt(Period::WEEK, utc(2021, 1, 3, 23, 59, 59), nullptr) ==
        Window{utc(2020, 12, 28), utc(2021, 1, 4)});
  // A Monday at midnight starts its own week.
  CHECK(windowAt(Period::WEEK, utc(2024, 1, 1), nullptr).start == utc(2024, 1, 1));
}

TEST_CASE("Minutes, hours and days are aligned in UTC by default") {
  CHECK(windowAt(Period::MINUTE, utc(2024, 5, 5, 10, 30, 59), nullptr) ==
        Window{utc(2024, 5, 5, 10, 30), utc(2024, 5, 5, 10, 31)});
  CHECK(windowAt(Period::HOUR, utc(2024, 5, 5, 10, 30), nullptr) ==
        Window{utc(2024, 5, 5, 10), utc(2024, 5, 5, 11)});
  CHECK(windowAt(Period::DAY, utc(2024, 5, 5, 23, 59, 59), nullptr) ==
        Window{utc(2024, 5, 5), utc(2024, 5, 6)});
  CHECK(windowAt(Period::LIFETIME, 0, nullptr) == LIFETIME_WINDOW);
}

TEST_CASE("Days follow the tenant's timezone, 23 and 25 hours long on DST changes") {
  auto berlin = zone("Europe/Berlin");
  // 2024-03-31: clocks go 02:00 -> 03:00 CET->CEST. Local midnight is 23:00 UTC the day before.
  auto spring = windowAt(Period::DAY, utc(2024, 3, 31, 12), berlin);
  CHECK(spring == Window{utc(2024, 3, 30, 23), utc(2024, 3, 31, 22)});
  CHECK(spring.end - spring.start == 23LL * 3600 * 1000);
  // 2024-10-27: 03:00 CEST -> 02:00 CET.
  auto autumn = windowAt(Period::DAY, utc(2024, 10, 27, 12), berlin);
  CHECK(autumn == Window{utc(2024, 10, 26, 22), utc(2024, 10, 27, 23)});
  CHECK(autumn.end - autumn.start == 25LL * 3600 * 1000);
  // A Berlin month starts at local midnight.
  CHECK(windowAt(Period::MONTH, utc(2024, 11, 15), berlin) ==
        Window{utc(2024, 10, 31, 23), utc(2024, 11, 30, 23)});
}

TEST_CASE("Both passes of a repeated hour are distinct hour and minute windows") {
  auto ny = zone("America/New_York");
  // 2024-11-03 01:30 local happens at 05:30 UTC (EDT) and again at 06:30 UTC (EST).
  auto first = windowAt(Period::HOUR, utc(2024, 11, 3, 5, 30), ny);
  auto second = windowAt(Period::HOUR, utc(2024, 11, 3, 6, 30), ny);
  CHECK(first == Window{utc(2024, 11, 3, 5), utc(2024, 11, 3, 6)});
  CHECK(second == Window{utc(2024, 11, 3, 6), utc(2024, 11, 3, 7)});
  auto minute = windowAt(Period::MINUTE, utc(2024, 11, 3, 6, 30, 15), ny);
  CHECK(minute == Window{utc(2024, 11, 3, 6, 30), utc(2024, 11, 3, 6, 31)});
}

TEST_CASE("Half-hour offsets give local hour boundaries") {
  auto kolkata = zone("Asia/Kolkata");  // UTC+05:30
  CHECK(windowAt(Period::HOUR, utc(2024, 1, 1, 10, 45), kolkata) ==
        Window{utc(2024, 1, 1, 10, 30), utc(2024, 1, 1, 11, 30)});
  CHECK(windowAt(Period::DAY, utc(2024, 1, 1, 10), kolkata) ==
        Window{utc(2023, 12, 31, 18, 30), utc(2024, 1, 1, 18, 30)});
}

// Property: in any zone, for any instant and period, the window contains the instant, every
// instant of it maps back to it, and consecutive windows tile time without gaps or overlaps.
TEST_CASE("Windows contain their instant and tile time in every zone") {
  const char* zones[] = {
      "UTC",          "Europe/Berlin",   "America/New_York",  "Australia/Lord_Howe",
      "Asia/Kolkata", "Pacific/Chatham", "America/Sao_Paulo", "America/Havana",
      "Pacific/Apia", "Asia/Kathmandu"};
  std::mt19937_64 rng(20261127);
  std::uniform_int_distribution<int64_t> instant(utc(1995, 1, 1), utc(2040, 1, 1));
  for (const char* name : zones) {
    auto z = zone(name);
    for (auto p :
         {Period::MINUTE, Period::HOUR, Period::DAY, Period::WEEK, Period::MONTH, Period::YEAR}) {
      for (int i = 0; i < 300; ++i) {
        UnixMillis t = instant(rng);
        Window w = windowAt(p, t, z);
        INFO(name << " " << periodName(p) << " t=" << t);
        REQUIRE(w.contains(t));
        REQUIRE(windowAt(p, w.start, z) == w);
        REQUIRE(windowAt(p, w.end - 1, z) == w);
        REQUIRE(windowAt(p, w.end, z).start == w.end);
      }
    }
  }
}

TEST_CASE("A report month is the whole text YYYY-MM, in the tenant's calendar") {
  CHECK(parseMonth("2024-02", nullptr) == Window{utc(2024, 2, 1), utc(2024, 3, 1)});
  CHECK(parseMonth("2024-12", nullptr) == Window{utc(2024, 12, 1), utc(2025, 1, 1)});
  // Kolkata is 5:30 ahead: its November starts on October 31st at 18:30 UTC.
  CHECK(parseMonth("2026-11", zone("Asia/Kolkata")) ==
        Window{utc(2026, 10, 31, 18, 30), utc(2026, 11, 30, 18, 30)});
  // New York's November holds the fall-back hour: 30 days and one hour long.
  CHECK(parseMonth("2026-11", zone("America/New_York")) ==
        Window{utc(2026, 11, 1, 4), utc(2026, 12, 1, 5)});
  for (const char* bad : {"2026-1x", "2027-1a", "2026-1-", "2026-1", "2026-13", "2026-00",
                          "1969-12", "+026-11", "2026-+1", "2026_11", "2026-11 ", " 2026-11", ""}) {
    INFO(bad);
    CHECK_FALSE(parseMonth(bad, nullptr));
  }
}

TEST_CASE("Month and day labels name the local calendar") {
  auto kolkata = zone("Asia/Kolkata");
  CHECK(monthLabel(utc(2026, 10, 31, 18, 30), kolkata) == "2026-11");
  CHECK(monthLabel(utc(2026, 10, 31, 18, 29), kolkata) == "2026-10");
  CHECK(dayLabel(utc(2026, 11, 1, 20), kolkata) == "2026-11-02");
  CHECK(dayLabel(utc(2026, 11, 1, 20), nullptr) == "2026-11-01");
  // Every instant's label names the window that holds it, in every zone.
  std::mt19937_64 rng(20261130);
  std::uniform_int_distribution<int64_t> instant(utc(2000, 1, 1), utc(2040, 1, 1));
  for (const char* name : {"America/New_York", "Asia/Kolkata", "Australia/Lord_Howe",
                           "America/Havana", "Pacific/Apia"}) {
    auto z = zone(name);
    for (int i = 0; i < 500; ++i) {
      UnixMillis t = instant(rng);
      INFO(name << " t=" << t);
      auto month = parseMonth(monthLabel(t, z), z);
      REQUIRE(month);
      REQUIRE(month->contains(t));
      REQUIRE(dayLabel(t, z).substr(0, 7) == monthLabel(t, z));
    }
  }
}

}  // namespace tenantd
