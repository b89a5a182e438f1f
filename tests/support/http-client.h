#pragma once
// A real HTTP client (libcurl) for end-to-end tests against the daemon's REST listener. Every
// answer is checked against docs/openapi.yaml (openapi-check.h); one it does not allow throws.

#include <map>
#include <string>

namespace tenantd::testing {

struct HttpResult {
  long status = 0;
  std::string body;
  std::map<std::string, std::string> headers;  // Lowercase names.
};

HttpResult httpRequest(const std::string& method, const std::string& url,
                       const std::map<std::string, std::string>& headers = {},
                       const std::string& body = "");

// The same, unchecked: for listeners docs/openapi.yaml does not describe ([metrics] listen).
HttpResult httpRequestOutsideApi(const std::string& method, const std::string& url,
                                 const std::map<std::string, std::string>& headers = {},
                                 const std::string& body = "");

}  // namespace tenantd::testing
