#include "admin.h"

#include "service/api-json.h"
#include "service/json-input.h"
#include "service/rules-json.h"
#include "util/version.h"

#include <kj/debug.h>

#include <limits>

namespace tenantd {

namespace {
constexpr int64_t MAX_TTL_SECONDS = 100LL * 366 * 86400;
constexpr uint32_t MAX_AUDIT_ROWS = 1000;

// The rejection of a store-backed promise: the writer could not commit or read.
const auto storeFailed = [](kj::Exception&&) {
  throwRpcError("unavailable", "the store could not commit or read; nothing changed");
};

std::string text(capnp::Text::Reader t) {
  return std::string(t.begin(), t.size());
}

[[noreturn]] void invalidField(const RuleError& e) {
  std::string field = e.field.empty() ? "json" : e.field;
  throwRpcError("invalid-argument", kj::str(field.c_str(), ": ", e.message.c_str()));
}

// A document prepared off the loop, or its refusal as parseJson() and invalidField() throw it.
template <typename T>
T preparedOrThrow(Prepared<T> prepared) {
  if (auto* e = std::get_if<JsonInputError>(&prepared)) {
    throwRpcError("invalid-argument", kj::str("json: ", e->message.c_str()));
  }
  if (auto* e = std::get_if<RuleError>(&prepared)) invalidField(*e);
  return std::get<T>(kj::mv(prepared));
}

// TenantLimits: -1 means "not set" (create) or "unchanged" (update).
std::optional<int64_t> readLimit(int64_t value, const char* name) {
  if (value == -1) return std::nullopt;
  if (value < 0) throwRpcError("invalid-argument", kj::str("limits.", name, ": -1 or at least 0"));
  return value;
}

void fillLimits(rpc::TenantLimits::Builder b, const Tenant& t) {
  b.setApiCalls(t.apiCallsLimit.value_or(-1));
  b.setLlmTokens(t.llmTokensLimit.value_or(-1));
  b.setStorage(t.storageLimit.value_or(-1));
}

void fillTenant(rpc::TenantInfo::Builder b, const Tenant& t) {
  b.setId(t.id);
  b.setName(t.name);
  b.setPlan(t.plan);
  b.setTimezone(t.timezone);
  b.setCreatedAt(formatIso8601(t.createdAtMs));
  fillLimits(b.initLimits(), t);
}

void fillToken(rpc::TokenInfo::Builder b, const TokenRecord& t) {
  b.setId(t.id);
  b.setTenantId(t.tenantId);
  b.setRole(std::string(roleName(t.role)));
  b.setCreatedAt(formatIso8601(t.createdAtMs));
  b.setExpiresAt(t.expiresAtMs ? formatIso8601(*t.expiresAtMs) : "");
  b.setRevoked(t.revokedAtMs.has_value());
}

void requireTenantId(const std::string& id) {
  if (!isValidTenantId(id)) throwRpcError("invalid-argument", "malformed tenant id");
}
}  // namespace

CatalogService& AdminImpl::catalog() {
  return ctx_.services.catalog;
}
SettingsService& AdminImpl::settings() {
  return ctx_.services.settings;
}
SecretsService& AdminImpl::secrets() {
  return ctx_.services.secrets;
}

kj::Promise<void> AdminImpl::status(StatusContext context) {
  auto s = context.getResults().initStatus();
  s.setVersion(TENANTD_VERSION);
  int64_t up = (ctx_.services.clock.now() - ctx_.info.startedAt) / 1000;
  s.setUptimeSeconds(up > 0 ? static_cast<uint64_t>(up) : 0);
  ReadinessReport readiness = ctx_.services.readiness.now();
  s.setReady(readiness.ready);
  s.setReason(readiness.reason);
  s.setTenants(static_cast<uint32_t>(ctx_.services.tenants.size()));
  s.setRestListen(ctx_.info.restListen);
  s.setSocketPath(ctx_.info.socketPath);
  s.setDatabasePath(ctx_.info.databasePath);
  s.setRpcConnections(static_cast<uint32_t>(ctx_.connections()));
  return kj::READY_NOW;
}

kj::Promise<void> AdminImpl::createTenant(CreateTenantContext context) {
  auto params = context.getParams();
  Tenant t;
  t.id = text(params.getId());
  t.name = text(params.getName());
  t.plan = text(params.getPlan());
  t.timezone = params.getTimezone().size() == 0 ? "UTC" : text(params.getTimezone());
  requireTenantId(t.id);
  throwIfInvalid(checkTenantFields({t.name, t.plan, t.timezone}));
  auto limits = params.getLimits();
  t.apiCallsLimit = readLimit(limits.getApiCalls(), "apiCalls");
  t.llmTokensLimit = readLimit(limits.getLlmTokens(), "llmTokens");
  t.storageLimit = readLimit(limits.getStorage(), "storage");
  return catalog()
      .createTenant(kj::mv(t), grant_->actor())
      .then(
          [context](std::optional<Tenant> created) mutable {
            if (!created) throwRpcError("already-exists", "a tenant with this id exists");
            fillTenant(context.getResults().initTenant(), *created);
          },
          storeFailed);
}

kj::Promise<void> AdminImpl::listTenants(ListTenantsContext context) {
  return catalog().listTenants().then(
      [context](std::vector<Tenant> tenants) mutable {
        auto list = context.getResults().initTenants(static_cast<uint>(tenants.size()));
        for (uint i = 0; i < list.size(); ++i) fillTenant(list[i], tenants[i]);
      },
      storeFailed);
}

kj::Promise<void> AdminImpl::getTenant(GetTenantContext context) {
  std::string id = text(context.getParams().getId());
  requireTenantId(id);
  return catalog()
      .findTenant(kj::mv(id))
      .then(
          [context](std::optional<Tenant> t) mutable {
            if (!t) throwRpcError("not-found", "no such tenant");
            fillTenant(context.getResults().initTenant(), *t);
          },
          storeFailed);
}

kj::Promise<void> AdminImpl::updateTenant(UpdateTenantContext context) {
  auto params = context.getParams();
  std::string id = text(params.getId());
  requireTenantId(id);
  auto update = params.getUpdate();
  TenantPatch patch;
  if (update.getName().size() > 0) patch.name = text(update.getName());
  if (update.getPlan().size() > 0) patch.plan = text(update.getPlan());
  if (update.getTimezone().size() > 0) patch.timezone = text(update.getTimezone());
  throwIfInvalid(checkTenantFields({patch.name, patch.plan, patch.timezone}));
  auto limits = update.getLimits();
  patch.apiCalls = readLimit(limits.getApiCalls(), "apiCalls");
  patch.llmTokens = readLimit(limits.getLlmTokens(), "llmTokens");
  patch.storage = readLimit(limits.getStorage(), "storage");
  return catalog()
      .updateTenant(kj::mv(id), kj::mv(patch), grant_->actor())
      .then(
          [context](std::optional<Tenant> t) mutable {
            if (!t) throwRpcError("not-found", "no such tenant");
            fillTenant(context.getResults().initTenant(), *t);
          },
          storeFailed);
}

kj::Promise<void> AdminImpl::createToken(CreateTokenContext context) {
  auto params = context.getParams();
  std::string tenantId = text(params.getTenantId());
  requireTenantId(tenantId);
  auto role = parseRole(std::string_view(params.getRole().begin(), params.getRole().size()));
  if (!role) throwRpcError("invalid-argument", "role: \"admin\" or \"reader\"");
  int64_t ttl = params.getTtlSeconds();
  if (ttl < 0 || ttl > MAX_TTL_SECONDS) {
    throwRpcError("invalid-argument", "ttlSeconds: 0 (no expiry) up to 100 years");
  }
  std::optional<int64_t> ttlSeconds;
  if (ttl > 0) ttlSeconds = ttl;
  return catalog()
      .createToken(kj::mv(tenantId), *role, ttlSeconds, grant_->actor())
      .then(
          [context](std::optional<NewToken> token) mutable {
            if (!token) throwRpcError("not-found", "no such tenant");
            auto results = context.getResults();
            results.setToken(token->issued.secret);
            fillToken(results.initInfo(), token->record);
          },
          storeFailed);
}

kj::Promise<void> AdminImpl::revokeToken(RevokeTokenContext context) {
  std::string id = text(context.getParams().getTokenId());
  if (id.empty() || id.size() > 128) throwRpcError("invalid-argument", "malformed token id");
  return catalog()
      .revokeToken(kj::mv(id), grant_->actor())
      .then(
          [](Catalog::Revoked revoked) {
            // Revoking twice is not an error (as for the CLI): the token is revoked either way.
            if (revoked == Catalog::Revoked::NOT_FOUND) throwRpcError("not-found", "no such token");
          },
          storeFailed);
}

kj::Promise<void> AdminImpl::listTokens(ListTokensContext context) {
  std::string tenantId = text(context.getParams().getTenantId());
  requireTenantId(tenantId);
  return catalog()
      .listTokens(kj::mv(tenantId))
      .then(
          [context](std::optional<std::vector<TokenRecord>> tokens) mutable {
            if (!tokens) throwRpcError("not-found", "no such tenant");
            auto list = context.getResults().initTokens(static_cast<uint>(tokens->size()));
            for (uint i = 0; i < list.size(); ++i) fillToken(list[i], (*tokens)[i]);
          },
          storeFailed);
}

kj::Promise<void> AdminImpl::getLimits(GetLimitsContext context) {
  TenantState& t = tenantForRpc(ctx_, text(context.getParams().getTenantId()));
  context.getResults().setJson(t.rulesJson);
  return kj::READY_NOW;
}

kj::Promise<void> AdminImpl::setLimits(SetLimitsContext context) {
  auto params = context.getParams();
  TenantState& t = tenantForRpc(ctx_, text(params.getTenantId()));
  LimitsService& limits = ctx_.services.limits;
  return limits.prepareRules(text(params.getJson()))
      .then([&limits, &t, actor = grant_->actor(), context](Prepared<NewRules> prepared) mutable {
        // A refusal thrown here is the caller's; only the store's failure is "unavailable:".
        return limits.putRules(t, preparedOrThrow(kj::mv(prepared)), actor)
            .then(
                [context](std::optional<int64_t> version) mutable {
                  if (!version) {
                    throwRpcError("conflict", "another update of these limits is in progress");
                  }
                  context.getResults().setJson(limitsSavedJson(*version).dump());
                },
                storeFailed);
      });
}

kj::Promise<void> AdminImpl::usage(UsageContext context) {
  auto params = context.getParams();
  TenantState& t = tenantForRpc(ctx_, text(params.getTenantId()));
  std::string userId = text(params.getUserId());
  throwIfInvalid(contract::checkUserId(userId));
  return ctx_.services.limits.reportUsage(t, std::move(userId))
      .then([context](std::vector<RuleUsage> rows) mutable {
        context.getResults().setJson(usageRowsJson(rows));
      });
}

kj::Promise<void> AdminImpl::usageSummary(UsageSummaryContext context) {
  auto params = context.getParams();
  TenantState& t = tenantForRpc(ctx_, text(params.getTenantId()));
  std::string period = params.getPeriod().size() == 0
                           ? monthLabel(ctx_.services.clock.now(), t.zone)
                           : text(params.getPeriod());
  auto range = parseMonth(period, t.zone);
  if (!range) throwRpcError("invalid-argument", "period: expected YYYY-MM");
  std::string tenantId = t.info.id;
  return settings()
      .totals(tenantId, *range)
      .then(
          [context, tenantId, period](UsageTotals totals) mutable {
            context.getResults().setJson(usageSummaryJson(tenantId, period, totals).dump());
          },
          storeFailed);
}

kj::Promise<void> AdminImpl::putSecret(PutSecretContext context) {
  auto params = context.getParams();
  TenantState& t = tenantForRpc(ctx_, text(params.getTenantId()));
  std::string name = text(params.getName());
  if (!isValidSecretName(name)) {
    throwRpcError("invalid-argument", "name: [A-Za-z_][A-Za-z0-9_.-]{0,127}");
  }
  auto value = params.getValue();
  if (value.size() > MAX_SECRET_BYTES) throwRpcError("invalid-argument", "value: at most 64 KiB");
  return secrets()
      .put(t.info.id, kj::mv(name), SecretValue(value.begin(), value.size()), std::nullopt,
           grant_->actor())
      .then(
          [context](int64_t version) mutable {
            context.getResults().setVersion(static_cast<uint64_t>(version));
          },
          storeFailed);
}

kj::Promise<void> AdminImpl::removeSecret(RemoveSecretContext context) {
  auto params = context.getParams();
  TenantState& t = tenantForRpc(ctx_, text(params.getTenantId()));
  std::string name = text(params.getName());
  if (!isValidSecretName(name)) throwRpcError("not-found", "no such secret");
  return secrets()
      .remove(t.info.id, kj::mv(name), grant_->actor())
      .then(
          [](bool removed) {
            if (!removed) throwRpcError("not-found", "no such secret");
          },
          storeFailed);
}

kj::Promise<void> AdminImpl::listSecrets(ListSecretsContext context) {
  TenantState& t = tenantForRpc(ctx_, text(context.getParams().getTenantId()));
  return secrets().list(t.info.id).then(
      [context](std::vector<std::string> names) mutable {
        auto list = context.getResults().initNames(static_cast<uint>(names.size()));
        for (uint i = 0; i < list.size(); ++i) list.set(i, names[i]);
      },
      storeFailed);
}

kj::Promise<void> AdminImpl::getConfig(GetConfigContext context) {
  fillConfig(context.getResults(), tenantForRpc(ctx_, text(context.getParams().getTenantId())));
  return kj::READY_NOW;
}

kj::Promise<void> AdminImpl::setConfig(SetConfigContext context) {
  auto params = context.getParams();
  TenantState& t = tenantForRpc(ctx_, text(params.getTenantId()));
  uint64_t ifVersion = params.getIfVersion();
  if (ifVersion > uint64_t(std::numeric_limits<int64_t>::max())) {
    throwRpcError("invalid-argument", "ifVersion: out of range");
  }
  SettingsService& settings = this->settings();
  if (params.getJson().size() > settings.bounds().configBytes) {
    throwRpcError("invalid-argument", kj::str("json: the configuration is over ",
                                              settings.bounds().configBytes, " bytes"));
  }
  IfVersions expected;
  if (ifVersion != 0) expected = std::vector<int64_t>{static_cast<int64_t>(ifVersion)};
  return settings.prepareConfig(text(params.getJson()))
      .then([&settings, &t, expected, actor = grant_->actor(),
             context](Prepared<NewConfig> prepared) mutable {
        return settings.saveConfig(t, preparedOrThrow(kj::mv(prepared)), expected, actor)
            .then(
                [context](SaveOutcome out) mutable {
                  switch (out.kind) {
                    case SaveOutcome::Kind::SAVED: break;
                    case SaveOutcome::Kind::STALE:
                      throwRpcError("conflict",
                                    kj::str("the configuration changed since it was read; "
                                            "the stored version is ",
                                            out.version));
                    case SaveOutcome::Kind::MISSING_SECRET:
                      throwRpcError(
                          "invalid-argument",
                          kj::str(out.field.c_str(), ": must name a secret of this tenant"));
                    case SaveOutcome::Kind::CONFLICT:
                    case SaveOutcome::Kind::NOT_FOUND:
                    case SaveOutcome::Kind::TOO_MANY:
                      KJ_FAIL_ASSERT("saveConfig never answers this", static_cast<int>(out.kind));
                  }
                  context.getResults().setVersion(static_cast<uint64_t>(out.version));
                },
                storeFailed);
      });
}

kj::Promise<void> AdminImpl::audit(AuditContext context) {
  auto params = context.getParams();
  TenantState& t = tenantForRpc(ctx_, text(params.getTenantId()));
  uint32_t limit = params.getLimit() == 0 ? 50 : params.getLimit();
  if (limit > MAX_AUDIT_ROWS) throwRpcError("invalid-argument", "limit: at most 1000");
  int64_t before = params.getBeforeId();
  if (before < 0) throwRpcError("invalid-argument", "beforeId: 0 (newest) or a row id");
  std::optional<int64_t> beforeId;
  if (before > 0) beforeId = before;
  return secrets()
      .audit(t.info.id, limit, beforeId)
      .then(
          [context](std::vector<AuditRow> rows) mutable {
            context.getResults().setJson(auditEntriesJson(rows).dump());
          },
          storeFailed);
}

capnp::Capability::Server::DispatchCallResult AdminImpl::dispatchCall(
    uint64_t interfaceId, uint16_t methodId,
    capnp::CallContext<capnp::AnyPointer, capnp::AnyPointer> context) {
  return ctx_.metrics.admin.record(methodId, [&]() -> DispatchCallResult {
    KJ_IF_MAYBE (refused, kj::runCatchingExceptions([&] { grant_->requireAdmin(); })) {
      return {kj::Promise<void>(kj::mv(*refused)), false};
    }
    return rpc::Admin::Server::dispatchCall(interfaceId, methodId, context);
  });
}

kj::Promise<void> AdminImpl::tenant(TenantContext context) {
  std::string id = text(context.getParams().getId());
  tenantForRpc(ctx_, id);
  context.getResults(capnp::MessageSize{4, 1})
      .setTenant(kj::heap<TenantImpl>(ctx_, id, kj::addRef(*grant_), kj::addRef(*watches_)));
  return kj::READY_NOW;
}

kj::Promise<void> AdminImpl::quotas(QuotasContext context) {
  TenantState& t = tenantForRpc(ctx_, text(context.getParams().getTenantId()));
  auto use = ctx_.services.limits.quotaUse(t);
  auto out = context.getResults().initQuotas(static_cast<unsigned>(use.size()));
  for (size_t i = 0; i < use.size(); ++i) {
    out[i].setName(use[i].name);
    out[i].setUsed(use[i].used);
    out[i].setLimit(use[i].limit);
  }
  return kj::READY_NOW;
}

}  // namespace tenantd
