#include "documents.h"

#include "service/rules-json.h"

namespace tenantd {

NewRules newRules(std::vector<Rule> rules) {
  std::string json = rulesToJson(rules).dump();
  return {std::move(rules), std::move(json)};
}

Prepared<NewRules> prepareRules(std::string_view text, const DocumentBounds& bounds) {
  auto doc = parseJsonInput(text, bounds.jsonDepth);
  if (auto* e = std::get_if<JsonInputError>(&doc)) return *e;
  auto parsed = parseNewRules(std::get<nlohmann::json>(doc), bounds);
  if (auto* e = std::get_if<RuleError>(&parsed)) return *e;
  NewRules out;
  out.rules = std::get<std::vector<Rule>>(std::move(parsed));
  out.json = rulesToJson(out.rules).dump();
  return out;
}

Prepared<RbacRole> prepareRole(std::string_view text, std::optional<std::string> name,
                               const DocumentBounds& bounds) {
  auto doc = parseJsonInput(text, bounds.jsonDepth);
  if (auto* e = std::get_if<JsonInputError>(&doc)) return *e;
  auto parsed =
      parseRole(std::get<nlohmann::json>(doc), std::move(name), bounds.permissionsPerRole);
  if (auto* e = std::get_if<RuleError>(&parsed)) return *e;
  return std::get<RbacRole>(std::move(parsed));
}

Prepared<NewConfig> prepareConfig(std::string_view text, const DocumentBounds& bounds) {
  auto doc = parseJsonInput(text, bounds.jsonDepth);
  if (auto* e = std::get_if<JsonInputError>(&doc)) return *e;
  auto parsed = parseNewConfig(std::get<nlohmann::json>(doc), bounds);
  if (auto* e = std::get_if<RuleError>(&parsed)) return *e;
  NewConfig out;
  out.config = std::get<TenantConfig>(std::move(parsed));
  out.json = out.config.doc.dump();
  return out;
}

}  // namespace tenantd
