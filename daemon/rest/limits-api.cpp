#include "limits-api.h"

#include "service/api-json.h"
#include "service/rules-json.h"

#include "contract.h"
#include "util/iso8601.h"
#include "util/json-out.h"

namespace tenantd {

namespace {
// Reads {userId?, resource, metric, amount?} as JSON (types, unknown fields: the reader) and
// leaves the reader open for more fields; their values are the contract's to judge.
std::optional<UsageRequest> readUsage(FieldReader& in, Required amount) {
  UsageRequest u;
  u.userId = in.string("userId", Required::NO).value_or("");
  auto resource = in.string("resource", Required::YES);
  auto metric = in.string("metric", Required::YES);
  auto given = in.integer("amount", amount);
  if (!in.ok()) return std::nullopt;
  u.resource = std::move(*resource);
  u.metric = std::move(*metric);
  u.amount = given.value_or(1);
  return u;
}

std::optional<HttpResponse> refused(const contract::Check& problem) {
  if (!problem) return std::nullopt;
  return badRequest(problem->field, problem->message);
}

std::optional<HttpResponse> checkUsage(const UsageRequest& u) {
  return refused(contract::checkUsage(u.userId, u.resource, u.metric, u.amount));
}

// ISO-8601 ("2024-01-01T10:00:00Z", "...T10:00:00.250+02:00") or Unix milliseconds. The
// contract bounds the instant (not before 2000: such usage belongs to no window that matters,
// and the bound keeps bucket arithmetic far from the int64 edges).
std::optional<UnixMillis> parseTimestamp(const JsonScalar& v) {
  if (v.kind == JsonScalar::Kind::INTEGER) return v.integer;
  if (v.kind == JsonScalar::Kind::STRING) return parseIso8601(v.text);
  return std::nullopt;
}

}  // namespace

void writeDecisionFields(JsonOut& out, const Decision& d) {
  out.field("allowed", d.allowed);
  if (!d.matched) {
    out.nullField("gateAction");
    out.key("usage").beginObject().field("current", int64_t{0}).nullField("limit").endObject();
    return;
  }
  const RuleUsage& u = d.reported;
  out.field("gateAction", gateActionName(u.rule->gateAction));
  out.key("usage").beginObject().field("current", u.current).field("limit", u.limit);
  if (u.reserved != 0) out.field("reserved", u.reserved);
  if (u.counted != Counted::HOST) out.field("counted", countedName(u.counted));
  out.endObject();
  out.field("remaining", u.remaining());
  writeResetAt(out, u.window);
  out.key("rule")
      .beginObject()
      .field("period", periodName(u.rule->period))
      .field("scope", scopeName(u.rule->scope))
      .endObject();
  if (d.warning) out.field("warning", true);
}

void addLimitsRoutes(Router& router, RestContext& ctx) {
  const std::string base = "/tenant/limits/resources";

  router.add("GET", base, [&ctx](const HttpRequest& r) -> HttpResult {
    TAKE_OR_RETURN(caller, authorize(ctx, r, Access::READ));
    return HttpResponse(200, caller.tenant.rulesJson);
  });

  router.add("PUT", base, [&ctx](const HttpRequest& r) -> HttpResult {
    TAKE_OR_RETURN(caller, authorize(ctx, r, Access::WRITE));
    if (auto refused = checkJsonContentType(r)) return std::move(*refused);
    TenantState& tenant = caller.tenant;
    std::string tokenId = caller.principal.tokenId;
    // Parsed and checked on the worker (up to ~8 ms at the bounds), then installed.
    return whenPrepared(
        ctx.limits.prepareRules(std::string(r.body)),
        [&ctx, &tenant, tokenId](NewRules rules) {
          return ctx.limits.putRules(tenant, kj::mv(rules), tokenId);
        },
        [&ctx, &tenant, tokenId](std::optional<int64_t> version) {
          if (!version) {
            return errorResponse(409, "conflict", "another update of these limits is in progress");
          }
          ctx.log.info("audit", "tenant " + tenant.info.id + ": resource limits set to version " +
                                    std::to_string(*version) + " by " + tokenId);
          return jsonResponse(200, limitsSavedJson(*version));
        },
        ctx.log);
  });

  router.add("GET", base + "/usage", [&ctx](const HttpRequest& r) -> HttpResult {
    TAKE_OR_RETURN(caller, authorize(ctx, r, Access::READ));
    std::string userId = queryParam(r.query, "userId").value_or("");
    if (auto e = refused(contract::checkUserId(userId))) return *e;
    return whenDone(
        ctx.limits.reportUsage(caller.tenant, std::move(userId)),
        [](std::vector<RuleUsage> rows) {
          JsonOut out;
          writeUsageRows(out, rows);
          return HttpResponse(200, out.str());
        },
        ctx.log);
  });

  router.add("POST", base + "/check", [&ctx](const HttpRequest& r) -> HttpResult {
    TAKE_OR_RETURN(caller, authorize(ctx, r, Access::WRITE));
    TAKE_OR_RETURN(body, parseFlatBody(r));
    FieldReader in(body);
    auto usage = readUsage(in, Required::NO);
    if (auto e = in.finish()) return *e;
    if (auto e = checkUsage(*usage)) return *e;
    JsonOut out;
    out.beginObject();
    Decision d = ctx.limits.check(caller.tenant, usage->view());
    ctx.decisions.count(d);
    writeDecisionFields(out, d);
    return HttpResponse(200, out.endObject().str());
  });

  router.add("POST", base + "/track", [&ctx](const HttpRequest& r) -> HttpResult {
    TAKE_OR_RETURN(caller, authorize(ctx, r, Access::WRITE));
    TAKE_OR_RETURN(body, parseFlatBody(r));
    FieldReader in(body);
    auto usage = readUsage(in, Required::YES);
    auto id = in.string("id", Required::NO);
    const JsonScalar* timestamp = in.raw("timestamp");
    if (auto e = in.finish()) return *e;
    if (auto e = checkUsage(*usage)) return *e;
    if (auto e = refused(contract::checkTrackId(id.value_or("")))) return *e;
    std::optional<UnixMillis> at;
    if (timestamp != nullptr) {
      at = parseTimestamp(*timestamp);
      if (!at) {
        return badRequest("timestamp", "expected ISO-8601 (2024-01-01T10:00:00Z) or Unix ms");
      }
      if (auto e = refused(contract::checkTimestamp(*at, ctx.clock.now()))) return *e;
    }
    TrackRequest request{std::move(*usage), id.value_or(""), at};
    return whenDone(
        ctx.limits.track(caller.tenant, std::move(request)),
        [](TrackResult result) {
          JsonOut out;
          out.beginObject().field("success", true).field("duplicate", result.duplicate);
          writeUsageRows(out.key("usage"), result.usage);
          return HttpResponse(200, out.endObject().str());
        },
        ctx.log);
  });

  router.add("POST", base + "/consume", [&ctx](const HttpRequest& r) -> HttpResult {
    TAKE_OR_RETURN(caller, authorize(ctx, r, Access::WRITE));
    TAKE_OR_RETURN(body, parseFlatBody(r));
    FieldReader in(body);
    auto usage = readUsage(in, Required::NO);
    if (auto e = in.finish()) return *e;
    if (auto e = checkUsage(*usage)) return *e;
    return whenDone(
        ctx.limits.consume(caller.tenant, std::move(*usage)),
        [&ctx](Decision d) {
          ctx.decisions.count(d);
          JsonOut out;
          out.beginObject();
          writeDecisionFields(out, d);
          return HttpResponse(200, out.field("recorded", d.allowed).endObject().str());
        },
        ctx.log);
  });

  router.add("POST", base + "/reserve", [&ctx](const HttpRequest& r) -> HttpResult {
    TAKE_OR_RETURN(caller, authorize(ctx, r, Access::WRITE));
    TAKE_OR_RETURN(body, parseFlatBody(r));
    FieldReader in(body);
    auto usage = readUsage(in, Required::YES);
    int64_t ttl =
        in.integer("ttlSeconds", Required::NO).value_or(contract::DEFAULT_RESERVE_TTL_SECONDS);
    if (auto e = in.finish()) return *e;
    if (auto e = checkUsage(*usage)) return *e;
    if (auto e = refused(contract::checkReserveTtl(ttl))) return *e;
    return whenDone(
        ctx.limits.reserve(caller.tenant, std::move(*usage), ttl * 1000),
        [&ctx](ReserveResult result) {
          ctx.decisions.count(result.decision);
          JsonOut out;
          out.beginObject();
          writeDecisionFields(out, result.decision);
          if (result.decision.allowed) {
            out.field("reservationId", std::string_view(result.reservationId));
            out.field("expiresAt", std::string_view(formatIso8601(result.expiresAt)));
          }
          return HttpResponse(200, out.endObject().str());
        },
        ctx.log);
  });

  router.add("POST", base + "/commit", [&ctx](const HttpRequest& r) -> HttpResult {
    TAKE_OR_RETURN(caller, authorize(ctx, r, Access::WRITE));
    TAKE_OR_RETURN(body, parseFlatBody(r));
    FieldReader in(body);
    auto id = in.string("reservationId", Required::YES);
    auto amount = in.integer("amount", Required::YES);
    if (auto e = in.finish()) return *e;
    if (auto e = refused(contract::checkReservationId(*id))) return *e;
    if (auto e = refused(contract::checkCommitAmount(*amount))) return *e;
    return whenDone(
        ctx.limits.commit(caller.tenant, *id, *amount),
        [](std::optional<TrackResult> result) {
          if (!result) return errorResponse(404, "not_found", "no open reservation with this id");
          JsonOut out;
          writeUsageRows(out.beginObject().field("success", true).key("usage"), result->usage);
          return HttpResponse(200, out.endObject().str());
        },
        ctx.log);
  });

  router.add("POST", base + "/release", [&ctx](const HttpRequest& r) -> HttpResult {
    TAKE_OR_RETURN(caller, authorize(ctx, r, Access::WRITE));
    TAKE_OR_RETURN(body, parseFlatBody(r));
    FieldReader in(body);
    auto id = in.string("reservationId", Required::YES);
    if (auto e = in.finish()) return *e;
    if (auto e = refused(contract::checkReservationId(*id))) return *e;
    return whenDone(
        ctx.limits.release(caller.tenant, *id),
        [](bool released) {
          if (!released) return errorResponse(404, "not_found", "no open reservation with this id");
          return jsonResponse(200, {{"success", true}});
        },
        ctx.log);
  });
}

}  // namespace tenantd
