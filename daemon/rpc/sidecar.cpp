#include "sidecar.h"

#include "app/version.h"

namespace tenantd {

kj::Promise<void> SidecarImpl::health(HealthContext context) {
  auto results = context.getResults(capnp::MessageSize{8, 0});
  results.setStatus("ok");
  results.setVersion(TENANTD_VERSION);
  int64_t up = (clock_.now() - startedAt_) / 1000;
  results.setUptimeSeconds(up > 0 ? static_cast<uint64_t>(up) : 0);
  return kj::READY_NOW;
}

}  // namespace tenantd
