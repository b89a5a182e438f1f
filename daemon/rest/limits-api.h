#pragma once
// REST endpoints of the limits engine: /tenant/limits/resources and its usage, check and track
// (the spec), plus consume and reserve/commit/release (beyond the spec). They translate JSON to
// LimitsService calls and back; the rules live in daemon/core.

#include "rest-context.h"
#include "service/api-json.h"

namespace tenantd {

void addLimitsRoutes(Router& router, RestContext& ctx);

// JSON shapes, shared with tests (usage rows: service/api-json.h).
nlohmann::json decisionToJson(const Decision& decision);

}  // namespace tenantd
