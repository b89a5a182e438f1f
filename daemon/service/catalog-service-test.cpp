#include "catalog-service.h"

#include <catch2/catch.hpp>

#include "testing/service-stack.h"

namespace tenantd {

namespace {
Tenant newTenant(const char* id) {
  return Tenant{id, "New", "free", "Europe/Berlin", 0, 100, {}, {}};
}
}  // namespace

TEST_CASE("A tenant created by the daemon is stored, audited and served at once") {
  kj::EventLoop loop;
  kj::WaitScope ws(loop);
  testing::ServiceStack s(ws, {});
  s.clock.set(1'700'000'000'000);
  auto created = s.catalog->createTenant(newTenant("acme"), "uid:0").wait(ws);
  REQUIRE(created);
  CHECK(created->createdAtMs == 1'700'000'000'000);
  TenantState* state = s.tenants->find("acme");
  REQUIRE(state != nullptr);
  CHECK(state->info.name == "New");
  CHECK(state->zone != nullptr);  // Europe/Berlin, not UTC.
  auto stored = s.catalog->findTenant("acme").wait(ws);
  REQUIRE(stored);
  CHECK(stored->apiCallsLimit == 100);
  auto audit = s.auditOf("acme");
  REQUIRE(audit.size() == 1);
  CHECK(audit[0].action == "tenant.create");
  CHECK(audit[0].actor == "uid:0");
  CHECK_FALSE(s.catalog->createTenant(newTenant("acme"), "uid:0").wait(ws));
  CHECK(s.tenants->size() == 1);
}

TEST_CASE("Tenants and tokens another process adds are seen by the probe and adopted on reload") {
  kj::EventLoop loop;
  kj::WaitScope ws(loop);
  testing::ServiceStack s(ws, {"t1"});
  CHECK_FALSE(s.catalog->changedOutside().wait(ws));  // The baseline.
  CHECK_FALSE(s.catalog->changedOutside().wait(ws));
  // The daemon's own commits do not count as outside changes.
  REQUIRE(s.catalog->createTenant(newTenant("mine"), "uid:0").wait(ws));
  CHECK_FALSE(s.catalog->changedOutside().wait(ws));
  {
    Db cli(s.path, {});  // As the offline CLI: its own connection.
    Catalog catalog(cli);
    catalog.createTenant(Tenant{"outside", "Outside", "free", "UTC", 0, {}, {}, {}});
    auto renamed = *catalog.findTenant("t1");
    renamed.name = "Renamed";
    catalog.updateTenant(renamed);
    REQUIRE(createToken(catalog, "outside", Role::READER, std::nullopt, s.clock.now()));
  }
  CHECK(s.catalog->changedOutside().wait(ws));
  CHECK(s.tenants->find("outside") == nullptr);
  s.catalog->reload().wait(ws);
  REQUIRE(s.tenants->find("outside") != nullptr);
  CHECK(s.tenant("t1").info.name == "Renamed");
  CHECK(s.auth.size() == 1);
  CHECK_FALSE(s.catalog->changedOutside().wait(ws));
}

TEST_CASE("A tenant update changes only what it names and reaches the running state") {
  kj::EventLoop loop;
  kj::WaitScope ws(loop);
  testing::ServiceStack s(ws, {"t1"});
  TenantPatch patch;
  patch.plan = "enterprise";
  patch.storage = 5;
  auto updated = s.catalog->updateTenant("t1", patch, "uid:7").wait(ws);
  REQUIRE(updated);
  CHECK(updated->name == "Tenant t1");
  CHECK(updated->plan == "enterprise");
  CHECK(updated->storageLimit == 5);
  CHECK(s.tenant("t1").info.plan == "enterprise");
  CHECK(s.auditOf("t1")[0].action == "tenant.update");
  CHECK_FALSE(s.catalog->updateTenant("nobody", patch, "uid:7").wait(ws));
}

TEST_CASE("A token created by the daemon authenticates at once and stops once revoked") {
  kj::EventLoop loop;
  kj::WaitScope ws(loop);
  testing::ServiceStack s(ws, {"t1"});
  auto token = s.catalog->createToken("t1", Role::READER, 3600, "uid:0").wait(ws);
  REQUIRE(token);
  CHECK(token->record.expiresAtMs == s.clock.now() + 3'600'000);
  auto who = s.auth.authenticate("Bearer " + token->issued.secret);
  REQUIRE(std::holds_alternative<Principal>(who));
  CHECK(std::get<Principal>(who).tenantId == "t1");
  auto listed = s.catalog->listTokens("t1").wait(ws);
  REQUIRE(listed);
  REQUIRE(listed->size() == 1);
  CHECK((*listed)[0].id == token->record.id);

  CHECK(s.catalog->revokeToken(token->record.id, "uid:0").wait(ws) == Catalog::Revoked::REVOKED);
  CHECK(std::get<AuthFailure>(s.auth.authenticate("Bearer " + token->issued.secret)) ==
        AuthFailure::REVOKED);
  CHECK(s.catalog->revokeToken(token->record.id, "uid:0").wait(ws) ==
        Catalog::Revoked::ALREADY_REVOKED);
  CHECK(s.catalog->revokeToken("tok_nope", "uid:0").wait(ws) == Catalog::Revoked::NOT_FOUND);
  auto audit = s.auditOf("t1");
  REQUIRE(audit.size() == 2);  // create and one revoke: repeats change nothing.
  CHECK(audit[0].action == "token.revoke");
  CHECK(audit[1].action == "token.create");
  CHECK(audit[1].target == token->record.id);
}

TEST_CASE("Tokens for, and lists of, unknown tenants are refused") {
  kj::EventLoop loop;
  kj::WaitScope ws(loop);
  testing::ServiceStack s(ws, {});
  CHECK_FALSE(s.catalog->createToken("nobody", Role::ADMIN, std::nullopt, "uid:0").wait(ws));
  CHECK_FALSE(s.catalog->listTokens("nobody").wait(ws));
  CHECK(s.auth.size() == 0);
}

TEST_CASE("Time zones are known by their IANA names") {
  CHECK(isKnownTimezone("UTC"));
  CHECK(isKnownTimezone("America/New_York"));
  CHECK_FALSE(isKnownTimezone("Mars/Olympus"));
  CHECK_FALSE(isKnownTimezone(""));
}

}  // namespace tenantd
