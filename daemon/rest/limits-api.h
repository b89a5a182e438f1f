#pragma once
// REST endpoints of the limits engine: /tenant/limits/resources and its usage, check and track
// (the spec), plus consume and reserve/commit/release (beyond the spec). They translate JSON to
// LimitsService calls and back; the rules live in daemon/core.

#include "rest-context.h"

namespace tenantd {

void addLimitsRoutes(Router& router, RestContext& ctx);

class JsonOut;

// JSON shapes (the spec's key order). The decision's fields go into an object the caller opened,
// so consume and reserve can add theirs.
void writeDecisionFields(JsonOut& out, const Decision& decision);
void writeUsageRow(JsonOut& out, const RuleUsage& usage);
void writeUsageRows(JsonOut& out, const std::vector<RuleUsage>& rows);

}  // namespace tenantd
