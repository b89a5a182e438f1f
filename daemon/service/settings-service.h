#pragma once
// Tenant configuration and RBAC roles as the daemon serves them. The in-memory copy on
// TenantState answers reads and the REST rate limiter; every change is decided inside the
// writer's transaction against the stored version (so If-Match holds under concurrent saves),
// audited in the same transaction, and applied in memory once committed.

#include "service/limits-service.h"
#include "service/tenant-config.h"
#include "store/settings-store.h"

#include <kj/async.h>

namespace tenantd {

struct SaveOutcome {
  enum class Kind { SAVED, STALE, MISSING_SECRET, CONFLICT, NOT_FOUND };
  Kind kind = Kind::SAVED;
  int64_t version = 0;
  std::string field;  // MISSING_SECRET: which credential.
};

class SettingsService {
public:
  SettingsService(Writer& writer, const Clock& clock, Log& log);

  // Loads every tenant's documents into its state (start-up, before serving).
  static void load(Db& db, TenantState& tenant);

  kj::Promise<SaveOutcome> saveConfig(TenantState& t, TenantConfig config,
                                      std::optional<int64_t> ifMatch, std::string actor);
  kj::Promise<SaveOutcome> createRole(TenantState& t, RbacRole role, std::string actor);
  kj::Promise<SaveOutcome> updateRole(TenantState& t, RbacRole role, std::string actor);
  kj::Promise<SaveOutcome> deleteRole(TenantState& t, std::string name, std::string actor);

  kj::Promise<UsageTotals> totals(std::string tenantId, UnixMillis from, UnixMillis to);
  kj::Promise<std::vector<DayUsage>> days(std::string tenantId, UnixMillis from, UnixMillis to);

private:
  enum class RoleChange { CREATE, UPDATE, DELETE };
  kj::Promise<SaveOutcome> changeRole(TenantState& t, RoleChange change, RbacRole role,
                                      std::string actor);

  Writer& writer_;
  const Clock& clock_;
  Log& log_;
};

}  // namespace tenantd
