#include "api-json.h"

#include <date/date.h>

#include <charconv>

namespace tenantd {

namespace {
nlohmann::json resetAt(const Window& w) {
  if (w.end == LIFETIME_WINDOW.end) return nullptr;
  return formatIso8601(w.end);
}

int64_t percentage(int64_t current, int64_t limit) {
  if (limit <= 0) return current > 0 ? 100 : 0;
  return static_cast<int64_t>(static_cast<__int128>(current) * 100 / limit);
}
}  // namespace

nlohmann::json usageRowToJson(const RuleUsage& u) {
  nlohmann::json row = {{"resource", u.rule->resource},
                        {"metric", u.rule->metric},
                        {"period", periodName(u.rule->period)},
                        {"current", u.current},
                        {"limit", u.limit},
                        {"percentage", percentage(u.current, u.limit)},
                        {"scope", scopeName(u.rule->scope)},
                        {"resetAt", resetAt(u.window)}};
  if (u.reserved != 0) row["reserved"] = u.reserved;
  return row;
}

nlohmann::json usageRowsToJson(const std::vector<RuleUsage>& rows) {
  nlohmann::json out = nlohmann::json::array();
  for (auto& u : rows) out.push_back(usageRowToJson(u));
  return out;
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

std::optional<std::pair<UnixMillis, UnixMillis>> monthRange(std::string_view period) {
  if (period.size() != 7 || period[4] != '-') return std::nullopt;
  int y = 0;
  unsigned m = 0;
  if (std::from_chars(period.data(), period.data() + 4, y).ec != std::errc() ||
      std::from_chars(period.data() + 5, period.data() + 7, m).ec != std::errc() || m < 1 ||
      m > 12 || y < 1970) {
    return std::nullopt;
  }
  using namespace date;
  auto first = sys_days{year{y} / month{m} / 1};
  auto next = sys_days{(year{y} / month{m} + months{1}) / 1};
  auto ms = [](sys_days d) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(d.time_since_epoch()).count();
  };
  return std::make_pair(ms(first), ms(next));
}

std::string currentPeriod(UnixMillis now) {
  return formatIso8601(now).substr(0, 7);
}

}  // namespace tenantd
