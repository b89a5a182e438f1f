#include "api-json.h"

#include <catch2/catch.hpp>

namespace tenantd {

TEST_CASE("The usage summary and audit documents have the REST shapes") {
  UsageTotals totals{5, 6, 7, 8};
  CHECK(usageSummaryJson("t1", "2024-02", totals) == nlohmann::json{{"tenant_id", "t1"},
                                                                    {"period", "2024-02"},
                                                                    {"api_calls", 5},
                                                                    {"llm_tokens", 6},
                                                                    {"storage_bytes", 8},
                                                                    {"bandwidth_bytes", 7}});
  auto audit = auditEntriesJson({{3, "t1", 0, "uid:0", "secret.put", "K", 2},
                                 {2, "t1", 0, "tok_x", "config.put", "config", std::nullopt}});
  REQUIRE(audit["entries"].size() == 2);
  CHECK(audit["entries"][0] == nlohmann::json{{"id", 3},
                                              {"at", "1970-01-01T00:00:00Z"},
                                              {"actor", "uid:0"},
                                              {"action", "secret.put"},
                                              {"target", "K"},
                                              {"version", 2}});
  CHECK(audit["entries"][1]["version"].is_null());
  CHECK(limitsSavedJson(4) ==
        nlohmann::json{{"success", true}, {"message", "Resource limits saved"}, {"version", 4}});
}

TEST_CASE("A usage row's percentage is pinned at the int64 edge, never wrapped") {
  Rule rule;
  rule.resource = "api";
  rule.metric = "calls";
  RuleUsage saturated{&rule, INT64_MAX, 0, 1, Window{0, 60000}};
  RuleUsage half{&rule, 5, 0, 10, Window{0, 60000}};
  auto rows = nlohmann::json::parse(usageRowsJson({saturated, half}));
  CHECK(rows[0]["percentage"] == INT64_MAX);
  CHECK(rows[1]["percentage"] == 50);
}

}  // namespace tenantd
