#pragma once
// The daemon's services wired as Daemon::start() wires them, over a real SQLite store in a fresh
// directory, with a ManualClock: for module tests above the store (service-test, rpc-test).
// The thread must already run a kj event loop; `waitScope` is that loop's.

#include "service/auth.h"
#include "service/catalog-service.h"
#include "service/limits-service.h"
#include "service/secrets-service.h"
#include "service/settings-service.h"
#include "service/usage-batcher.h"
#include "store/catalog.h"
#include "store/schema.h"
#include "support/secret-keys.h"
#include "support/temp-dir.h"

#include <sodium.h>

#include <initializer_list>
#include <string>

namespace tenantd::testing {

struct ServiceStack {
  kj::WaitScope& waitScope;
  TempDir dir;
  std::string path = dir.file("t.db");
  ManualClock clock{10'000};
  Log log{Log::Sink::STDERR, LogLevel::ERROR};
  Metrics metrics;
  Keyring keyring;
  Auth auth{clock};
  kj::Own<Writer> writer;
  kj::Own<UsageBatcher> batcher;
  kj::Own<LimitsService> limits;
  kj::Own<SecretsService> secrets;
  kj::Own<SettingsService> settings;
  kj::Own<CatalogService> catalog;

  // Each of `tenants` exists (plan "pro", UTC) before the services load.
  ServiceStack(kj::WaitScope& waitScope, std::initializer_list<const char*> tenants)
      : waitScope(waitScope) {
    KJ_ASSERT(sodium_init() >= 0);
    {
      Db db(path, {});
      migrate(db);
      for (const char* id : tenants) {
        Catalog(db).createTenant(
            Tenant{id, std::string("Tenant ") + id, "pro", "UTC", 0, {}, {}, {}});
      }
    }
    keyring.setPrimary(randomKey());
    DbOptions options;
    options.open = DbOptions::Open::READ_WRITE;
    writer = kj::heap<Writer>(path, options, log);
    batcher = kj::heap<UsageBatcher>(*writer);
    limits = kj::heap<LimitsService>(*batcher, *writer, clock, log);
    {
      Db db(path, {});
      limits->loadAll(db);
      auth.replaceAll(Catalog(db).listAllTokens());
    }
    secrets = kj::heap<SecretsService>(*writer, keyring, clock, log, metrics);
    settings = kj::heap<SettingsService>(*writer, clock, log);
    catalog = kj::heap<CatalogService>(*writer, *limits, auth, clock, log);
  }
  ~ServiceStack() noexcept(false) { batcher->idle().wait(waitScope); }
  KJ_DISALLOW_COPY(ServiceStack);

  TenantState& tenant(const char* id) {
    TenantState* t = limits->find(id);
    KJ_ASSERT(t != nullptr, id);
    return *t;
  }
  // Saves a configuration document as POST /tenant/config does; returns its version.
  int64_t saveConfig(const char* tenantId, const nlohmann::json& doc) {
    auto parsed = parseTenantConfig(doc);
    KJ_ASSERT(std::holds_alternative<TenantConfig>(parsed));
    auto out = settings
                   ->saveConfig(tenant(tenantId), std::get<TenantConfig>(std::move(parsed)),
                                std::nullopt, "test")
                   .wait(waitScope);
    KJ_ASSERT(out.kind == SaveOutcome::Kind::SAVED);
    return out.version;
  }
  std::vector<AuditRow> auditOf(const char* tenantId) {
    return secrets->audit(tenantId, 100, std::nullopt).wait(waitScope);
  }
};

}  // namespace tenantd::testing
