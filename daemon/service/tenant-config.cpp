#include "tenant-config.h"

#include "contract.h"

#include "service/secrets-service.h"

#include <set>

namespace tenantd {

namespace {
bool isWholeNumber(const nlohmann::json& v) {
  return v.is_number_integer() || v.is_number_unsigned();
}

std::optional<RuleError> onlyFields(const nlohmann::json& object, const std::string& at,
                                    std::initializer_list<const char*> allowed) {
  for (auto& [key, value] : object.items()) {
    bool known = false;
    for (const char* a : allowed) known = known || key == a;
    if (!known) return RuleError{at.empty() ? key : at + "." + key, "unknown field"};
  }
  return std::nullopt;
}

std::variant<RateLimit, RuleError> parseLimit(const nlohmann::json& v, const std::string& at) {
  if (!v.is_object()) return RuleError{at, "expected {max, windowSeconds}"};
  if (auto e = onlyFields(v, at, {"max", "windowSeconds"})) return *e;
  RateLimit limit;
  // Not 0: a limit that admits nothing would refuse the tenant even the save that lifts it
  // (forbidding a route is RBAC's job).
  if (!v.contains("max") || !isWholeNumber(v["max"]) || v["max"].get<int64_t>() < 1 ||
      v["max"].get<int64_t>() > 1'000'000'000) {
    return RuleError{at + ".max", "required integer from 1 to 1000000000"};
  }
  limit.max = v["max"].get<int64_t>();
  if (v.contains("windowSeconds")) {
    if (!isWholeNumber(v["windowSeconds"]) || v["windowSeconds"].get<int64_t>() < 1 ||
        v["windowSeconds"].get<int64_t>() > 86400) {
      return RuleError{at + ".windowSeconds", "integer from 1 to 86400"};
    }
    limit.windowSeconds = v["windowSeconds"].get<int64_t>();
  }
  return limit;
}

const std::set<std::string> METHODS = {"get", "post", "put", "patch", "delete", "head", "options"};
}  // namespace

bool isRateLimitRoute(std::string_view route) {
  if (route.empty() || route.size() > contract::MAX_ROUTE_BYTES) return false;
  size_t space = route.find(' ');
  if (space == 0 || space == std::string_view::npos || space + 1 == route.size() ||
      route[space + 1] != '/') {
    return false;
  }
  for (char c : route.substr(0, space)) {
    if (c < 'A' || c > 'Z') return false;
  }
  return true;
}

std::optional<RateLimit> RateLimitConfig::limitFor(std::string_view method,
                                                   std::string_view path) const {
  if (!enabled) return std::nullopt;
  std::string key = std::string(method) + " " + std::string(path);
  auto it = routes.find(key);
  if (it != routes.end()) return it->second;
  return defaultLimit;
}

std::variant<TenantConfig, RuleError> parseTenantConfig(const nlohmann::json& doc) {
  if (!doc.is_object()) return RuleError{"", "expected a JSON object"};
  if (auto e = onlyFields(doc, "", {"routes", "credentials", "rateLimit", "cache", "webhooks"})) {
    return *e;
  }
  TenantConfig config;
  config.doc = doc;
  if (doc.contains("routes")) {
    auto& routes = doc["routes"];
    if (!routes.is_array()) return RuleError{"routes", "expected an array"};
    for (size_t i = 0; i < routes.size(); ++i) {
      std::string at = "routes[" + std::to_string(i) + "]";
      auto& r = routes[i];
      if (!r.is_object()) return RuleError{at, "expected {path, method, description?}"};
      if (auto e = onlyFields(r, at, {"path", "method", "description"})) return *e;
      if (!r.contains("path") || !r["path"].is_string() ||
          r["path"].get_ref<const std::string&>().empty() ||
          r["path"].get_ref<const std::string&>()[0] != '/' ||
          r["path"].get_ref<const std::string&>().size() > 256) {
        return RuleError{at + ".path", "required string starting with '/', at most 256 bytes"};
      }
      if (!r.contains("method") || !r["method"].is_string() ||
          !METHODS.count(r["method"].get<std::string>())) {
        return RuleError{at + ".method", "one of get, post, put, patch, delete, head, options"};
      }
      if (r.contains("description") &&
          (!r["description"].is_string() ||
           r["description"].get_ref<const std::string&>().size() > 512)) {
        return RuleError{at + ".description", "string of at most 512 bytes"};
      }
    }
  }
  if (doc.contains("credentials")) {
    auto& creds = doc["credentials"];
    if (!creds.is_object()) return RuleError{"credentials", "expected an object"};
    for (auto& [name, ref] : creds.items()) {
      // A credential names a secret of this tenant; its value lives in the secret store.
      if (!ref.is_string() || !isValidSecretName(ref.get<std::string>())) {
        return RuleError{"credentials." + name,
                         "must name a secret (POST /tenant/secrets), never hold a value"};
      }
      config.credentialSecrets.push_back(ref.get<std::string>());
    }
  }
  if (doc.contains("rateLimit")) {
    auto& rl = doc["rateLimit"];
    if (!rl.is_object()) return RuleError{"rateLimit", "expected an object"};
    if (auto e = onlyFields(rl, "rateLimit", {"enabled", "default", "routes"})) return *e;
    if (rl.contains("enabled")) {
      if (!rl["enabled"].is_boolean()) return RuleError{"rateLimit.enabled", "expected a boolean"};
      config.rateLimit.enabled = rl["enabled"].get<bool>();
    }
    if (rl.contains("default")) {
      auto limit = parseLimit(rl["default"], "rateLimit.default");
      if (auto* e = std::get_if<RuleError>(&limit)) return *e;
      config.rateLimit.defaultLimit = std::get<RateLimit>(limit);
    }
    if (rl.contains("routes")) {
      if (!rl["routes"].is_object()) return RuleError{"rateLimit.routes", "expected an object"};
      for (auto& [route, value] : rl["routes"].items()) {
        if (!isRateLimitRoute(route)) {
          return RuleError{"rateLimit.routes." + route,
                           "keys look like \"GET /tenant/info\": a method in capitals, a space, "
                           "a path, at most " +
                               std::to_string(contract::MAX_ROUTE_BYTES) + " bytes"};
        }
        auto limit = parseLimit(value, "rateLimit.routes." + route);
        if (auto* e = std::get_if<RuleError>(&limit)) return *e;
        config.rateLimit.routes.emplace(route, std::get<RateLimit>(limit));
      }
    }
  }
  if (doc.contains("cache") && !doc["cache"].is_object()) {
    return RuleError{"cache", "expected an object"};
  }
  if (doc.contains("webhooks")) {
    auto& hooks = doc["webhooks"];
    if (!hooks.is_array()) return RuleError{"webhooks", "expected an array"};
    for (size_t i = 0; i < hooks.size(); ++i) {
      if (!hooks[i].is_object()) {
        return RuleError{"webhooks[" + std::to_string(i) + "]", "expected an object"};
      }
    }
  }
  return config;
}

std::variant<RbacRole, RuleError> parseRole(const nlohmann::json& doc,
                                            std::optional<std::string> name,
                                            size_t maxPermissions) {
  if (!doc.is_object()) return RuleError{"", "expected a JSON object"};
  RbacRole role;
  if (name) {
    if (auto e = onlyFields(doc, "", {"description", "permissions"})) return *e;
    role.name = *name;
  } else {
    if (auto e = onlyFields(doc, "", {"name", "description", "permissions"})) return *e;
    if (!doc.contains("name") || !doc["name"].is_string() ||
        !isValidRoleName(doc["name"].get<std::string>())) {
      return RuleError{"name", "required, [a-z][a-z0-9_-]{0,63}"};
    }
    role.name = doc["name"].get<std::string>();
  }
  if (doc.contains("description")) {
    if (!doc["description"].is_string() ||
        doc["description"].get_ref<const std::string&>().size() > 256) {
      return RuleError{"description", "string of at most 256 bytes"};
    }
    role.description = doc["description"].get<std::string>();
  }
  if (!doc.contains("permissions") || !doc["permissions"].is_array() ||
      doc["permissions"].size() > maxPermissions) {
    return RuleError{"permissions", "required array of at most " + std::to_string(maxPermissions) +
                                        " permissions"};
  }
  for (size_t i = 0; i < doc["permissions"].size(); ++i) {
    auto& p = doc["permissions"][i];
    if (!p.is_string() || !isValidPermission(p.get<std::string>())) {
      return RuleError{"permissions[" + std::to_string(i) + "]", "[a-z][a-z0-9_.:*-]{0,63}"};
    }
    role.permissions.push_back(p.get<std::string>());
  }
  return role;
}

std::variant<TenantConfig, RuleError> parseNewConfig(const nlohmann::json& doc,
                                                     const DocumentBounds& bounds) {
  auto over = [&](const nlohmann::json& list, const char* field, size_t bound) {
    return list.size() > bound ? std::optional<RuleError>(RuleError{
                                     field, "at most " + std::to_string(bound) + " entries"})
                               : std::nullopt;
  };
  if (doc.is_object()) {
    if (doc.contains("routes")) {
      if (auto e = over(doc["routes"], "routes", bounds.configRoutes)) return *e;
    }
    if (doc.contains("webhooks")) {
      if (auto e = over(doc["webhooks"], "webhooks", bounds.webhooks)) return *e;
    }
    if (doc.contains("rateLimit") && doc["rateLimit"].is_object() &&
        doc["rateLimit"].contains("routes")) {
      if (auto e = over(doc["rateLimit"]["routes"], "rateLimit.routes", bounds.configRoutes)) {
        return *e;
      }
    }
  }
  return parseTenantConfig(doc);
}

std::variant<Rbac, RuleError> parseRbac(const nlohmann::json& doc) {
  if (!doc.is_object()) return RuleError{"", "expected a JSON object"};
  Rbac rbac;
  rbac.enabled = doc.value("enabled", true);
  rbac.defaultRole = doc.value("defaultRole", std::string("viewer"));
  if (!doc.contains("roles") || !doc["roles"].is_array())
    return RuleError{"roles", "expected an array"};
  for (auto& r : doc["roles"]) {
    auto role = parseRole(r, std::nullopt, SIZE_MAX);
    if (auto* e = std::get_if<RuleError>(&role)) return *e;
    rbac.roles.push_back(std::get<RbacRole>(role));
  }
  return rbac;
}

nlohmann::json rbacToJson(const Rbac& rbac) {
  nlohmann::json roles = nlohmann::json::array();
  for (auto& r : rbac.roles) {
    nlohmann::json j = {{"name", r.name}, {"permissions", r.permissions}};
    if (!r.description.empty()) j["description"] = r.description;
    roles.push_back(j);
  }
  return {{"enabled", rbac.enabled}, {"defaultRole", rbac.defaultRole}, {"roles", roles}};
}

}  // namespace tenantd
