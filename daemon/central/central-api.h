#pragma once
// The central's `/v1` endpoints (docs/SYNC.md), beside the tenant REST API it serves as the
// source of truth: the daemon in the central role sends paths under /v1/ here and every other
// path to RestServer.
//   GET  /v1/sync    the feed (central/feed.h), secrets sealed to the asking host's key
//   POST /v1/hosts   a host registers the public half of its key
//   POST /v1/status  a host reports what it applied, after each sync
//   GET  /v1/hosts   every host with its last status; `stale` when silent for STALE_MS
// Every call names its host with a host token (`tenantd host-token create`), which grants /v1
// and nothing else. Only in --dev may a host go without one (it names itself with ?host=).

#include "central/feed.h"
#include "http/router.h"
#include "store/writer.h"

#include <optional>
#include <string>
#include <variant>

namespace tenantd::central {

class CentralApi {
public:
  static constexpr int64_t STALE_MS = 90'000;

  CentralApi(Feed& feed, Writer& writer, bool dev, const Clock& clock, Log& log);
  KJ_DISALLOW_COPY(CentralApi);

  static bool owns(std::string_view path) { return path.starts_with("/v1/"); }
  HttpResult handle(const HttpRequest& request) { return router_.handle(request); }

private:
  // The asking host (from its token, or in --dev from ?host=, registered on first sight), or
  // why not (status != 0).
  struct Host {
    std::string id;
    bool hasKey = false;
    sync::PublicKey key{};
    int status = 0;  // Refused: 400, 401 or 403, with `message`.
    std::string message;
    HttpResponse refusal() const;
  };
  kj::Promise<kj::Own<Host>> authenticate(const HttpRequest& request);
  HttpResult sync(const HttpRequest& request);
  HttpResult registerHost(const HttpRequest& request);
  HttpResult status(const HttpRequest& request);
  HttpResult hosts(const HttpRequest& request);

  Feed& feed_;
  Writer& writer_;
  bool dev_;
  const Clock& clock_;
  Log& log_;
  Router router_;
};

}  // namespace tenantd::central
