#pragma once
// Tenants and roles as the domain sees them: plain values and the rules for valid ones.
// No I/O here. The bounds are the request contract's (rpc/contract.h).

#include "contract.h"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tenantd {

enum class Role { ADMIN, READER };

std::string_view roleName(Role role);
std::optional<Role> parseRole(std::string_view text);

struct Tenant {
  std::string id;
  std::string name;
  std::string plan;
  std::string timezone = "UTC";
  int64_t createdAtMs = 0;
  // Shown by GET /tenant/info; set by the operator. Unset: null.
  std::optional<int64_t> apiCallsLimit;
  std::optional<int64_t> llmTokensLimit;
  std::optional<int64_t> storageLimit;
};

// Tenant ids appear in URLs, headers and logs: letters, digits, '_', '.', '-'; 1–64 chars,
// starting with a letter or digit.
bool isValidTenantId(std::string_view id);
// Plans pick limit tiers: lowercase, 1–32 chars.
bool isValidPlan(std::string_view plan);
// Display names: 1–200 bytes, no control characters.
bool isValidTenantName(std::string_view name);
// An IANA zone name that the tz database knows ("UTC" always).
bool isKnownTimezone(std::string_view name);

// The fields an operator sets on a tenant (Admin.createTenant and updateTenant over RPC,
// `tenantd tenant create|update` offline): the first invalid one, named as the schema names it.
// A patch leaves out what it does not change.
struct TenantFields {
  std::optional<std::string_view> name, plan, timezone;
};
std::optional<contract::FieldError> checkTenantFields(const TenantFields& fields);

}  // namespace tenantd
