#include "tenant-api.h"

#include "http/if-match.h"
#include "service/api-json.h"

#include <charconv>

namespace tenantd {

namespace {
std::string etag(int64_t version) {
  return "\"" + std::to_string(version) + "\"";
}

// If-Match as the configuration versions a save may replace. A tag that is not a version as
// ETag spells it ("007", "x", a weak tag) matches none: a failed precondition, not a bad request.
struct ConfigPrecondition {
  IfVersions versions;
  bool malformed = false;
};
std::optional<int64_t> versionOf(std::string_view tag) {
  int64_t version = 0;
  auto [end, ec] = std::from_chars(tag.data(), tag.data() + tag.size(), version);
  if (ec != std::errc() || end != tag.data() + tag.size()) return std::nullopt;
  return version;
}
ConfigPrecondition configPrecondition(const HttpRequest& r) {
  auto header = r.header("if-match");
  if (!header) return {};
  // A bare number, the ETag without its quotes, has always been taken; it stays so.
  if (auto bare = versionOf(*header)) return {std::vector<int64_t>{*bare}};
  auto parsed = parseIfMatch(*header);
  if (!parsed) return {std::nullopt, true};
  if (parsed->any) return {};
  std::vector<int64_t> versions;
  for (const std::string& tag : parsed->strongTags) {
    auto version = versionOf(tag);
    if (version && tag == std::to_string(*version)) versions.push_back(*version);
  }
  return {std::move(versions)};
}

// A tenant document's body, refused before it is parsed: not JSON by its Content-Type (415),
// then over its bound (413), in that order for every document.
std::optional<HttpResponse> documentBodyRefused(const HttpRequest& r, size_t bound,
                                                std::string_view what) {
  if (auto refused = checkJsonContentType(r)) return refused;
  if (r.body.size() <= bound) return std::nullopt;
  return errorResponse(413, "payload_too_large",
                       std::string(what) + " is over " + std::to_string(bound) + " bytes");
}

HttpResponse saveFailure(const SaveOutcome& out) {
  switch (out.kind) {
    case SaveOutcome::Kind::STALE: {
      auto r = errorResponse(412, "precondition_failed",
                             "the configuration changed since it was read (If-Match)");
      r.headers.emplace_back("etag", etag(out.version));
      return r;
    }
    case SaveOutcome::Kind::MISSING_SECRET:
      return errorResponse(400, "invalid_request",
                           "credentials must name secrets of this tenant (POST /tenant/secrets)",
                           out.field);
    case SaveOutcome::Kind::CONFLICT:
      return errorResponse(409, "conflict", "the role exists, or is the default role");
    case SaveOutcome::Kind::NOT_FOUND: return errorResponse(404, "not_found", "no such role");
    case SaveOutcome::Kind::TOO_MANY: return badRequest(out.field, out.message);
    case SaveOutcome::Kind::SAVED: break;
  }
  return errorResponse(500, "internal", "internal error");
}
}  // namespace

void addTenantRoutes(Router& router, RestContext& ctx, SettingsService& settings) {
  router.add("GET", "/tenant/config", [&ctx](const HttpRequest& r) -> HttpResult {
    TAKE_OR_RETURN(caller, authorize(ctx, r, Access::READ));
    auto response = jsonResponse(200, caller.tenant.config.doc);
    response.headers.emplace_back("etag", etag(caller.tenant.configVersion));
    return response;
  });

  router.add("POST", "/tenant/config", [&ctx, &settings](const HttpRequest& r) -> HttpResult {
    TAKE_OR_RETURN(caller, authorize(ctx, r, Access::WRITE));
    // Counted before parsing: every save of it passes the worker and the writer.
    if (auto refused = documentBodyRefused(r, settings.bounds().configBytes, "the configuration")) {
      return std::move(*refused);
    }
    ConfigPrecondition expected = configPrecondition(r);
    if (expected.malformed) {
      return badRequest("If-Match", "expected * or entity tags such as \"3\", as sent in ETag");
    }
    TenantState& tenant = caller.tenant;
    std::string actor = caller.principal.tokenId;
    // Parsed and checked on the worker, then saved.
    return whenPrepared(
        settings.prepareConfig(std::string(r.body)),
        [&settings, &tenant, expected, actor](NewConfig config) {
          return settings.saveConfig(tenant, kj::mv(config), expected.versions, actor);
        },
        [](SaveOutcome out) {
          if (out.kind != SaveOutcome::Kind::SAVED) return saveFailure(out);
          auto response =
              jsonResponse(200, {{"success", true}, {"message", "Configuration saved"}});
          response.headers.emplace_back("etag", etag(out.version));
          return response;
        },
        ctx.log);
  });

  router.add("GET", "/tenant/rbac", [&ctx](const HttpRequest& r) -> HttpResult {
    TAKE_OR_RETURN(caller, authorize(ctx, r, Access::READ));
    return jsonResponse(200, rbacToJson(caller.tenant.rbac));
  });

  // A role is parsed on the worker, like every tenant document; one is never larger than all of
  // a tenant's roles together, so that bound refuses a larger body before it is parsed.
  auto roleBodyRefused = [&settings](const HttpRequest& r) {
    return documentBodyRefused(r, settings.bounds().rbacBytes, "a role");
  };

  router.add("POST", "/tenant/rbac/roles",
             [&ctx, &settings, roleBodyRefused](const HttpRequest& r) -> HttpResult {
               TAKE_OR_RETURN(caller, authorize(ctx, r, Access::WRITE));
               if (auto refused = roleBodyRefused(r)) return std::move(*refused);
               TenantState& tenant = caller.tenant;
               std::string actor = caller.principal.tokenId;
               return whenPrepared(
                   settings.prepareRole(std::string(r.body), std::nullopt),
                   [&settings, &tenant, actor](RbacRole role) {
                     return settings.createRole(tenant, kj::mv(role), actor);
                   },
                   [](SaveOutcome out) {
                     if (out.kind == SaveOutcome::Kind::CONFLICT) {
                       return errorResponse(409, "conflict", "a role with this name exists");
                     }
                     if (out.kind != SaveOutcome::Kind::SAVED) return saveFailure(out);
                     return jsonResponse(201, {{"success", true}, {"message", "Role created"}});
                   },
                   ctx.log);
             });

  router.addWithParam(
      "PUT", "/tenant/rbac/roles/:name",
      [&ctx, &settings, roleBodyRefused](const HttpRequest& r,
                                         std::string_view name) -> HttpResult {
        TAKE_OR_RETURN(caller, authorize(ctx, r, Access::WRITE));
        if (auto refused = roleBodyRefused(r)) return std::move(*refused);
        if (!isValidRoleName(name)) return errorResponse(404, "not_found", "no such role");
        TenantState& tenant = caller.tenant;
        std::string actor = caller.principal.tokenId;
        return whenPrepared(
            settings.prepareRole(std::string(r.body), std::string(name)),
            [&settings, &tenant, actor](RbacRole role) {
              return settings.updateRole(tenant, kj::mv(role), actor);
            },
            [](SaveOutcome out) {
              if (out.kind != SaveOutcome::Kind::SAVED) return saveFailure(out);
              return jsonResponse(200, {{"success", true}, {"message", "Role updated"}});
            },
            ctx.log);
      });

  router.addWithParam(
      "DELETE", "/tenant/rbac/roles/:name",
      [&ctx, &settings](const HttpRequest& r, std::string_view name) -> HttpResult {
        TAKE_OR_RETURN(caller, authorize(ctx, r, Access::WRITE));
        if (!isValidRoleName(name)) return errorResponse(404, "not_found", "no such role");
        return whenDone(
            settings.deleteRole(caller.tenant, std::string(name), caller.principal.tokenId),
            [](SaveOutcome out) {
              if (out.kind == SaveOutcome::Kind::CONFLICT) {
                return errorResponse(409, "conflict", "the default role cannot be deleted");
              }
              if (out.kind != SaveOutcome::Kind::SAVED) return saveFailure(out);
              return jsonResponse(200, {{"success", true}, {"message", "Role deleted"}});
            },
            ctx.log);
      });

  router.add("GET", "/tenant/info", [&ctx](const HttpRequest& r) -> HttpResult {
    TAKE_OR_RETURN(caller, authorize(ctx, r, Access::READ));
    const Tenant& t = caller.tenant.info;
    auto limit = [](const std::optional<int64_t>& v) -> nlohmann::json {
      return v ? nlohmann::json(*v) : nlohmann::json(nullptr);
    };
    return jsonResponse(200, {{"id", t.id},
                              {"name", t.name},
                              {"plan", t.plan},
                              {"createdAt", formatIso8601(t.createdAtMs)},
                              {"limits",
                               {{"apiCalls", limit(t.apiCallsLimit)},
                                {"llmTokens", limit(t.llmTokensLimit)},
                                {"storage", limit(t.storageLimit)}}}});
  });

  router.add("GET", "/usage/summary", [&ctx, &settings](const HttpRequest& r) -> HttpResult {
    TAKE_OR_RETURN(caller, authorize(ctx, r, Access::READ));
    const TenantState& t = caller.tenant;
    std::string period =
        queryParam(r.query, "period").value_or(monthLabel(ctx.clock.now(), t.zone));
    auto range = parseMonth(period, t.zone);
    if (!range) return badRequest("period", "expected YYYY-MM");
    std::string tenantId = t.info.id;
    return whenDone(
        settings.totals(tenantId, *range),
        [tenantId, period](UsageTotals t) {
          return jsonResponse(200, usageSummaryJson(tenantId, period, t));
        },
        ctx.log);
  });

  router.add("GET", "/usage/history", [&ctx, &settings](const HttpRequest& r) -> HttpResult {
    TAKE_OR_RETURN(caller, authorize(ctx, r, Access::READ));
    const TenantState& t = caller.tenant;
    std::string period =
        queryParam(r.query, "period").value_or(monthLabel(ctx.clock.now(), t.zone));
    auto range = parseMonth(period, t.zone);
    if (!range) return badRequest("period", "expected YYYY-MM");
    return whenDone(
        settings.days(t.info.id, *range, t.zone),
        [](std::vector<DayUsage> days) {
          nlohmann::json rows = nlohmann::json::array();
          for (auto& d : days) {
            rows.push_back({{"date", d.date},
                            {"api_calls", d.apiCalls},
                            {"llm_tokens", d.llmTokens},
                            {"bandwidth_bytes", d.bandwidthBytes}});
          }
          return jsonResponse(200, {{"history", rows}});
        },
        ctx.log);
  });
}

}  // namespace tenantd
