#include "rules.h"

#include "tenant.h"

#include "contract.h"

#include <set>
#include <tuple>

namespace tenantd {

std::optional<GateAction> parseGateAction(std::string_view text) {
  if (text == "block") return GateAction::BLOCK;
  if (text == "warn") return GateAction::WARN;
  if (text == "log") return GateAction::LOG;
  return std::nullopt;
}

std::string_view gateActionName(GateAction action) {
  switch (action) {
    case GateAction::BLOCK: return "block";
    case GateAction::WARN: return "warn";
    case GateAction::LOG: return "log";
  }
  return "?";
}

std::optional<Scope> parseScope(std::string_view text) {
  if (text == "tenant") return Scope::TENANT;
  if (text == "user") return Scope::USER;
  return std::nullopt;
}

std::string_view scopeName(Scope scope) {
  return scope == Scope::TENANT ? "tenant" : "user";
}

std::optional<FleetMode> parseFleetMode(std::string_view text) {
  if (text == "local") return FleetMode::LOCAL_FIRST;
  if (text == "strict") return FleetMode::STRICT;
  return std::nullopt;
}

std::string_view fleetModeName(FleetMode mode) {
  return mode == FleetMode::STRICT ? "strict" : "local";
}

int64_t Rule::limitFor(std::string_view plan) const {
  for (auto& [tierPlan, tierLimit] : tiers) {
    if (tierPlan == plan) return tierLimit;
  }
  return limit;
}

std::optional<RuleError> validateRules(const std::vector<Rule>& rules) {
  std::set<std::tuple<std::string, std::string, Period, Scope>> seen;
  for (size_t i = 0; i < rules.size(); ++i) {
    const Rule& r = rules[i];
    std::string at = "[" + std::to_string(i) + "]";
    if (!contract::isValidName(r.resource)) {
      return RuleError{at + ".resource", std::string(contract::NAME_RULE)};
    }
    if (!contract::isValidName(r.metric)) {
      return RuleError{at + ".metric", std::string(contract::NAME_RULE)};
    }
    if (r.limit < 0) return RuleError{at + ".limit", "must be an integer >= 0"};
    for (auto& [plan, limit] : r.tiers) {
      if (!isValidPlan(plan)) return RuleError{at + ".tiers." + plan, "invalid plan name"};
      if (limit < 0) return RuleError{at + ".tiers." + plan, "must be an integer >= 0"};
    }
    if (!seen.emplace(r.resource, r.metric, r.period, r.scope).second) {
      return RuleError{at, "duplicate rule for this resource, metric, period and scope"};
    }
  }
  return std::nullopt;
}

}  // namespace tenantd
