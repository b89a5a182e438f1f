#pragma once
// What every REST handler needs, and the steps every one of them takes: authenticate the bearer
// token, enforce the role and X-Tenant-ID, read a strict JSON body. Failures come back as the
// ready-made error response, so handlers read top to bottom.

#include "flat-body.h"
#include "http/router.h"
#include "service/auth.h"
#include "service/decision-counts.h"
#include "service/limits-service.h"

#include <nlohmann/json.hpp>

#include <optional>
#include <set>
#include <string>
#include <variant>

namespace tenantd {

struct RestContext {
  RestContext(Auth& auth, Tenants& tenants, LimitsService& limits, const Clock& clock, Log& log,
              Metrics& metrics)
      : auth(auth),
        tenants(tenants),
        limits(limits),
        clock(clock),
        log(log),
        decisions(metrics, "rest") {}

  Auth& auth;
  Tenants& tenants;
  LimitsService& limits;
  const Clock& clock;
  Log& log;
  DecisionCounts decisions;  // Each decision a limits route answers.

  // Authenticates once per request: the rate limiter and the handler both ask, within one
  // synchronous call, about the same header bytes. The answer stays valid until endRequest().
  const std::variant<Principal, AuthFailure>& authenticate(std::optional<std::string_view> header);
  void endRequest() { memo_.reset(); }

private:
  struct Memo {
    const char* data;  // Null when the request had no Authorization header.
    size_t size;
    std::variant<Principal, AuthFailure> result;
  };
  std::optional<Memo> memo_;
};

enum class Access { READ, WRITE };  // Readers may only read (GET).

// Valid while the handler runs synchronously: a deferred continuation copies what it needs.
struct Caller {
  const Principal& principal;
  TenantState& tenant;
};

std::variant<Caller, HttpResponse> authorize(RestContext& ctx, const HttpRequest& request,
                                             Access access);

// Unwraps a std::variant<T, HttpResponse>: binds `var` to the T, or returns the response.
#define TAKE_OR_RETURN(var, expr)                              \
  auto var##Result = (expr);                                   \
  if (auto* error = std::get_if<HttpResponse>(&var##Result)) { \
    return std::move(*error);                                  \
  }                                                            \
  auto& var = std::get<0>(var##Result)

// The first value of `name` in a query string, percent-decoded ('+' is a space).
std::optional<std::string> queryParam(std::string_view query, std::string_view name);

HttpResponse jsonResponse(int status, const nlohmann::json& body);
HttpResponse storeUnavailable();
// 429 "quota_exceeded" with the message of a per-tenant quota's OVERLOADED refusal
// (service/limits-service.h Quotas), without its "overloaded: " prefix.
HttpResponse quotaExceeded(const kj::Exception& e);

// Answers from a store-backed promise: `onSuccess` shapes the response; a rejected promise (the
// store could not commit or read) becomes 503 and is logged, and such a request changed nothing.
template <typename T, typename F>
kj::Promise<HttpResponse> whenDone(kj::Promise<T> promise, F onSuccess, Log& log) {
  return promise.then(kj::mv(onSuccess), [&log](kj::Exception&& e) {
    if (e.getType() == kj::Exception::Type::OVERLOADED) return quotaExceeded(e);
    log.error("rest", std::string("store failed: ") + e.getDescription().cStr());
    return storeUnavailable();
  });
}
HttpResponse badRequest(std::string_view field, std::string_view message);

// Answers a request whose document is being prepared on the worker (service/documents.h): its
// refusal as a 400 ("the body is not valid JSON", nested too deep, or the field out of
// contract), or `save(document)` answered as whenDone() answers it. A fault before the save is
// the server's 500; only the store's failure is a 503.
template <typename T, typename Save, typename F>
kj::Promise<HttpResponse> whenPrepared(kj::Promise<Prepared<T>> prepared, Save save, F onSuccess,
                                       Log& log) {
  return prepared.then([save = kj::mv(save), onSuccess = kj::mv(onSuccess),
                        &log](Prepared<T> p) mutable -> kj::Promise<HttpResponse> {
    if (auto* e = std::get_if<JsonInputError>(&p)) {
      return badRequest("", "the body is " + e->message);
    }
    if (auto* e = std::get_if<RuleError>(&p)) return badRequest(e->field, e->message);
    return whenDone(save(std::get<T>(kj::mv(p))), kj::mv(onSuccess), log);
  });
}

enum class Required { NO, YES };

// Reads named fields from a flat JSON object, remembering the first problem and refusing fields
// it was not asked about.
class FieldReader {
public:
  explicit FieldReader(const FlatBody& object);
  // The JSON shape only: a non-empty string without control characters, an integer. What the
  // values may be is the request contract's to say (rpc/contract.h), after finish().
  std::optional<std::string> string(const char* name, Required required);
  std::optional<int64_t> integer(const char* name, Required required);
  // A field the caller validates itself; nullptr if absent or null.
  const JsonScalar* raw(const char* name);
  // Call last: fails on any field not read.
  std::optional<HttpResponse> finish();
  bool ok() const { return !error_; }

private:
  // Marks `name` as read; the field, or null if absent (an error if required).
  const JsonScalar* lookup(const char* name, Required required);

  const FlatBody& object_;
  std::vector<std::string_view> read_;  // A handful of names: a vector beats a set.
  std::optional<std::pair<std::string, std::string>> error_;
};

}  // namespace tenantd
