#pragma once
// Per-tenant documents (the configuration of /tenant/config, the roles of /tenant/rbac), each
// with a version that moves on every save, and the usage reports of /usage/summary and
// /usage/history, read from the same buckets the limits engine writes. Reports follow the
// tenant's calendar (its months and days, as the engine's windows do), so a report reads the
// same before and after storage upkeep merges minutes into local days.

#include "core/period.h"
#include "sqlite.h"
#include "util/clock.h"

#include <optional>
#include <string>
#include <vector>

namespace tenantd {

struct VersionedDoc {
  std::string doc;  // JSON text, canonical as saved.
  int64_t version = 0;
};

struct UsageTotals {
  int64_t apiCalls = 0;        // api/calls, summed
  int64_t llmTokens = 0;       // llm/tokens, summed
  int64_t bandwidthBytes = 0;  // bandwidth/bytes, summed
  int64_t storageBytes = 0;    // storage/bytes, a gauge: its latest value
};

struct DayUsage {
  std::string date;  // "2024-01-01": the tenant's local date
  int64_t apiCalls = 0;
  int64_t llmTokens = 0;
  int64_t bandwidthBytes = 0;
};

class SettingsStore {
public:
  explicit SettingsStore(Db& db);

  std::optional<VersionedDoc> getConfig(std::string_view tenantId);
  int64_t putConfig(std::string_view tenantId, std::string_view doc, UnixMillis now);
  std::optional<VersionedDoc> getRbac(std::string_view tenantId);
  int64_t putRbac(std::string_view tenantId, std::string_view doc, UnixMillis now);

  // Usage in `range` (a local month from parseMonth()); sums saturate at the int64 limits.
  UsageTotals totals(std::string_view tenantId, Window range);
  // One row per local day of `zone` with usage in `range`, in date order.
  std::vector<DayUsage> days(std::string_view tenantId, Window range, const date::time_zone* zone);

private:
  Statement selectConfig_, upsertConfig_, selectRbac_, upsertRbac_;
  Statement sums_, latestStorage_, perMinute_;
};

}  // namespace tenantd
