#pragma once
// The REST surface as the daemon serves it: every route (tenant API, limits, secrets, audit,
// health, readiness, metrics) and what every request passes on its way to one: the per-tenant
// rate limit, the one authentication memo of the request, the RateLimit-* headers and the
// request metrics. The daemon hands HttpServer handle(); nothing else routes REST requests.

#include "http/router.h"
#include "rest/rate-limit.h"
#include "rest/rest-context.h"
#include "service/services.h"
#include "util/metrics.h"

#include <array>
#include <chrono>
#include <memory>
#include <string>
#include <unordered_map>

namespace tenantd {

class RestServer {
public:
  RestServer(Services& services, Metrics& metrics, Log& log);
  KJ_DISALLOW_COPY(RestServer);

  HttpResult handle(const HttpRequest& request);
  // The [metrics] listener: GET /metrics and GET /healthz, nothing else (404/405), no token.
  HttpResult handleMetricsListener(const HttpRequest& request) {
    return metricsRouter_.handle(request);
  }
  // Forgets rate-limit buckets that are full again (hourly upkeep). Returns how many.
  size_t prune() { return rateLimiter_.prune(); }

private:
  // tenantd_rest_requests_total by status class and tenantd_rest_request_duration_seconds of one
  // (route pattern, method): resolved the first time the pair is seen, then found by the
  // address of the pattern Router::routeOf returns (stable: the Router's own string) and a
  // method index, so a request costs one hash lookup and no label formatting. Paths no route
  // takes are "unmatched", methods outside the usual seven "other", so clients cannot grow the
  // label sets.
  struct RouteStats {
    std::string route, method;
    std::array<OwnedCounter*, 5> byClass{};  // 1xx..5xx, each created on first use.
    LatencyHistogram* seconds = nullptr;
  };
  RouteStats& routeStats(std::string_view method, std::string_view route);
  // Null `stats` only where metrics are compiled out.
  void count(RouteStats* stats, int status, std::chrono::steady_clock::time_point start);
  HttpResponse readyz() const;
  HttpResponse scrape() const;    // GET /metrics, on either listener.
  static HttpResponse healthz();  // GET /healthz, on either listener.

  RestContext context_;
  Router router_;
  Router metricsRouter_;
  RestRateLimiter rateLimiter_{context_};
  const Readiness& readiness_;
  Metrics& metrics_;
  OwnedCounter& rateLimited_;
  // Pattern address (null: unmatched) -> method index -> figures.
  std::unordered_map<const char*, std::array<std::unique_ptr<RouteStats>, 8>> routeStats_;
};

}  // namespace tenantd
