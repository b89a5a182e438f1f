#include "service/json-input.h"

#include <catch2/catch.hpp>

namespace tenantd {

namespace {
std::string nested(int depth, char open, char close) {
  return std::string(depth, open) + std::string(depth, close);
}
std::string error(const std::variant<nlohmann::json, JsonInputError>& r) {
  auto* e = std::get_if<JsonInputError>(&r);
  return e ? e->message : "";
}
}  // namespace

TEST_CASE("parseJsonInput takes documents up to the depth bound and refuses deeper ones") {
  CHECK(std::holds_alternative<nlohmann::json>(parseJsonInput(nested(32, '[', ']'))));
  CHECK(error(parseJsonInput(nested(33, '[', ']'))) == "nested deeper than 32 levels");
  CHECK(std::holds_alternative<nlohmann::json>(parseJsonInput(nested(3, '[', ']'), 3)));
  CHECK(error(parseJsonInput(nested(4, '[', ']'), 3)) == "nested deeper than 3 levels");
  // Objects count as levels too, mixed with arrays.
  CHECK(error(parseJsonInput(R"({"a":{"b":[{"c":1}]}})", 3)) == "nested deeper than 3 levels");
  CHECK(std::holds_alternative<nlohmann::json>(parseJsonInput(R"({"a":{"b":[1]}})", 3)));
  // Scalars at the deepest level do not open one.
  CHECK(std::holds_alternative<nlohmann::json>(parseJsonInput(R"([["x", 1, null]])", 2)));
}

TEST_CASE("parseJsonInput refuses a million levels without recursing over them") {
  CHECK(error(parseJsonInput(nested(1'000'000, '[', ']'))) == "nested deeper than 32 levels");
  CHECK(error(parseJsonInput(std::string(1'000'000, '['))) == "nested deeper than 32 levels");
}

TEST_CASE("parseJsonInput refuses a name given twice in one object at any depth") {
  CHECK(error(parseJsonInput(R"({"a":1,"a":2})")) ==
        R"(ambiguous: it names "a" twice in one object)");
  CHECK(error(parseJsonInput(R"({"cache":{"ttl":1,"x":[{"k":1,"k":1}]}})")) ==
        R"(ambiguous: it names "k" twice in one object)");
  // The same name in sibling or nested objects is no repeat.
  CHECK(std::holds_alternative<nlohmann::json>(
      parseJsonInput(R"({"a":{"a":{"a":1}},"b":[{"a":1},{"a":2}]})")));
  // A long name is cut on a UTF-8 boundary: the message is JSON again.
  std::string name = std::string(63, 'k') + "\xc3\xa9";
  CHECK(error(parseJsonInput("{\"" + name + "\":1,\"" + name + "\":2}")) ==
        "ambiguous: it names \"" + std::string(63, 'k') + "...\" twice in one object");
}

TEST_CASE("parseJsonInput keeps the values and reports malformed text") {
  auto doc = parseJsonInput(R"({"cache":{"ttl":60},"routes":[]})");
  REQUIRE(std::holds_alternative<nlohmann::json>(doc));
  CHECK(std::get<nlohmann::json>(doc)["cache"]["ttl"] == 60);
  CHECK(error(parseJsonInput("{")) == "not valid JSON");
  CHECK(error(parseJsonInput("")) == "not valid JSON");
  CHECK(error(parseJsonInput("[1] 2")) == "not valid JSON");
}

}  // namespace tenantd
