#pragma once
// The apps' own rate limits (Tenant.rateLimit over RPC): an app asks before serving one of its
// routes, and the limit comes from the tenant's config.rateLimit, as for the REST surface. The
// limiter is the same GCRA, but with its own bucket map keyed by (tenant, route, key), so an
// app's routes and tenantd's REST routes never share a bucket even when their names match.
// Lives on the event-loop thread, like every other piece of domain state.

#include "core/gcra.h"
#include "service/tenant-state.h"

#include "contract.h"

#include <optional>
#include <string_view>

namespace tenantd {

struct AppRateDecision {
  bool limited = false;  // A limit applies to this route; when false, always allowed.
  RateDecision decision;
};

class AppRateLimiter {
public:
  static constexpr size_t MAX_KEY_BYTES = contract::MAX_RATE_LIMIT_KEY_BYTES;

  explicit AppRateLimiter(const Clock& clock) : clock_(clock) {}

  // Consumes one unit of (tenant, route, key) if allowed. `route` must be isRateLimitRoute().
  AppRateDecision take(const TenantState& tenant, std::string_view route, std::string_view key);
  // Forgets buckets idle long enough to be full again (the daemon's hourly upkeep, as for REST).
  size_t prune() { return gcra_.prune(clock_.now()); }
  size_t buckets() const { return gcra_.keys(); }

private:
  const Clock& clock_;
  Gcra gcra_;
  std::string scratch_;  // The bucket key, reused: no allocation per call once warm.
};

}  // namespace tenantd
