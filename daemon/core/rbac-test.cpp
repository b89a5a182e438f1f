#include "rbac.h"

#include <catch2/catch.hpp>

namespace tenantd {

TEST_CASE("Default roles: viewer reads, admin reads, writes and deletes") {
  Rbac r = Rbac::defaults();
  CHECK(r.enabled);
  CHECK(r.defaultRole == "viewer");
  CHECK(r.hasPermission("viewer", "read"));
  CHECK_FALSE(r.hasPermission("viewer", "write"));
  CHECK(r.hasPermission("admin", "delete"));
  CHECK_FALSE(r.hasPermission("nobody", "read"));
}

TEST_CASE("Wildcards grant everything or everything under a prefix") {
  Rbac r;
  r.roles = {RbacRole{"root", "", {"*"}}, RbacRole{"billing", "", {"billing:*", "read"}}};
  CHECK(r.hasPermission("root", "anything:at.all"));
  CHECK(r.hasPermission("billing", "billing:read"));
  CHECK(r.hasPermission("billing", "billing:invoice:pay"));
  CHECK_FALSE(r.hasPermission("billing", "billingx"));
  CHECK_FALSE(r.hasPermission("billing", "write"));
}

TEST_CASE("Role names and permissions follow their patterns") {
  CHECK(isValidRoleName("editor"));
  CHECK(isValidRoleName("content-editor_2"));
  CHECK_FALSE(isValidRoleName("Editor"));
  CHECK_FALSE(isValidRoleName("2nd"));
  CHECK_FALSE(isValidRoleName(std::string(65, 'a')));
  CHECK(isValidPermission("billing:invoice.pay"));
  CHECK(isValidPermission("*"));
  CHECK(isValidPermission("read*"));
  CHECK_FALSE(isValidPermission("Read"));
  CHECK_FALSE(isValidPermission("with space"));
  CHECK_FALSE(isValidPermission(""));
}

}  // namespace tenantd
