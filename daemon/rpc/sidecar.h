#pragma once
// The Sidecar bootstrap capability served on the RPC socket. Lives on the event-loop thread.

#include "util/clock.h"

#include "tenantd.capnp.h"

namespace tenantd {

class SidecarImpl final : public rpc::Sidecar::Server {
public:
  SidecarImpl(const Clock& clock, UnixMillis startedAt) : clock_(clock), startedAt_(startedAt) {}

protected:
  kj::Promise<void> health(HealthContext context) override;

private:
  const Clock& clock_;
  UnixMillis startedAt_;
};

}  // namespace tenantd
