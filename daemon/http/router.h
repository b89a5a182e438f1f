#pragma once
// Maps (method, path) to handlers and answers what no route takes: 404 for an unknown path,
// 405 with Allow for a known path and the wrong method, both in the API's one error shape.

#include "server.h"

#include <map>
#include <optional>
#include <string>

namespace tenantd {

// Decodes %XX escapes; nullopt if one is malformed. In query strings '+' also means a space.
enum class Plus { LITERAL, SPACE };
std::optional<std::string> percentDecode(std::string_view text, Plus plus = Plus::LITERAL);

// {"error": {"code": ..., "message": ..., "field"?: ...}} with the given status.
HttpResponse errorResponse(int status, std::string_view code, std::string_view message,
                           std::string_view field = {});

class Router {
public:
  using Route = kj::Function<HttpResult(const HttpRequest&)>;

  void add(std::string method, std::string path, Route route);
  // Routes a pattern whose last segment is a parameter, e.g. "/tenant/secrets/:key" for
  // DELETE /tenant/secrets/KEY; the handler gets the percent-decoded segment.
  using ParamRoute = kj::Function<HttpResult(const HttpRequest&, std::string_view param)>;
  void addWithParam(std::string method, std::string pattern, ParamRoute route);
  HttpResult handle(const HttpRequest& request);
  // The route `path` falls under, as registered ("/tenant/secrets/:key"), or "" if none: a key
  // with as many values as there are routes, whatever paths clients send.
  std::string_view routeOf(std::string_view path) const;

private:
  // path -> method -> route. Few routes: a map is plenty and keeps Allow sorted.
  std::map<std::string, std::map<std::string, Route>, std::less<>> routes_;
  std::map<std::string, std::map<std::string, ParamRoute>, std::less<>> paramRoutes_;
  std::map<std::string, std::string, std::less<>> patterns_;  // prefix -> its pattern
};

}  // namespace tenantd
