#include "rest-context.h"

#include <strings.h>

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

HttpResponse storeUnavailable() {
  return errorResponse(503, "unavailable", "the store could not commit; nothing was recorded");
}

std::variant<Principal, AuthFailure> RestContext::authenticate(
    std::optional<std::string_view> header) {
  if (memo_ && header && header->data() == memo_->data && header->size() == memo_->size) {
    return memo_->result;
  }
  auto result = auth.authenticate(header);
  if (header) memo_ = Memo{header->data(), header->size(), result};
  return result;
}

std::variant<Caller, HttpResponse> authorize(RestContext& ctx, const HttpRequest& request,
                                             Access access) {
  auto result = ctx.authenticate(request.header("authorization"));
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
  Principal& principal = std::get<Principal>(result);
  if (auto tenantHeader = request.header("x-tenant-id")) {
    if (*tenantHeader != principal.tenantId) {
      return errorResponse(403, "forbidden", "X-Tenant-ID does not match the token's tenant");
    }
  }
  if (access == Access::WRITE && principal.role != Role::ADMIN) {
    return errorResponse(403, "forbidden", "this token may only read");
  }
  TenantState* tenant = ctx.limits.find(principal.tenantId);
  if (tenant == nullptr) {
    auto response = errorResponse(401, "unauthorized", "the bearer token is not valid");
    response.headers.emplace_back("www-authenticate", R"(Bearer error="invalid_token")");
    return response;
  }
  return Caller{std::move(principal), *tenant};
}

std::variant<nlohmann::json, HttpResponse> parseJsonBody(const HttpRequest& request) {
  if (auto type = request.header("content-type")) {
    std::string_view t = *type;
    auto semi = t.find(';');
    if (semi != std::string_view::npos) t = t.substr(0, semi);
    while (!t.empty() && t.back() == ' ') t.remove_suffix(1);
    if (strncasecmp(t.data(), "application/json", t.size()) != 0 || t.size() != 16) {
      return errorResponse(415, "unsupported_media_type", "the body must be application/json");
    }
  }
  auto doc = nlohmann::json::parse(request.body, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return badRequest("", "the body is not valid JSON");
  return doc;
}

FieldReader::FieldReader(const nlohmann::json& object) : object_(object) {
  if (!object_.is_object()) error_ = {"", "expected a JSON object"};
}

const nlohmann::json* FieldReader::lookup(const char* name, bool required) {
  if (error_) return nullptr;
  read_.push_back(name);
  auto it = object_.find(name);
  if (it == object_.end() || it->is_null()) {
    if (required) error_ = {name, "required"};
    return nullptr;
  }
  return &*it;
}

std::optional<std::string> FieldReader::string(const char* name, bool required, size_t maxLength) {
  const nlohmann::json* it = lookup(name, required);
  if (it == nullptr) return std::nullopt;
  if (!it->is_string()) {
    error_ = {name, "expected a string"};
    return std::nullopt;
  }
  auto& s = it->get_ref<const std::string&>();
  if (s.empty() || s.size() > maxLength) {
    error_ = {name, "must be 1 to " + std::to_string(maxLength) + " bytes"};
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

std::optional<int64_t> FieldReader::integer(const char* name, bool required, int64_t min,
                                            int64_t max) {
  const nlohmann::json* it = lookup(name, required);
  if (it == nullptr) return std::nullopt;
  bool fits = it->is_number_integer() ||
              (it->is_number_unsigned() && it->get<uint64_t>() <= uint64_t(INT64_MAX));
  int64_t v = fits ? it->get<int64_t>() : 0;
  if (!fits || v < min || v > max) {
    error_ = {name,
              "expected an integer from " + std::to_string(min) + " to " + std::to_string(max)};
    return std::nullopt;
  }
  return v;
}

const nlohmann::json* FieldReader::raw(const char* name) {
  return lookup(name, false);
}

std::optional<HttpResponse> FieldReader::finish() {
  if (!error_ && object_.is_object()) {
    for (auto& [key, value] : object_.items()) {
      if (std::find(read_.begin(), read_.end(), key) == read_.end()) {
        error_ = {key, "unknown field"};
        break;
      }
    }
  }
  if (error_) return badRequest(error_->first, error_->second);
  return std::nullopt;
}

}  // namespace tenantd
