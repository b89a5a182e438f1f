#pragma once
// The limits engine as the daemon serves it: one Limiter per tenant on the event-loop thread,
// every change persisted through the UsageBatcher before it is acknowledged, and undone in
// memory if its commit fails. REST and RPC both call this; neither touches the Limiter itself.

#include "core/idempotency.h"
#include "core/limiter.h"
#include "core/tenant.h"
#include "service/tenant-config.h"
#include "service/usage-batcher.h"
#include "util/clock.h"
#include "util/log.h"

#include <kj/async.h>

#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace tenantd {

struct TenantState {
  TenantState(Tenant info, const date::time_zone* zone, int64_t dedupeWindowMs)
      : info(std::move(info)),
        zone(zone),
        limiter(this->info.plan, zone),
        trackIds(dedupeWindowMs) {}

  Tenant info;
  const date::time_zone* zone;
  Limiter limiter;
  IdempotencyWindow trackIds;
  std::string rulesJson = "[]";  // Canonical, as stored and served.
  int64_t rulesVersion = 0;
  // Track ids whose first track is still committing: a retry waits for that commit.
  std::unordered_map<std::string, kj::ForkedPromise<void>> committingIds;
  // While new rules are being installed: usage recorded since their store snapshot was taken.
  struct Recorded {
    std::string userId, resource, metric;
    int64_t amount;
    UnixMillis at;
  };
  std::optional<std::vector<Recorded>> sinceRulesSnapshot;

  // /tenant/config and /tenant/rbac (SettingsService keeps them).
  TenantConfig config;
  int64_t configVersion = 0;
  Rbac rbac = Rbac::defaults();
  int64_t rbacVersion = 0;
};

struct UsageRequest {
  std::string userId;  // Empty: no user.
  std::string resource;
  std::string metric;
  int64_t amount = 1;
  UsageQuery view() const { return UsageQuery{userId, resource, metric, amount}; }
};

struct TrackRequest {
  UsageRequest usage;
  std::string id;  // Idempotency key; empty for none.
  std::optional<UnixMillis>
      at;  // Default now. Callers refuse what the contract does (rpc/contract.h).
};

struct TrackResult {
  bool duplicate = false;
  std::vector<RuleUsage> usage;  // Of every rule for the resource and metric.
};

struct ReserveResult {
  Decision decision;
  std::string reservationId;  // Set when allowed.
  UnixMillis expiresAt = 0;
};

class LimitsService {
public:
  static constexpr int64_t DEDUPE_WINDOW_MS = 48LL * 3600 * 1000;

  LimitsService(UsageBatcher& batcher, Writer& writer, const Clock& clock, Log& log);

  // Start-up, before serving: every tenant with its rules, recorded usage, track ids and open
  // reservations, read through `db`.
  void loadAll(Db& db);
  TenantState* find(std::string_view tenantId);
  // Builds a tenant's state from the store; safe on any thread (used by the catalog refresh on
  // the writer thread), then handed to adopt() on the event-loop thread.
  std::unique_ptr<TenantState> loadTenant(Db& db, const Tenant& tenant, UnixMillis now);
  void adopt(std::unique_ptr<TenantState> tenant);
  // New name, plan, limits from the store (tenantd tenant update); the plan picks tiers at once.
  void updateInfo(const Tenant& info);
  size_t tenantCount() const { return tenants_.size(); }
  std::vector<std::string> tenantIds() const {
    std::vector<std::string> ids;
    for (auto& [id, t] : tenants_) ids.push_back(id);
    return ids;
  }

  Decision check(TenantState& t, const UsageQuery& query);
  kj::Promise<TrackResult> track(TenantState& t, TrackRequest request);
  kj::Promise<Decision> consume(TenantState& t, UsageRequest request);
  kj::Promise<ReserveResult> reserve(TenantState& t, UsageRequest request, int64_t ttlMs);
  // Settles a reservation with the amount actually used (recorded now). nullopt: unknown id.
  kj::Promise<std::optional<TrackResult>> commit(TenantState& t, std::string reservationId,
                                                 int64_t actualAmount);
  kj::Promise<bool> release(TenantState& t, std::string reservationId);
  std::vector<RuleUsage> usage(TenantState& t, std::string_view userId);

  // Validated rules replace the tenant's list atomically; resolves with the new version, or
  // nullopt if another update of this tenant's rules is still being installed.
  kj::Promise<std::optional<int64_t>> putRules(TenantState& t, std::vector<Rule> rules,
                                               std::string actor);

  // Periodic housekeeping: expire reservations and idempotency keys (memory and store).
  void expire();
  // Keeps storage bounded: per tenant, compacts minute buckets older than two days into local
  // days and retires rows older than `retentionDays` (0: never). Resolves with rows removed.
  kj::Promise<size_t> maintainStorage(int retentionDays);

private:
  void recordUsage(TenantState& t, const UsageRequest& u, UnixMillis at, UnixMillis now);
  // Usage the Limiter has just recorded: kept for replay while new rules install.
  void noteRecorded(TenantState& t, const UsageRequest& u, UnixMillis at);
  void unrecordUsage(TenantState& t, const UsageRequest& u, UnixMillis at);
  std::string newReservationId();

  UsageBatcher& batcher_;
  Writer& writer_;
  const Clock& clock_;
  Log& log_;
  std::unordered_map<std::string, std::unique_ptr<TenantState>> tenants_;
  uint64_t expireCalls_ = 0;
};

}  // namespace tenantd
