#include "clock.h"
#include "iso8601.h"
#include "log.h"

#include <catch2/catch.hpp>

namespace tenantd {

TEST_CASE("formatIso8601 renders UTC with seconds precision") {
  CHECK(formatIso8601(0) == "1970-01-01T00:00:00Z");
  CHECK(formatIso8601(1704067200000) == "2024-01-01T00:00:00Z");
  CHECK(formatIso8601(1709164799999) == "2024-02-28T23:59:59Z");
  CHECK(formatIso8601(-1) == "1969-12-31T23:59:59Z");
}

TEST_CASE("parseIso8601 takes Z or an offset, with optional fractions, and nothing else") {
  CHECK(parseIso8601("2024-01-01T00:00:00Z") == 1704067200000);
  CHECK(parseIso8601("2024-01-01T00:00:00.250Z") == 1704067200250);
  CHECK(parseIso8601("2024-01-01T02:00:00+02:00") == 1704067200000);
  CHECK_FALSE(parseIso8601("2024-01-01"));
  CHECK_FALSE(parseIso8601("2024-01-01T00:00:00"));
  CHECK_FALSE(parseIso8601("2024-13-01T00:00:00Z"));
  CHECK_FALSE(parseIso8601("2024-01-01T00:00:00Zjunk"));
  CHECK_FALSE(parseIso8601("yesterday"));
  // Fields out of their shape never reach date::parse, which casts the seconds unchecked.
  CHECK_FALSE(parseIso8601("2024-02-29T23:5599:.999-00:30"));
  CHECK_FALSE(parseIso8601("2999-01-01T00:0G0:00.250+02:00"));
  CHECK_FALSE(parseIso8601("2024-01-01T00:00:nanZ"));
  CHECK_FALSE(parseIso8601("2024-01-01T00:00:00.Z"));
  CHECK_FALSE(parseIso8601("2024-01-01T00:00:00.1234Z"));
  CHECK_FALSE(parseIso8601("2024-01-01T00:00:00+0200"));
  CHECK(parseIso8601("2024-01-01T00:00:00.123-00:30") == 1704069000123);
  CHECK(parseIso8601("2024-01-01T00:00:00.1Z") == 1704067200100);
}

TEST_CASE("ManualClock moves only when told") {
  ManualClock clock(1000);
  CHECK(clock.now() == 1000);
  clock.advance(250);
  CHECK(clock.now() == 1250);
  clock.set(5);
  CHECK(clock.now() == 5);
}

TEST_CASE("parseLogLevel accepts the four names and nothing else") {
  LogLevel level = LogLevel::INFO;
  CHECK(parseLogLevel("debug", level));
  CHECK(level == LogLevel::DEBUG);
  CHECK(parseLogLevel("error", level));
  CHECK(level == LogLevel::ERROR);
  CHECK_FALSE(parseLogLevel("verbose", level));
  CHECK_FALSE(parseLogLevel("", level));
  CHECK(level == LogLevel::ERROR);
}

TEST_CASE("Log filters lines below its level") {
  Log log(Log::Sink::STDERR, LogLevel::WARN);
  CHECK_FALSE(log.enabled(LogLevel::INFO));
  CHECK(log.enabled(LogLevel::ERROR));
  log.setMinLevel(LogLevel::DEBUG);
  CHECK(log.enabled(LogLevel::DEBUG));
}

}  // namespace tenantd
