#include "rest-server.h"

#include "rest/limits-api.h"
#include "rest/secrets-api.h"
#include "rest/tenant-api.h"

namespace tenantd {

RestServer::RestServer(Services& services, Metrics& metrics, Log& log)
    : context_(services.auth, services.tenants, services.limits, services.clock, log),
      readiness_(services.readiness),
      metrics_(metrics) {
  router_.add("GET", "/healthz",
              [](const HttpRequest&) { return HttpResponse(200, R"({"status":"ok"})"); });
  addLimitsRoutes(router_, context_);
  addSecretsRoutes(router_, context_, services.secrets);
  addAuditRoutes(router_, context_, services.secrets);
  addTenantRoutes(router_, context_, services.settings);
  router_.add("GET", "/readyz", [this](const HttpRequest&) { return readyz(); });
  router_.add("GET", "/metrics", [this](const HttpRequest&) {
    HttpResponse r(200, metrics_.render());
    r.contentType = "text/plain; version=0.0.4";
    return r;
  });
}

HttpResult RestServer::handle(const HttpRequest& request) {
  // The auth memo points into this request's headers: it must not outlive them on any path
  // (a 429, an exception), or a later request at the same address could match it.
  KJ_DEFER(context_.endRequest());
  std::vector<std::pair<std::string, std::string>> rateHeaders;
  if (auto refused = rateLimiter_.admit(request, rateHeaders)) {
    metrics_.restErrors(429).Increment();
    return kj::mv(*refused);
  }
  auto finish = [this, rateHeaders](HttpResponse response) {
    for (auto& h : rateHeaders) response.headers.push_back(h);
    if (response.status >= 400) metrics_.restErrors(response.status).Increment();
    return response;
  };
  HttpResult result = router_.handle(request);
  KJ_IF_MAYBE (now, result.tryGet<HttpResponse>()) {
    return finish(kj::mv(*now));
  }
  return result.get<kj::Promise<HttpResponse>>().then(kj::mv(finish));
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
