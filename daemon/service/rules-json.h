#pragma once
// Rule lists as JSON, in the shapes of GET/PUT /tenant/limits/resources. The store keeps the
// canonical form that rulesToJson() produces.

#include "core/bounds.h"
#include "core/rules.h"

#include <nlohmann/json.hpp>

#include <variant>

namespace tenantd {

// Parses and validates a whole list; the error names the field ("[0].period").
// Used for stored lists too, so a list stored under older bounds still loads.
std::variant<std::vector<Rule>, RuleError> parseRules(const nlohmann::json& doc);
// A list a tenant sends (REST PUT, Admin.putRules): parseRules() within the per-tenant bounds,
// at most `bounds.rules` rules of at most `bounds.tiersPerRule` tiers, counted first.
std::variant<std::vector<Rule>, RuleError> parseNewRules(const nlohmann::json& doc,
                                                         const DocumentBounds& bounds);
nlohmann::json ruleToJson(const Rule& rule);
nlohmann::json rulesToJson(const std::vector<Rule>& rules);

}  // namespace tenantd
