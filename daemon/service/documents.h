#pragma once
// A tenant's large documents as they arrive (REST bodies, Admin calls): parsed with their depth
// bounded, checked against the contract, and put in the canonical form the store keeps, in one
// pure step. At the bounds that step costs 2–8 ms (nlohmann parses ~25 MB/s), so the services
// run it on their Worker (loop/worker.h), never on the event loop: prepareRules() and
// prepareConfig() of LimitsService and SettingsService.

#include "service/json-input.h"
#include "service/tenant-config.h"

#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace tenantd {

// The document, or why it was refused: not JSON (or nested too deep), or a field out of bounds.
template <typename T>
using Prepared = std::variant<T, JsonInputError, RuleError>;

struct NewRules {
  std::vector<Rule> rules;
  std::string json;  // Canonical (rulesToJson), as stored and served.
};

struct NewConfig {
  TenantConfig config;
  std::string json;  // As stored.
};

// Rules built in code (tests, tools), with their canonical form.
NewRules newRules(std::vector<Rule> rules);

// A rule list a tenant sends: parseNewRules() (the per-tenant bounds) of the parsed text.
Prepared<NewRules> prepareRules(std::string_view text, const DocumentBounds& bounds);
// A role a tenant sends: parseRole() within the per-role bound, `name` given for an update.
Prepared<RbacRole> prepareRole(std::string_view text, std::optional<std::string> name,
                               const DocumentBounds& bounds);
// A configuration document: parseNewConfig() of the parsed text. Its size is the caller's to
// check first (DocumentBounds::configBytes): it is known before any parsing.
Prepared<NewConfig> prepareConfig(std::string_view text, const DocumentBounds& bounds);

}  // namespace tenantd
