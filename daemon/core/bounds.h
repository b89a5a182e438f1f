#pragma once
// What one tenant's documents may hold ([bounds] in the config file): checked while a document
// is parsed, before anything recurses over it, by the one validator every surface uses (REST,
// Admin, later the sync feed). Each default is the schema's constant (rpc/tenantd.capnp), and
// also its ceiling: a host may tighten a bound, never loosen it, because what one write may make
// the daemon do (BENCHMARKS.md, writer fairness) is measured at the ceilings. Documents stored
// under larger bounds still load and can be replaced.

#include "contract.h"

#include <cstddef>

namespace tenantd {

struct DocumentBounds {
  int jsonDepth = contract::MAX_JSON_DEPTH;            // Nesting of any document.
  size_t rules = contract::MAX_RULES;                  // Rules per tenant.
  size_t tiersPerRule = contract::MAX_TIERS_PER_RULE;  // Plan tiers per rule.
  size_t roles = contract::MAX_ROLES;                  // RBAC roles per tenant.
  size_t permissionsPerRole = contract::MAX_PERMISSIONS_PER_ROLE;
  size_t configBytes = contract::MAX_CONFIG_BYTES;    // A configuration document, as sent.
  size_t rbacBytes = contract::MAX_RBAC_BYTES;        // All of a tenant's roles, serialised.
  size_t configRoutes = contract::MAX_CONFIG_ROUTES;  // config.routes, rateLimit.routes each.
  size_t webhooks = contract::MAX_WEBHOOKS;           // config.webhooks.
  bool operator==(const DocumentBounds&) const = default;
};

}  // namespace tenantd
