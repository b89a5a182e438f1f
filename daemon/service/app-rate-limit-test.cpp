#include "app-rate-limit.h"

#include <catch2/catch.hpp>

namespace tenantd {

namespace {
std::unique_ptr<TenantState> tenantWith(const char* id, const nlohmann::json& rateLimit) {
  auto t = std::make_unique<TenantState>(Tenant{id, id, "pro", "UTC", 0, {}, {}, {}}, nullptr);
  auto parsed = parseTenantConfig({{"rateLimit", rateLimit}});
  REQUIRE(std::holds_alternative<TenantConfig>(parsed));
  t->config = std::get<TenantConfig>(std::move(parsed));
  return t;
}

const nlohmann::json ITEMS_TWO_PER_MINUTE = {
    {"enabled", true}, {"routes", {{"GET /v1/items", {{"max", 2}, {"windowSeconds", 60}}}}}};
}  // namespace

TEST_CASE("An app route is allowed up to its limit, then refused until one interval passes") {
  ManualClock clock(1'000'000);
  AppRateLimiter limiter(clock);
  auto t = tenantWith("t1", ITEMS_TWO_PER_MINUTE);
  for (int i = 0; i < 2; ++i) {
    auto d = limiter.take(*t, "GET /v1/items", "user-1");
    CHECK(d.limited);
    CHECK(d.decision.allowed);
    CHECK(d.decision.remaining == 1 - i);
  }
  auto refused = limiter.take(*t, "GET /v1/items", "user-1");
  CHECK(refused.limited);
  CHECK_FALSE(refused.decision.allowed);
  CHECK(refused.decision.retryAfterMs == 30'000);
  clock.advance(30'000);
  CHECK(limiter.take(*t, "GET /v1/items", "user-1").decision.allowed);
}

TEST_CASE("App buckets are per tenant, route and key") {
  ManualClock clock(0);
  AppRateLimiter limiter(clock);
  auto t1 = tenantWith("t1", ITEMS_TWO_PER_MINUTE);
  auto t2 = tenantWith("t2", ITEMS_TWO_PER_MINUTE);
  limiter.take(*t1, "GET /v1/items", "a");
  limiter.take(*t1, "GET /v1/items", "a");
  CHECK_FALSE(limiter.take(*t1, "GET /v1/items", "a").decision.allowed);
  CHECK(limiter.take(*t1, "GET /v1/items", "b").decision.allowed);
  CHECK(limiter.take(*t1, "GET /v1/items", "").decision.allowed);
  CHECK(limiter.take(*t2, "GET /v1/items", "a").decision.allowed);
  CHECK(limiter.buckets() == 4);
}

TEST_CASE("A route without a limit, or with rate limits disabled, is always allowed") {
  ManualClock clock(0);
  AppRateLimiter limiter(clock);
  auto t = tenantWith("t1", ITEMS_TWO_PER_MINUTE);
  for (int i = 0; i < 5; ++i) {
    auto d = limiter.take(*t, "POST /v1/items", "k");
    CHECK_FALSE(d.limited);
    CHECK(d.decision.allowed);
  }
  auto off = tenantWith("t2", {{"enabled", false}, {"routes", {{"GET /v1/items", {{"max", 1}}}}}});
  CHECK_FALSE(limiter.take(*off, "GET /v1/items", "k").limited);
  CHECK_FALSE(limiter.take(*off, "GET /v1/items", "k").limited);
  CHECK(limiter.buckets() == 0);
}

TEST_CASE("The default limit applies to app routes without their own") {
  ManualClock clock(0);
  AppRateLimiter limiter(clock);
  auto t = tenantWith("t1", {{"enabled", true}, {"default", {{"max", 1}, {"windowSeconds", 10}}}});
  CHECK(limiter.take(*t, "DELETE /v1/x", "").decision.allowed);
  auto refused = limiter.take(*t, "DELETE /v1/x", "");
  CHECK(refused.limited);
  CHECK_FALSE(refused.decision.allowed);
  CHECK(refused.decision.limit == 1);
  // Route and key never run together: ("GET /v1/ab", "") and ("GET /v1/a", "b") are two buckets.
  CHECK(limiter.take(*t, "GET /v1/ab", "").decision.allowed);
  CHECK(limiter.take(*t, "GET /v1/a", "b").decision.allowed);
}

TEST_CASE("Routes are METHOD /path of at most 256 bytes") {
  CHECK(isRateLimitRoute("GET /v1/items"));
  CHECK_FALSE(isRateLimitRoute("get /"));
  CHECK_FALSE(isRateLimitRoute("Get /x"));
  CHECK_FALSE(isRateLimitRoute("GET1 /x"));
  CHECK_FALSE(isRateLimitRoute(""));
  CHECK_FALSE(isRateLimitRoute("GET"));
  CHECK_FALSE(isRateLimitRoute("GET v1"));
  CHECK_FALSE(isRateLimitRoute(" /v1"));
  CHECK_FALSE(isRateLimitRoute("GET "));
  CHECK(isRateLimitRoute("GET /" + std::string(251, 'a')));
  CHECK_FALSE(isRateLimitRoute("GET /" + std::string(252, 'a')));
}

TEST_CASE("Pruning forgets app buckets that are full again") {
  ManualClock clock(0);
  AppRateLimiter limiter(clock);
  auto t = tenantWith("t1", ITEMS_TWO_PER_MINUTE);
  limiter.take(*t, "GET /v1/items", "a");
  clock.advance(20'000);
  limiter.take(*t, "GET /v1/items", "b");
  clock.advance(15'000);  // a's bucket is full again (30 s after its one request); b's is not.
  CHECK(limiter.prune() == 1);
  CHECK(limiter.buckets() == 1);
}

}  // namespace tenantd
