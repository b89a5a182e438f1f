#pragma once
// The RPC capabilities on the event-loop thread: Sidecar (the bootstrap, one per connection, with
// that connection's PeerGrant) and Tenant (scoped to one tenant); Admin lives in admin.h. They
// translate calls to the same services the REST API uses. Failures are Cap'n Proto exceptions
// whose description starts with a stable kind: "invalid-argument:", "not-found:",
// "permission-denied:", "unavailable:", and for Admin "already-exists:" and "conflict:".

#include "rpc/config-watch.h"
#include "rpc/peer.h"
#include "service/services.h"
#include "util/clock.h"

#include "contract.h"
#include "tenantd.capnp.h"

#include <functional>

namespace tenantd {

// Where the daemon serves, for Admin.status.
struct RpcServerInfo {
  UnixMillis startedAt = 0;
  std::string restListen;
  std::string socketPath;
  std::string databasePath;
};

// What every capability of one RpcServer reaches: all of the daemon's services (never null),
// where the daemon serves, and how many connections the server holds.
struct RpcContext {
  Services& services;
  RpcServerInfo info;
  std::function<size_t()> connections;
};

class SidecarImpl final : public rpc::Sidecar::Server {
public:
  // `peer` is what the kernel said about the other end (nullopt if it could not say).
  SidecarImpl(RpcContext& ctx, PeerGrant grant, std::optional<PeerCredentials> peer);

protected:
  kj::Promise<void> health(HealthContext context) override;
  kj::Promise<void> tenant(TenantContext context) override;
  kj::Promise<void> admin(AdminContext context) override;
  kj::Promise<void> whoami(WhoamiContext context) override;

private:
  RpcContext& ctx_;
  PeerGrant grant_;
  std::optional<PeerCredentials> credentials_;
  std::string peer_;  // "uid:1000": what audit rows name as the actor.
  kj::Own<WatchBudget> watches_ = kj::refcounted<WatchBudget>();  // This connection's.
};

class TenantImpl final : public rpc::Tenant::Server {
public:
  // `watches` is the budget of the connection the capability was given on.
  TenantImpl(RpcContext& ctx, std::string tenantId, std::string peer, kj::Own<WatchBudget> watches)
      : ctx_(ctx),
        tenantId_(std::move(tenantId)),
        peer_(std::move(peer)),
        watches_(kj::mv(watches)) {}

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
  kj::Promise<void> rateLimit(RateLimitContext context) override;
  kj::Promise<void> watchConfig(WatchConfigContext context) override;

private:
  // The tenant's state; tenants are never removed while the daemon runs.
  TenantState& state();

  RpcContext& ctx_;
  std::string tenantId_;
  std::string peer_;
  kj::Own<WatchBudget> watches_;
};

// An exception whose description is "<kind>: <message>".
[[noreturn]] void throwRpcError(kj::StringPtr kind, kj::StringPtr message);
// A refusal of the request contract, as every RPC method states it:
// "invalid-argument: <field>: <message>". Returns when there is no problem.
void throwIfInvalid(const contract::Check& problem);
// The tenant's state for an RPC call: "invalid-argument:" for a malformed id, "not-found:" for
// an unknown one. Tenants are never removed while the daemon runs.
TenantState& tenantForRpc(RpcContext& ctx, std::string_view tenantId);

// The tenant's configuration document and its version: what Tenant.config and Admin.getConfig
// answer (their results are different types with the same two fields).
template <typename Results>
void fillConfig(Results results, const TenantState& t) {
  results.setJson(t.config.doc.dump());
  results.setVersion(static_cast<uint64_t>(t.configVersion));
}

}  // namespace tenantd
