#pragma once
// Tenant configuration and RBAC roles as the daemon serves them. The in-memory copy on
// TenantState answers reads and the REST rate limiter; every change is decided inside the
// writer's transaction against the stored version (so If-Match holds under concurrent saves),
// audited in the same transaction, and applied in memory once committed. This service is the one
// owner of that state, so it is also the one that tells config watchers (Tenant.watchConfig over
// RPC) about each change.

#include "loop/worker.h"
#include "service/documents.h"
#include "service/tenant-config.h"
#include "service/tenant-state.h"
#include "store/settings-store.h"
#include "store/writer.h"
#include "util/log.h"

#include <kj/async.h>

#include <optional>
#include <unordered_map>
#include <vector>

namespace tenantd {

// The stored configuration versions a save may replace (If-Match); nullopt: whatever is stored.
// Empty: none can be stored, so the save fails its precondition.
using IfVersions = std::optional<std::vector<int64_t>>;

struct SaveOutcome {
  // TOO_MANY: a per-tenant count bound (DocumentBounds::roles, rbacBytes) would be passed.
  enum class Kind { SAVED, STALE, MISSING_SECRET, CONFLICT, NOT_FOUND, TOO_MANY };
  Kind kind = Kind::SAVED;
  int64_t version = 0;
  std::string field;    // MISSING_SECRET: which credential; TOO_MANY: which bound.
  std::string message;  // TOO_MANY: the bound, in words.
};

// Told on the event-loop thread after a tenant's configuration changed: committed and applied
// to its TenantState, which the listener reads for the new document and version.
class ConfigListener {
public:
  virtual void configChanged() = 0;

protected:
  ~ConfigListener() = default;
};

class SettingsService;

// One registration; destroying it unregisters the listener.
class ConfigSubscription {
public:
  ConfigSubscription(SettingsService& settings, std::string tenantId, ConfigListener& listener)
      : settings_(settings), tenantId_(std::move(tenantId)), listener_(listener) {}
  ~ConfigSubscription();
  KJ_DISALLOW_COPY(ConfigSubscription);

private:
  SettingsService& settings_;
  std::string tenantId_;
  ConfigListener& listener_;
};

class SettingsService {
public:
  // `worker` prepares documents and serialises roles off the event loop.
  SettingsService(Writer& writer, Worker& worker, const Clock& clock, Log& log,
                  DocumentBounds bounds = {});
  // The bounds this host holds tenants' documents to ([bounds]).
  const DocumentBounds& bounds() const { return bounds_; }

  // A configuration's text parsed, checked and made canonical on the worker.
  kj::Promise<Prepared<NewConfig>> prepareConfig(std::string text);
  // A role's text parsed and checked on the worker; `name` given for an update.
  kj::Promise<Prepared<RbacRole>> prepareRole(std::string text, std::optional<std::string> name);
  // Saves unless `ifVersions` is given and the stored version is none of them (STALE).
  kj::Promise<SaveOutcome> saveConfig(TenantState& t, NewConfig config, IfVersions ifVersions,
                                      std::string actor);
  kj::Promise<SaveOutcome> createRole(TenantState& t, RbacRole role, std::string actor);
  kj::Promise<SaveOutcome> updateRole(TenantState& t, RbacRole role, std::string actor);
  kj::Promise<SaveOutcome> deleteRole(TenantState& t, std::string name, std::string actor);

  // Documents a central's feed has already committed (sync/applier.h) become the tenant's, with
  // the central's versions; config watchers are told as for a save. nullopt: the tenant has
  // none (an empty configuration, the default roles).
  void mirrorConfig(TenantState& t, std::optional<TenantConfig> config, int64_t version);
  void mirrorRoles(TenantState& t, std::optional<Rbac> rbac, int64_t version);

  // Calls `listener` after every change of `tenantId`'s configuration until the subscription is
  // destroyed (which must happen before this service is).
  kj::Own<ConfigSubscription> watchConfig(std::string tenantId, ConfigListener& listener);
  size_t configWatchers() const;

  kj::Promise<UsageTotals> totals(std::string tenantId, Window range);
  kj::Promise<std::vector<DayUsage>> days(std::string tenantId, Window range,
                                          const date::time_zone* zone);

private:
  friend class ConfigSubscription;
  void unwatch(const std::string& tenantId, ConfigListener& listener);
  void notifyConfigChanged(const std::string& tenantId);

  enum class RoleChange { CREATE, UPDATE, DELETE };
  kj::Promise<SaveOutcome> changeRole(TenantState& t, RoleChange change, RbacRole role,
                                      std::string actor);
  // changeRole's turn: decides on the in-memory roles, serialises on the worker, commits.
  kj::Promise<SaveOutcome> applyRoleChange(TenantState& t, RoleChange change, RbacRole role,
                                           std::string actor);

  Writer& writer_;
  Worker& worker_;
  DocumentBounds bounds_;
  const Clock& clock_;
  Log& log_;
  std::unordered_map<std::string, std::vector<ConfigListener*>> configWatchers_;
};

}  // namespace tenantd
