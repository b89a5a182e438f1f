#include "sidecar.h"

#include "rpc/admin.h"
#include "rpc/config-watch.h"
#include "util/version.h"

#include "contract.h"

#include <kj/debug.h>
#include <kj/vector.h>

#include <algorithm>

namespace tenantd {

void throwRpcError(kj::StringPtr kind, kj::StringPtr message) {
  kj::throwFatalException(
      kj::Exception(kj::Exception::Type::FAILED, __FILE__, __LINE__, kj::str(kind, ": ", message)));
}

void throwIfInvalid(const contract::Check& problem) {
  if (!problem) return;
  throwRpcError(
      "invalid-argument",
      kj::str(kj::ArrayPtr<const char>(problem->field.data(), problem->field.size()), ": ",
              kj::ArrayPtr<const char>(problem->message.data(), problem->message.size())));
}

namespace {
std::string_view view(capnp::Text::Reader text) {
  return {text.begin(), text.size()};
}

// Validated, pointing into the call's message: for calls that use it before they return.
UsageQuery readUsageView(rpc::UsageRequest::Reader r) {
  UsageQuery u{view(r.getUserId()), view(r.getResource()), view(r.getMetric()), r.getAmount()};
  throwIfInvalid(contract::checkUsage(u.userId, u.resource, u.metric, u.amount));
  return u;
}

// Validated and copied: for calls that outlive their message (a track waits for its commit).
UsageRequest readUsage(rpc::UsageRequest::Reader r) {
  UsageQuery q = readUsageView(r);
  return UsageRequest{std::string(q.userId), std::string(q.resource), std::string(q.metric),
                      q.amount};
}

// The names of rules' enums are string literals: set without a copy.
capnp::Text::Reader literal(std::string_view name) {
  return capnp::Text::Reader(name.data(), name.size());
}

// What a Decision takes in a message: its struct (6 data words, 4 pointers) and three short
// texts. Results sized up front start in one segment of the right size (capnp's default first
// segment is 8 KiB, zeroed, then a second for a batch).
constexpr uint64_t DECISION_WORDS = 13;

int64_t resetAt(const Window& w) {
  return w.end == LIFETIME_WINDOW.end ? 0 : w.end;
}

static_assert(static_cast<int>(Counted::FLEET) == static_cast<int>(rpc::Counted::FLEET) &&
              static_cast<int>(Counted::LOCAL) == static_cast<int>(rpc::Counted::LOCAL));

void fillDecision(const DecisionCounts& counts, rpc::Decision::Builder b, const Decision& d) {
  counts.count(d);
  b.setAllowed(d.allowed);
  b.setWarning(d.warning);
  b.setMatched(d.matched);
  if (!d.matched) return;
  const RuleUsage& u = d.reported;
  b.setGateAction(literal(gateActionName(u.rule->gateAction)));
  b.setCurrent(u.current);
  b.setReserved(u.reserved);
  b.setLimit(u.limit);
  b.setRemaining(u.remaining());
  b.setPeriod(literal(periodName(u.rule->period)));
  b.setScope(literal(scopeName(u.rule->scope)));
  b.setResetAtMs(resetAt(u.window));
  b.setCounted(static_cast<rpc::Counted>(u.counted));
}

// Words a text takes in a message: its bytes and the NUL, rounded up.
uint64_t textWords(size_t bytes) {
  return (bytes + 1 + 7) / 8;
}

// What a TrackResult takes in a message (its struct, its usage list's tag, each row's struct and
// four texts), so results start in one segment of the right size.
uint64_t trackResultWords(const TrackResult& r) {
  uint64_t words = 3 + 1;
  for (const RuleUsage& u : r.usage) {
    words += 9 + textWords(u.rule->resource.size()) + textWords(u.rule->metric.size()) +
             textWords(periodName(u.rule->period).size()) +
             textWords(scopeName(u.rule->scope).size());
  }
  return words;
}

void fillUsage(capnp::List<rpc::RuleUsage>::Builder list, const std::vector<RuleUsage>& rows) {
  for (size_t i = 0; i < rows.size(); ++i) {
    auto b = list[i];
    const RuleUsage& u = rows[i];
    b.setResource(u.rule->resource);
    b.setMetric(u.rule->metric);
    b.setPeriod(literal(periodName(u.rule->period)));
    b.setScope(literal(scopeName(u.rule->scope)));
    b.setCurrent(u.current);
    b.setReserved(u.reserved);
    b.setLimit(u.limit);
    b.setResetAtMs(resetAt(u.window));
    b.setCounted(static_cast<rpc::Counted>(u.counted));
  }
}

TrackRequest readTrack(rpc::TrackRequest::Reader r, const Clock& clock) {
  TrackRequest t;
  t.usage = readUsage(r.getUsage());
  throwIfInvalid(contract::checkTrackId(view(r.getId())));
  t.id = r.getId();
  if (r.getTimestampMs() != 0) {
    throwIfInvalid(contract::checkTimestamp(r.getTimestampMs(), clock.now()));
    t.at = r.getTimestampMs();
  }
  return t;
}

// Reads every item of a batch before any is acted on: one malformed item fails the whole call,
// naming its index, and nothing of the batch is recorded.
template <typename T, typename List, typename Read>
std::vector<T> readEvery(List list, Read read) {
  std::vector<T> items;
  items.reserve(list.size());
  for (size_t i = 0; i < list.size(); ++i) {
    KJ_IF_MAYBE (e, kj::runCatchingExceptions([&]() { items.push_back(read(list[i])); })) {
      kj::StringPtr text = e->getDescription();
      kj::StringPtr kind = "invalid-argument: ";
      if (text.startsWith(kind)) text = text.slice(kind.size());
      throwRpcError("invalid-argument", kj::str("requests[", i, "]: ", text));
    }
  }
  return items;
}

// A write that did not land: a per-tenant quota's refusal passes as it is ("overloaded: …");
// anything else is the store's.
[[noreturn]] void storeFailed(kj::Exception&& e) {
  if (e.getType() == kj::Exception::Type::OVERLOADED) kj::throwFatalException(kj::mv(e));
  throwRpcError("unavailable", "the store could not commit; nothing was recorded");
}
}  // namespace

TenantState& tenantForRpc(RpcContext& ctx, std::string_view tenantId) {
  if (!isValidTenantId(tenantId)) throwRpcError("invalid-argument", "malformed tenant id");
  TenantState* t = ctx.services.tenants.find(tenantId);
  if (t == nullptr) throwRpcError("not-found", "no such tenant");
  return *t;
}

ConnectionGrant::ConnectionGrant(std::optional<PeerCredentials> peer, PeerGrant grant)
    : credentials_(std::move(peer)),
      grant_(std::move(grant)),
      actor_(credentials_ ? "uid:" + std::to_string(credentials_->uid) : "uid:unknown") {}

void ConnectionGrant::redecide(const PeerPolicy& policy) {
  grant_ = credentials_ ? policy.grantFor(*credentials_) : PeerGrant{};
}

void ConnectionGrant::requireTenant(std::string_view tenantId) const {
  if (grant_.role == PeerRole::NONE) {
    throwRpcError("permission-denied", "this peer may not act for tenants");
  }
  if (!grant_.mayActFor(tenantId)) {
    throwRpcError("permission-denied", "this peer may not act for this tenant ([[rpc.app]])");
  }
}

void ConnectionGrant::requireAdmin() const {
  if (grant_.role != PeerRole::ADMIN) {
    throwRpcError("permission-denied", "only admin peers (root, tenantd's uid, [rpc] admin_*)");
  }
}

SidecarImpl::SidecarImpl(RpcContext& ctx, kj::Own<ConnectionGrant> grant)
    : ctx_(ctx), grant_(kj::mv(grant)) {}

capnp::Capability::Server::DispatchCallResult SidecarImpl::dispatchCall(
    uint64_t interfaceId, uint16_t methodId,
    capnp::CallContext<capnp::AnyPointer, capnp::AnyPointer> context) {
  return ctx_.metrics.sidecar.record(methodId, [&]() {
    return rpc::Sidecar::Server::dispatchCall(interfaceId, methodId, context);
  });
}

kj::Promise<void> SidecarImpl::health(HealthContext context) {
  auto results = context.getResults(capnp::MessageSize{8, 0});
  results.setStatus("ok");
  results.setVersion(TENANTD_VERSION);
  int64_t up = (ctx_.services.clock.now() - ctx_.info.startedAt) / 1000;
  results.setUptimeSeconds(up > 0 ? static_cast<uint64_t>(up) : 0);
  return kj::READY_NOW;
}

kj::Promise<void> SidecarImpl::tenant(TenantContext context) {
  if (grant_->grant().role == PeerRole::NONE) {
    throwRpcError("permission-denied", "this peer may not act for tenants");
  }
  std::string id = context.getParams().getId();
  if (!isValidTenantId(id)) throwRpcError("invalid-argument", "malformed tenant id");
  // Before the existence check: a restricted app learns nothing about other tenants.
  grant_->requireTenant(id);
  tenantForRpc(ctx_, id);
  context.getResults(capnp::MessageSize{4, 1})
      .setTenant(kj::heap<TenantImpl>(ctx_, id, kj::addRef(*grant_), kj::addRef(*watches_)));
  return kj::READY_NOW;
}

kj::Promise<void> SidecarImpl::admin(AdminContext context) {
  grant_->requireAdmin();
  context.getResults(capnp::MessageSize{4, 1})
      .setAdmin(kj::heap<AdminImpl>(ctx_, kj::addRef(*grant_), kj::addRef(*watches_)));
  return kj::READY_NOW;
}

kj::Promise<void> SidecarImpl::whoami(WhoamiContext context) {
  auto results = context.getResults();
  results.setRole(std::string(peerRoleName(grant_->grant().role)));
  if (auto& peer = grant_->credentials()) {
    results.setUid(peer->uid);
    results.setGid(peer->gid);
    results.setPid(static_cast<uint32_t>(peer->pid));
  }
  return kj::READY_NOW;
}

capnp::Capability::Server::DispatchCallResult TenantImpl::dispatchCall(
    uint64_t interfaceId, uint16_t methodId,
    capnp::CallContext<capnp::AnyPointer, capnp::AnyPointer> context) {
  return ctx_.metrics.tenant.record(methodId, [&]() -> DispatchCallResult {
    // A refusal travels as the call's result, like an exception thrown by the method itself.
    KJ_IF_MAYBE (refused, kj::runCatchingExceptions([&] { grant_->requireTenant(tenantId_); })) {
      return {kj::Promise<void>(kj::mv(*refused)), false};
    }
    return rpc::Tenant::Server::dispatchCall(interfaceId, methodId, context);
  });
}

kj::Promise<void> TenantImpl::getSecret(GetSecretContext context) {
  std::string name = context.getParams().getName();
  if (!isValidSecretName(name)) throwRpcError("invalid-argument", "malformed secret name");
  return ctx_.services.secrets.open(tenantId_, name, grant_->actor())
      .then([context](OpenedSecret opened) mutable {
        switch (opened.outcome) {
          case OpenedSecret::Outcome::OK: break;
          case OpenedSecret::Outcome::NOT_FOUND:
          case OpenedSecret::Outcome::EXPIRED: throwRpcError("not-found", "no such secret");
          case OpenedSecret::Outcome::OPEN_FAILED:
            throwRpcError("unavailable", "the stored secret failed its integrity check");
        }
        auto& value = *opened.value;
        auto results = context.getResults(capnp::MessageSize{value.size() / 8 + 8, 0});
        results.setValue(capnp::Data::Reader(value.data(), value.size()));
        results.setVersion(static_cast<uint64_t>(opened.version));
      });
}

TenantState& TenantImpl::state() {
  return tenantForRpc(ctx_, tenantId_);
}

kj::Promise<void> TenantImpl::check(CheckContext context) {
  auto d = ctx_.services.limits.check(state(), readUsageView(context.getParams().getRequest()));
  fillDecision(ctx_.metrics.decisions,
               context.getResults(capnp::MessageSize{DECISION_WORDS + 2, 0}).initDecision(), d);
  return kj::READY_NOW;
}

kj::Promise<void> TenantImpl::track(TrackContext context) {
  auto request = readTrack(context.getParams().getRequest(), ctx_.services.clock);
  return ctx_.services.limits.track(state(), kj::mv(request))
      .then(
          [context](TrackResult r) mutable {
            auto out =
                context.getResults(capnp::MessageSize{trackResultWords(r) + 1, 0}).initResult();
            out.setDuplicate(r.duplicate);
            fillUsage(out.initUsage(r.usage.size()), r.usage);
          },
          [](kj::Exception&& e) { storeFailed(kj::mv(e)); });
}

kj::Promise<void> TenantImpl::consume(ConsumeContext context) {
  auto usage = readUsage(context.getParams().getRequest());
  return ctx_.services.limits.consume(state(), kj::mv(usage))
      .then(
          [context, counts = ctx_.metrics.decisions](Decision d) mutable {
            fillDecision(counts, context.getResults().initDecision(), d);
          },
          [](kj::Exception&& e) { storeFailed(kj::mv(e)); });
}

kj::Promise<void> TenantImpl::reserve(ReserveContext context) {
  auto usage = readUsage(context.getParams().getRequest());
  int64_t ttl = context.getParams().getTtlSeconds();
  if (ttl == 0) ttl = contract::DEFAULT_RESERVE_TTL_SECONDS;
  throwIfInvalid(contract::checkReserveTtl(ttl));
  return ctx_.services.limits.reserve(state(), kj::mv(usage), ttl * 1000)
      .then(
          [context, counts = ctx_.metrics.decisions](ReserveResult r) mutable {
            auto results = context.getResults();
            fillDecision(counts, results.initDecision(), r.decision);
            results.setReservationId(r.reservationId);
          },
          [](kj::Exception&& e) { storeFailed(kj::mv(e)); });
}

kj::Promise<void> TenantImpl::commit(CommitContext context) {
  std::string id = context.getParams().getReservationId();
  int64_t amount = context.getParams().getAmount();
  throwIfInvalid(contract::checkReservationId(id));
  throwIfInvalid(contract::checkCommitAmount(amount));
  return ctx_.services.limits.commit(state(), id, amount)
      .then(
          [](std::optional<TrackResult> r) {
            if (!r) throwRpcError("not-found", "no open reservation with this id");
          },
          [](kj::Exception&& e) { storeFailed(kj::mv(e)); });
}

kj::Promise<void> TenantImpl::release(ReleaseContext context) {
  auto id = context.getParams().getReservationId();
  throwIfInvalid(contract::checkReservationId(view(id)));
  return ctx_.services.limits.release(state(), id)
      .then(
          [](bool released) {
            if (!released) throwRpcError("not-found", "no open reservation with this id");
          },
          [](kj::Exception&& e) { storeFailed(kj::mv(e)); });
}

kj::Promise<void> TenantImpl::checkBatch(CheckBatchContext context) {
  auto requests = context.getParams().getRequests();
  TenantState& t = state();
  auto out = context.getResults(capnp::MessageSize{DECISION_WORDS * requests.size() + 4, 0})
                 .initDecisions(requests.size());
  for (uint i = 0; i < requests.size(); ++i) {
    fillDecision(ctx_.metrics.decisions, out[i],
                 ctx_.services.limits.check(t, readUsageView(requests[i])));
  }
  return kj::READY_NOW;
}

namespace {
// One item of a batch: its result, or the error text it answers instead.
template <typename T>
struct ItemOutcome {
  ItemOutcome(T v) : value(kj::mv(v)) {}  // NOLINT: implicit, as the continuations return it.
  ItemOutcome(std::string e) : error(kj::mv(e)) {}
  kj::Maybe<T> value;
  std::string error;
};
// What a batch item answers instead of its result: a quota's refusal names itself
// ("overloaded: …"); any other failure is the store's.
std::string refusalText(const kj::Exception& e) {
  if (e.getType() == kj::Exception::Type::OVERLOADED) return e.getDescription().cStr();
  return "unavailable: the store could not commit; nothing was recorded";
}
template <typename T>
ItemOutcome<T> itemRefused(kj::Exception&& e) {
  return ItemOutcome<T>(refusalText(e));
}
}  // namespace

kj::Promise<void> TenantImpl::trackBatch(TrackBatchContext context) {
  auto requests = context.getParams().getRequests();
  TenantState& t = state();
  auto tracks = readEvery<TrackRequest>(
      requests, [this](rpc::TrackRequest::Reader r) { return readTrack(r, ctx_.services.clock); });
  return ctx_.services.limits.trackBatch(t, kj::mv(tracks))
      .then([context](std::vector<TrackOutcome> outcomes) mutable {
        std::vector<std::string> errors(outcomes.size());
        uint64_t words = 2;
        for (size_t i = 0; i < outcomes.size(); ++i) {
          KJ_IF_MAYBE (r, outcomes[i].result) {
            words += trackResultWords(*r);
          } else {
            errors[i] = refusalText(KJ_ASSERT_NONNULL(outcomes[i].refused));
            words += 4 + textWords(errors[i].size());
          }
        }
        auto out = context.getResults(capnp::MessageSize{words, 0}).initResults(outcomes.size());
        for (size_t i = 0; i < outcomes.size(); ++i) {
          KJ_IF_MAYBE (r, outcomes[i].result) {
            out[i].setDuplicate(r->duplicate);
            fillUsage(out[i].initUsage(r->usage.size()), r->usage);
          } else {
            out[i].setError(errors[i]);
          }
        }
      });
}

kj::Promise<void> TenantImpl::consumeBatch(ConsumeBatchContext context) {
  auto requests = context.getParams().getRequests();
  TenantState& t = state();
  auto usages = readEvery<UsageRequest>(requests, readUsage);
  kj::Vector<kj::Promise<ItemOutcome<Decision>>> pending;
  for (auto& usage : usages) {
    pending.add(
        ctx_.services.limits.consume(t, kj::mv(usage))
            .then([](Decision d) -> ItemOutcome<Decision> { return d; }, itemRefused<Decision>));
  }
  return kj::joinPromises(pending.releaseAsArray())
      .then([context,
             counts = ctx_.metrics.decisions](kj::Array<ItemOutcome<Decision>> decisions) mutable {
        auto out = context.getResults().initDecisions(decisions.size());
        for (size_t i = 0; i < decisions.size(); ++i) {
          KJ_IF_MAYBE (d, decisions[i].value) {
            fillDecision(counts, out[i], *d);
          } else {
            out[i].setError(decisions[i].error);
          }
        }
      });
}

kj::Promise<void> TenantImpl::hasPermission(HasPermissionContext context) {
  auto params = context.getParams();
  context.getResults().setAllowed(
      state().rbac.hasPermission(params.getRole().cStr(), params.getPermission().cStr()));
  return kj::READY_NOW;
}

kj::Promise<void> TenantImpl::info(InfoContext context) {
  const Tenant& t = state().info;
  auto results = context.getResults();
  results.setId(t.id);
  results.setName(t.name);
  results.setPlan(t.plan);
  results.setCreatedAt(formatIso8601(t.createdAtMs));
  return kj::READY_NOW;
}

kj::Promise<void> TenantImpl::config(ConfigContext context) {
  fillConfig(context.getResults(), state());
  return kj::READY_NOW;
}

kj::Promise<void> TenantImpl::rateLimit(RateLimitContext context) {
  auto params = context.getParams();
  kj::StringPtr route = params.getRoute();
  kj::StringPtr key = params.getKey();
  std::string_view routeView(route.begin(), route.size());
  if (!isRateLimitRoute(routeView)) {
    throwRpcError("invalid-argument",
                  "route is \"METHOD /path\", the method in capitals, at most 256 bytes");
  }
  if (key.size() > AppRateLimiter::MAX_KEY_BYTES) {
    throwRpcError("invalid-argument", "key is at most 256 bytes");
  }
  auto taken = ctx_.services.appRateLimits.take(state(), routeView,
                                                std::string_view(key.begin(), key.size()));
  auto out = context.getResults().initResult();
  out.setLimited(taken.limited);
  if (!taken.limited) {
    out.setAllowed(true);
    return kj::READY_NOW;
  }
  RateLimitFields fields = rateLimitFields(taken.decision);
  if (!taken.decision.allowed) ctx_.metrics.rateLimited.add();
  out.setAllowed(taken.decision.allowed);
  out.setLimit(fields.limit);
  out.setRemaining(fields.remaining);
  out.setResetSeconds(fields.resetSeconds);
  out.setRetryAfterSeconds(fields.retryAfterSeconds);
  return kj::READY_NOW;
}

kj::Promise<void> TenantImpl::watchConfig(WatchConfigContext context) {
  auto watch = kj::heap<ConfigWatch>(ctx_.services.settings, state(),
                                     context.getParams().getWatcher(), watches_->take());
  watch->start();
  context.getResults(capnp::MessageSize{4, 1}).setHandle(kj::heap<WatchHandleImpl>(kj::mv(watch)));
  return kj::READY_NOW;
}

}  // namespace tenantd
