#pragma once
// The central's `/v1` endpoints (docs/SYNC.md), beside the tenant REST API it serves as the
// source of truth: the daemon in the central role sends paths under /v1/ here and every other
// path to RestServer. Today: GET /v1/sync.

#include "central/feed.h"
#include "http/router.h"

namespace tenantd::central {

class CentralApi {
public:
  explicit CentralApi(Feed& feed);
  KJ_DISALLOW_COPY(CentralApi);

  static bool owns(std::string_view path) { return path.starts_with("/v1/"); }
  HttpResult handle(const HttpRequest& request) { return router_.handle(request); }

private:
  HttpResult sync(const HttpRequest& request);

  Feed& feed_;
  Router router_;
};

}  // namespace tenantd::central
