#pragma once
// One tenant's whole in-memory state, built from the store by loadTenant() (tenant-loader.h) and
// owned by Tenants (tenants.h), on the event-loop thread. Each part has one writer: `info` the
// catalog (Tenants::updateInfo), the limits part LimitsService, config and roles
// SettingsService. Everyone else reads.

#include "core/idempotency.h"
#include "core/limiter.h"
#include "core/rbac.h"
#include "core/tenant.h"
#include "service/tenant-config.h"
#include "util/clock.h"

#include <kj/async.h>

#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace tenantd {

// Track ids are remembered this long: a repeat within it is acknowledged without counting.
constexpr int64_t DEDUPE_WINDOW_MS = 48LL * 3600 * 1000;

struct TenantState {
  TenantState(Tenant info, const date::time_zone* zone, int64_t dedupeWindowMs = DEDUPE_WINDOW_MS)
      : info(std::move(info)),
        zone(zone),
        limiter(this->info.plan, zone),
        trackIds(dedupeWindowMs) {}

  // Tenants: the catalog's view (updateInfo).
  Tenant info;
  const date::time_zone* zone;
  // LimitsService: the limits engine's state.
  Limiter limiter;
  IdempotencyWindow trackIds;
  std::string rulesJson = "[]";  // Canonical, as stored and served.
  int64_t rulesVersion = 0;
  // Track ids whose first track is still committing: a retry waits for that commit, told by the
  // first track's continuation (no waiter, no allocation, in the usual case of no retry).
  std::unordered_map<std::string, std::vector<kj::Own<kj::PromiseFulfiller<void>>>> committingIds;
  // While new rules are being installed: usage recorded since their store snapshot was taken.
  struct Recorded {
    std::string userId, resource, metric;
    int64_t amount;
    UnixMillis at;
  };
  std::optional<std::vector<Recorded>> sinceRulesSnapshot;

  // /tenant/config and /tenant/rbac (SettingsService keeps them).
  TenantConfig config;
  int64_t configVersion = 0;
  Rbac rbac = Rbac::defaults();
  int64_t rbacVersion = 0;
  // Resolves when the last role change queued has finished (SettingsService::changeRole).
  kj::Promise<void> roleChanges = kj::READY_NOW;
};

}  // namespace tenantd
