#include "rules-json.h"

#include "contract.h"

#include <set>

namespace tenantd {

namespace {
const std::set<std::string> KNOWN_FIELDS = {"resource", "metric",     "period", "limit",
                                            "tiers",    "gateAction", "scope",  "fleet"};

bool isInteger(const nlohmann::json& v) {
  return v.is_number_integer() || v.is_number_unsigned();
}
}  // namespace

std::variant<std::vector<Rule>, RuleError> parseRules(const nlohmann::json& doc) {
  if (!doc.is_array()) return RuleError{"", "expected an array of rules"};
  std::vector<Rule> rules;
  for (size_t i = 0; i < doc.size(); ++i) {
    const auto& item = doc[i];
    std::string at = "[" + std::to_string(i) + "]";
    if (!item.is_object()) return RuleError{at, "expected an object"};
    for (auto& [key, value] : item.items()) {
      if (!KNOWN_FIELDS.count(key)) return RuleError{at + "." + key, "unknown field"};
    }
    Rule r;
    for (const char* f : {"resource", "metric", "period"}) {
      if (!item.contains(f) || !item[f].is_string()) {
        return RuleError{at + "." + f, "required string"};
      }
    }
    r.resource = item["resource"].get<std::string>();
    r.metric = item["metric"].get<std::string>();
    auto period = parsePeriod(item["period"].get<std::string>());
    if (!period) {
      return RuleError{at + ".period", "one of minute, hour, day, week, month, year, lifetime"};
    }
    r.period = *period;
    if (!item.contains("limit") || !isInteger(item["limit"]) ||
        (item["limit"].is_number_integer() && item["limit"].get<int64_t>() < 0)) {
      return RuleError{at + ".limit", "required integer >= 0"};
    }
    if (item["limit"].is_number_unsigned() && item["limit"].get<uint64_t>() > uint64_t(INT64_MAX)) {
      return RuleError{at + ".limit", "too large"};
    }
    r.limit = item["limit"].get<int64_t>();
    if (item.contains("tiers")) {
      if (!item["tiers"].is_object()) return RuleError{at + ".tiers", "expected an object"};
      for (auto& [plan, value] : item["tiers"].items()) {
        if (!isInteger(value) || (value.is_number_integer() && value.get<int64_t>() < 0) ||
            (value.is_number_unsigned() && value.get<uint64_t>() > uint64_t(INT64_MAX))) {
          return RuleError{at + ".tiers." + plan, "expected an integer >= 0"};
        }
        r.tiers.emplace_back(plan, value.get<int64_t>());
      }
    }
    if (item.contains("gateAction")) {
      auto gate = item["gateAction"].is_string()
                      ? parseGateAction(item["gateAction"].get<std::string>())
                      : std::nullopt;
      if (!gate) return RuleError{at + ".gateAction", "one of block, warn, log"};
      r.gateAction = *gate;
    }
    if (item.contains("scope")) {
      auto scope =
          item["scope"].is_string() ? parseScope(item["scope"].get<std::string>()) : std::nullopt;
      if (!scope) return RuleError{at + ".scope", "one of tenant, user"};
      r.scope = *scope;
    }
    if (item.contains("fleet")) {
      auto mode = item["fleet"].is_string() ? parseFleetMode(item["fleet"].get<std::string>())
                                            : std::nullopt;
      if (!mode) return RuleError{at + ".fleet", "one of local, strict"};
      r.fleet = *mode;
    }
    rules.push_back(std::move(r));
  }
  if (auto e = validateRules(rules)) return *e;
  return rules;
}

std::variant<std::vector<Rule>, RuleError> parseNewRules(const nlohmann::json& doc,
                                                         const DocumentBounds& bounds) {
  if (doc.is_array() && doc.size() > bounds.rules) {
    return RuleError{"", "at most " + std::to_string(bounds.rules) + " rules per tenant"};
  }
  for (size_t i = 0; doc.is_array() && i < doc.size(); ++i) {
    auto& item = doc[i];
    if (item.is_object() && item.contains("tiers") && item["tiers"].size() > bounds.tiersPerRule) {
      return RuleError{"[" + std::to_string(i) + "].tiers",
                       "at most " + std::to_string(bounds.tiersPerRule) + " tiers"};
    }
  }
  return parseRules(doc);
}

nlohmann::json ruleToJson(const Rule& r) {
  nlohmann::json j = {{"resource", r.resource},
                      {"metric", r.metric},
                      {"period", periodName(r.period)},
                      {"limit", r.limit}};
  if (!r.tiers.empty()) {
    nlohmann::json tiers = nlohmann::json::object();
    for (auto& [plan, limit] : r.tiers) tiers[plan] = limit;
    j["tiers"] = tiers;
  }
  j["gateAction"] = gateActionName(r.gateAction);
  j["scope"] = scopeName(r.scope);
  // Only when strict: every stored rule list before fleets keeps its canonical text (and ETag).
  if (r.fleet == FleetMode::STRICT) j["fleet"] = fleetModeName(r.fleet);
  return j;
}

nlohmann::json rulesToJson(const std::vector<Rule>& rules) {
  nlohmann::json out = nlohmann::json::array();
  for (auto& r : rules) out.push_back(ruleToJson(r));
  return out;
}

}  // namespace tenantd
