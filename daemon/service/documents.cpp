#include "documents.h"

#include "service/rules-json.h"

namespace tenantd {

namespace {
// The text parsed within the depth bound, then `validate(doc)`: its value or the first refusal.
template <typename V, typename F>
std::variant<V, JsonInputError, RuleError> parseThen(std::string_view text, int maxDepth,
                                                     F validate) {
  auto doc = parseJsonInput(text, maxDepth);
  if (auto* e = std::get_if<JsonInputError>(&doc)) return *e;
  auto parsed = validate(std::get<nlohmann::json>(doc));
  if (auto* e = std::get_if<RuleError>(&parsed)) return *e;
  return std::get<V>(std::move(parsed));
}
}  // namespace

NewRules newRules(std::vector<Rule> rules) {
  std::string json = rulesToJson(rules).dump();
  return {std::move(rules), std::move(json)};
}

Prepared<NewRules> prepareRules(std::string_view text, const DocumentBounds& bounds) {
  auto rules = parseThen<std::vector<Rule>>(text, bounds.jsonDepth, [&](const nlohmann::json& doc) {
    return parseNewRules(doc, bounds);
  });
  if (auto* r = std::get_if<std::vector<Rule>>(&rules)) return newRules(std::move(*r));
  if (auto* e = std::get_if<JsonInputError>(&rules)) return *e;
  return std::get<RuleError>(rules);
}

Prepared<RbacRole> prepareRole(std::string_view text, std::optional<std::string> name,
                               const DocumentBounds& bounds) {
  return parseThen<RbacRole>(text, bounds.jsonDepth, [&](const nlohmann::json& doc) {
    return parseRole(doc, std::move(name), bounds.permissionsPerRole);
  });
}

Prepared<NewConfig> prepareConfig(std::string_view text, const DocumentBounds& bounds) {
  auto config = parseThen<TenantConfig>(text, bounds.jsonDepth, [&](const nlohmann::json& doc) {
    return parseNewConfig(doc, bounds);
  });
  if (auto* c = std::get_if<TenantConfig>(&config)) {
    std::string json = c->doc.dump();
    return NewConfig{std::move(*c), std::move(json)};
  }
  if (auto* e = std::get_if<JsonInputError>(&config)) return *e;
  return std::get<RuleError>(config);
}

}  // namespace tenantd
