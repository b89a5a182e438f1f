#include "rate-limit.h"

namespace tenantd {

std::optional<HttpResponse> RestRateLimiter::admit(
    const HttpRequest& request, std::string_view route,
    std::vector<std::pair<std::string, std::string>>& headers) {
  bool surface = request.path.rfind("/tenant/", 0) == 0 || request.path.rfind("/usage/", 0) == 0;
  if (!surface) return std::nullopt;
  auto& auth = ctx_.authenticate(request.header("authorization"));
  auto* principal = std::get_if<Principal>(&auth);
  if (principal == nullptr) return std::nullopt;  // The handler answers 401.
  TenantState* tenant = ctx_.tenants.find(principal->tenantId);
  if (tenant == nullptr) return std::nullopt;
  auto limit = tenant->config.rateLimit.limitFor(request.method, route.empty() ? "?" : route);
  if (!limit) return std::nullopt;
  std::string key = principal->tenantId;
  key.append(" ").append(request.method).append(" ").append(route.empty() ? "?" : route);
  RateDecision d = gcra_.take(key, limit->max, limit->windowSeconds * 1000, ctx_.clock.now());
  RateLimitFields fields = rateLimitFields(d);
  headers.emplace_back("ratelimit-limit", std::to_string(fields.limit));
  headers.emplace_back("ratelimit-remaining", std::to_string(fields.remaining));
  headers.emplace_back("ratelimit-reset", std::to_string(fields.resetSeconds));
  if (d.allowed) return std::nullopt;
  auto response = errorResponse(429, "rate_limited", "too many requests for this tenant");
  response.headers = headers;
  response.headers.emplace_back("retry-after", std::to_string(fields.retryAfterSeconds));
  return response;
}

}  // namespace tenantd
