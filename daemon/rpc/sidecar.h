#pragma once
// The RPC capabilities on the event-loop thread: Sidecar (the bootstrap, one per connection, with
// that connection's PeerGrant) and Tenant (scoped to one tenant); Admin lives in admin.h. They
// translate calls to the same services the REST API uses. Failures are Cap'n Proto exceptions
// whose description starts with a stable kind: "invalid-argument:", "not-found:",
// "permission-denied:", "unavailable:", and for Admin "already-exists:" and "conflict:".

#include "rpc/config-watch.h"
#include "rpc/peer.h"
#include "rpc/rpc-metrics.h"
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
  RpcMetrics metrics;
};

// What one connection may do, shared by its bootstrap and every capability given on it. The
// server re-decides it when [rpc] is reloaded (RpcServer::setPolicy), so a grant that shrank
// reaches open connections: a capability the peer may no longer hold fails its next call with
// "permission-denied:", without a restart.
class ConnectionGrant final : public kj::Refcounted {
public:
  // `peer` is what the kernel said about the other end (nullopt if it could not say).
  ConnectionGrant(std::optional<PeerCredentials> peer, PeerGrant grant);
  void redecide(const PeerPolicy& policy);

  const PeerGrant& grant() const { return grant_; }
  const std::optional<PeerCredentials>& credentials() const { return credentials_; }
  const std::string& actor() const { return actor_; }  // "uid:1000": audit rows name it.
  // Throws "permission-denied:" unless the connection may still act for `tenantId`.
  void requireTenant(std::string_view tenantId) const;
  void requireAdmin() const;

private:
  std::optional<PeerCredentials> credentials_;
  PeerGrant grant_;
  std::string actor_;
};

class SidecarImpl final : public rpc::Sidecar::Server {
public:
  explicit SidecarImpl(RpcContext& ctx, kj::Own<ConnectionGrant> grant);

  DispatchCallResult dispatchCall(
      uint64_t interfaceId, uint16_t methodId,
      capnp::CallContext<capnp::AnyPointer, capnp::AnyPointer> context) override;

protected:
  kj::Promise<void> health(HealthContext context) override;
  kj::Promise<void> tenant(TenantContext context) override;
  kj::Promise<void> admin(AdminContext context) override;
  kj::Promise<void> whoami(WhoamiContext context) override;

private:
  RpcContext& ctx_;
  kj::Own<ConnectionGrant> grant_;
  kj::Own<WatchBudget> watches_ = kj::refcounted<WatchBudget>();  // This connection's.
};

class TenantImpl final : public rpc::Tenant::Server {
public:
  // `watches` is the budget of the connection the capability was given on.
  TenantImpl(RpcContext& ctx, std::string tenantId, kj::Own<ConnectionGrant> grant,
             kj::Own<WatchBudget> watches)
      : ctx_(ctx),
        tenantId_(std::move(tenantId)),
        grant_(kj::mv(grant)),
        watches_(kj::mv(watches)) {}

  // Every call first asks whether the connection may still act for the tenant.
  DispatchCallResult dispatchCall(
      uint64_t interfaceId, uint16_t methodId,
      capnp::CallContext<capnp::AnyPointer, capnp::AnyPointer> context) override;

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
  kj::Own<ConnectionGrant> grant_;
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
