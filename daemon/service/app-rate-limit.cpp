#include "app-rate-limit.h"

namespace tenantd {

AppRateDecision AppRateLimiter::take(const TenantState& tenant, std::string_view route,
                                     std::string_view key) {
  auto space = route.find(' ');
  auto limit = tenant.config.rateLimit.limitFor(route.substr(0, space), route.substr(space + 1));
  if (!limit) return {};
  // Tenant ids hold no NUL and the route's length is spelled out, so no two (tenant, route,
  // key) triples share a bucket whatever bytes route and key contain.
  scratch_.assign(tenant.info.id);
  scratch_.push_back('\0');
  scratch_.append(std::to_string(route.size())).push_back(':');
  scratch_.append(route).append(key);
  AppRateDecision out;
  out.limited = true;
  out.decision = gcra_.take(scratch_, limit->max, limit->windowSeconds * 1000, clock_.now());
  return out;
}

}  // namespace tenantd
