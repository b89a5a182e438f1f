#include "rules.h"

#include <catch2/catch.hpp>

namespace tenantd {

namespace {
Rule valid() {
  Rule r;
  r.resource = "workflow";
  r.metric = "count";
  r.period = Period::DAY;
  r.limit = 100;
  return r;
}
}  // namespace

TEST_CASE("A valid rule list passes validation") {
  Rule a = valid(), b = valid();
  b.scope = Scope::USER;
  a.tiers = {{"free", 10}, {"pro", 100}};
  CHECK_FALSE(validateRules({a, b}));
  CHECK_FALSE(validateRules({}));
}

TEST_CASE("Validation names the first bad field") {
  Rule bad = valid();
  bad.metric = "Count";
  auto e = validateRules({valid(), bad});
  REQUIRE(e);
  CHECK(e->field == "[1].metric");
  bad = valid();
  bad.limit = -1;
  CHECK(validateRules({bad})->field == "[0].limit");
  bad = valid();
  bad.tiers = {{"Pro", 1}};
  CHECK(validateRules({bad})->field == "[0].tiers.Pro");
  bad = valid();
  bad.resource = std::string(65, 'a');
  CHECK(validateRules({bad})->field == "[0].resource");
}

TEST_CASE("Two rules for the same resource, metric, period and scope are refused") {
  auto e = validateRules({valid(), valid()});
  REQUIRE(e);
  CHECK(e->field == "[1]");
  Rule monthly = valid();
  monthly.period = Period::MONTH;
  CHECK_FALSE(validateRules({valid(), monthly}));
}

TEST_CASE("Names of gate actions and scopes round-trip") {
  CHECK(parseGateAction("warn") == GateAction::WARN);
  CHECK(gateActionName(GateAction::LOG) == "log");
  CHECK_FALSE(parseGateAction("deny"));
  CHECK(parseScope("user") == Scope::USER);
  CHECK(scopeName(Scope::TENANT) == "tenant");
  CHECK_FALSE(parseScope("global"));
}

}  // namespace tenantd
