#include "readiness.h"

namespace tenantd {

ReadinessReport Readiness::now() const {
  if (clock_.now() - storeAnsweredAt_ > STORE_SILENCE_MS) {
    return {false, "the store is not answering"};
  }
  return {true, degradedReason_};
}

}  // namespace tenantd
