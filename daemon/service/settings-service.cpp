#include "settings-service.h"

#include "contract.h"

#include <algorithm>

namespace tenantd {

SettingsService::SettingsService(Writer& writer, Worker& worker, const Clock& clock, Log& log,
                                 DocumentBounds bounds)
    : writer_(writer), worker_(worker), bounds_(bounds), clock_(clock), log_(log) {}

kj::Promise<Prepared<NewConfig>> SettingsService::prepareConfig(std::string text) {
  return worker_.run<Prepared<NewConfig>>(
      [text = kj::mv(text), bounds = bounds_]() { return tenantd::prepareConfig(text, bounds); });
}

kj::Promise<Prepared<RbacRole>> SettingsService::prepareRole(std::string text,
                                                             std::optional<std::string> name) {
  return worker_.run<Prepared<RbacRole>>(
      [text = kj::mv(text), name = kj::mv(name), bounds = bounds_]() mutable {
        return tenantd::prepareRole(text, kj::mv(name), bounds);
      });
}

kj::Promise<SaveOutcome> SettingsService::saveConfig(TenantState& t, NewConfig prepared,
                                                     IfVersions ifVersions, std::string actor) {
  UnixMillis now = clock_.now();
  std::string tenantId = t.info.id;
  TenantConfig config = kj::mv(prepared.config);
  std::string doc = kj::mv(prepared.json);
  auto names = config.doc.value("credentials", nlohmann::json::object());
  return writer_
      .submit<SaveOutcome>([tenantId, doc = kj::mv(doc), names, ifVersions = kj::mv(ifVersions),
                            actor, now](WriterContext& ctx) {
        SettingsStore& store = ctx.settings();
        SaveOutcome out;
        int64_t current = 0;
        if (auto existing = store.getConfig(tenantId)) current = existing->version;
        if (ifVersions &&
            std::find(ifVersions->begin(), ifVersions->end(), current) == ifVersions->end()) {
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

void SettingsService::mirrorConfig(TenantState& t, std::optional<TenantConfig> config,
                                   int64_t version) {
  int64_t next = config ? version : 0;
  // The feed resends a changed tenant whole: an unchanged configuration is not news.
  if (next == t.configVersion &&
      (config ? config->doc : nlohmann::json::object()) == t.config.doc) {
    return;
  }
  t.config = config ? kj::mv(*config) : TenantConfig{};
  t.configVersion = next;
  notifyConfigChanged(t.info.id);
}

void SettingsService::mirrorRoles(TenantState& t, std::optional<Rbac> rbac, int64_t version) {
  t.rbac = rbac ? kj::mv(*rbac) : Rbac::defaults();
  t.rbacVersion = rbac ? version : 0;
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
  // One tenant's role changes run one after another, each from the roles the last one left, so
  // the document is edited in memory (TenantState::rbac is what the store holds) and never
  // re-read. The next change waits for this one's end, whatever becomes of its caller.
  auto turn = kj::mv(t.roleChanges)
                  .then([this, &t, change, role = kj::mv(role), actor = kj::mv(actor)]() mutable {
                    return applyRoleChange(t, change, kj::mv(role), kj::mv(actor));
                  })
                  .fork();
  t.roleChanges = turn.addBranch().then([](SaveOutcome) {}, [](kj::Exception&&) {});
  return turn.addBranch();
}

kj::Promise<SaveOutcome> SettingsService::applyRoleChange(TenantState& t, RoleChange change,
                                                          RbacRole role, std::string actor) {
  SaveOutcome refused;
  std::string name = role.name;  // For the audit row: `role` moves into the roles below.
  Rbac next = t.rbac;
  auto it = std::find_if(next.roles.begin(), next.roles.end(),
                         [&](const RbacRole& x) { return x.name == role.name; });
  bool exists = it != next.roles.end();
  const char* action = "rbac.role.create";
  switch (change) {
    case RoleChange::CREATE:
      if (exists) {
        refused.kind = SaveOutcome::Kind::CONFLICT;
        return refused;
      }
      if (next.roles.size() >= bounds_.roles) {
        refused.kind = SaveOutcome::Kind::TOO_MANY;
        refused.field = "roles";
        refused.message =
            "at most " + std::to_string(bounds_.roles) + " roles per tenant; delete one first";
        return refused;
      }
      next.roles.push_back(kj::mv(role));
      break;
    case RoleChange::UPDATE:
      if (!exists) {
        refused.kind = SaveOutcome::Kind::NOT_FOUND;
        return refused;
      }
      *it = kj::mv(role);
      action = "rbac.role.update";
      break;
    case RoleChange::DELETE:
      if (!exists) {
        refused.kind = SaveOutcome::Kind::NOT_FOUND;
        return refused;
      }
      if (role.name == next.defaultRole) {
        refused.kind = SaveOutcome::Kind::CONFLICT;
        return refused;
      }
      next.roles.erase(it);
      action = "rbac.role.delete";
      break;
  }
  struct Edited {
    Rbac rbac;
    std::string doc;
  };
  // Serialising up to 64 KiB of roles takes ~1 ms: on the worker, not the loop or the writer.
  return worker_
      .run<Edited>([next = kj::mv(next)]() mutable {
        std::string doc = rbacToJson(next).dump();
        return Edited{kj::mv(next), kj::mv(doc)};
      })
      .then([this, &t, change, action, name = kj::mv(name),
             actor = kj::mv(actor)](Edited edited) mutable -> kj::Promise<SaveOutcome> {
        if (edited.doc.size() > bounds_.rbacBytes && change != RoleChange::DELETE) {
          SaveOutcome over;
          over.kind = SaveOutcome::Kind::TOO_MANY;
          over.field = "roles";
          over.message = "the roles would take over " + std::to_string(bounds_.rbacBytes) +
                         " bytes; shorten or delete some";
          return over;
        }
        UnixMillis now = clock_.now();
        int64_t expected = t.rbacVersion + 1;
        return writer_
            .submit<SaveOutcome>([tenantId = t.info.id, doc = kj::mv(edited.doc), expected, action,
                                  name, actor, now](WriterContext& ctx) {
              SaveOutcome out;
              out.version = ctx.settings().putRbac(tenantId, doc, now);
              // Only this service writes roles, one change at a time per tenant.
              KJ_REQUIRE(out.version == expected, "the stored roles changed under the daemon",
                         tenantId, out.version, expected);
              ctx.secrets().audit({0, tenantId, now, actor, action, name, out.version});
              return out;
            })
            .then([this, &t, actor, rbac = kj::mv(edited.rbac)](SaveOutcome out) mutable {
              t.rbac = kj::mv(rbac);
              t.rbacVersion = out.version;
              log_.info("audit", "tenant " + t.info.id + ": roles version " +
                                     std::to_string(out.version) + " saved by " + actor);
              return out;
            });
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
