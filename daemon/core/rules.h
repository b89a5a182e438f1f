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
// With [fleet] on (docs/FLEET.md): local-first checks answer from the last fleet total read plus
// this host's unflushed usage; strict ones make consume and reserve atomic across the fleet (one
// Redis round trip each). Without a fleet both count this host alone.
enum class FleetMode { LOCAL_FIRST, STRICT };
// What checks do while the fleet's store is unreachable ([fleet] on_unavailable): count on this
// host's figures and the last fleet figures read; allow what a block rule would refuse; or
// refuse whatever a block rule governs.
enum class FleetPolicy { LOCAL, OPEN, CLOSED };

std::optional<GateAction> parseGateAction(std::string_view text);
std::string_view gateActionName(GateAction action);
std::optional<Scope> parseScope(std::string_view text);
std::string_view scopeName(Scope scope);
std::optional<FleetMode> parseFleetMode(std::string_view text);
std::string_view fleetModeName(FleetMode mode);

struct Rule {
  std::string resource;
  std::string metric;
  Period period = Period::DAY;
  int64_t limit = 0;
  std::vector<std::pair<std::string, int64_t>> tiers;  // plan -> limit
  GateAction gateAction = GateAction::BLOCK;
  Scope scope = Scope::TENANT;
  FleetMode fleet = FleetMode::LOCAL_FIRST;

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
