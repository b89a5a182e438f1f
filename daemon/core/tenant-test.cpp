#include "tenant.h"

#include <catch2/catch.hpp>

#include <string>

namespace tenantd {

TEST_CASE("Tenant ids are URL- and log-safe and at most 64 characters") {
  CHECK(isValidTenantId("tenant-123"));
  CHECK(isValidTenantId("A.b_c-9"));
  CHECK(isValidTenantId(std::string(64, 'x')));
  CHECK_FALSE(isValidTenantId(std::string(65, 'x')));
  CHECK_FALSE(isValidTenantId(""));
  CHECK_FALSE(isValidTenantId("-leading-dash"));
  CHECK_FALSE(isValidTenantId("has space"));
  CHECK_FALSE(isValidTenantId("slash/y"));
  CHECK_FALSE(isValidTenantId("new\nline"));
}

TEST_CASE("Plans are short lowercase words") {
  CHECK(isValidPlan("pro"));
  CHECK(isValidPlan("free-2024"));
  CHECK_FALSE(isValidPlan("Pro"));
  CHECK_FALSE(isValidPlan("1pro"));
  CHECK_FALSE(isValidPlan(""));
}

TEST_CASE("Tenant names reject control characters and empty or huge values") {
  CHECK(isValidTenantName("Acme Corp"));
  CHECK(isValidTenantName("Ünïcödé GmbH"));
  CHECK_FALSE(isValidTenantName(""));
  CHECK_FALSE(isValidTenantName("tab\there"));
  CHECK_FALSE(isValidTenantName(std::string(201, 'a')));
}

TEST_CASE("Roles round-trip through their names") {
  CHECK(parseRole("admin") == Role::ADMIN);
  CHECK(parseRole("reader") == Role::READER);
  CHECK_FALSE(parseRole("root").has_value());
  CHECK(roleName(Role::READER) == "reader");
}

}  // namespace tenantd
