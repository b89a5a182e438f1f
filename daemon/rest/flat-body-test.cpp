#include "flat-body.h"

#include "service/json-input.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <random>

namespace tenantd {
namespace {

std::variant<FlatBody, HttpResponse> parse(std::string_view body) {
  HttpRequest request;
  request.body = body;
  return parseFlatBody(request);
}

FlatBody accepted(std::string_view body) {
  auto result = parse(body);
  REQUIRE(std::holds_alternative<FlatBody>(result));
  return std::get<FlatBody>(std::move(result));
}

std::string refused(std::string_view body) {
  auto result = parse(body);
  REQUIRE(std::holds_alternative<HttpResponse>(result));
  CHECK(std::get<HttpResponse>(result).status == 400);
  return std::get<HttpResponse>(result).body;
}

// The flat parser must agree with nlohmann's DOM parser (used for every other body) on what is
// valid JSON and on every top-level field's value.
// Returns whether the body was valid JSON.
bool agreesWithDom(const std::string& body) {
  auto result = parse(body);
  auto dom = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (dom.is_discarded()) {
    INFO(body);
    CHECK(std::holds_alternative<HttpResponse>(result));
    return false;
  }
  auto* flat = std::get_if<FlatBody>(&result);
  if (flat == nullptr) {
    // Beyond nlohmann, only a nesting deeper than a flat body may have, or a name given twice
    // (which nlohmann takes, keeping the last) is refused.
    INFO(body);
    auto& refusal = std::get<HttpResponse>(result).body;
    if (refusal.find("ambiguous") != std::string::npos) {
      auto checked = parseJsonInput(body, 1'000'000);
      REQUIRE(std::holds_alternative<JsonInputError>(checked));
      CHECK(std::get<JsonInputError>(checked).message.find("ambiguous") == 0);
      return true;
    }
    CHECK(refusal.find("nests too deeply") != std::string::npos);
    return true;
  }
  INFO(body);
  REQUIRE(flat->isObject == dom.is_object());
  if (!dom.is_object()) return true;
  REQUIRE(flat->fields.size() == dom.size());
  for (auto& [name, value] : flat->fields) {
    auto& expected = dom.at(name);
    switch (value.kind) {
      case JsonScalar::Kind::NUL: CHECK(expected.is_null()); break;
      case JsonScalar::Kind::BOOL: CHECK(expected == value.boolean); break;
      case JsonScalar::Kind::INTEGER:
        REQUIRE(expected.is_number_integer());
        CHECK(expected.get<int64_t>() == value.integer);
        break;
      case JsonScalar::Kind::BIG_INTEGER:
        CHECK((expected.is_number_unsigned() || expected.is_number_float()));
        break;
      case JsonScalar::Kind::NUMBER: CHECK(expected.is_number()); break;
      case JsonScalar::Kind::STRING: CHECK(expected == value.text); break;
      case JsonScalar::Kind::COMPOUND: CHECK(expected.is_structured()); break;
    }
  }
  return true;
}

TEST_CASE("A flat body yields its top-level fields") {
  auto body =
      accepted(R"({"userId":"u-1","amount":7,"big":18446744073709551615,"f":1.5,"n":null,"b":true,)"
               R"("o":{"x":[1,2],"x":3},"a":[],"s":"caf\u00e9 \"q\""})");
  CHECK(body.isObject);
  CHECK(body.find("userId")->text == "u-1");
  CHECK(body.find("amount")->integer == 7);
  CHECK(body.find("big")->kind == JsonScalar::Kind::BIG_INTEGER);
  CHECK(body.find("f")->kind == JsonScalar::Kind::NUMBER);
  CHECK(body.find("n")->kind == JsonScalar::Kind::NUL);
  CHECK(body.find("b")->boolean);
  CHECK(body.find("o")->kind == JsonScalar::Kind::COMPOUND);
  CHECK(body.find("a")->kind == JsonScalar::Kind::COMPOUND);
  CHECK(body.find("s")->text == "caf\xc3\xa9 \"q\"");
  CHECK(body.find("x") == nullptr);  // Nested names are not top-level fields.
  CHECK(body.fields.size() == 9);
}

TEST_CASE("A body that names a field twice is refused whichever value each would use") {
  CHECK(
      refused(R"({"amount":1,"resource":"api","amount":1000000})") ==
      R"({"error":{"code":"invalid_request","message":"the body is ambiguous: it names \"amount\" twice"}})");
  CHECK(nlohmann::json::parse(refused(R"({"o":{},"o":[]})"))["error"]["message"] ==
        "the body is ambiguous: it names \"o\" twice");
  CHECK(refused(R"({"a":null,"a":null})").find("ambiguous") != std::string::npos);
  // A long name is cut on a character, so the error stays valid JSON.
  std::string name = std::string(63, 'k') + "\u00e9\u00e9";
  auto error = refused("{\"" + name + "\":1,\"" + name + "\":2}");
  CHECK(nlohmann::json::parse(error)["error"]["message"] ==
        "the body is ambiguous: it names \"" + std::string(63, 'k') + "...\" twice");
}

TEST_CASE("Valid JSON that is not an object parses with no fields") {
  CHECK_FALSE(accepted("[1,2]").isObject);
  CHECK_FALSE(accepted(" 5 ").isObject);
  CHECK_FALSE(accepted("\"x\"").isObject);
}

TEST_CASE("Malformed bodies are refused with one clear error") {
  for (std::string_view bad :
       {"", " ", "{", R"({"a":1,})", R"({"a":1} x)", R"({"a":1}{})", "{'a':1}", R"({"a":01})",
        R"({"a":NaN})", R"({"a":"\x"})", "{\"a\":\"\x01\"}", "{\"a\":\"\xff\"}", "{\"a\":\"\xc3\"}",
        R"({"a":tru})"}) {
    INFO(bad);
    CHECK(refused(bad).find("the body is not valid JSON") != std::string::npos);
  }
  // A UTF-8 lead byte at the very end: the reader takes its continuation bytes unchecked, which
  // read past the copy's terminator (ASan: heap-buffer-overflow). Long enough for the heap.
  for (std::string_view lead : {"\xc3", "\xe2", "\xf0", "\xf0\x9f", "\xf0\x9f\x98"}) {
    std::string body = R"({"key":")" + std::string(40, 'a') + std::string(lead);
    INFO(body.size());
    CHECK(refused(body).find("the body is not valid JSON") != std::string::npos);
  }
  // A NUL would end the reader's input early: the rest must not be ignored.
  CHECK(refused(std::string_view("{\"a\":1}\0garbage", 15)).find("not valid JSON") !=
        std::string::npos);
}

TEST_CASE("Deep nesting is refused without walking it") {
  std::string deep(200000, '[');
  CHECK(refused(deep).find("nests too deeply") != std::string::npos);
  std::string wide = R"({"a":)" + std::string(40, '[') + std::string(40, ']') + "}";
  CHECK(refused(wide).find("nests too deeply") != std::string::npos);
  CHECK(accepted(R"({"a":[[[[1]]]]})").find("a")->kind == JsonScalar::Kind::COMPOUND);
}

TEST_CASE("Mutated bodies: the flat parser agrees with the DOM parser") {
  const std::vector<std::string> seeds = {
      R"({"userId":"user-123","resource":"workflow","metric":"count","amount":1})",
      R"({"key":"API_KEY","value":"s3cr\u00e9t\n","expiresAt":"2030-01-01T00:00:00Z"})",
      R"({"reservationId":"r-1","amount":0,"timestamp":1700000000000,"n":null,"b":false})",
      R"({"a":[1,{"b":"c"}],"d":-0,"e":1e3,"f":-9223372036854775808,"g":9223372036854775808})",
  };
  const std::string tokens[] = {"{",        "}",    "[",    "]", ",",    ":",    "\"",
                                "\\",       "1",    "-",    ".", "e",    "null", "true",
                                "\xc3\xa9", "\xff", "\x01", " ", "\\u00"};
  std::mt19937 rng(20261128);  // Fixed: a failure reproduces.
  for (auto& seed : seeds) CHECK(agreesWithDom(seed));
  int valid = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string body = seeds[rng() % seeds.size()];
    for (int edits = 1 + rng() % 4; edits > 0 && !body.empty(); --edits) {
      size_t at = rng() % body.size();
      switch (rng() % 4) {
        case 0: body.erase(at, 1 + rng() % 3); break;
        case 1: body.insert(at, tokens[rng() % std::size(tokens)]); break;
        case 2: body[at] = static_cast<char>(rng() % 256); break;
        case 3: body.resize(at); break;
      }
    }
    valid += agreesWithDom(body);
  }
  // Both sides of the comparison were exercised.
  CHECK(valid > 500);
  CHECK(valid < 19500);
}

}  // namespace
}  // namespace tenantd
