#include "central/central-api.h"

#include "auth/token.h"
#include "rest/rest-context.h"
#include "service/json-input.h"
#include "sync/base64.h"

#include <charconv>
#include <cstring>

namespace tenantd::central {

namespace {
// A non-negative integer query parameter; nullopt if absent, an error response if malformed.
std::variant<std::optional<int64_t>, HttpResponse> intParam(std::string_view query,
                                                            std::string_view name, int64_t max) {
  auto text = queryParam(query, name);
  if (!text) return std::optional<int64_t>();
  int64_t value = -1;
  auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), value);
  if (ec != std::errc() || end != text->data() + text->size() || value < 0 || value > max) {
    return errorResponse(400, "invalid_request",
                         std::string(name) + " must be an integer from 0 to " + std::to_string(max),
                         name);
  }
  return std::optional<int64_t>(value);
}

std::string etagOf(int64_t version) {
  return "\"" + std::to_string(version) + "\"";
}
}  // namespace

CentralApi::CentralApi(Feed& feed, Writer& writer, bool dev, const Clock& clock, Log& log)
    : feed_(feed), writer_(writer), dev_(dev), clock_(clock), log_(log) {
  router_.add("GET", "/v1/sync", [this](const HttpRequest& r) { return sync(r); });
  router_.add("POST", "/v1/hosts", [this](const HttpRequest& r) { return registerHost(r); });
  router_.add("POST", "/v1/status", [this](const HttpRequest& r) { return status(r); });
  router_.add("GET", "/v1/hosts", [this](const HttpRequest& r) { return hosts(r); });
}

namespace {
bool isHostId(std::string_view id) {
  return isValidTenantId(id);
}  // Same alphabet and length.

std::optional<sync::PublicKey> keyOf(const std::optional<std::array<uint8_t, 32>>& stored) {
  if (!stored) return std::nullopt;
  sync::PublicKey key{};
  std::memcpy(key.data(), stored->data(), key.size());
  return key;
}

std::optional<int64_t> optionalInt(const nlohmann::json& body, const char* name) {
  auto it = body.find(name);
  if (it == body.end() || it->is_null()) return std::nullopt;
  if (!it->is_number_integer()) return -1;  // The caller refuses negatives.
  return it->get<int64_t>();
}
}  // namespace

HttpResponse CentralApi::Host::refusal() const {
  const char* code = status == 401   ? "unauthorized"
                     : status == 403 ? "forbidden"
                                     : "invalid_request";
  return errorResponse(status, code, message);
}

kj::Promise<kj::Own<CentralApi::Host>> CentralApi::authenticate(const HttpRequest& request) {
  auto refuse = [](int status, std::string message) {
    auto h = kj::heap<Host>();
    h->status = status;
    h->message = kj::mv(message);
    return h;
  };
  auto authorization = request.header("authorization");
  bool hasToken = authorization && authorization->starts_with("Bearer ");
  TokenHash hash{};
  if (hasToken) {
    hash = hashToken(authorization->substr(7));
  } else if (!dev_) {
    return refuse(401, "a host token is required (Bearer)");
  }
  std::string named = queryParam(request.query, "host").value_or("");
  if (!named.empty() && !isHostId(named)) return refuse(400, "host is not a host id");
  UnixMillis now = clock_.now();
  return writer_.submit<kj::Own<Host>>(
      [hasToken, hash, named, now, refuse](WriterContext& ctx) -> kj::Own<Host> {
        SyncStore& store = ctx.sync();
        std::string id;
        if (hasToken) {
          auto owner = store.hostOfToken(hash);
          if (!owner) return refuse(401, "unknown host token");
          if (!named.empty() && named != *owner) {
            return refuse(403, "this host token belongs to another host");
          }
          id = *owner;
        } else {
          id = named.empty() ? "dev" : named;  // --dev only (checked above): a host names itself.
          store.createHost(id, std::nullopt, now);
        }
        auto record = store.host(id);
        KJ_ASSERT(record.has_value());
        auto h = kj::heap<Host>();
        h->id = id;
        if (auto key = keyOf(record->recipientKey)) {
          h->hasKey = true;
          h->key = *key;
        }
        return h;
      });
}

HttpResult CentralApi::sync(const HttpRequest& request) {
  TAKE_OR_RETURN(since, intParam(request.query, "since", INT64_MAX));
  TAKE_OR_RETURN(wait, intParam(request.query, "wait", Feed::MAX_WAIT_MS / 1000));
  return authenticate(request).then(
      [this, since = since, wait = wait](kj::Own<Host> host) mutable -> kj::Promise<HttpResponse> {
        if (host->status != 0) return host->refusal();
        if (!host->hasKey && !feed_.source().recipient) {
          return errorResponse(
              409, "conflict",
              "host " + host->id + " has no key to seal secrets to: POST /v1/hosts first");
        }
        std::optional<sync::PublicKey> key;
        if (host->hasKey) key = host->key;
        return feed_.sync(since, wait.value_or(0) * 1000, key).then([](FeedAnswer a) {
          HttpResponse response;
          response.headers.emplace_back("etag", etagOf(a.version));
          response.headers.emplace_back("cache-control", "no-store");
          if (a.kind == FeedAnswer::Kind::NOT_MODIFIED) {
            response.status = 304;
            return response;
          }
          response.body = kj::mv(a.body);
          return response;
        });
      });
}

HttpResult CentralApi::registerHost(const HttpRequest& request) {
  auto parsed = parseJsonInput(request.body);
  if (auto* e = std::get_if<JsonInputError>(&parsed)) {
    return errorResponse(400, "invalid_request", "the body is " + e->message);
  }
  auto& body = std::get<nlohmann::json>(parsed);
  if (!body.is_object() || !body.contains("host") || !body["host"].is_string() ||
      !isHostId(body["host"].get<std::string>())) {
    return errorResponse(400, "invalid_request", "host must be a host id", "host");
  }
  std::optional<std::string> key;
  if (body.contains("recipientKey") && body["recipientKey"].is_string()) {
    key = sync::fromBase64(body["recipientKey"].get<std::string>());
  }
  if (!key || key->size() != sync::PUBLIC_KEY_BYTES) {
    return errorResponse(400, "invalid_request", "recipientKey must be 32 bytes of base64",
                         "recipientKey");
  }
  std::string id = body["host"].get<std::string>();
  std::array<uint8_t, 32> publicKey{};
  std::memcpy(publicKey.data(), key->data(), publicKey.size());
  return authenticate(request).then(
      [this, id, publicKey](kj::Own<Host> host) -> kj::Promise<HttpResponse> {
        if (host->status != 0) return host->refusal();
        UnixMillis now = clock_.now();
        bool anonymous = host->id == "dev" && id != "dev";  // --dev, named in the body only.
        if (host->id != id && !anonymous) {
          return errorResponse(403, "forbidden", "this host token belongs to another host");
        }
        return writer_
            .submit<void>([id, publicKey, now](WriterContext& ctx) {
              ctx.sync().createHost(id, std::nullopt, now);  // --dev hosts; no-op otherwise.
              ctx.sync().setHostKey(id, publicKey);
            })
            .then([this, id]() {
              log_.info("central", "host " + id + " registered its key");
              return HttpResponse(200, nlohmann::json{{"host", id}}.dump());
            });
      });
}

HttpResult CentralApi::status(const HttpRequest& request) {
  auto parsed = parseJsonInput(request.body);
  if (auto* e = std::get_if<JsonInputError>(&parsed)) {
    return errorResponse(400, "invalid_request", "the body is " + e->message);
  }
  auto& body = std::get<nlohmann::json>(parsed);
  if (!body.is_object()) return errorResponse(400, "invalid_request", "expected an object");
  HostStatus status;
  status.appliedVersion = optionalInt(body, "appliedVersion");
  status.lastSuccessAt = optionalInt(body, "lastSuccessAt");
  if ((status.appliedVersion && *status.appliedVersion < 0) ||
      (status.lastSuccessAt && *status.lastSuccessAt < 0)) {
    return errorResponse(400, "invalid_request",
                         "appliedVersion and lastSuccessAt are non-negative integers or null");
  }
  if (body.contains("lastError") && body["lastError"].is_string()) {
    status.lastError = shortName(body["lastError"].get<std::string>());  // Bounded, valid UTF-8.
  }
  return authenticate(request).then(
      [this, status](kj::Own<Host> host) -> kj::Promise<HttpResponse> {
        if (host->status != 0) return host->refusal();
        std::string id = host->id;
        UnixMillis now = clock_.now();
        return writer_
            .submit<void>(
                [id, status, now](WriterContext& ctx) { ctx.sync().recordStatus(id, status, now); })
            .then([]() { return HttpResponse(204, ""); });
      });
}

HttpResult CentralApi::hosts(const HttpRequest& request) {
  return authenticate(request).then([this](kj::Own<Host> host) -> kj::Promise<HttpResponse> {
    if (host->status != 0) return host->refusal();
    UnixMillis now = clock_.now();
    return writer_
        .submit<std::vector<HostRecord>>([](WriterContext& ctx) { return ctx.sync().hosts(); })
        .then([now](std::vector<HostRecord> hosts) {
          auto nullable = [](const std::optional<int64_t>& v) {
            return v ? nlohmann::json(*v) : nlohmann::json(nullptr);
          };
          nlohmann::json list = nlohmann::json::array();
          for (auto& h : hosts) {
            list.push_back({{"host", h.id},
                            {"token", h.hasToken},
                            {"registered", h.recipientKey.has_value()},
                            {"appliedVersion", nullable(h.appliedVersion)},
                            {"lastError", h.lastError.empty() ? nlohmann::json(nullptr)
                                                              : nlohmann::json(h.lastError)},
                            {"lastSuccessAt", nullable(h.lastSuccessAt)},
                            {"seenAt", nullable(h.seenAt)},
                            {"stale", !h.seenAt || now - *h.seenAt > STALE_MS}});
          }
          return HttpResponse(200, nlohmann::json{{"hosts", list}}.dump());
        });
  });
}

}  // namespace tenantd::central
