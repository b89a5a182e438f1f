#pragma once
// The REST surface as the daemon serves it: every route (tenant API, limits, secrets, audit,
// health, readiness, metrics) and what every request passes on its way to one: the per-tenant
// rate limit, the one authentication memo of the request, the RateLimit-* headers and the error
// count. The daemon hands HttpServer handle(); nothing else routes REST requests.

#include "http/router.h"
#include "rest/rate-limit.h"
#include "rest/rest-context.h"
#include "service/services.h"
#include "util/metrics.h"

namespace tenantd {

class RestServer {
public:
  RestServer(Services& services, Metrics& metrics, Log& log);
  KJ_DISALLOW_COPY(RestServer);

  HttpResult handle(const HttpRequest& request);
  // Forgets rate-limit buckets that are full again (hourly upkeep). Returns how many.
  size_t prune() { return rateLimiter_.prune(); }

private:
  HttpResponse readyz() const;

  RestContext context_;
  Router router_;
  RestRateLimiter rateLimiter_{context_, router_};
  const Readiness& readiness_;
  Metrics& metrics_;
};

}  // namespace tenantd
