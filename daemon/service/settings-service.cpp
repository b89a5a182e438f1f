#include "settings-service.h"

#include "contract.h"

#include <algorithm>

namespace tenantd {

SettingsService::SettingsService(Writer& writer, const Clock& clock, Log& log)
    : writer_(writer), clock_(clock), log_(log) {}

kj::Promise<SaveOutcome> SettingsService::saveConfig(TenantState& t, TenantConfig config,
                                                     std::optional<int64_t> ifMatch,
                                                     std::string actor) {
  UnixMillis now = clock_.now();
  std::string tenantId = t.info.id;
  std::string doc = config.doc.dump();
  std::vector<std::string> secrets = config.credentialSecrets;
  auto names = config.doc.value("credentials", nlohmann::json::object());
  return writer_
      .submit<SaveOutcome>(
          [tenantId, doc, secrets, names, ifMatch, actor, now](WriterContext& ctx) {
            SettingsStore& store = ctx.settings();
            SaveOutcome out;
            int64_t current = 0;
            if (auto existing = store.getConfig(tenantId)) current = existing->version;
            if (ifMatch && *ifMatch != current) {
              out.kind = SaveOutcome::Kind::STALE;
              out.version = current;
              return out;
            }
            auto known = ctx.secrets().names(tenantId);
            for (auto& [credential, ref] : names.items()) {
              if (std::find(known.begin(), known.end(), ref.get<std::string>()) == known.end()) {
                out.kind = SaveOutcome::Kind::MISSING_SECRET;
                out.field = "credentials." + credential;
                return out;
              }
            }
            out.version = store.putConfig(tenantId, doc, now);
            ctx.secrets().audit({0, tenantId, now, actor, "config.put", "config", out.version});
            return out;
          })
      .then([this, &t, config = std::move(config), actor](SaveOutcome out) mutable {
        if (out.kind == SaveOutcome::Kind::SAVED) {
          t.config = std::move(config);
          t.configVersion = out.version;
          log_.info("audit", "tenant " + t.info.id + ": configuration version " +
                                 std::to_string(out.version) + " saved by " + actor);
          notifyConfigChanged(t.info.id);
        }
        return out;
      });
}

ConfigSubscription::~ConfigSubscription() {
  settings_.unwatch(tenantId_, listener_);
}

kj::Own<ConfigSubscription> SettingsService::watchConfig(std::string tenantId,
                                                         ConfigListener& listener) {
  configWatchers_[tenantId].push_back(&listener);
  return kj::heap<ConfigSubscription>(*this, std::move(tenantId), listener);
}

size_t SettingsService::configWatchers() const {
  size_t n = 0;
  for (auto& [tenant, listeners] : configWatchers_) n += listeners.size();
  return n;
}

void SettingsService::unwatch(const std::string& tenantId, ConfigListener& listener) {
  auto it = configWatchers_.find(tenantId);
  if (it == configWatchers_.end()) return;
  auto& listeners = it->second;
  listeners.erase(std::remove(listeners.begin(), listeners.end(), &listener), listeners.end());
  if (listeners.empty()) configWatchers_.erase(it);
}

void SettingsService::notifyConfigChanged(const std::string& tenantId) {
  auto it = configWatchers_.find(tenantId);
  if (it == configWatchers_.end()) return;
  // A copy: a listener may unsubscribe others (or itself) while being told; each one is
  // called only while still registered.
  std::vector<ConfigListener*> listeners = it->second;
  for (ConfigListener* listener : listeners) {
    auto live = configWatchers_.find(tenantId);
    if (live == configWatchers_.end()) return;
    auto& now = live->second;
    if (std::find(now.begin(), now.end(), listener) != now.end()) listener->configChanged();
  }
}

kj::Promise<SaveOutcome> SettingsService::createRole(TenantState& t, RbacRole role,
                                                     std::string actor) {
  return changeRole(t, RoleChange::CREATE, std::move(role), std::move(actor));
}
kj::Promise<SaveOutcome> SettingsService::updateRole(TenantState& t, RbacRole role,
                                                     std::string actor) {
  return changeRole(t, RoleChange::UPDATE, std::move(role), std::move(actor));
}
kj::Promise<SaveOutcome> SettingsService::deleteRole(TenantState& t, std::string name,
                                                     std::string actor) {
  RbacRole role;
  role.name = std::move(name);
  return changeRole(t, RoleChange::DELETE, std::move(role), std::move(actor));
}

kj::Promise<SaveOutcome> SettingsService::changeRole(TenantState& t, RoleChange change,
                                                     RbacRole role, std::string actor) {
  UnixMillis now = clock_.now();
  std::string tenantId = t.info.id;
  struct Result {
    SaveOutcome outcome;
    Rbac rbac;
  };
  return writer_
      .submit<Result>([tenantId, change, role, actor, now](WriterContext& ctx) {
        SettingsStore& store = ctx.settings();
        Result r;
        r.rbac = Rbac::defaults();
        if (auto stored = store.getRbac(tenantId)) {
          auto parsed = parseRbac(nlohmann::json::parse(stored->doc));
          if (auto* rbac = std::get_if<Rbac>(&parsed)) r.rbac = std::move(*rbac);
        }
        auto it = std::find_if(r.rbac.roles.begin(), r.rbac.roles.end(),
                               [&](const RbacRole& x) { return x.name == role.name; });
        bool exists = it != r.rbac.roles.end();
        const char* action = "rbac.role.create";
        switch (change) {
          case RoleChange::CREATE:
            if (exists) {
              r.outcome.kind = SaveOutcome::Kind::CONFLICT;
              return r;
            }
            // Every role write re-serialises the whole document on the writer: bounded.
            if (r.rbac.roles.size() >= contract::MAX_ROLES) {
              r.outcome.kind = SaveOutcome::Kind::TOO_MANY;
              r.outcome.field = "roles";
              r.outcome.message = "at most 64 roles per tenant; delete one first";
              return r;
            }
            r.rbac.roles.push_back(role);
            break;
          case RoleChange::UPDATE:
            if (!exists) {
              r.outcome.kind = SaveOutcome::Kind::NOT_FOUND;
              return r;
            }
            *it = role;
            action = "rbac.role.update";
            break;
          case RoleChange::DELETE:
            if (!exists) {
              r.outcome.kind = SaveOutcome::Kind::NOT_FOUND;
              return r;
            }
            if (role.name == r.rbac.defaultRole) {
              r.outcome.kind = SaveOutcome::Kind::CONFLICT;
              return r;
            }
            r.rbac.roles.erase(it);
            action = "rbac.role.delete";
            break;
        }
        std::string doc = rbacToJson(r.rbac).dump();
        // Every role write re-reads and re-writes the whole document on the one writer thread.
        if (doc.size() > contract::MAX_RBAC_BYTES && change != RoleChange::DELETE) {
          r.outcome.kind = SaveOutcome::Kind::TOO_MANY;
          r.outcome.field = "roles";
          r.outcome.message = "the roles would take over 65536 bytes; shorten or delete some";
          return r;
        }
        r.outcome.version = store.putRbac(tenantId, doc, now);
        ctx.secrets().audit({0, tenantId, now, actor, action, role.name, r.outcome.version});
        return r;
      })
      .then([this, &t, actor](Result r) {
        if (r.outcome.kind == SaveOutcome::Kind::SAVED) {
          t.rbac = std::move(r.rbac);
          t.rbacVersion = r.outcome.version;
          log_.info("audit", "tenant " + t.info.id + ": roles version " +
                                 std::to_string(r.outcome.version) + " saved by " + actor);
        }
        return r.outcome;
      });
}

kj::Promise<UsageTotals> SettingsService::totals(std::string tenantId, Window range) {
  return writer_.submit<UsageTotals>(
      [tenantId, range](WriterContext& ctx) { return ctx.settings().totals(tenantId, range); });
}

kj::Promise<std::vector<DayUsage>> SettingsService::days(std::string tenantId, Window range,
                                                         const date::time_zone* zone) {
  return writer_.submit<std::vector<DayUsage>>([tenantId, range, zone](WriterContext& ctx) {
    return ctx.settings().days(tenantId, range, zone);
  });
}

}  // namespace tenantd
