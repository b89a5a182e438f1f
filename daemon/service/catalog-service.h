#pragma once
// Tenants and tokens as the running daemon changes them (Admin over RPC). The same Catalog the
// offline CLI uses, but through the writer thread, with an audit row in the same transaction,
// and applied in memory once committed: a new tenant is adopted by the LimitsService (so REST,
// RPC and the limits engine see it at once) and a new or revoked token reaches the Auth index.
// Changes made by the offline CLI arrive the other way, by the daemon's data_version probe.

#include "service/auth.h"
#include "service/tenants.h"
#include "store/writer.h"

#include <kj/async.h>

#include <optional>
#include <string>
#include <vector>

namespace tenantd {

// The fields an update changes; nullopt leaves a field as it is. Callers validate
// (checkTenantFields).
struct TenantPatch {
  std::optional<std::string> name, plan, timezone;
  std::optional<int64_t> apiCalls, llmTokens, storage;
};

struct NewToken {
  IssuedToken issued;  // The secret is shown once, to the caller.
  TokenRecord record;  // As stored.
};

// Issues a token for `tenantId` and stores its hash. nullopt if the tenant does not exist.
// Shared by the offline CLI, --dev and CatalogService.
std::optional<NewToken> createToken(Catalog& catalog, std::string_view tenantId, Role role,
                                    std::optional<int64_t> ttlSeconds, UnixMillis now);

class CatalogService {
public:
  CatalogService(Writer& writer, Tenants& tenants, Auth& auth, const Clock& clock, Log& log);

  // `tenant` is valid (id, name, plan, known timezone); createdAtMs is set here. nullopt: the id
  // is taken.
  kj::Promise<std::optional<Tenant>> createTenant(Tenant tenant, std::string actor);
  // nullopt: no such tenant. A new timezone takes effect at restart (as for the CLI).
  kj::Promise<std::optional<Tenant>> updateTenant(std::string id, TenantPatch patch,
                                                  std::string actor);
  kj::Promise<std::vector<Tenant>> listTenants();
  kj::Promise<std::optional<Tenant>> findTenant(std::string id);

  // ttlSeconds nullopt: no expiry. nullopt: no such tenant.
  kj::Promise<std::optional<NewToken>> createToken(std::string tenantId, Role role,
                                                   std::optional<int64_t> ttlSeconds,
                                                   std::string actor);
  kj::Promise<Catalog::Revoked> revokeToken(std::string tokenId, std::string actor);
  // nullopt: no such tenant.
  kj::Promise<std::optional<std::vector<TokenRecord>>> listTokens(std::string tenantId);

  // Tenants and tokens another process (the offline CLI) changed in the store. PRAGMA
  // data_version on the writer's connection moves only for other connections' commits, so a
  // probe every second is cheap and sees only those. The first probe sets the baseline: take it
  // before loading state, so a change in between is either loaded or seen, never missed.
  // Resolves to whether the store changed since the last probe.
  kj::Promise<bool> changedOutside();
  // Re-reads every tenant and token: new tenants are built on the writer thread and adopted,
  // known ones get their new info, the token index is replaced.
  kj::Promise<void> reload();

private:
  Writer& writer_;
  int64_t dataVersion_ = -1;  // As of the last probe; -1 before the first.
  Tenants& tenants_;
  Auth& auth_;
  const Clock& clock_;
  Log& log_;
};

}  // namespace tenantd
