#pragma once
// A tenant's custom roles for its own end users: names, permissions and the default role.
// Pure values and rules; the REST API stores them and the RPC answers hasPermission().

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tenantd {

struct RbacRole {
  std::string name;                      // [a-z][a-z0-9_-]{0,63}
  std::string description;               // Optional, <= 256 bytes.
  std::vector<std::string> permissions;  // [a-z][a-z0-9_.:*-]{0,63} each, '*' a wildcard.
  bool operator==(const RbacRole&) const = default;
};

struct Rbac {
  bool enabled = true;
  std::string defaultRole = "viewer";
  std::vector<RbacRole> roles;

  // viewer [read], admin [read, write, delete], default viewer, enabled.
  static Rbac defaults();
  const RbacRole* find(std::string_view name) const;
  // Whether `role` grants `permission`. A granted "*" matches anything; "billing:*" matches
  // "billing:read" and "billing:invoice:pay". Unknown roles grant nothing.
  bool hasPermission(std::string_view role, std::string_view permission) const;
  bool operator==(const Rbac&) const = default;
};

bool isValidRoleName(std::string_view name);
bool isValidPermission(std::string_view permission);

}  // namespace tenantd
