#pragma once
// Every REST answer the e2e tests receive is checked against docs/openapi.yaml, so the document
// and the daemon cannot drift apart. The check runs in tools/openapi/validate-responses.mjs
// (ajv, JSON Schema 2020-12), one node process per test process, started on first use.

#include <map>
#include <string>

namespace tenantd::testing {

struct HttpExchange {
  const std::string& method;
  const std::string& url;
  long status;
  const std::map<std::string, std::string>& headers;  // Lowercase names.
  const std::string& body;
};

// Empty when the document allows the answer; otherwise what it does not allow. Throws when the
// validator cannot run (node or tools/openapi/node_modules missing: run scripts/install-deps).
std::string openApiProblems(const HttpExchange& exchange);

}  // namespace tenantd::testing
