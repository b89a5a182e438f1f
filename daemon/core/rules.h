#pragma once
// Resource-limit rules: what a tenant (or each of its users) may use per calendar period.
// Plain values plus validation; the limiter (limiter.h) evaluates them.

#include "period.h"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tenantd {

// block: over the limit is refused. warn: allowed and flagged. log: allowed, only recorded.
enum class GateAction { BLOCK, WARN, LOG };
// tenant: one counter for all users together. user: one counter per userId.
enum class Scope { TENANT, USER };

std::optional<GateAction> parseGateAction(std::string_view text);
std::string_view gateActionName(GateAction action);
std::optional<Scope> parseScope(std::string_view text);
std::string_view scopeName(Scope scope);

struct Rule {
  std::string resource;
  std::string metric;
  Period period = Period::DAY;
  int64_t limit = 0;
  std::vector<std::pair<std::string, int64_t>> tiers;  // plan -> limit
  GateAction gateAction = GateAction::BLOCK;
  Scope scope = Scope::TENANT;

  // The tenant's plan picks its tier; otherwise `limit`.
  int64_t limitFor(std::string_view plan) const;
  bool operator==(const Rule&) const = default;
};

struct RuleError {
  std::string field;  // "[2].metric"
  std::string message;
};

// Checks a whole rule list: names, non-negative limits and tiers, valid plan names, and no two
// rules with the same (resource, metric, period, scope).
std::optional<RuleError> validateRules(const std::vector<Rule>& rules);

}  // namespace tenantd
