#pragma once
// The limits engine as the daemon serves it: one Limiter per tenant on the event-loop thread,
// every change persisted through the UsageBatcher before it is acknowledged, and undone in
// memory if its commit fails. REST and RPC both call this; neither touches the Limiter itself.

#include "core/quotas.h"
#include "loop/worker.h"
#include "service/documents.h"
#include "service/tenants.h"
#include "service/usage-batcher.h"
#include "util/clock.h"
#include "util/log.h"

#include <kj/async.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace tenantd {

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

// One tenant's use of its quotas, for operators (Admin.quotas, tenantctl tenant quotas).
struct QuotaUse {
  std::string name;  // "track_ids", "user_counters", "reservations"
  size_t used;
  size_t limit;
};

class LimitsService {
public:
  // `worker` prepares rule lists off the event loop (prepareRules).
  LimitsService(Tenants& tenants, UsageBatcher& batcher, Writer& writer, Worker& worker,
                const Clock& clock, Log& log, Quotas quotas = {}, DocumentBounds bounds = {});

  Decision check(TenantState& t, const UsageQuery& query);
  kj::Promise<TrackResult> track(TenantState& t, TrackRequest request);
  kj::Promise<Decision> consume(TenantState& t, UsageRequest request);
  kj::Promise<ReserveResult> reserve(TenantState& t, UsageRequest request, int64_t ttlMs);
  // Settles a reservation with the amount actually used (recorded now). nullopt: unknown id.
  kj::Promise<std::optional<TrackResult>> commit(TenantState& t, std::string reservationId,
                                                 int64_t actualAmount);
  kj::Promise<bool> release(TenantState& t, std::string reservationId);
  std::vector<RuleUsage> usage(TenantState& t, std::string_view userId);
  std::vector<QuotaUse> quotaUse(TenantState& t) const;

  // A rule list's text parsed, checked within the per-tenant bounds and made canonical, on the
  // worker: up to ~8 ms at the bounds that no other tenant's request waits for.
  kj::Promise<Prepared<NewRules>> prepareRules(std::string text);
  // Prepared rules replace the tenant's list atomically; resolves with the new version, or
  // nullopt if another update of this tenant's rules is still being installed.
  kj::Promise<std::optional<int64_t>> putRules(TenantState& t, NewRules rules, std::string actor);
  // Rules a central's feed has already committed to the store as `version` (sync/applier.h):
  // installed in memory the way putRules installs, usage replayed onto them. False if another
  // install of this tenant's rules is still running.
  kj::Promise<bool> mirrorRules(TenantState& t, NewRules rules, int64_t version);

  // Periodic housekeeping: expire reservations and idempotency keys (memory and store).
  void expire();
  // Keeps storage bounded: per tenant, compacts minute buckets older than two days into local
  // days and retires rows older than `retentionDays` (0: never). Resolves with rows removed.
  kj::Promise<size_t> maintainStorage(int retentionDays);

private:
  // putRules and mirrorRules: `write` runs first in the writer job that snapshots usage and
  // returns the version the rules are stored under.
  kj::Promise<std::optional<int64_t>> installRules(TenantState& t, NewRules prepared,
                                                   kj::Function<int64_t(WriterContext&)> write);
  void recordUsage(TenantState& t, const UsageRequest& u, UnixMillis at, UnixMillis now);
  // Usage the Limiter has just recorded: kept for replay while new rules install.
  void noteRecorded(TenantState& t, const UsageRequest& u, UnixMillis at);
  void unrecordUsage(TenantState& t, const UsageRequest& u, UnixMillis at);
  std::string newReservationId();
  // The refusal when `u` would give its user a new counter past the quota; nullptr otherwise.
  kj::Maybe<kj::Exception> overUserQuota(const TenantState& t, const UsageRequest& u) const;

  UsageBatcher& batcher_;
  Writer& writer_;
  Worker& worker_;
  const Clock& clock_;
  Log& log_;
  Tenants& tenants_;
  Quotas quotas_;
  DocumentBounds bounds_;
  uint64_t expireCalls_ = 0;
};

}  // namespace tenantd
