#include "sync/document.h"

#include <sodium.h>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <functional>

namespace tenantd::sync {

namespace {
using nlohmann::json;

// One tenant with every kind of document, as a central writes it.
StoredDocuments acme() {
  StoredDocuments d;
  d.info = Tenant{"acme", "Acme", "pro", "Europe/Paris", 1000, 100, std::nullopt, 5};
  d.config = std::make_pair(R"({"cache":{"ttl":60}})", int64_t{3});
  d.rbac = std::make_pair(
      R"({"enabled":true,"defaultRole":"viewer","roles":[{"name":"viewer","permissions":["read"]}]})",
      int64_t{2});
  d.rules = std::make_pair(
      R"([{"resource":"llm","metric":"tokens","period":"day","limit":100,"gateAction":"block"}])",
      int64_t{4});
  TokenRecord token;
  token.id = "tok_0123456789abcdef";
  token.tenantId = "acme";
  token.role = Role::READER;
  token.createdAtMs = 7;
  token.expiresAtMs = 9;
  TokenHash hash{};
  hash.fill(0xab);
  d.tokens.emplace_back(hash, token);
  d.secrets.push_back({"stripe_key", 5, std::nullopt, "0011223344556677",
                       std::string(crypto_box_SEALBYTES + 3, 'x')});
  return d;
}

json payloadJson() {
  return json::parse(writePayload("c1", 42, false, {acme()}, {"gone"}));
}

PayloadError refusalOf(const json& payload) {
  auto parsed = parsePayload(payload.dump(), {});
  REQUIRE(std::holds_alternative<PayloadError>(parsed));
  return std::get<PayloadError>(parsed);
}
}  // namespace

TEST_CASE("A payload the central writes parses back to the same documents") {
  auto parsed = parsePayload(payloadJson().dump(), {});
  if (auto* e = std::get_if<PayloadError>(&parsed)) FAIL(e->describe());
  auto& p = std::get<SyncPayload>(parsed);
  CHECK(p.central == "c1");
  CHECK(p.version == 42);
  CHECK_FALSE(p.full);
  CHECK(p.deleted == std::vector<std::string>{"gone"});
  REQUIRE(p.tenants.size() == 1);
  auto& t = p.tenants[0];
  CHECK(t.info.name == "Acme");
  CHECK(t.info.timezone == "Europe/Paris");
  CHECK(t.info.createdAtMs == 1000);
  CHECK(t.info.apiCallsLimit == 100);
  CHECK_FALSE(t.info.llmTokensLimit.has_value());
  CHECK(t.info.storageLimit == 5);
  REQUIRE(t.config);
  CHECK(t.config->version == 3);
  CHECK(t.config->json == R"({"cache":{"ttl":60}})");
  REQUIRE(t.rbac);
  CHECK(t.rbac->version == 2);
  CHECK(t.rbac->value.roles.size() == 1);
  REQUIRE(t.rules);
  CHECK(t.rules->version == 4);
  CHECK(t.rules->value.size() == 1);
  REQUIRE(t.tokens.size() == 1);
  CHECK(t.tokens[0].record.id == "tok_0123456789abcdef");
  CHECK(t.tokens[0].record.role == Role::READER);
  CHECK(t.tokens[0].record.expiresAtMs == 9);
  CHECK(t.tokens[0].hash[0] == 0xab);
  REQUIRE(t.secrets.size() == 1);
  CHECK(t.secrets[0].version == 5);
  CHECK(t.secrets[0].sealed.size() == crypto_box_SEALBYTES + 3);
}

TEST_CASE("A payload with one bad field is refused whole and the refusal names where") {
  struct Case {
    const char* what;
    std::function<void(json&)> spoil;
    std::string tenant, field, message;
  };
  std::vector<Case> cases = {
      {"not an object", [](json& p) { p = json::array(); }, "", "", "expected an object"},
      {"negative version", [](json& p) { p["version"] = -1; }, "", "version", "at least 0"},
      {"fractional version", [](json& p) { p["version"] = 1.5; }, "", "version", "integer"},
      {"no central", [](json& p) { p.erase("central"); }, "", "central", "missing"},
      {"bad tenant id", [](json& p) { p["tenants"][0]["id"] = "a b"; }, "", "tenants[0].id",
       "not a tenant id"},
      {"unknown timezone", [](json& p) { p["tenants"][0]["info"]["timezone"] = "Mars/Olympus"; },
       "acme", "tenants[0].info.timezone", ""},
      {"rule over its bounds", [](json& p) { p["tenants"][0]["rules"]["body"][0]["limit"] = -5; },
       "acme", "tenants[0].rules.body[0].limit", ""},
      {"config field unknown", [](json& p) { p["tenants"][0]["config"]["body"]["x"] = 1; }, "acme",
       "tenants[0].config.body.x", ""},
      {"default role missing",
       [](json& p) { p["tenants"][0]["rbac"]["body"]["defaultRole"] = "admin"; }, "acme",
       "tenants[0].rbac.body.defaultRole", "names no role"},
      {"token hash short", [](json& p) { p["tenants"][0]["tokens"][0]["hash"] = "abcd"; }, "acme",
       "tenants[0].tokens[0].hash", "64 hex"},
      {"token role unknown", [](json& p) { p["tenants"][0]["tokens"][0]["role"] = "root"; }, "acme",
       "tenants[0].tokens[0].role", "admin or reader"},
      {"secret not base64", [](json& p) { p["tenants"][0]["secrets"][0]["sealed"] = "%%"; }, "acme",
       "tenants[0].secrets[0].sealed", "base64"},
      {"secret name invalid", [](json& p) { p["tenants"][0]["secrets"][0]["name"] = "../x"; },
       "acme", "tenants[0].secrets[0].name", "not a secret name"},
      {"tenant twice", [](json& p) { p["tenants"].push_back(p["tenants"][0]); }, "acme",
       "tenants[1].id", "twice"},
      {"deleted and sent", [](json& p) { p["deleted"].push_back("acme"); }, "", "deleted[1]",
       "also among the tenants"},
  };
  for (auto& c : cases) {
    INFO(c.what);
    json p = payloadJson();
    c.spoil(p);
    auto e = refusalOf(p);
    CHECK(e.tenant == c.tenant);
    CHECK(e.field == c.field);
    CHECK(e.message.find(c.message) != std::string::npos);
  }
}

TEST_CASE("A payload's documents are held to this host's bounds, tighter ones included") {
  DocumentBounds tight;
  tight.rules = 0;
  auto parsed = parsePayload(payloadJson().dump(), tight);
  REQUIRE(std::holds_alternative<PayloadError>(parsed));
  CHECK(std::get<PayloadError>(parsed).field.starts_with("tenants[0].rules.body"));

  // Nesting past the bound is refused while parsing, before any document is read.
  json deep = payloadJson();
  json nested = 1;
  for (int i = 0; i < 100; ++i) nested = json::array({nested});
  deep["tenants"][0]["config"]["body"]["cache"] = {{"deep", nested}};
  CHECK(refusalOf(deep).message.find("nested deeper") != std::string::npos);
}

}  // namespace tenantd::sync
