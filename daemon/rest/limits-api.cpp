#include "limits-api.h"

#include "service/api-json.h"
#include "service/rules-json.h"

#include "util/iso8601.h"
#include "util/json-out.h"

namespace tenantd {

namespace {
constexpr size_t MAX_ID = 128;
constexpr int64_t MAX_AMOUNT = int64_t{1} << 53;  // Exact in every JSON parser.

// Reads {userId?, resource, metric, amount?} and leaves the reader open for more fields.
std::optional<UsageRequest> readUsage(FieldReader& in, bool amountRequired, int64_t minAmount) {
  UsageRequest u;
  u.userId = in.string("userId", false, MAX_ID).value_or("");
  auto resource = in.string("resource", true, 64);
  auto metric = in.string("metric", true, 64);
  auto amount = in.integer("amount", amountRequired, minAmount, MAX_AMOUNT);
  if (!in.ok()) return std::nullopt;
  u.resource = std::move(*resource);
  u.metric = std::move(*metric);
  u.amount = amount.value_or(1);
  return u;
}

std::optional<HttpResponse> checkNames(const UsageRequest& u) {
  if (!isValidMetricName(u.resource))
    return badRequest("resource", "must match [a-z][a-z0-9_.-]{0,63}");
  if (!isValidMetricName(u.metric))
    return badRequest("metric", "must match [a-z][a-z0-9_.-]{0,63}");
  return std::nullopt;
}

// ISO-8601 ("2024-01-01T10:00:00Z", "...T10:00:00.250+02:00") or Unix milliseconds.
// Earlier than 2000-01-01 is refused: such usage belongs to no window that matters, and the
// bound keeps bucket arithmetic far from the int64 edges.
std::optional<UnixMillis> parseTimestamp(const JsonScalar& v) {
  constexpr UnixMillis YEAR_2000 = 946684800000;
  std::optional<UnixMillis> t;
  if (v.kind == JsonScalar::Kind::INTEGER) {
    t = v.integer;
  } else if (v.kind == JsonScalar::Kind::STRING) {
    t = parseIso8601(v.text);
  }
  if (t && *t < YEAR_2000) return std::nullopt;
  return t;
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
  out.endObject();
  out.field("remaining", std::max<int64_t>(0, u.limit - u.current - u.reserved));
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
    TAKE_OR_RETURN(doc, parseJsonBody(r));
    auto parsed = parseRules(doc);
    if (auto* e = std::get_if<RuleError>(&parsed)) return badRequest(e->field, e->message);
    TenantState& tenant = caller.tenant;
    std::string tokenId = caller.principal.tokenId;
    return whenDone(
        ctx.limits.putRules(tenant, std::get<std::vector<Rule>>(std::move(parsed)), tokenId),
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
    if (userId.size() > MAX_ID) return badRequest("userId", "at most 128 bytes");
    JsonOut out;
    writeUsageRows(out, ctx.limits.usage(caller.tenant, userId));
    return HttpResponse(200, out.str());
  });

  router.add("POST", base + "/check", [&ctx](const HttpRequest& r) -> HttpResult {
    TAKE_OR_RETURN(caller, authorize(ctx, r, Access::WRITE));
    TAKE_OR_RETURN(body, parseFlatBody(r));
    FieldReader in(body);
    auto usage = readUsage(in, false, 1);
    if (auto e = in.finish()) return *e;
    if (auto e = checkNames(*usage)) return *e;
    JsonOut out;
    out.beginObject();
    writeDecisionFields(out, ctx.limits.check(caller.tenant, usage->view()));
    return HttpResponse(200, out.endObject().str());
  });

  router.add("POST", base + "/track", [&ctx](const HttpRequest& r) -> HttpResult {
    TAKE_OR_RETURN(caller, authorize(ctx, r, Access::WRITE));
    TAKE_OR_RETURN(body, parseFlatBody(r));
    FieldReader in(body);
    auto usage = readUsage(in, true, 1);
    auto id = in.string("id", false, MAX_ID);
    const JsonScalar* timestamp = in.raw("timestamp");
    if (auto e = in.finish()) return *e;
    if (auto e = checkNames(*usage)) return *e;
    std::optional<UnixMillis> at;
    if (timestamp != nullptr) {
      at = parseTimestamp(*timestamp);
      if (!at)
        return badRequest("timestamp", "expected ISO-8601 (2024-01-01T10:00:00Z) or Unix ms");
      if (*at > ctx.clock.now() + LimitsService::MAX_FUTURE_MS) {
        return badRequest("timestamp", "more than 5 minutes in the future");
      }
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
    auto usage = readUsage(in, false, 1);
    if (auto e = in.finish()) return *e;
    if (auto e = checkNames(*usage)) return *e;
    return whenDone(
        ctx.limits.consume(caller.tenant, std::move(*usage)),
        [](Decision d) {
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
    auto usage = readUsage(in, true, 1);
    auto ttl = in.integer("ttlSeconds", false, 1, 86400);
    if (auto e = in.finish()) return *e;
    if (auto e = checkNames(*usage)) return *e;
    return whenDone(
        ctx.limits.reserve(caller.tenant, std::move(*usage), ttl.value_or(300) * 1000),
        [](ReserveResult result) {
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
    auto id = in.string("reservationId", true, MAX_ID);
    auto amount = in.integer("amount", true, 0, MAX_AMOUNT);
    if (auto e = in.finish()) return *e;
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
    auto id = in.string("reservationId", true, MAX_ID);
    if (auto e = in.finish()) return *e;
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
