#include "gcra.h"

#include <catch2/catch.hpp>

namespace tenantd {

TEST_CASE("GCRA allows a burst of max, then one request per interval") {
  Gcra g;
  UnixMillis t = 1'000'000;
  for (int i = 0; i < 10; ++i) {
    auto d = g.take("t1", 10, 60'000, t);
    REQUIRE(d.allowed);
    CHECK(d.remaining == 9 - i);
  }
  auto refused = g.take("t1", 10, 60'000, t);
  CHECK_FALSE(refused.allowed);
  CHECK(refused.remaining == 0);
  CHECK(refused.retryAfterMs == 6'000);  // One interval: 60 s / 10.
  CHECK_FALSE(g.take("t1", 10, 60'000, t + 5'999).allowed);
  CHECK(g.take("t1", 10, 60'000, t + 6'000).allowed);
}

TEST_CASE("GCRA keys are independent: one tenant's limit never touches another's") {
  Gcra g;
  for (int i = 0; i < 3; ++i) g.take("a", 3, 1'000, 0);
  CHECK_FALSE(g.take("a", 3, 1'000, 0).allowed);
  CHECK(g.take("b", 3, 1'000, 0).allowed);
}

TEST_CASE("GCRA refills smoothly and reports the time to full") {
  Gcra g;
  for (int i = 0; i < 4; ++i) g.take("k", 4, 4'000, 0);
  auto d = g.take("k", 4, 4'000, 2'000);  // Two intervals later: two back.
  CHECK(d.allowed);
  CHECK(d.remaining == 1);
  CHECK(d.resetMs == 3'000);
}

TEST_CASE("GCRA forgets keys that are full again") {
  Gcra g;
  g.take("k", 2, 1'000, 0);
  g.take("j", 2, 1'000, 10'000);
  CHECK(g.prune(600) == 1);
  CHECK(g.keys() == 1);
}

TEST_CASE("Rate-limit fields round up to whole seconds and name the wait when refused") {
  Gcra g;
  auto first = rateLimitFields(g.take("k", 2, 3'000, 0));
  CHECK(first.limit == 2);
  CHECK(first.remaining == 1);
  CHECK(first.resetSeconds == 2);  // 1.5 s until full, rounded up.
  CHECK(first.retryAfterSeconds == 0);
  g.take("k", 2, 3'000, 0);
  auto refused = rateLimitFields(g.take("k", 2, 3'000, 100));
  CHECK(refused.remaining == 0);
  CHECK(refused.retryAfterSeconds == 2);  // 1.4 s until one interval has passed.
  CHECK(refused.resetSeconds == refused.retryAfterSeconds);
}

TEST_CASE("A zero limit refuses everything") {
  Gcra g;
  auto d = g.take("k", 0, 60'000, 0);
  CHECK_FALSE(d.allowed);
  CHECK(d.retryAfterMs > 0);
}

}  // namespace tenantd
