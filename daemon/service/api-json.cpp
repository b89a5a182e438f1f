#include "api-json.h"

#include "util/json-out.h"

#include <date/date.h>

#include <array>

#include <charconv>

namespace tenantd {

namespace {
// Pinned at the int64 edge like the counters: a saturated counter over a small limit would
// otherwise wrap negative.
int64_t percentage(int64_t current, int64_t limit) {
  if (limit <= 0) return current > 0 ? 100 : 0;
  __int128 p = static_cast<__int128>(current) * 100 / limit;
  return p > INT64_MAX ? INT64_MAX : static_cast<int64_t>(p);
}

void writeUsageRow(JsonOut& out, const RuleUsage& u) {
  out.beginObject()
      .field("resource", std::string_view(u.rule->resource))
      .field("metric", std::string_view(u.rule->metric))
      .field("period", periodName(u.rule->period))
      .field("current", u.current)
      .field("limit", u.limit)
      .field("percentage", percentage(u.current, u.limit))
      .field("scope", scopeName(u.rule->scope));
  writeResetAt(out, u.window);
  if (u.reserved != 0) out.field("reserved", u.reserved);
  if (u.counted != Counted::HOST) out.field("counted", countedName(u.counted));
  out.endObject();
}
}  // namespace

// Consecutive answers mostly share their windows' ends, so the last few formatted ones are kept
// per thread (strftime is ~1.5 k instructions).
void writeResetAt(JsonOut& out, const Window& w) {
  if (w.end == LIFETIME_WINDOW.end) {
    out.nullField("resetAt");
    return;
  }
  struct Slot {
    UnixMillis end = INT64_MIN;
    std::string text;
  };
  thread_local std::array<Slot, 4> recent;
  thread_local size_t next = 0;
  for (auto& slot : recent) {
    if (slot.end == w.end) {
      out.field("resetAt", std::string_view(slot.text));
      return;
    }
  }
  Slot& slot = recent[next++ % recent.size()];
  slot.end = w.end;
  slot.text = formatIso8601(w.end);
  out.field("resetAt", std::string_view(slot.text));
}

void writeUsageRows(JsonOut& out, const std::vector<RuleUsage>& rows) {
  out.beginArray();
  for (auto& u : rows) writeUsageRow(out, u);
  out.endArray();
}

std::string usageRowsJson(const std::vector<RuleUsage>& rows) {
  JsonOut out;
  writeUsageRows(out, rows);
  return out.str();
}

nlohmann::json limitsSavedJson(int64_t version) {
  return {{"success", true}, {"message", "Resource limits saved"}, {"version", version}};
}

nlohmann::json usageSummaryJson(std::string_view tenantId, std::string_view period,
                                const UsageTotals& t) {
  return {{"tenant_id", tenantId},           {"period", period},
          {"api_calls", t.apiCalls},         {"llm_tokens", t.llmTokens},
          {"storage_bytes", t.storageBytes}, {"bandwidth_bytes", t.bandwidthBytes}};
}

nlohmann::json auditEntriesJson(const std::vector<AuditRow>& rows) {
  nlohmann::json out = nlohmann::json::array();
  for (auto& row : rows) {
    nlohmann::json j = {{"id", row.id},         {"at", formatIso8601(row.at)},
                        {"actor", row.actor},   {"action", row.action},
                        {"target", row.target}, {"version", nullptr}};
    if (row.version) j["version"] = *row.version;
    out.push_back(j);
  }
  return {{"entries", out}};
}

}  // namespace tenantd
