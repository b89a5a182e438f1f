#pragma once
// Whether the daemon can serve, as GET /readyz and Admin.status report it: not ready when the
// store has not answered its probe for STORE_SILENCE_MS; degraded (ready, with a reason) while
// writes fail (a full or failing disk: checks and reads are still served from memory) or when
// storage upkeep last failed. The daemon's housekeeping and the writer feed it; REST and RPC
// only read it.

#include "store/write-health.h"
#include "util/clock.h"

#include <string>

namespace tenantd {

struct ReadinessReport {
  bool ready = true;
  std::string reason;  // Why not ready, or why degraded; empty when all is well.
};

class Readiness {
public:
  static constexpr int64_t STORE_SILENCE_MS = 5000;  // The probe runs every second.

  // Counts from construction as if the store had just answered (it has: the state was loaded).
  Readiness(const Clock& clock, const WriteHealth& writes)
      : clock_(clock), writes_(writes), storeAnsweredAt_(clock.now()) {}

  void storeAnswered() { storeAnsweredAt_ = clock_.now(); }
  void upkeepSucceeded() { degradedReason_.clear(); }
  void upkeepFailed(std::string reason) { degradedReason_ = std::move(reason); }

  // Managed mode (sync/, docs/SYNC.md): the sidecar serves a copy of its central's documents.
  // Not ready while it has never had one; degraded, with the copy's age, until the central has
  // confirmed it current and whenever the last attempt to reach it failed. `confirmedAt`: when
  // the copy held at start was last known current (0: never).
  void becomeManaged(bool hasCopy, UnixMillis confirmedAt) {
    managed_ = true;
    hasCopy_ = hasCopy;
    confirmedAt_ = confirmedAt;
    syncError_ = "not synced since start";
  }
  void syncSucceeded() {
    hasCopy_ = true;
    confirmedAt_ = clock_.now();
    syncError_.clear();
  }
  void syncFailed(std::string reason) { syncError_ = std::move(reason); }
  // Fleet counting ([fleet], docs/FLEET.md): degraded, with `reason`, while its store is
  // unreachable; checks go on under the on_unavailable policy. Empty: reachable.
  void fleetUnavailable(std::string reason) { fleetError_ = std::move(reason); }

  // Seconds since the copy was last known current; -1 when not managed or never had one.
  int64_t copyAgeSeconds() const;

  ReadinessReport now() const;

private:
  const Clock& clock_;
  const WriteHealth& writes_;
  UnixMillis storeAnsweredAt_;
  std::string degradedReason_;
  bool managed_ = false;
  bool hasCopy_ = false;
  UnixMillis confirmedAt_ = 0;
  std::string syncError_;  // Empty: the last sync succeeded.
  std::string fleetError_;
};

}  // namespace tenantd
