#pragma once
// The JSON documents that the REST endpoints answer and that Admin over RPC returns as text,
// built in one place so the two surfaces cannot drift. Each names the endpoint it shapes.

#include "core/limiter.h"
#include "store/secret-store.h"
#include "store/settings-store.h"

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tenantd {

class JsonOut;

// GET /tenant/limits/resources/usage: every rule's usage, one row each (also inside the track
// and commit answers). Written with JsonOut: this is the hot path.
void writeUsageRows(JsonOut& out, const std::vector<RuleUsage>& rows);
std::string usageRowsJson(const std::vector<RuleUsage>& rows);
// "resetAt": the window's end as ISO-8601, or null for lifetime rules.
void writeResetAt(JsonOut& out, const Window& window);
// PUT /tenant/limits/resources, once saved.
nlohmann::json limitsSavedJson(int64_t version);
// GET /usage/summary?period=YYYY-MM (a month of the tenant's calendar: core/period.h).
nlohmann::json usageSummaryJson(std::string_view tenantId, std::string_view period,
                                const UsageTotals& totals);
// GET /tenant/audit: {"entries": [...]}, newest first.
nlohmann::json auditEntriesJson(const std::vector<AuditRow>& rows);

}  // namespace tenantd
