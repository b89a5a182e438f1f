#include "rest-context.h"

#include "service/json-input.h"

#include <algorithm>

namespace tenantd {

std::optional<std::string> queryParam(std::string_view query, std::string_view name) {
  while (!query.empty()) {
    auto amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    auto eq = pair.find('=');
    if (pair.substr(0, eq) != name) continue;
    std::string_view raw = eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
    // A malformed escape is taken literally rather than refused.
    return percentDecode(raw, Plus::SPACE).value_or(std::string(raw));
  }
  return std::nullopt;
}

HttpResponse jsonResponse(int status, const nlohmann::json& body) {
  return HttpResponse(status, body.dump());
}

HttpResponse badRequest(std::string_view field, std::string_view message) {
  return errorResponse(400, "invalid_request", message, field);
}

HttpResponse quotaExceeded(const kj::Exception& e) {
  std::string_view text = e.getDescription().cStr();
  constexpr std::string_view PREFIX = "overloaded: ";
  if (text.substr(0, PREFIX.size()) == PREFIX) text.remove_prefix(PREFIX.size());
  return errorResponse(429, "quota_exceeded", text);
}

HttpResponse storeUnavailable() {
  return errorResponse(503, "unavailable", "the store could not commit; nothing was recorded");
}

const std::variant<Principal, AuthFailure>& RestContext::authenticate(
    std::optional<std::string_view> header) {
  const char* data = header ? header->data() : nullptr;
  size_t size = header ? header->size() : 0;
  if (!memo_ || memo_->data != data || memo_->size != size) {
    memo_.emplace(Memo{data, size, auth.authenticate(header)});
  }
  return memo_->result;
}

std::variant<Caller, HttpResponse> authorize(RestContext& ctx, const HttpRequest& request,
                                             Access access) {
  auto& result = ctx.authenticate(request.header("authorization"));
  if (auto* failure = std::get_if<AuthFailure>(&result)) {
    const char* message = "a valid bearer token is required";
    std::string challenge = "Bearer";
    switch (*failure) {
      case AuthFailure::MISSING: break;
      case AuthFailure::MALFORMED: challenge += R"( error="invalid_request")"; break;
      case AuthFailure::UNKNOWN:
      case AuthFailure::REVOKED:
      case AuthFailure::EXPIRED:
        challenge += R"( error="invalid_token")";
        message = "the bearer token is not valid";
        break;
    }
    auto response = errorResponse(401, "unauthorized", message);
    response.headers.emplace_back("www-authenticate", challenge);
    return response;
  }
  const Principal& principal = std::get<Principal>(result);
  if (auto tenantHeader = request.header("x-tenant-id")) {
    if (*tenantHeader != principal.tenantId) {
      return errorResponse(403, "forbidden", "X-Tenant-ID does not match the token's tenant");
    }
  }
  if (access == Access::WRITE && principal.role != Role::ADMIN) {
    return errorResponse(403, "forbidden", "this token may only read");
  }
  TenantState* tenant = ctx.tenants.find(principal.tenantId);
  if (tenant == nullptr) {
    auto response = errorResponse(401, "unauthorized", "the bearer token is not valid");
    response.headers.emplace_back("www-authenticate", R"(Bearer error="invalid_token")");
    return response;
  }
  return Caller{principal, *tenant};
}

FieldReader::FieldReader(const FlatBody& object) : object_(object) {
  if (!object_.isObject) error_ = {"", "expected a JSON object"};
}

const JsonScalar* FieldReader::lookup(const char* name, Required required) {
  if (error_) return nullptr;
  read_.push_back(name);
  const JsonScalar* it = object_.find(name);
  if (it == nullptr || it->kind == JsonScalar::Kind::NUL) {
    if (required == Required::YES) error_ = {name, "required"};
    return nullptr;
  }
  return it;
}

std::optional<std::string> FieldReader::string(const char* name, Required required) {
  const JsonScalar* it = lookup(name, required);
  if (it == nullptr) return std::nullopt;
  if (it->kind != JsonScalar::Kind::STRING) {
    error_ = {name, "expected a string"};
    return std::nullopt;
  }
  const std::string& s = it->text;
  if (s.empty()) {
    error_ = {name, "must not be empty"};
    return std::nullopt;
  }
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f) {
      error_ = {name, "must not contain control characters"};
      return std::nullopt;
    }
  }
  return s;
}

std::optional<int64_t> FieldReader::integer(const char* name, Required required) {
  const JsonScalar* it = lookup(name, required);
  if (it == nullptr) return std::nullopt;
  if (it->kind != JsonScalar::Kind::INTEGER) {
    error_ = {name, "expected an integer"};
    return std::nullopt;
  }
  return it->integer;
}

const JsonScalar* FieldReader::raw(const char* name) {
  return lookup(name, Required::NO);
}

std::optional<HttpResponse> FieldReader::finish() {
  if (!error_ && object_.isObject) {
    // The alphabetically first unknown name: the same answer whatever the body's order.
    const std::string* unknown = nullptr;
    for (auto& [key, value] : object_.fields) {
      if (std::find(read_.begin(), read_.end(), key) == read_.end() &&
          (unknown == nullptr || key < *unknown)) {
        unknown = &key;
      }
    }
    if (unknown != nullptr) error_ = {*unknown, "unknown field"};
  }
  if (error_) return badRequest(error_->first, error_->second);
  return std::nullopt;
}

}  // namespace tenantd
