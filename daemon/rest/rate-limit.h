#pragma once
// The per-tenant rate limit of the REST surface (/tenant/*, /usage/*), from the tenant's
// config.rateLimit, enforced with GCRA per (tenant, method, route): the route as registered
// ("DELETE /tenant/secrets/:key"), so a tenant sending a different path each time still has
// one bucket per route (paths no route takes share one), not one per path. Over the limit: 429 with
// Retry-After. Every limited response carries RateLimit-Limit, RateLimit-Remaining and
// RateLimit-Reset. Requests that fail authentication are not counted against anyone.

#include "core/gcra.h"
#include "http/router.h"
#include "rest-context.h"

namespace tenantd {

class RestRateLimiter {
public:
  explicit RestRateLimiter(RestContext& ctx) : ctx_(ctx) {}

  // Decides for `request`, whose route (Router::routeOf, "" for none) the caller has looked up;
  // returns a 429 to send instead, or nullopt and the headers to add.
  std::optional<HttpResponse> admit(const HttpRequest& request, std::string_view route,
                                    std::vector<std::pair<std::string, std::string>>& headers);
  size_t prune() { return gcra_.prune(ctx_.clock.now()); }

private:
  RestContext& ctx_;
  Gcra gcra_;
};

}  // namespace tenantd
