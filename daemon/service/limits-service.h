#pragma once
// The limits engine as the daemon serves it: one Limiter per tenant on the event-loop thread,
// every change persisted through the UsageBatcher before it is acknowledged, and undone in
// memory if its commit fails. REST and RPC both call this; neither touches the Limiter itself.

#include "core/quotas.h"
#include "loop/worker.h"
#include "service/documents.h"
#include "service/fleet.h"
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

// An item of trackBatch: its result, or why it was not recorded.
struct TrackOutcome {
  kj::Maybe<TrackResult> result;
  kj::Maybe<kj::Exception> refused;
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

  // Fleet-wide counting ([fleet]): set once at start, before serving; null (the default) counts
  // this host alone. Not owned.
  void setFleet(Fleet* fleet) { fleet_ = fleet; }

  Decision check(TenantState& t, const UsageQuery& query);
  // The same, on a fleet that just failed to answer (a strict call's error or lost reply): the
  // on_unavailable policy decides, however the connection looks.
  Decision checkUnanswered(TenantState& t, const UsageQuery& query);
  kj::Promise<TrackResult> track(TenantState& t, TrackRequest request);
  // Each request as track() would do it, in order, answered together: one writer caller each (a
  // refusal stays its own) and one promise for the lot, so an item costs no promise of its own.
  kj::Promise<std::vector<TrackOutcome>> trackBatch(TenantState& t,
                                                    std::vector<TrackRequest> requests);
  kj::Promise<Decision> consume(TenantState& t, UsageRequest request);
  kj::Promise<ReserveResult> reserve(TenantState& t, UsageRequest request, int64_t ttlMs);
  // Settles a reservation with the amount actually used (recorded now). nullopt: unknown id.
  kj::Promise<std::optional<TrackResult>> commit(TenantState& t, std::string reservationId,
                                                 int64_t actualAmount);
  kj::Promise<bool> release(TenantState& t, std::string reservationId);
  std::vector<RuleUsage> usage(TenantState& t, std::string_view userId);
  // usage() for a report (REST's GET .../usage, Admin.usage): with [fleet], after one flush, so
  // the rows hold the fleet's figures as of now, not as of this host's last check of them.
  kj::Promise<std::vector<RuleUsage>> reportUsage(TenantState& t, std::string userId);
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
  // track()'s first half: the id and quota checks, then the usage recorded in memory. When
  // nothing is to be written, returns a promise that resolves if the track is a duplicate (at
  // once, or once its id's first track commits) and rejects if it is refused; the caller reads
  // the usage to report when it answers. Otherwise nullptr, with the writes in ops[0, count).
  kj::Maybe<kj::Promise<void>> beginTrack(TenantState& t, TrackRequest& request, UnixMillis now,
                                          StoreOp (&ops)[2], size_t& count);
  // Its second half, once the writes settled (`failed` null if committed): the id's retries
  // told, and a failed track undone in memory so that a retry counts.
  void endTrack(TenantState& t, const TrackRequest& request, UnixMillis at,
                const kj::Exception* failed);
  TrackResult trackReport(TenantState& t, const UsageRequest& usage, bool duplicate);
  // Usage the Limiter has just recorded: kept for replay while new rules install.
  void noteRecorded(TenantState& t, const UsageRequest& u, UnixMillis at);
  void unrecordUsage(TenantState& t, const UsageRequest& u, UnixMillis at);
  std::string newReservationId();
  // With a fleet: whose figures these are, and the on_unavailable policy applied to `d`.
  void underFleet(const TenantState& t, const UsageQuery& q, Decision& d, bool answered) const;
  void label(std::vector<RuleUsage>& rows) const;
  // A strict rule applies and the fleet can be asked.
  bool strict(const TenantState& t, const UsageRequest& u) const;
  // Asks the fleet to decide `request` atomically; `onAllowed` then runs in the same turn as
  // the answer (nothing else reaches this tenant's counters in between). Falls back to `local`
  // (called with answered = false) when the fleet's answer does not come. `at`: the instant both
  // were given.
  struct FleetDecision {
    Decision decision;
    UnixMillis at;
  };
  kj::Promise<FleetDecision> decideOnFleet(TenantState& t, UsageRequest request,
                                           kj::Function<void(UnixMillis)> onAllowed,
                                           kj::Function<Decision(UnixMillis, bool)> local);
  // A decision's store write (when allowed), undone in memory if it fails.
  kj::Promise<Decision> persistConsume(TenantState& t, UsageRequest request, Decision d,
                                       UnixMillis at);
  kj::Promise<ReserveResult> persistReserve(TenantState& t, Reservation r, Decision d);
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
  Fleet* fleet_ = nullptr;
};

}  // namespace tenantd
