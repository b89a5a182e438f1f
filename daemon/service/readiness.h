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

  ReadinessReport now() const;

private:
  const Clock& clock_;
  const WriteHealth& writes_;
  UnixMillis storeAnsweredAt_;
  std::string degradedReason_;
};

}  // namespace tenantd
