#include "tenant-loader.h"

#include "service/json-input.h"
#include "service/rules-json.h"
#include "store/catalog.h"
#include "store/settings-store.h"
#include "store/usage-store.h"

#include <kj/debug.h>

#include <map>

namespace tenantd {

namespace {
const date::time_zone* zoneOrUtc(const std::string& name, Log& log, const std::string& tenantId) {
  if (name.empty() || name == "UTC") return nullptr;
  try {
    return date::locate_zone(name);
  } catch (const std::exception&) {
    log.warn("limits", "tenant " + tenantId + ": unknown timezone " + name + ", using UTC");
    return nullptr;
  }
}

// The configuration and role documents.
void loadSettings(Db& db, TenantState& t, Log& log) {
  SettingsStore store(db);
  if (auto config = store.getConfig(t.info.id)) {
    t.configVersion = config->version;
    auto doc = parseJsonInput(config->doc);
    if (auto* e = std::get_if<JsonInputError>(&doc)) {
      // Saved before documents were bounded. Served as {} (no REST rate limits) under its own
      // version, so a POST with If-Match replaces it; never dumped, so never a crash.
      log.warn("settings", "tenant " + t.info.id + ": stored configuration version " +
                               std::to_string(config->version) + " is " + e->message +
                               "; serving {} until it is replaced");
    } else {
      auto parsed = parseTenantConfig(std::get<nlohmann::json>(doc));
      if (auto* c = std::get_if<TenantConfig>(&parsed)) {
        t.config = std::move(*c);
      } else {
        // Saved under older rules (a rate limit of 0, a lower-case route method). Same
        // treatment as above, and said, so an operator knows why its rate limits are gone.
        auto& e = std::get<RuleError>(parsed);
        log.warn("settings", "tenant " + t.info.id + ": stored configuration version " +
                                 std::to_string(config->version) + " is no longer valid (" +
                                 e.field + ": " + e.message + "); serving {} until it is replaced");
      }
    }
  }
  if (auto rbac = store.getRbac(t.info.id)) {
    // Our own canonical document: parseRbac trusts its types.
    auto parsed = parseRbac(nlohmann::json::parse(rbac->doc));
    if (auto* r = std::get_if<Rbac>(&parsed)) t.rbac = std::move(*r);
    t.rbacVersion = rbac->version;
  }
}
}  // namespace

std::unique_ptr<TenantState> loadTenant(Db& db, const Tenant& tenant, UnixMillis now, Log& log) {
  auto t = std::make_unique<TenantState>(tenant, zoneOrUtc(tenant.timezone, log, tenant.id));
  UsageStore store(db);
  if (auto stored = store.loadRules(tenant.id)) {
    auto parsed = parseRules(nlohmann::json::parse(stored->json));
    if (auto* rules = std::get_if<std::vector<Rule>>(&parsed)) {
      t->limiter.setRules(*rules, {}, now);
      t->rulesJson = stored->json;
      t->rulesVersion = stored->version;
    } else {
      KJ_FAIL_ASSERT("stored rules do not parse", tenant.id, std::get<RuleError>(parsed).field);
    }
  }
  // Replay stored usage: record() counts what lies in each rule's current window and keeps
  // near-future buckets pending. One scan per (resource, metric), from its earliest window.
  std::map<std::pair<std::string, std::string>, UnixMillis> earliest;
  for (auto& r : t->limiter.rules()) {
    auto key = std::make_pair(r.resource, r.metric);
    UnixMillis start = windowAt(r.period, now, t->zone).start;
    auto it = earliest.find(key);
    if (it == earliest.end() || start < it->second) earliest[key] = start;
  }
  for (auto& [key, from] : earliest) {
    for (auto& b : store.loadUsage(tenant.id, key.first, key.second, from)) {
      t->limiter.record(b.userId, key.first, key.second, b.amount, b.bucket, now);
    }
  }
  for (auto& r : store.loadReservations(tenant.id)) t->limiter.restoreReservation(r, now);
  loadSettings(db, *t, log);
  return t;
}

void loadTenants(Db& db, Tenants& tenants, UnixMillis now, Log& log) {
  for (auto& tenant : Catalog(db).listTenants()) tenants.adopt(loadTenant(db, tenant, now, log));
  for (auto& id : UsageStore(db).loadTrackIds(now)) {
    if (auto* t = tenants.find(id.tenantId)) t->trackIds.restore(id.id, id.expiresAt);
  }
}

}  // namespace tenantd
