#pragma once
// REST endpoints of the limits engine: /tenant/limits/resources and its usage, check and track
// (the spec), plus consume and reserve/commit/release (beyond the spec). They translate JSON to
// LimitsService calls and back; the rules live in daemon/core.

#include "rest-context.h"
#include "service/api-json.h"

namespace tenantd {

void addLimitsRoutes(Router& router, RestContext& ctx);

class JsonOut;

// The decision's JSON fields (the spec's key order), into an object the caller opened so consume
// and reserve can add theirs. Usage rows: service/api-json.h.
void writeDecisionFields(JsonOut& out, const Decision& decision);

}  // namespace tenantd
