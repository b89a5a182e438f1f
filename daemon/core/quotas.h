#pragma once
// What one tenant may make the daemon hold in memory ([quotas] in the config file). Past one, the
// request that would add more is refused ("overloaded: …" over RPC, 429 over REST); nothing
// already held is evicted, so an acknowledged idempotency id stays a promise. Plain values: the
// limits service enforces them.

#include <cstddef>

namespace tenantd {

struct Quotas {
  size_t trackIds = 100'000;      // Idempotency ids within their 48 h (~1.2 KB each).
  size_t userCounters = 100'000;  // Per-user counters of user-scoped rules (~250 B each).
  size_t reservations = 10'000;   // Open reservations (~310 B each).
  bool operator==(const Quotas&) const = default;
};

}  // namespace tenantd
