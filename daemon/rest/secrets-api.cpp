#include "secrets-api.h"

#include "service/api-json.h"
#include "util/iso8601.h"

#include <sodium.h>

#include <charconv>

namespace tenantd {

void addSecretsRoutes(Router& router, RestContext& ctx, SecretsService& secrets) {
  router.add("GET", "/tenant/secrets", [&ctx, &secrets](const HttpRequest& r) -> HttpResult {
    TAKE_OR_RETURN(caller, authorize(ctx, r, Access::READ));
    return whenDone(
        secrets.list(caller.tenant.info.id),
        [](std::vector<std::string> names) {
          return jsonResponse(200, {{"secrets", names}});
        },
        ctx.log);
  });

  router.add("POST", "/tenant/secrets", [&ctx, &secrets](const HttpRequest& r) -> HttpResult {
    TAKE_OR_RETURN(caller, authorize(ctx, r, Access::WRITE));
    // The request body holds the plaintext: HttpServer wipes it when this returns, on every
    // path; the parsed copies are ours to wipe.
    TAKE_OR_RETURN(body, parseFlatBody(r));
    auto wipeValues = kj::defer([&body]() {
      for (auto& [name, value] : body.fields) sodium_memzero(value.text.data(), value.text.size());
    });
    FieldReader in(body);
    auto name = in.string("key", Required::YES);
    const JsonScalar* value = in.raw("value");
    const JsonScalar* expires = in.raw("expiresAt");
    if (auto e = in.finish()) return *e;
    if (!isValidSecretName(*name))
      return badRequest("key", "must match [A-Za-z_][A-Za-z0-9_.-]{0,127}");
    if (value == nullptr || value->kind != JsonScalar::Kind::STRING) {
      return badRequest("value", "required string");
    }
    const std::string& plain = value->text;
    if (plain.size() > MAX_SECRET_BYTES) return badRequest("value", "at most 65536 bytes");
    std::optional<UnixMillis> expiresAt;
    if (expires != nullptr) {
      expiresAt =
          expires->kind == JsonScalar::Kind::STRING ? parseIso8601(expires->text) : std::nullopt;
      if (!expiresAt)
        return badRequest("expiresAt", "expected ISO-8601, e.g. 2025-01-01T00:00:00Z");
      // Stored, it would read as absent at once: a mistake, so say so rather than store it.
      if (*expiresAt <= ctx.clock.now()) return badRequest("expiresAt", "must be in the future");
    }
    return whenDone(
        secrets.put(caller.tenant.info.id, *name, SecretValue(plain.data(), plain.size()),
                    expiresAt, caller.principal.tokenId),
        [](int64_t) {
          return jsonResponse(200, {{"success", true}, {"message", "Secret stored"}});
        },
        ctx.log);
  });

  router.addWithParam(
      "DELETE", "/tenant/secrets/:key",
      [&ctx, &secrets](const HttpRequest& r, std::string_view key) -> HttpResult {
        TAKE_OR_RETURN(caller, authorize(ctx, r, Access::WRITE));
        if (!isValidSecretName(key)) return errorResponse(404, "not_found", "no such secret");
        return whenDone(
            secrets.remove(caller.tenant.info.id, std::string(key), caller.principal.tokenId),
            [](bool removed) {
              if (!removed) return errorResponse(404, "not_found", "no such secret");
              return jsonResponse(200, {{"success", true}, {"message", "Secret deleted"}});
            },
            ctx.log);
      });
}

void addAuditRoutes(Router& router, RestContext& ctx, SecretsService& secrets) {
  router.add("GET", "/tenant/audit", [&ctx, &secrets](const HttpRequest& r) -> HttpResult {
    TAKE_OR_RETURN(caller, authorize(ctx, r, Access::READ));
    int64_t limit = 50;
    std::optional<int64_t> before;
    for (auto [name, target] : {std::pair<const char*, int>{"limit", 0}, {"before", 1}}) {
      if (auto text = queryParam(r.query, name)) {
        // Digits only: no sign, no spaces, no overflow (from_chars refuses all three).
        int64_t v = 0;
        auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), v);
        bool whole = ec == std::errc() && end == text->data() + text->size();
        if (!whole || (*text)[0] == '-' || v < 1 || (target == 0 && v > 1000)) {
          return badRequest(name, target == 0 ? "an integer from 1 to 1000" : "a positive id");
        }
        if (target == 0)
          limit = v;
        else
          before = v;
      }
    }
    return whenDone(
        secrets.audit(caller.tenant.info.id, static_cast<size_t>(limit), before),
        [](std::vector<AuditRow> rows) { return jsonResponse(200, auditEntriesJson(rows)); },
        ctx.log);
  });
}

}  // namespace tenantd
