#pragma once
// The Admin capability (tenantctl), given only to admin peers. Each method calls the service the
// REST API or the offline CLI uses for the same effect: CatalogService for tenants and tokens,
// LimitsService for rules and usage, SecretsService, SettingsService for config and usage
// reports. Writes go through the writer thread and write audit rows naming the peer ("uid:N").
// JSON documents are built by service/api-json.h, as REST builds its bodies.

#include "rpc/sidecar.h"

namespace tenantd {

class AdminImpl final : public rpc::Admin::Server {
public:
  // `watches`: the budget of the connection this capability was given on (Admin.tenant()).
  AdminImpl(RpcContext& ctx, kj::Own<ConnectionGrant> grant, kj::Own<WatchBudget> watches)
      : ctx_(ctx), grant_(kj::mv(grant)), watches_(kj::mv(watches)) {}

  // Every call first asks whether the connection is still an admin's.
  DispatchCallResult dispatchCall(
      uint64_t interfaceId, uint16_t methodId,
      capnp::CallContext<capnp::AnyPointer, capnp::AnyPointer> context) override;

protected:
  kj::Promise<void> status(StatusContext context) override;
  kj::Promise<void> createTenant(CreateTenantContext context) override;
  kj::Promise<void> listTenants(ListTenantsContext context) override;
  kj::Promise<void> getTenant(GetTenantContext context) override;
  kj::Promise<void> updateTenant(UpdateTenantContext context) override;
  kj::Promise<void> createToken(CreateTokenContext context) override;
  kj::Promise<void> revokeToken(RevokeTokenContext context) override;
  kj::Promise<void> listTokens(ListTokensContext context) override;
  kj::Promise<void> getLimits(GetLimitsContext context) override;
  kj::Promise<void> setLimits(SetLimitsContext context) override;
  kj::Promise<void> usage(UsageContext context) override;
  kj::Promise<void> usageSummary(UsageSummaryContext context) override;
  kj::Promise<void> putSecret(PutSecretContext context) override;
  kj::Promise<void> removeSecret(RemoveSecretContext context) override;
  kj::Promise<void> listSecrets(ListSecretsContext context) override;
  kj::Promise<void> getConfig(GetConfigContext context) override;
  kj::Promise<void> setConfig(SetConfigContext context) override;
  kj::Promise<void> audit(AuditContext context) override;
  kj::Promise<void> tenant(TenantContext context) override;
  kj::Promise<void> quotas(QuotasContext context) override;

private:
  CatalogService& catalog();
  SettingsService& settings();
  SecretsService& secrets();

  RpcContext& ctx_;
  kj::Own<ConnectionGrant> grant_;  // Its actor() names every audit row this capability writes.
  kj::Own<WatchBudget> watches_;
};

}  // namespace tenantd
