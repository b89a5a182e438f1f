#pragma once
// What the limits service asks of fleet-wide counting ([fleet], docs/FLEET.md), behind an
// interface: a standalone daemon has none, and nothing of fleet/ is on its path. The fleet
// module (fleet/fleet-sync.h) implements it on Redis; tests can put anything behind it.
//
// Local-first rules need nothing from here on a check: the Limiter already holds the fleet's
// figures (Limiter::setFleetOthers), written by the fleet module's flushes. Only strict rules
// and the policy while the fleet's store is unreachable come through this interface.

#include "core/limiter.h"
#include "service/tenant-state.h"

#include <kj/async.h>

#include <string_view>
#include <vector>

namespace tenantd {

// A strict call's answer from the fleet.
struct StrictAnswer {
  bool reached = false;  // False: unreachable or failed; the policy decides instead.
  bool allowed = false;
  // Per applicable counter, in Limiter::applicable() order: the fleet total after the call
  // (before it when refused) and this host's contribution in it.
  struct Figure {
    int64_t total = 0;
    int64_t mine = 0;
  };
  std::vector<Figure> figures;
};

class Fleet {
public:
  virtual ~Fleet() noexcept(false) = default;
  // Whether the last exchange with the fleet's store succeeded.
  virtual bool reachable() const = 0;
  virtual FleetPolicy policy() const = 0;
  // Atomically across the fleet: checks `amount` against every block rule in `counters` and,
  // if all allow it, adds it to each. Never rejects: a failure resolves `reached == false`.
  virtual kj::Promise<StrictAnswer> strictAdd(const TenantState& t,
                                              const std::vector<Limiter::Applicable>& counters,
                                              int64_t amount) = 0;
  // Resolves once a flush that started after this call has its replies in: every counter noted
  // read before it then holds the fleet's figure as of now. At once while unreachable.
  virtual kj::Promise<void> refresh() = 0;
};

}  // namespace tenantd
