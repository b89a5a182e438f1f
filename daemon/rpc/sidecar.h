#pragma once
// The RPC capabilities on the event-loop thread: Sidecar (the bootstrap, one per connection, with
// that connection's PeerRole) and Tenant (scoped to one tenant). They translate calls to the same
// services the REST API uses. Failures are Cap'n Proto exceptions whose description starts with a
// stable kind: "invalid-argument:", "not-found:", "permission-denied:", "unavailable:".

#include "rpc/peer.h"
#include "service/limits-service.h"
#include "service/secrets-service.h"
#include "util/clock.h"

#include "tenantd.capnp.h"

namespace tenantd {

struct RpcServices {
  const Clock& clock;
  UnixMillis startedAt;
  LimitsService* limits = nullptr;  // Null in tests that only need health().
  SecretsService* secrets = nullptr;
};

class SidecarImpl final : public rpc::Sidecar::Server {
public:
  SidecarImpl(RpcServices& services, PeerRole role, std::string peer)
      : services_(services), role_(role), peer_(std::move(peer)) {}

protected:
  kj::Promise<void> health(HealthContext context) override;
  kj::Promise<void> tenant(TenantContext context) override;

private:
  RpcServices& services_;
  PeerRole role_;
  std::string peer_;  // "uid:1000": what audit rows name as the actor.
};

class TenantImpl final : public rpc::Tenant::Server {
public:
  TenantImpl(RpcServices& services, std::string tenantId, std::string peer)
      : services_(services), tenantId_(std::move(tenantId)), peer_(std::move(peer)) {}

protected:
  kj::Promise<void> getSecret(GetSecretContext context) override;
  kj::Promise<void> check(CheckContext context) override;
  kj::Promise<void> track(TrackContext context) override;
  kj::Promise<void> consume(ConsumeContext context) override;
  kj::Promise<void> reserve(ReserveContext context) override;
  kj::Promise<void> commit(CommitContext context) override;
  kj::Promise<void> release(ReleaseContext context) override;
  kj::Promise<void> checkBatch(CheckBatchContext context) override;
  kj::Promise<void> trackBatch(TrackBatchContext context) override;
  kj::Promise<void> consumeBatch(ConsumeBatchContext context) override;
  kj::Promise<void> hasPermission(HasPermissionContext context) override;
  kj::Promise<void> info(InfoContext context) override;
  kj::Promise<void> config(ConfigContext context) override;

private:
  // The tenant's state; tenants are never removed while the daemon runs.
  TenantState& state();

  RpcServices& services_;
  std::string tenantId_;
  std::string peer_;
};

// An exception whose description is "<kind>: <message>".
[[noreturn]] void throwRpcError(kj::StringPtr kind, kj::StringPtr message);

}  // namespace tenantd
