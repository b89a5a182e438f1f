#pragma once
// A smooth rate limiter (GCRA, the generic cell rate algorithm): `max` requests per `windowMs`,
// spaced evenly, with a burst of up to `max`. One theoretical arrival time per key; no timers,
// time passed in. Used for the per-tenant rate limits of the REST surface and, with a map of its
// own, for the apps' routes (Tenant.rateLimit over RPC).

#include "util/clock.h"

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>

namespace tenantd {

struct RateDecision {
  bool allowed = true;
  int64_t limit = 0;         // max
  int64_t remaining = 0;     // Requests still allowed right now.
  int64_t resetMs = 0;       // Until the bucket is full again.
  int64_t retryAfterMs = 0;  // When refused: until the next request would pass.
};

// A decision as the RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset and Retry-After values
// (whole seconds, rounded up) that the REST headers and the RPC RateLimitResult both carry.
// Reset: when allowed, until the bucket is full again; when refused, until the next request
// would pass. Retry-After: 0 when allowed.
struct RateLimitFields {
  int64_t limit = 0;
  int64_t remaining = 0;
  int64_t resetSeconds = 0;
  int64_t retryAfterSeconds = 0;
};
RateLimitFields rateLimitFields(const RateDecision& decision);

class Gcra {
public:
  RateDecision take(std::string_view key, int64_t max, int64_t windowMs, UnixMillis now);
  // Forgets keys idle long enough to be full again (bounded memory).
  size_t prune(UnixMillis now);
  size_t keys() const { return tat_.size(); }

private:
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_map<std::string, UnixMillis, Hash, std::equal_to<>> tat_;
};

}  // namespace tenantd
