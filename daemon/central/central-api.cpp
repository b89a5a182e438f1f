#include "central/central-api.h"

#include "rest/rest-context.h"

#include <charconv>

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

CentralApi::CentralApi(Feed& feed) : feed_(feed) {
  router_.add("GET", "/v1/sync", [this](const HttpRequest& r) { return sync(r); });
}

HttpResult CentralApi::sync(const HttpRequest& request) {
  TAKE_OR_RETURN(since, intParam(request.query, "since", INT64_MAX));
  TAKE_OR_RETURN(wait, intParam(request.query, "wait", Feed::MAX_WAIT_MS / 1000));
  return feed_.sync(since, wait.value_or(0) * 1000).then([](FeedAnswer a) {
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
}

}  // namespace tenantd::central
