#include "catalog.h"

#include <sodium.h>

#include <catch2/catch.hpp>

#include "schema.h"
#include "testing/temp-dir.h"

namespace tenantd {

namespace {
struct Fixture {
  testing::TempDir dir;
  Db db{dir.file("c.db"), {}};
  Catalog catalog{(migrate(db), db)};
  Fixture() { REQUIRE(sodium_init() >= 0); }
};

Tenant acme() {
  return Tenant{"tenant-123", "Acme Corp", "pro", "UTC", 1704067200000, {}, {}, {}};
}
}  // namespace

TEST_CASE("Catalog creates a tenant once and finds it") {
  Fixture f;
  CHECK(f.catalog.createTenant(acme()) == Catalog::Created::CREATED);
  CHECK(f.catalog.createTenant(acme()) == Catalog::Created::ALREADY_EXISTS);
  auto t = f.catalog.findTenant("tenant-123");
  REQUIRE(t.has_value());
  CHECK(t->name == "Acme Corp");
  CHECK(t->plan == "pro");
  CHECK(t->createdAtMs == 1704067200000);
  CHECK_FALSE(f.catalog.findTenant("other").has_value());
  CHECK(f.catalog.listTenants().size() == 1);
}

TEST_CASE("Catalog refuses invalid tenants and writes nothing") {
  Fixture f;
  Tenant bad = acme();
  bad.id = "bad id";
  CHECK_THROWS_WITH(f.catalog.createTenant(bad), Catch::Contains("invalid tenant id"));
  CHECK(f.catalog.listTenants().empty());
}

TEST_CASE("Tokens are found by hash only, bound to their tenant and role") {
  Fixture f;
  f.catalog.createTenant(acme());
  auto issued = issueToken();
  TokenRecord rec{issued.id, "tenant-123", Role::ADMIN, 1000, std::nullopt, std::nullopt};
  CHECK(f.catalog.addToken(rec, issued.hash) == Catalog::TokenAdded::ADDED);
  auto found = f.catalog.findTokenByHash(hashToken(issued.secret));
  REQUIRE(found.has_value());
  CHECK(found->id == issued.id);
  CHECK(found->tenantId == "tenant-123");
  CHECK(found->role == Role::ADMIN);
  CHECK_FALSE(f.catalog.findTokenByHash(issueToken().hash).has_value());
}

TEST_CASE("A token for a missing tenant is refused") {
  Fixture f;
  auto issued = issueToken();
  TokenRecord rec{issued.id, "ghost", Role::READER, 1000, std::nullopt, std::nullopt};
  CHECK(f.catalog.addToken(rec, issued.hash) == Catalog::TokenAdded::NO_SUCH_TENANT);
  CHECK(f.catalog.listTokens("ghost").empty());
}

TEST_CASE("Revoking a token marks it once and reports unknown ids") {
  Fixture f;
  f.catalog.createTenant(acme());
  auto issued = issueToken();
  f.catalog.addToken({issued.id, "tenant-123", Role::READER, 1000, std::nullopt, std::nullopt},
                     issued.hash);
  CHECK(f.catalog.revokeToken(issued.id, 2000) == Catalog::Revoked::REVOKED);
  CHECK(f.catalog.revokeToken(issued.id, 3000) == Catalog::Revoked::ALREADY_REVOKED);
  CHECK(f.catalog.revokeToken("tok_nope", 3000) == Catalog::Revoked::NOT_FOUND);
  auto found = f.catalog.findTokenByHash(issued.hash);
  REQUIRE(found.has_value());
  CHECK(found->revokedAtMs == 2000);
}

TEST_CASE("check() passes a healthy store and reports a broken invariant") {
  Fixture f;
  f.catalog.createTenant(acme());
  CHECK(f.catalog.check().empty());
  f.db.exec("UPDATE tenants SET plan = 'NOT A PLAN'");
  auto problems = f.catalog.check();
  REQUIRE(problems.size() == 1);
  CHECK(problems[0] == "tenant tenant-123: invalid plan");
}

}  // namespace tenantd
