#pragma once
// The tenant configuration document of GET/POST /tenant/config and the RBAC document of
// /tenant/rbac: validation of the whole document (the first problem names its field) and the
// parts the daemon itself acts on (the REST rate limits).

#include "core/bounds.h"
#include "core/rbac.h"
#include "core/rules.h"

#include <nlohmann/json.hpp>

#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace tenantd {

struct RateLimit {
  int64_t max = 0;
  int64_t windowSeconds = 60;
};

// A config.rateLimit.routes key, and the route of an RPC rateLimit call: "METHOD /path", the
// method in capitals as requests send it (methods are case-sensitive, so "get" would match
// nothing), one space, a path from '/', at most contract::MAX_ROUTE_BYTES.
bool isRateLimitRoute(std::string_view route);

// config.rateLimit: {enabled, default: {max, windowSeconds}, routes: {"GET /tenant/info": {…}}}
struct RateLimitConfig {
  bool enabled = false;
  std::optional<RateLimit> defaultLimit;
  std::map<std::string, RateLimit, std::less<>> routes;  // "METHOD /path"
  // The limit for a request, or nullopt if it is not limited.
  std::optional<RateLimit> limitFor(std::string_view method, std::string_view path) const;
};

struct TenantConfig {
  nlohmann::json doc = nlohmann::json::object();
  RateLimitConfig rateLimit;
  std::vector<std::string> credentialSecrets;  // Secret names that `credentials` refers to.
};

// Validates a whole configuration document: routes[] of {path, method, description?},
// credentials{} naming secrets (never values), rateLimit{}, cache{}, webhooks[]; anything else
// is refused.
std::variant<TenantConfig, RuleError> parseTenantConfig(const nlohmann::json& doc);
// A configuration a tenant sends: its counts within `bounds` (routes, rateLimit.routes,
// webhooks), counted before anything else is read, then parseTenantConfig(). Stored documents
// load with parseTenantConfig() alone, so one saved under larger bounds still loads.
std::variant<TenantConfig, RuleError> parseNewConfig(const nlohmann::json& doc,
                                                     const DocumentBounds& bounds);

std::variant<Rbac, RuleError> parseRbac(const nlohmann::json& doc);
nlohmann::json rbacToJson(const Rbac& rbac);
// A role from POST /tenant/rbac/roles ({name, description?, permissions}) or, with `name` given,
// PUT /tenant/rbac/roles/:name ({description?, permissions}).
// At most `maxPermissions` permissions (DocumentBounds::permissionsPerRole for a role a tenant
// sends; stored roles load whatever they hold).
std::variant<RbacRole, RuleError> parseRole(const nlohmann::json& doc,
                                            std::optional<std::string> name, size_t maxPermissions);

}  // namespace tenantd
