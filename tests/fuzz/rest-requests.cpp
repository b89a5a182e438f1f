// Fuzzes the REST surface as the daemon serves it: RestServer::handle over the daemon's
// services on a real SQLite store (tenants t1 and t2), so every body validator, query string
// and path parameter is reached through its real route. An input is a request in a small text
// form: "METHOD /path?query", header lines "name: value", an empty line, then the body. A
// request without an Authorization header gets t1's admin token. Beyond the sanitizers: no
// request may get a 500 (a fault of ours) or an answer outside the API's JSON shape.

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "rest/rest-server.h"
#include "service/catalog-service.h"
#include "testing/service-stack.h"

namespace {

using namespace tenantd;

struct World {
  kj::EventLoop loop;
  kj::WaitScope waitScope{loop};
  testing::ServiceStack stack{waitScope, {"t1", "t2"}};
  RestServer rest{*stack.services, stack.metrics, stack.log};
  std::string authorization;

  World() {
    auto token =
        stack.catalog->createToken("t1", Role::ADMIN, std::nullopt, "fuzz").wait(waitScope);
    authorization = "Bearer " + token->issued.secret;
  }
};

World& world() {
  static World w;
  return w;
}

std::string_view nextLine(std::string_view& rest) {
  size_t end = rest.find('\n');
  std::string_view line = rest.substr(0, end);
  rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 1);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  World& w = world();
  std::string_view input(reinterpret_cast<const char*>(data), size);
  std::string_view requestLine = nextLine(input);
  size_t space = requestLine.find(' ');
  if (space == std::string_view::npos) return 0;
  std::string_view method = requestLine.substr(0, space);
  std::string_view target = requestLine.substr(space + 1);
  size_t q = target.find('?');
  std::string_view path = target.substr(0, q);
  std::string_view query = q == std::string_view::npos ? "" : target.substr(q + 1);

  // Header names are lowercase by the time handlers see them (h2o folds them).
  std::vector<std::string> names;
  std::vector<std::string_view> values;
  bool authorized = false;
  while (!input.empty()) {
    std::string_view line = nextLine(input);
    if (line.empty()) break;
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string name(line.substr(0, colon));
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return std::tolower(c); });
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    authorized = authorized || name == "authorization";
    names.push_back(std::move(name));
    values.push_back(value);
  }
  if (!authorized) {
    names.push_back("authorization");
    values.push_back(w.authorization);
  }
  std::vector<std::pair<std::string_view, std::string_view>> headers;
  for (size_t i = 0; i < names.size(); ++i) headers.emplace_back(names[i], values[i]);
  // The body in a buffer of its own, as h2o gives it: handlers wipe it.
  std::string body(input);

  HttpRequest request{method, path, query, body, nullptr, headers};
  HttpResult result = w.rest.handle(request);
  HttpResponse response;
  KJ_IF_MAYBE (now, result.tryGet<HttpResponse>()) {
    response = kj::mv(*now);
  } else {
    response = result.get<kj::Promise<HttpResponse>>().wait(w.waitScope);
  }
  if (response.status < 200 || response.status >= 600 || response.status == 500) std::abort();
  if (response.contentType == "application/json" && !nlohmann::json::accept(response.body)) {
    std::abort();
  }
  return 0;
}
