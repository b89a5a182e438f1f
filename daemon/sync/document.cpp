#include "sync/document.h"

#include "service/json-input.h"
#include "service/rules-json.h"
#include "service/secrets-service.h"
#include "service/tenant-config.h"
#include "sync/base64.h"

#include <sodium.h>

#include <algorithm>
#include <set>

namespace tenantd::sync {

namespace {

using nlohmann::json;

// The feed adds four levels around a tenant's documents: payload, tenants[], the document, and
// the {version, body} wrapper.
constexpr int FEED_LEVELS = 4;
constexpr size_t MAX_CENTRAL_ID_BYTES = 128;
constexpr size_t MAX_TOKEN_ID_BYTES = 64;

// Thrown inside the parser only, and caught at its top: the first problem ends the parse.
struct Refusal {
  std::string field;
  std::string message;
};

[[noreturn]] void refuse(std::string field, std::string message) {
  throw Refusal{std::move(field), std::move(message)};
}

const json& member(const json& object, const char* key, const std::string& at) {
  auto it = object.find(key);
  if (it == object.end()) refuse(at + key, "is missing");
  return *it;
}

const json& objectAt(const json& object, const char* key, const std::string& at) {
  const json& v = member(object, key, at);
  if (!v.is_object()) refuse(at + key, "expected an object");
  return v;
}

const json& arrayAt(const json& object, const char* key, const std::string& at) {
  const json& v = member(object, key, at);
  if (!v.is_array()) refuse(at + key, "expected an array");
  return v;
}

std::string stringAt(const json& object, const char* key, const std::string& at) {
  const json& v = member(object, key, at);
  if (!v.is_string()) refuse(at + key, "expected a string");
  return v.get<std::string>();
}

int64_t intAt(const json& object, const char* key, const std::string& at, int64_t min) {
  const json& v = member(object, key, at);
  if (!v.is_number_integer() || (v.is_number_unsigned() && v.get<uint64_t>() > INT64_MAX)) {
    refuse(at + key, "expected an integer");
  }
  int64_t n = v.get<int64_t>();
  if (n < min) refuse(at + key, "must be at least " + std::to_string(min));
  return n;
}

// Absent or null: nullopt.
std::optional<int64_t> optionalIntAt(const json& object, const char* key, const std::string& at) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return std::nullopt;
  return intAt(object, key, at, 0);
}

bool boolAt(const json& object, const char* key, const std::string& at) {
  const json& v = member(object, key, at);
  if (!v.is_boolean()) refuse(at + key, "expected true or false");
  return v.get<bool>();
}

// {"version": n, "body": …} or null, with `parse(body, at + "body")` giving the value and its
// canonical text.
template <typename T, typename F>
std::optional<Versioned<T>> versionedAt(const json& doc, const char* key, const std::string& at,
                                        F parse) {
  auto it = doc.find(key);
  if (it == doc.end() || it->is_null()) return std::nullopt;
  std::string here = at + key + ".";
  if (!it->is_object()) refuse(at + key, "expected an object or null");
  Versioned<T> out;
  out.version = intAt(*it, "version", here, 1);
  auto [value, text] = parse(member(*it, "body", here), here + "body");
  out.value = std::move(value);
  out.json = std::move(text);
  return out;
}

void refuseRuleError(const std::string& at, const RuleError& e) {
  refuse(e.field.empty() ? at : at + (e.field.front() == '[' ? "" : ".") + e.field, e.message);
}

Tenant parseInfo(const std::string& id, const json& info, const std::string& at) {
  Tenant t;
  t.id = id;
  t.name = stringAt(info, "name", at);
  t.plan = stringAt(info, "plan", at);
  t.timezone = stringAt(info, "timezone", at);
  if (auto e = checkTenantFields({t.name, t.plan, t.timezone}))
    refuse(at + std::string(e->field), std::string(e->message));
  t.createdAtMs = intAt(info, "createdAt", at, 0);
  auto limitsIt = info.find("limits");
  if (limitsIt != info.end() && !limitsIt->is_null()) {
    if (!limitsIt->is_object()) refuse(at + "limits", "expected an object");
    std::string l = at + "limits.";
    t.apiCallsLimit = optionalIntAt(*limitsIt, "apiCalls", l);
    t.llmTokensLimit = optionalIntAt(*limitsIt, "llmTokens", l);
    t.storageLimit = optionalIntAt(*limitsIt, "storage", l);
  }
  return t;
}

std::pair<Rbac, std::string> parseRbacBody(const json& body, const std::string& at,
                                           const DocumentBounds& bounds) {
  if (!body.is_object()) refuse(at, "expected an object");
  std::string here = at + ".";
  Rbac rbac;
  rbac.enabled = boolAt(body, "enabled", here);
  rbac.defaultRole = stringAt(body, "defaultRole", here);
  const json& roles = arrayAt(body, "roles", here);
  if (roles.size() > bounds.roles) {
    refuse(here + "roles", "at most " + std::to_string(bounds.roles) + " roles per tenant");
  }
  std::set<std::string> names;
  for (size_t i = 0; i < roles.size(); ++i) {
    std::string r = here + "roles[" + std::to_string(i) + "]";
    auto role = parseRole(roles[i], std::nullopt, bounds.permissionsPerRole);
    if (auto* e = std::get_if<RuleError>(&role)) refuseRuleError(r, *e);
    auto& parsed = std::get<RbacRole>(role);
    if (!names.insert(parsed.name).second) refuse(r + ".name", "names a role twice");
    rbac.roles.push_back(std::move(parsed));
  }
  if (!rbac.find(rbac.defaultRole)) refuse(here + "defaultRole", "names no role of the list");
  std::string text = rbacToJson(rbac).dump();
  if (text.size() > bounds.rbacBytes) {
    refuse(here + "roles", "over " + std::to_string(bounds.rbacBytes) + " bytes");
  }
  return {std::move(rbac), std::move(text)};
}

std::optional<TokenHash> hashFromHex(const std::string& hex) {
  TokenHash hash{};
  size_t length = 0;
  if (hex.size() != hash.size() * 2 ||
      sodium_hex2bin(hash.data(), hash.size(), hex.data(), hex.size(), nullptr, &length, nullptr) !=
          0 ||
      length != hash.size()) {
    return std::nullopt;
  }
  return hash;
}

bool isTokenId(std::string_view id) {
  return !id.empty() && id.size() <= MAX_TOKEN_ID_BYTES &&
         std::all_of(id.begin(), id.end(), [](char c) {
           return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
         });
}

std::vector<SyncedToken> parseTokens(const std::string& tenantId, const json& tokens,
                                     const std::string& at) {
  std::vector<SyncedToken> out;
  std::set<std::string> ids;
  for (size_t i = 0; i < tokens.size(); ++i) {
    std::string here = at + "[" + std::to_string(i) + "].";
    const json& t = tokens[i];
    if (!t.is_object()) refuse(at + "[" + std::to_string(i) + "]", "expected an object");
    SyncedToken token;
    token.record.tenantId = tenantId;
    token.record.id = stringAt(t, "id", here);
    if (!isTokenId(token.record.id)) refuse(here + "id", "is not a token id");
    if (!ids.insert(token.record.id).second) refuse(here + "id", "names a token twice");
    auto role = parseRole(stringAt(t, "role", here));
    if (!role) refuse(here + "role", "must be admin or reader");
    token.record.role = *role;
    auto hash = hashFromHex(stringAt(t, "hash", here));
    if (!hash) refuse(here + "hash", "expected 64 hex digits");
    token.hash = *hash;
    token.record.createdAtMs = intAt(t, "createdAt", here, 0);
    token.record.expiresAtMs = optionalIntAt(t, "expiresAt", here);
    token.record.revokedAtMs = optionalIntAt(t, "revokedAt", here);
    out.push_back(std::move(token));
  }
  return out;
}

std::vector<SyncedSecret> parseSecrets(const json& secrets, const std::string& at) {
  std::vector<SyncedSecret> out;
  for (size_t i = 0; i < secrets.size(); ++i) {
    std::string here = at + "[" + std::to_string(i) + "].";
    const json& s = secrets[i];
    if (!s.is_object()) refuse(at + "[" + std::to_string(i) + "]", "expected an object");
    SyncedSecret secret;
    secret.name = stringAt(s, "name", here);
    if (!isValidSecretName(secret.name)) refuse(here + "name", "is not a secret name");
    secret.version = intAt(s, "version", here, 1);
    secret.expiresAt = optionalIntAt(s, "expiresAt", here);
    secret.recipient = stringAt(s, "recipient", here);
    auto sealed = fromBase64(stringAt(s, "sealed", here));
    if (!sealed) refuse(here + "sealed", "expected base64");
    if (sealed->size() < crypto_box_SEALBYTES ||
        sealed->size() > MAX_SECRET_BYTES + crypto_box_SEALBYTES) {
      refuse(here + "sealed",
             "is not a sealed value of at most " + std::to_string(MAX_SECRET_BYTES) + " bytes");
    }
    secret.sealed = std::move(*sealed);
    out.push_back(std::move(secret));
  }
  std::sort(out.begin(), out.end(), [](auto& a, auto& b) { return a.name < b.name; });
  for (size_t i = 1; i < out.size(); ++i) {
    if (out[i].name == out[i - 1].name) refuse(at, "names a secret twice");
  }
  return out;
}

TenantDocument parseDocument(const json& doc, const std::string& at, const DocumentBounds& bounds) {
  if (!doc.is_object()) refuse(at, "expected an object");
  std::string here = at + ".";
  TenantDocument out;
  std::string id = stringAt(doc, "id", here);
  if (!isValidTenantId(id)) refuse(here + "id", "is not a tenant id");
  out.info = parseInfo(id, objectAt(doc, "info", here), here + "info.");
  out.config = versionedAt<TenantConfig>(
      doc, "config", here, [&](const json& body, const std::string& where) {
        if (body.dump().size() > bounds.configBytes) {
          refuse(where, "over " + std::to_string(bounds.configBytes) + " bytes");
        }
        auto parsed = parseNewConfig(body, bounds);
        if (auto* e = std::get_if<RuleError>(&parsed)) refuseRuleError(where, *e);
        auto& config = std::get<TenantConfig>(parsed);
        std::string text = config.doc.dump();
        return std::make_pair(std::move(config), std::move(text));
      });
  out.rbac = versionedAt<Rbac>(doc, "rbac", here, [&](const json& body, const std::string& where) {
    return parseRbacBody(body, where, bounds);
  });
  out.rules = versionedAt<std::vector<Rule>>(
      doc, "rules", here, [&](const json& body, const std::string& where) {
        auto parsed = parseNewRules(body, bounds);
        if (auto* e = std::get_if<RuleError>(&parsed)) refuseRuleError(where, *e);
        auto& rules = std::get<std::vector<Rule>>(parsed);
        std::string text = rulesToJson(rules).dump();
        return std::make_pair(std::move(rules), std::move(text));
      });
  out.tokens = parseTokens(id, arrayAt(doc, "tokens", here), here + "tokens");
  out.secrets = parseSecrets(arrayAt(doc, "secrets", here), here + "secrets");
  return out;
}

}  // namespace

std::string PayloadError::describe() const {
  std::string out = tenant.empty() ? "payload" : "tenant " + tenant;
  if (!field.empty()) out += ": " + field;
  return out + ": " + message;
}

std::variant<SyncPayload, PayloadError> parsePayload(std::string_view bytes,
                                                     const DocumentBounds& bounds) {
  auto parsed = parseJsonInput(bytes, bounds.jsonDepth + FEED_LEVELS);
  if (auto* e = std::get_if<JsonInputError>(&parsed)) {
    return PayloadError{"", "", "the payload is " + e->message};
  }
  const json& root = std::get<json>(parsed);
  SyncPayload out;
  std::string tenant;  // The document being read, for the error.
  try {
    if (!root.is_object()) refuse("", "expected an object");
    out.central = stringAt(root, "central", "");
    if (out.central.empty() || out.central.size() > MAX_CENTRAL_ID_BYTES) {
      refuse("central", "must be 1 to " + std::to_string(MAX_CENTRAL_ID_BYTES) + " bytes");
    }
    out.version = intAt(root, "version", "", 0);
    out.full = boolAt(root, "full", "");
    const json& tenants = arrayAt(root, "tenants", "");
    std::set<std::string> seen;
    for (size_t i = 0; i < tenants.size(); ++i) {
      const json& doc = tenants[i];
      tenant = doc.is_object() && doc.contains("id") && doc["id"].is_string() &&
                       isValidTenantId(doc["id"].get<std::string>())
                   ? doc["id"].get<std::string>()
                   : "";
      out.tenants.push_back(parseDocument(doc, "tenants[" + std::to_string(i) + "]", bounds));
      if (!seen.insert(out.tenants.back().info.id).second) {
        refuse("tenants[" + std::to_string(i) + "].id", "names a tenant twice");
      }
    }
    tenant.clear();
    const json& deleted = arrayAt(root, "deleted", "");
    for (size_t i = 0; i < deleted.size(); ++i) {
      std::string at = "deleted[" + std::to_string(i) + "]";
      if (!deleted[i].is_string() || !isValidTenantId(deleted[i].get<std::string>())) {
        refuse(at, "is not a tenant id");
      }
      if (seen.count(deleted[i].get<std::string>())) refuse(at, "is also among the tenants");
      out.deleted.push_back(deleted[i].get<std::string>());
    }
  } catch (Refusal& r) {
    return PayloadError{tenant, r.field, r.message};
  }
  return out;
}

namespace {
json versioned(const std::optional<std::pair<std::string, int64_t>>& doc) {
  if (!doc) return nullptr;
  // Our own canonical text, written by this daemon's validators.
  return {{"version", doc->second}, {"body", json::parse(doc->first)}};
}

json nullable(std::optional<int64_t> v) {
  return v ? json(*v) : json(nullptr);
}

std::string hex(const TokenHash& hash) {
  char out[sizeof(TokenHash) * 2 + 1];
  sodium_bin2hex(out, sizeof(out), hash.data(), hash.size());
  return out;
}
}  // namespace

std::string writePayload(std::string_view central, int64_t version, bool full,
                         const std::vector<StoredDocuments>& tenants,
                         const std::vector<std::string>& deleted) {
  json docs = json::array();
  for (auto& t : tenants) {
    json tokens = json::array();
    for (auto& [hash, record] : t.tokens) {
      tokens.push_back({{"id", record.id},
                        {"role", roleName(record.role)},
                        {"hash", hex(hash)},
                        {"createdAt", record.createdAtMs},
                        {"expiresAt", nullable(record.expiresAtMs)},
                        {"revokedAt", nullable(record.revokedAtMs)}});
    }
    json secrets = json::array();
    for (auto& s : t.secrets) {
      secrets.push_back({{"name", s.name},
                         {"version", s.version},
                         {"expiresAt", nullable(s.expiresAt)},
                         {"recipient", s.recipient},
                         {"sealed", toBase64(s.sealed)}});
    }
    docs.push_back({{"id", t.info.id},
                    {"info",
                     {{"name", t.info.name},
                      {"plan", t.info.plan},
                      {"timezone", t.info.timezone},
                      {"createdAt", t.info.createdAtMs},
                      {"limits",
                       {{"apiCalls", nullable(t.info.apiCallsLimit)},
                        {"llmTokens", nullable(t.info.llmTokensLimit)},
                        {"storage", nullable(t.info.storageLimit)}}}}},
                    {"config", versioned(t.config)},
                    {"rbac", versioned(t.rbac)},
                    {"rules", versioned(t.rules)},
                    {"tokens", std::move(tokens)},
                    {"secrets", std::move(secrets)}});
  }
  json payload = {{"central", central},
                  {"version", version},
                  {"full", full},
                  {"tenants", std::move(docs)},
                  {"deleted", deleted}};
  return payload.dump();
}

}  // namespace tenantd::sync
