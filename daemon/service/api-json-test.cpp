#include "api-json.h"

#include <catch2/catch.hpp>

namespace tenantd {

TEST_CASE("Usage periods are whole UTC months") {
  auto range = monthRange("2024-02");
  REQUIRE(range);
  CHECK(range->first == 1706745600000);   // 2024-02-01T00:00:00Z
  CHECK(range->second == 1709251200000);  // 2024-03-01T00:00:00Z
  CHECK(monthRange("2024-12")->second == 1735689600000);
  CHECK_FALSE(monthRange("2024-13"));
  CHECK_FALSE(monthRange("2024-1"));
  CHECK_FALSE(monthRange("1969-12"));
  CHECK(currentPeriod(1706745600000) == "2024-02");
}

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

}  // namespace tenantd
