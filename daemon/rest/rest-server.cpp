#include "rest-server.h"

#include "rest/limits-api.h"
#include "rest/secrets-api.h"
#include "rest/tenant-api.h"

#include <algorithm>
#include <chrono>

namespace tenantd {

RestServer::RestServer(Services& services, Metrics& metrics, Log& log)
    : context_(services.auth, services.tenants, services.limits, services.clock, log, metrics),
      readiness_(services.readiness),
      metrics_(metrics),
      rateLimited_(metrics.rateLimited("rest")) {
  router_.add("GET", "/healthz", [](const HttpRequest&) { return healthz(); });
  addLimitsRoutes(router_, context_);
  addSecretsRoutes(router_, context_, services.secrets);
  addAuditRoutes(router_, context_, services.secrets);
  addTenantRoutes(router_, context_, services.settings);
  router_.add("GET", "/readyz", [this](const HttpRequest&) { return readyz(); });
  router_.add("GET", "/metrics", [this](const HttpRequest&) { return scrape(); });
  metricsRouter_.add("GET", "/metrics", [this](const HttpRequest&) { return scrape(); });
  metricsRouter_.add("GET", "/healthz", [](const HttpRequest&) { return healthz(); });
}

HttpResult RestServer::handle(const HttpRequest& request) {
  // The auth memo points into this request's headers: it must not outlive them on any path
  // (a 429, an exception), or a later request at the same address could match it.
  KJ_DEFER(context_.endRequest());
  auto start = std::chrono::steady_clock::time_point{};
  if constexpr (METRICS_ENABLED) start = std::chrono::steady_clock::now();
  std::string_view route = router_.routeOf(request.path);
  RouteStats* stats = nullptr;
  if constexpr (METRICS_ENABLED) stats = &routeStats(request.method, route);
  std::vector<std::pair<std::string, std::string>> rateHeaders;
  if (auto refused = rateLimiter_.admit(request, route, rateHeaders)) {
    rateLimited_.add();
    count(stats, refused->status, start);
    return kj::mv(*refused);
  }
  auto finish = [this, stats, start, rateHeaders](HttpResponse response) {
    for (auto& h : rateHeaders) response.headers.push_back(h);
    count(stats, response.status, start);
    return response;
  };
  // A fault is answered 500 by HttpServer; it is counted as one here.
  HttpResult result;
  KJ_IF_MAYBE (fault, kj::runCatchingExceptions([&]() { result = router_.handle(request); })) {
    count(stats, 500, start);
    kj::throwFatalException(kj::mv(*fault));
  }
  KJ_IF_MAYBE (now, result.tryGet<HttpResponse>()) {
    return finish(kj::mv(*now));
  }
  return result.get<kj::Promise<HttpResponse>>().then(
      kj::mv(finish), [this, stats, start](kj::Exception&& e) -> HttpResponse {
        count(stats, 500, start);
        kj::throwFatalException(kj::mv(e));
      });
}

RestServer::RouteStats& RestServer::routeStats(std::string_view method, std::string_view route) {
  static constexpr std::string_view METHODS[] = {"GET",   "POST", "PUT",    "DELETE",
                                                 "PATCH", "HEAD", "OPTIONS"};
  size_t m = std::size(METHODS);  // "other"
  for (size_t i = 0; i < std::size(METHODS); ++i) {
    if (method == METHODS[i]) m = i;
  }
  auto& slot = routeStats_[route.empty() ? nullptr : route.data()][m];
  if (slot == nullptr) {
    slot = std::make_unique<RouteStats>();
    slot->route = route.empty() ? "unmatched" : std::string(route);
    slot->method = m < std::size(METHODS) ? std::string(METHODS[m]) : "other";
    slot->seconds =
        &metrics_.latency("tenantd_rest_request_duration_seconds",
                          "REST request latency in the daemon, by method and route pattern",
                          {{"method", slot->method}, {"route", slot->route}});
  }
  return *slot;
}

void RestServer::count(RouteStats* stats, int status, std::chrono::steady_clock::time_point start) {
  if constexpr (!METRICS_ENABLED) return;
  size_t c = static_cast<size_t>(std::clamp(status / 100, 1, 5) - 1);
  if (stats->byClass[c] == nullptr) {
    stats->byClass[c] =
        &metrics_.counter("tenantd_rest_requests_total",
                          "REST requests answered, by method, route pattern and status class",
                          {{"code", std::to_string(c + 1) + "xx"},
                           {"method", stats->method},
                           {"route", stats->route}});
  }
  stats->byClass[c]->add();
  stats->seconds->observe(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
}

HttpResponse RestServer::healthz() {
  return HttpResponse(200, R"({"status":"ok"})");
}

HttpResponse RestServer::scrape() const {
  HttpResponse r(200, metrics_.render());
  r.contentType = "text/plain; version=0.0.4";
  return r;
}

HttpResponse RestServer::readyz() const {
  ReadinessReport r = readiness_.now();
  if (!r.ready) {
    return HttpResponse(503, nlohmann::json{{"status", "not ready"}, {"reason", r.reason}}.dump());
  }
  if (!r.reason.empty()) {
    return HttpResponse(200, nlohmann::json{{"status", "degraded"}, {"reason", r.reason}}.dump());
  }
  return HttpResponse(200, R"({"status":"ready"})");
}

}  // namespace tenantd
