#include "readiness.h"

namespace tenantd {

ReadinessReport Readiness::now() const {
  if (clock_.now() - storeAnsweredAt_ > STORE_SILENCE_MS) {
    return {false, "the store is not answering"};
  }
  if (writes_.failing()) {
    return {true, "writes are failing (" + writes_.reason() +
                      "): nothing is recorded until they commit again; checks and reads go on"};
  }
  return {true, degradedReason_};
}

}  // namespace tenantd
