#include "auth.h"

#include <sodium.h>

#include <catch2/catch.hpp>

namespace tenantd {

namespace {
struct Fixture {
  ManualClock clock{1'000'000};
  Auth auth{clock};
  IssuedToken live = issueToken(), revoked = issueToken(), expiring = issueToken();
  Fixture() {
    REQUIRE(sodium_init() >= 0);
    auth.replaceAll({
        {live.hash, {live.id, "t1", Role::READER, 0, std::nullopt, std::nullopt}},
        {revoked.hash, {revoked.id, "t1", Role::ADMIN, 0, std::nullopt, 500'000}},
        {expiring.hash, {expiring.id, "t2", Role::ADMIN, 0, 2'000'000, std::nullopt}},
    });
  }
};
}  // namespace

TEST_CASE("A live token authenticates as its tenant and role") {
  Fixture f;
  auto r = f.auth.authenticate("Bearer " + f.live.secret);
  REQUIRE(std::holds_alternative<Principal>(r));
  auto& p = std::get<Principal>(r);
  CHECK(p.tenantId == "t1");
  CHECK(p.role == Role::READER);
  CHECK(p.tokenId == f.live.id);
  CHECK(std::holds_alternative<Principal>(f.auth.authenticate("bearer " + f.live.secret)));
}

TEST_CASE("Missing, malformed, unknown, revoked and expired tokens are told apart") {
  Fixture f;
  CHECK(std::get<AuthFailure>(f.auth.authenticate(std::nullopt)) == AuthFailure::MISSING);
  CHECK(std::get<AuthFailure>(f.auth.authenticate("Basic x")) == AuthFailure::MALFORMED);
  CHECK(std::get<AuthFailure>(f.auth.authenticate("Bearer tnt_short")) == AuthFailure::MALFORMED);
  CHECK(std::get<AuthFailure>(f.auth.authenticate("Bearer " + issueToken().secret)) ==
        AuthFailure::UNKNOWN);
  CHECK(std::get<AuthFailure>(f.auth.authenticate("Bearer " + f.revoked.secret)) ==
        AuthFailure::REVOKED);
  CHECK(std::holds_alternative<Principal>(f.auth.authenticate("Bearer " + f.expiring.secret)));
  f.clock.set(2'000'000);
  CHECK(std::get<AuthFailure>(f.auth.authenticate("Bearer " + f.expiring.secret)) ==
        AuthFailure::EXPIRED);
}

TEST_CASE("A token added by the daemon works at once and stops working once revoked") {
  Fixture f;
  IssuedToken fresh = issueToken();
  f.auth.add(fresh.hash, {fresh.id, "t3", Role::ADMIN, 0, std::nullopt, std::nullopt});
  auto r = f.auth.authenticate("Bearer " + fresh.secret);
  REQUIRE(std::holds_alternative<Principal>(r));
  CHECK(std::get<Principal>(r).tenantId == "t3");
  CHECK(f.auth.revoke(fresh.id, 1'000'001));
  CHECK(std::get<AuthFailure>(f.auth.authenticate("Bearer " + fresh.secret)) ==
        AuthFailure::REVOKED);
  CHECK_FALSE(f.auth.revoke("tok_unknown", 1'000'001));
}

}  // namespace tenantd
