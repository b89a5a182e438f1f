#include "router.h"

#include <kj/debug.h>

#include <nlohmann/json.hpp>

#include <optional>

namespace tenantd {

HttpResponse errorResponse(int status, std::string_view code, std::string_view message,
                           std::string_view field) {
  nlohmann::json error = {{"code", code}, {"message", message}};
  if (!field.empty()) error["field"] = field;
  return HttpResponse{status, nlohmann::json{{"error", error}}.dump()};
}

void Router::add(std::string method, std::string path, Route route) {
  routes_[std::move(path)][std::move(method)] = kj::mv(route);
}

void Router::addWithParam(std::string method, std::string pattern, ParamRoute route) {
  size_t slash = pattern.rfind('/');
  KJ_REQUIRE(slash != std::string::npos && pattern.compare(slash + 1, 1, ":") == 0,
             "a parameter route ends in /:name", pattern);
  std::string prefix = pattern.substr(0, slash + 1);
  patterns_[prefix] = pattern;
  paramRoutes_[std::move(prefix)][std::move(method)] = kj::mv(route);
}

namespace {
// The one segment after `prefix`, if `path` is exactly that.
std::optional<std::string_view> segmentAfter(std::string_view prefix, std::string_view path) {
  if (path.size() <= prefix.size() || path.substr(0, prefix.size()) != prefix) return std::nullopt;
  std::string_view segment = path.substr(prefix.size());
  if (segment.find('/') != std::string_view::npos) return std::nullopt;
  return segment;
}
}  // namespace

std::string_view Router::routeOf(std::string_view path) const {
  auto exact = routes_.find(path);
  if (exact != routes_.end()) return exact->first;
  for (auto& [prefix, pattern] : patterns_) {
    if (segmentAfter(prefix, path)) return pattern;
  }
  return {};
}

namespace {
int hexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

HttpResponse methodNotAllowed(std::string allow) {
  auto response = errorResponse(405, "method_not_allowed", "method not allowed on this endpoint");
  response.headers.emplace_back("allow", std::move(allow));
  return response;
}
}  // namespace

std::optional<std::string> percentDecode(std::string_view s, Plus plus) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out += plus == Plus::SPACE && s[i] == '+' ? ' ' : s[i];
      continue;
    }
    if (i + 2 >= s.size() || hexDigit(s[i + 1]) < 0 || hexDigit(s[i + 2]) < 0) return std::nullopt;
    out += static_cast<char>(hexDigit(s[i + 1]) * 16 + hexDigit(s[i + 2]));
    i += 2;
  }
  return out;
}

HttpResult Router::handle(const HttpRequest& request) {
  auto byPath = routes_.find(request.path);
  if (byPath == routes_.end()) {
    for (auto& [prefix, methods] : paramRoutes_) {
      auto param = segmentAfter(prefix, request.path);
      if (!param) continue;
      std::string_view segment = *param;
      auto method = methods.find(std::string(request.method));
      if (method == methods.end()) {
        std::string allow;
        for (auto& [m, route] : methods) allow += (allow.empty() ? "" : ", ") + m;
        return methodNotAllowed(allow);
      }
      auto decoded = percentDecode(segment);
      if (!decoded) return errorResponse(400, "invalid_request", "bad percent-encoding in path");
      return method->second(request, *decoded);
    }
    return errorResponse(404, "not_found", "no such endpoint");
  }
  auto byMethod = byPath->second.find(std::string(request.method));
  if (byMethod == byPath->second.end()) {
    std::string allow;
    for (auto& [method, route] : byPath->second) {
      allow += (allow.empty() ? "" : ", ") + method;
    }
    return methodNotAllowed(allow);
  }
  return byMethod->second(request);
}

}  // namespace tenantd
