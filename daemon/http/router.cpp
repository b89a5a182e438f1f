#include "router.h"

#include <nlohmann/json.hpp>

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

HttpResult Router::handle(const HttpRequest& request) {
  auto byPath = routes_.find(request.path);
  if (byPath == routes_.end()) return errorResponse(404, "not_found", "no such endpoint");
  auto byMethod = byPath->second.find(std::string(request.method));
  if (byMethod == byPath->second.end()) {
    std::string allow;
    for (auto& [method, route] : byPath->second) {
      allow += (allow.empty() ? "" : ", ") + method;
    }
    auto response = errorResponse(405, "method_not_allowed", "method not allowed on this endpoint");
    response.headers.emplace_back("allow", allow);
    return response;
  }
  return byMethod->second(request);
}

}  // namespace tenantd
