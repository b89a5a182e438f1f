#include "limits-service.h"

#include "rules-json.h"
#include "store/usage-store.h"

#include <sodium.h>

#include <kj/debug.h>

#include <map>
#include <set>

namespace tenantd {

LimitsService::LimitsService(Tenants& tenants, UsageBatcher& batcher, Writer& writer,
                             Worker& worker, const Clock& clock, Log& log, Quotas quotas,
                             DocumentBounds bounds)
    : batcher_(batcher),
      writer_(writer),
      worker_(worker),
      clock_(clock),
      log_(log),
      tenants_(tenants),
      quotas_(quotas),
      bounds_(bounds) {}

namespace {
// "overloaded: this tenant holds 100000 idempotency ids, its quota ([quotas] track_ids)…"
kj::Exception quotaExceeded(const char* what, size_t limit, const char* key, const char* advice) {
  return kj::Exception(kj::Exception::Type::OVERLOADED, __FILE__, __LINE__,
                       kj::str("overloaded: this tenant holds ", limit, " ", what,
                               ", its quota ([quotas] ", key, "); ", advice));
}
}  // namespace

kj::Maybe<kj::Exception> LimitsService::overUserQuota(const TenantState& t,
                                                      const UsageRequest& u) const {
  if (t.limiter.userCounters() < quotas_.userCounters ||
      !t.limiter.addsUserCounter(u.userId, u.resource, u.metric)) {
    return nullptr;
  }
  return quotaExceeded("per-user counters", quotas_.userCounters, "user_counters",
                       "counters of past windows are dropped each minute");
}

std::vector<QuotaUse> LimitsService::quotaUse(TenantState& t) const {
  return {{"track_ids", t.trackIds.size(), quotas_.trackIds},
          {"user_counters", t.limiter.userCounters(), quotas_.userCounters},
          {"reservations", t.limiter.openReservations(), quotas_.reservations}};
}

Decision LimitsService::check(TenantState& t, const UsageQuery& query) {
  Decision d = t.limiter.check(query, clock_.now());
  if (fleet_ != nullptr) underFleet(t, query, d, true);
  return d;
}

Decision LimitsService::checkUnanswered(TenantState& t, const UsageQuery& query) {
  Decision d = t.limiter.check(query, clock_.now());
  if (fleet_ != nullptr) underFleet(t, query, d, false);
  return d;
}

void LimitsService::underFleet(const TenantState& t, const UsageQuery& q, Decision& d,
                               bool answered) const {
  if (!d.matched) return;
  if (answered && fleet_->reachable()) {
    d.reported.counted = Counted::FLEET;
    return;
  }
  d.reported.counted = Counted::LOCAL;
  switch (fleet_->policy()) {
    case FleetPolicy::LOCAL: break;
    case FleetPolicy::OPEN: d.allowed = true; break;
    case FleetPolicy::CLOSED:
      // Refused where a block rule governs the request (a refusal is always a block rule's).
      for (auto& r : t.limiter.rules()) {
        if (r.gateAction == GateAction::BLOCK && r.resource == q.resource && r.metric == q.metric &&
            (r.scope == Scope::TENANT || !q.userId.empty())) {
          d.allowed = false;
          break;
        }
      }
      break;
  }
}

void LimitsService::label(std::vector<RuleUsage>& rows) const {
  if (fleet_ == nullptr) return;
  Counted counted = fleet_->reachable() ? Counted::FLEET : Counted::LOCAL;
  for (auto& r : rows) r.counted = counted;
}

bool LimitsService::strict(const TenantState& t, const UsageRequest& u) const {
  return fleet_ != nullptr && fleet_->reachable() && t.limiter.hasStrictRule(u.resource, u.metric);
}

kj::Promise<LimitsService::FleetDecision> LimitsService::decideOnFleet(
    TenantState& t, UsageRequest request, kj::Function<void(UnixMillis)> onAllowed,
    kj::Function<Decision(UnixMillis, bool)> local) {
  UnixMillis now = clock_.now();
  auto counters = t.limiter.applicable(request.view(), now);
  uint64_t generation = t.limiter.generation();
  // While the call is out its counters are not flushed: a flush's absolute figure, computed
  // before the call's add lands, would take it back (Limiter::takeFleetChanges).
  t.limiter.holdForFleet(request.view(), request.amount, now);
  auto asked = fleet_->strictAdd(t, counters, request.amount);
  return asked.then([this, &t, request = kj::mv(request), counters = kj::mv(counters), generation,
                     onAllowed = kj::mv(onAllowed),
                     local = kj::mv(local)](StrictAnswer a) mutable -> FleetDecision {
    UnixMillis now = clock_.now();
    bool sameRules = t.limiter.generation() == generation;
    if (sameRules) t.limiter.holdForFleet(request.view(), -request.amount, now);
    if (!a.reached) return {local(now, false), now};
    if (sameRules && a.figures.size() == counters.size()) {
      for (size_t i = 0; i < counters.size(); ++i) {
        auto& c = counters[i];
        int64_t others = a.figures[i].total - a.figures[i].mine;
        t.limiter.setFleetOthers(generation, c.rule, c.userKey, c.window, others);
      }
    }
    UsageQuery q = request.view();
    if (!a.allowed) {
      Decision d = t.limiter.check(q, now);
      d.allowed = false;
      d.reported.counted = Counted::FLEET;
      return {d, now};
    }
    if (sameRules) t.limiter.noteFleetAdd(q, now);
    onAllowed(now);
    // The figures as they stand with this amount in, checked for nothing more.
    q.amount = 0;
    Decision d = t.limiter.check(q, now);
    d.allowed = true;
    d.reported.counted = Counted::FLEET;
    return {d, now};
  });
}

void LimitsService::recordUsage(TenantState& t, const UsageRequest& u, UnixMillis at,
                                UnixMillis now) {
  t.limiter.record(u.userId, u.resource, u.metric, u.amount, at, now);
  noteRecorded(t, u, at);
}

void LimitsService::noteRecorded(TenantState& t, const UsageRequest& u, UnixMillis at) {
  if (t.sinceRulesSnapshot) {
    t.sinceRulesSnapshot->push_back({u.userId, u.resource, u.metric, u.amount, at});
  }
}

void LimitsService::unrecordUsage(TenantState& t, const UsageRequest& u, UnixMillis at) {
  t.limiter.unrecord(u.userId, u.resource, u.metric, u.amount, at, clock_.now());
  if (t.sinceRulesSnapshot) {
    auto& log = *t.sinceRulesSnapshot;
    for (auto it = log.begin(); it != log.end(); ++it) {
      if (it->at == at && it->amount == u.amount && it->userId == u.userId &&
          it->resource == u.resource && it->metric == u.metric) {
        log.erase(it);
        break;
      }
    }
  }
}

namespace {
// The first track with `id` has committed (failed: null if not): answers the retries that waited.
void settleRetries(TenantState& t, const std::string& id, const kj::Exception* failed) {
  auto it = t.committingIds.find(id);
  if (it == t.committingIds.end()) return;
  auto waiters = std::move(it->second);
  t.committingIds.erase(it);
  for (auto& w : waiters) {
    if (failed != nullptr) {
      w->reject(kj::cp(*failed));
    } else {
      w->fulfill();
    }
  }
}
}  // namespace

TrackResult LimitsService::trackReport(TenantState& t, const UsageRequest& usage, bool duplicate) {
  TrackResult r{duplicate,
                t.limiter.usageOf(usage.userId, usage.resource, usage.metric, clock_.now())};
  label(r.usage);
  return r;
}

kj::Maybe<kj::Promise<void>> LimitsService::beginTrack(TenantState& t, TrackRequest& request,
                                                       UnixMillis now, StoreOp (&ops)[2],
                                                       size_t& count) {
  UnixMillis at = request.at.value_or(now);
  if (!request.id.empty()) {
    auto inFlight = t.committingIds.find(request.id);
    if (inFlight != t.committingIds.end()) {
      // The first track with this id is not committed yet: acknowledge only once it is.
      auto paf = kj::newPromiseAndFulfiller<void>();
      inFlight->second.push_back(kj::mv(paf.fulfiller));
      return kj::mv(paf.promise);
    }
    if (!t.trackIds.holds(request.id) && t.trackIds.size() >= quotas_.trackIds) {
      return kj::Promise<void>(
          quotaExceeded("idempotency ids", quotas_.trackIds, "track_ids",
                        "ids are forgotten 48 h after their track; retry later or without an id"));
    }
    if (t.trackIds.remember(request.id, now) == IdempotencyWindow::Seen::DUPLICATE) {
      return kj::Promise<void>(kj::READY_NOW);
    }
  }
  KJ_IF_MAYBE (refused, overUserQuota(t, request.usage)) {
    if (!request.id.empty()) t.trackIds.forget(request.id);
    return kj::Promise<void>(kj::mv(*refused));
  }
  recordUsage(t, request.usage, at, now);
  auto& u = request.usage;
  // Usage and its idempotency id land together or not at all.
  ops[0] = StoreOp::usage(t.info.id, u.userId, u.resource, u.metric, u.amount, at);
  count = 1;
  if (!request.id.empty()) {
    ops[count++] = StoreOp::trackId(t.info.id, request.id, now + DEDUPE_WINDOW_MS);
    t.committingIds.try_emplace(request.id);
  }
  return nullptr;
}

void LimitsService::endTrack(TenantState& t, const TrackRequest& request, UnixMillis at,
                             const kj::Exception* failed) {
  if (failed != nullptr) {
    // Not stored, so not counted: undo it in memory and let a retry count.
    if (!request.id.empty()) t.trackIds.forget(request.id);
    unrecordUsage(t, request.usage, at);
  }
  if (!request.id.empty()) settleRetries(t, request.id, failed);
}

kj::Promise<TrackResult> LimitsService::track(TenantState& t, TrackRequest request) {
  UnixMillis now = clock_.now();
  StoreOp ops[2];
  size_t count = 0;
  KJ_IF_MAYBE (duplicate, beginTrack(t, request, now, ops, count)) {
    return duplicate->then(
        [this, &t, usage = kj::mv(request.usage)]() { return trackReport(t, usage, true); });
  }
  UnixMillis at = request.at.value_or(now);
  bool hasId = !request.id.empty();
  // One copy for each continuation: both are arguments of one call, so neither may read
  // `request` after the other has moved it (their order of evaluation is unspecified).
  TrackRequest forFailure = request;
  auto done = batcher_.addAll(kj::arrayPtr(ops, count))
                  .then(
                      [this, &t, at, r = kj::mv(request)]() {
                        endTrack(t, r, at, nullptr);
                        return trackReport(t, r.usage, false);
                      },
                      [this, &t, at, r = kj::mv(forFailure)](kj::Exception&& e) -> TrackResult {
                        endTrack(t, r, at, &e);
                        kj::throwFatalException(kj::mv(e));
                      });
  // Eager with an id: retries waiting on it are told at the commit, even when this track's own
  // answer is taken later (a retry in the same trackBatch would otherwise wait for itself).
  if (hasId) return done.eagerlyEvaluate(nullptr);
  return done;
}

kj::Promise<std::vector<TrackOutcome>> LimitsService::trackBatch(
    TenantState& t, std::vector<TrackRequest> requests) {
  struct Batch {
    std::vector<TrackRequest> requests;
    std::vector<TrackOutcome> outcomes;
    std::vector<size_t> written;  // Items whose writes went to the batcher, in order.
    UnixMillis now;
  };
  auto b = kj::heap<Batch>();
  b->requests = std::move(requests);
  b->outcomes.resize(b->requests.size());
  b->now = clock_.now();
  std::vector<StoreOp> ops;
  std::vector<uint32_t> ends;
  kj::Vector<kj::Promise<void>> answers;  // Items answered apart: duplicates, refusals.
  bool anyId = false;
  for (size_t i = 0; i < b->requests.size(); ++i) {
    StoreOp itemOps[2];
    size_t count = 0;
    KJ_IF_MAYBE (duplicate, beginTrack(t, b->requests[i], b->now, itemOps, count)) {
      TrackOutcome* out = &b->outcomes[i];
      answers.add(duplicate->then(
          [out]() {
            out->result = TrackResult{true, {}};
          },
          [out](kj::Exception&& e) { out->refused = kj::mv(e); }));
      continue;
    }
    for (size_t k = 0; k < count; ++k) ops.push_back(std::move(itemOps[k]));
    ends.push_back(static_cast<uint32_t>(ops.size()));
    b->written.push_back(i);
    anyId = anyId || !b->requests[i].id.empty();
  }
  if (!b->written.empty()) {
    Batch* batch = b.get();
    auto settle = [this, &t, batch](UsageBatcher::Refusals refused, const kj::Exception* failed) {
      size_t next = 0;
      for (size_t j = 0; j < batch->written.size(); ++j) {
        size_t i = batch->written[j];
        const TrackRequest& r = batch->requests[i];
        UnixMillis at = r.at.value_or(batch->now);
        kj::Maybe<kj::Exception> mine;
        if (failed != nullptr) {
          mine = kj::cp(*failed);
        } else if (next < refused.size() && refused[next].first == j) {
          mine = KJ_EXCEPTION(FAILED, refused[next++].second);
        }
        KJ_IF_MAYBE (e, mine) {
          endTrack(t, r, at, e);
          batch->outcomes[i].refused = kj::mv(*e);
        } else {
          endTrack(t, r, at, nullptr);
          batch->outcomes[i].result = TrackResult{false, {}};
        }
      }
    };
    auto written =
        batcher_
            .addGroup(kj::arrayPtr(ops.data(), ops.size()), kj::arrayPtr(ends.data(), ends.size()))
            .then([settle](UsageBatcher::Refusals r) mutable { settle(kj::mv(r), nullptr); },
                  [settle](kj::Exception&& e) mutable { settle({}, &e); });
    // Eager with ids, as in track(): retries in this batch wait on this commit.
    if (anyId) written = written.eagerlyEvaluate(nullptr);
    answers.add(kj::mv(written));
  }
  // The usage each answer reports is read here, in the turn that answers: a RuleUsage points at
  // its rule, and a rules install may replace the rules while items wait for a commit.
  return kj::joinPromises(answers.releaseAsArray()).then([this, &t, b = kj::mv(b)]() mutable {
    for (size_t i = 0; i < b->outcomes.size(); ++i) {
      KJ_IF_MAYBE (r, b->outcomes[i].result) {
        *r = trackReport(t, b->requests[i].usage, r->duplicate);
      }
    }
    return std::move(b->outcomes);
  });
}

kj::Promise<Decision> LimitsService::consume(TenantState& t, UsageRequest request) {
  UnixMillis now = clock_.now();
  KJ_IF_MAYBE (refused, overUserQuota(t, request)) {
    return kj::mv(*refused);
  }
  if (fleet_ == nullptr) {
    Decision d = t.limiter.consume(request.view(), now);
    if (d.allowed) noteRecorded(t, request, now);
    return persistConsume(t, kj::mv(request), d, now);
  }
  // Checks and records on this host's counters, the fleet's figures in them.
  auto local = [this, &t, request](UnixMillis now, bool answered) {
    Decision d = answered ? check(t, request.view()) : checkUnanswered(t, request.view());
    if (d.allowed) {
      recordUsage(t, request, now, now);
      if (d.matched) d.reported.current = saturatingAdd(d.reported.current, request.amount);
    }
    return d;
  };
  if (!strict(t, request)) return persistConsume(t, kj::mv(request), local(now, true), now);
  auto recordNow = [this, &t, request](UnixMillis now) {
    recordUsage(t, request, now, now);
  };
  return decideOnFleet(t, request, kj::mv(recordNow), kj::mv(local))
      .then([this, &t, request = kj::mv(request)](FleetDecision f) mutable {
        return persistConsume(t, kj::mv(request), f.decision, f.at);
      });
}

kj::Promise<Decision> LimitsService::persistConsume(TenantState& t, UsageRequest request,
                                                    Decision d, UnixMillis at) {
  if (!d.allowed) return d;
  auto committed = batcher_.add(StoreOp::usage(t.info.id, request.userId, request.resource,
                                               request.metric, request.amount, at));
  return committed.then([d]() { return d; },
                        [this, &t, request = kj::mv(request), at](kj::Exception&& e) -> Decision {
                          unrecordUsage(t, request, at);
                          kj::throwFatalException(kj::mv(e));
                        });
}

std::string LimitsService::newReservationId() {
  uint8_t raw[12];
  randombytes_buf(raw, sizeof(raw));
  char hex[sizeof(raw) * 2 + 1];
  sodium_bin2hex(hex, sizeof(hex), raw, sizeof(raw));
  return std::string("rsv_") + hex;
}

kj::Promise<ReserveResult> LimitsService::reserve(TenantState& t, UsageRequest request,
                                                  int64_t ttlMs) {
  UnixMillis now = clock_.now();
  if (t.limiter.openReservations() >= quotas_.reservations) {
    return quotaExceeded("open reservations", quotas_.reservations, "reservations",
                         "commit or release some, or let them expire");
  }
  KJ_IF_MAYBE (refused, overUserQuota(t, request)) {
    return kj::mv(*refused);
  }
  Reservation r{newReservationId(), request.userId, request.resource,
                request.metric,     request.amount, now + ttlMs};
  if (fleet_ == nullptr) return persistReserve(t, r, t.limiter.reserve(r, now));
  // Checks and holds on this host's counters, the fleet's figures in them.
  auto local = [this, &t, request, r](UnixMillis now, bool answered) {
    Decision d = answered ? check(t, request.view()) : checkUnanswered(t, request.view());
    if (d.allowed) {
      t.limiter.restoreReservation(r, now);
      if (d.matched) d.reported.reserved = saturatingAdd(d.reported.reserved, request.amount);
    }
    return d;
  };
  if (!strict(t, request)) return persistReserve(t, r, local(now, true));
  auto holdNow = [&t, r](UnixMillis now) {
    t.limiter.restoreReservation(r, now);
  };
  return decideOnFleet(t, kj::mv(request), kj::mv(holdNow), kj::mv(local))
      .then([this, &t, r = kj::mv(r)](FleetDecision f) mutable {
        return persistReserve(t, kj::mv(r), f.decision);
      });
}

kj::Promise<ReserveResult> LimitsService::persistReserve(TenantState& t, Reservation r,
                                                         Decision d) {
  ReserveResult result{d, {}, 0};
  if (!d.allowed) return result;
  result.reservationId = r.id;
  result.expiresAt = r.expiresAt;
  return batcher_.add(StoreOp::putReservation(t.info.id, r))
      .then([result]() { return result; },
            [this, &t, id = r.id](kj::Exception&& e) -> ReserveResult {
              t.limiter.settle(id, clock_.now());
              kj::throwFatalException(kj::mv(e));
            });
}

kj::Promise<std::optional<TrackResult>> LimitsService::commit(TenantState& t,
                                                              std::string reservationId,
                                                              int64_t actualAmount) {
  UnixMillis now = clock_.now();
  auto settled = t.limiter.settle(reservationId, now);
  if (!settled) return std::optional<TrackResult>();
  UsageRequest usage{settled->userId, settled->resource, settled->metric, actualAmount};
  // The reservation goes and its actual usage lands together, or neither does.
  StoreOp ops[2] = {StoreOp::deleteReservation(t.info.id, reservationId)};
  size_t count = 1;
  if (actualAmount > 0) {
    recordUsage(t, usage, now, now);
    ops[count++] =
        StoreOp::usage(t.info.id, usage.userId, usage.resource, usage.metric, actualAmount, now);
  }
  kj::Promise<void> committed = batcher_.addAll(kj::arrayPtr(ops, count));
  return committed.then(
      [this, &t, usage]() -> std::optional<TrackResult> {
        TrackResult r{false,
                      t.limiter.usageOf(usage.userId, usage.resource, usage.metric, clock_.now())};
        label(r.usage);
        return r;
      },
      [this, &t, usage, now, r = *settled](kj::Exception&& e) -> std::optional<TrackResult> {
        if (usage.amount > 0) unrecordUsage(t, usage, now);
        t.limiter.restoreReservation(r, clock_.now());
        kj::throwFatalException(kj::mv(e));
      });
}

kj::Promise<bool> LimitsService::release(TenantState& t, std::string reservationId) {
  auto settled = t.limiter.settle(reservationId, clock_.now());
  if (!settled) return false;
  return batcher_.add(StoreOp::deleteReservation(t.info.id, reservationId))
      .then([]() { return true; },
            [this, &t, r = *settled](kj::Exception&& e) -> bool {
              t.limiter.restoreReservation(r, clock_.now());
              kj::throwFatalException(kj::mv(e));
            });
}

std::vector<RuleUsage> LimitsService::usage(TenantState& t, std::string_view userId) {
  auto rows = t.limiter.usage(userId, clock_.now());
  label(rows);
  return rows;
}

kj::Promise<std::vector<RuleUsage>> LimitsService::reportUsage(TenantState& t, std::string userId) {
  if (fleet_ == nullptr || !fleet_->reachable()) return usage(t, userId);
  t.limiter.usage(userId, clock_.now());  // Notes every row read: the flush asks for them.
  return fleet_->refresh().then(
      [this, id = t.info.id, userId = kj::mv(userId)]() -> std::vector<RuleUsage> {
        TenantState* now = tenants_.find(id);
        return now != nullptr ? usage(*now, userId) : std::vector<RuleUsage>{};
      });
}

kj::Promise<Prepared<NewRules>> LimitsService::prepareRules(std::string text) {
  return worker_.run<Prepared<NewRules>>(
      [text = kj::mv(text), bounds = bounds_]() { return tenantd::prepareRules(text, bounds); });
}

kj::Promise<std::optional<int64_t>> LimitsService::putRules(TenantState& t, NewRules prepared,
                                                            std::string actor) {
  std::string tenantId = t.info.id;
  std::string json = prepared.json;
  UnixMillis now = clock_.now();
  return installRules(
      t, kj::mv(prepared), [tenantId, json = kj::mv(json), now, actor](WriterContext& ctx) {
        int64_t version = ctx.usage().putRules(tenantId, json, now);
        ctx.secrets().audit({0, tenantId, now, actor, "limits.put", "limits", version});
        return version;
      });
}

kj::Promise<bool> LimitsService::mirrorRules(TenantState& t, NewRules rules, int64_t version) {
  return installRules(t, kj::mv(rules), [version](WriterContext&) { return version; })
      .then([](std::optional<int64_t> installed) { return installed.has_value(); });
}

kj::Promise<std::optional<int64_t>> LimitsService::installRules(
    TenantState& t, NewRules prepared, kj::Function<int64_t(WriterContext&)> write) {
  if (t.sinceRulesSnapshot) return std::optional<int64_t>();
  std::vector<Rule> rules = kj::mv(prepared.rules);
  std::string json = kj::mv(prepared.json);
  // Per metric, where its rules' earliest current window starts: what the snapshot reads. One
  // pass over the rules (a pass per metric was quadratic in a tenant's list).
  UnixMillis snapshotAt = clock_.now();
  const date::time_zone* zone = t.zone;
  std::map<std::pair<std::string, std::string>, UnixMillis> metrics;
  for (auto& r : rules) {
    UnixMillis start = windowAt(r.period, snapshotAt, zone).start;
    auto [it, added] = metrics.try_emplace({r.resource, r.metric}, start);
    if (!added) it->second = std::min(it->second, start);
  }
  struct Snapshot {
    int64_t version;
    std::vector<std::tuple<std::string, std::string, std::vector<UsageBucket>>> usage;
  };
  // The writer runs jobs in order: usage already recorded goes to it first, so the snapshot job
  // below reads it; usage recorded from here on is replayed onto the new rules when they land.
  batcher_.flushNow();
  t.sinceRulesSnapshot.emplace();
  std::string tenantId = t.info.id;
  return writer_
      .submit<Snapshot>([tenantId, metrics, write = kj::mv(write)](WriterContext& ctx) mutable {
        Snapshot s;
        s.version = write(ctx);
        for (auto& [key, from] : metrics) {
          auto& [resource, metric] = key;
          s.usage.emplace_back(resource, metric,
                               ctx.usage().loadUsage(tenantId, resource, metric, from));
        }
        return s;
      })
      .then(
          [this, &t, rules = kj::mv(rules), json](Snapshot s) mutable -> std::optional<int64_t> {
            UnixMillis now = clock_.now();
            t.limiter.setRules(kj::mv(rules), {}, now);
            for (auto& [resource, metric, buckets] : s.usage) {
              for (auto& b : buckets) {
                t.limiter.record(b.userId, resource, metric, b.amount, b.bucket, now);
              }
            }
            for (auto& r : *t.sinceRulesSnapshot) {
              t.limiter.record(r.userId, r.resource, r.metric, r.amount, r.at, now);
            }
            t.sinceRulesSnapshot.reset();
            t.rulesJson = json;
            t.rulesVersion = s.version;
            log_.info("limits", "tenant " + t.info.id + ": rules version " +
                                    std::to_string(s.version) + " installed");
            return s.version;
          },
          [&t](kj::Exception&& e) -> std::optional<int64_t> {
            t.sinceRulesSnapshot.reset();
            kj::throwFatalException(kj::mv(e));
          });
}

kj::Promise<size_t> LimitsService::maintainStorage(int retentionDays) {
  // Sub-day windows and near-future usage live within the last two days: keep those minutes.
  constexpr int64_t KEEP_MINUTES_MS = 2 * 86'400'000LL;
  UnixMillis now = clock_.now();
  std::vector<std::tuple<std::string, const date::time_zone*>> tenants;
  tenants_.forEach([&](TenantState& t) { tenants.emplace_back(t.info.id, t.zone); });
  return writer_.submit<size_t>([tenants = std::move(tenants), now,
                                 retentionDays](WriterContext& ctx) {
    size_t removed = 0;
    for (auto& [id, zone] : tenants) {
      removed +=
          ctx.usage().compact(id, windowAt(Period::DAY, now - KEEP_MINUTES_MS, zone).start, zone);
      if (retentionDays > 0) {
        // Whole local days retire together: a report never shows part of a day.
        UnixMillis before = now - int64_t{retentionDays} * 86'400'000;
        removed += ctx.usage().retire(id, windowAt(Period::DAY, before, zone).start);
      }
    }
    return removed;
  });
}

void LimitsService::expire() {
  UnixMillis now = clock_.now();
  bool prune = ++expireCalls_ % 60 == 0;
  tenants_.forEach([&](TenantState& t) {
    if (prune) t.limiter.prune(now);
    for (auto& r : t.limiter.expire(now)) {
      batcher_.add(StoreOp::deleteReservation(t.info.id, r.id)).detach([this](kj::Exception&& e) {
        log_.warn("limits", std::string("could not delete an expired reservation: ") +
                                e.getDescription().cStr());
      });
    }
    t.trackIds.expire(now);
  });
  writer_.submit<void>([now](WriterContext& ctx) { ctx.usage().expireTrackIds(now); })
      .detach([this](kj::Exception&& e) {
        log_.warn("limits",
                  std::string("could not expire track ids: ") + e.getDescription().cStr());
      });
}

}  // namespace tenantd
