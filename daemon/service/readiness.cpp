#include "readiness.h"

#include <algorithm>

namespace tenantd {

ReadinessReport Readiness::now() const {
  if (clock_.now() - storeAnsweredAt_ > STORE_SILENCE_MS) {
    return {false, "the store is not answering"};
  }
  if (writes_.failing()) {
    return {true, "writes are failing (" + writes_.reason() +
                      "): nothing is recorded until they commit again; checks and reads go on"};
  }
  if (managed_ && !hasCopy_) {
    return {false, "no copy of the central's documents yet (" + syncError_ + ")"};
  }
  if (managed_ && !syncError_.empty()) {
    return {true, "degraded: serving last-known-good, " + std::to_string(copyAgeSeconds()) +
                      " s old (" + syncError_ + ")"};
  }
  if (!fleetError_.empty()) return {true, "degraded: " + fleetError_};
  return {true, degradedReason_};
}

int64_t Readiness::copyAgeSeconds() const {
  if (!managed_ || !hasCopy_) return -1;
  return std::max<int64_t>(0, (clock_.now() - confirmedAt_) / 1000);
}

}  // namespace tenantd
