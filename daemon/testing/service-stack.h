#pragma once
// The daemon's services wired as Daemon::start() wires them, over a real SQLite store in a fresh
// directory, with a ManualClock: for module tests above the store (service-test, rpc-test).
// The thread must already run a kj event loop; `waitScope` is that loop's.

#include "service/services.h"
#include "store/catalog.h"
#include "store/schema.h"
#include "testing/secret-keys.h"
#include "testing/temp-dir.h"

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
  kj::Own<Writer> writer;
  kj::Own<Services> services;  // Built and loaded as Daemon::start() builds and loads them.
  // The names the tests use: members of `services`.
  Tenants* tenants = &services->tenants;
  Auth& auth = services->auth;
  UsageBatcher* batcher = &services->batcher;
  LimitsService* limits = &services->limits;
  SecretsService* secrets = &services->secrets;
  SettingsService* settings = &services->settings;
  CatalogService* catalog = &services->catalog;

  // Each of `tenants` exists (plan "pro", UTC) before the services load.
  ServiceStack(kj::WaitScope& waitScope, std::initializer_list<const char*> tenants)
      : waitScope(waitScope),
        writer(storeWith(tenants)),
        services(kj::heap<Services>(*writer, keyring, clock, log, metrics)) {
    Db db(path, {});
    services->load(db);
  }
  // A restart: the services over the store already at `existingPath`, the clock at `now`.
  ServiceStack(kj::WaitScope& waitScope, std::string existingPath, UnixMillis now)
      : waitScope(waitScope),
        path(std::move(existingPath)),
        clock(now),
        writer(storeWith({})),
        services(kj::heap<Services>(*writer, keyring, clock, log, metrics)) {
    Db db(path, {});
    services->load(db);
  }
  ~ServiceStack() noexcept(false) { batcher->idle().wait(waitScope); }
  KJ_DISALLOW_COPY(ServiceStack);

  // A migrated store holding `tenants`, and the writer over it; the keyring gets its key.
  kj::Own<Writer> storeWith(std::initializer_list<const char*> tenants) {
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
    return kj::heap<Writer>(path, options, log, metrics.store());
  }

  TenantState& tenant(const char* id) {
    TenantState* t = tenants->find(id);
    KJ_ASSERT(t != nullptr, id);
    return *t;
  }
  // Saves a configuration document as POST /tenant/config does; returns its version.
  int64_t saveConfig(const char* tenantId, const nlohmann::json& doc) {
    auto prepared = prepareConfig(doc.dump(), {});
    KJ_ASSERT(std::holds_alternative<NewConfig>(prepared));
    auto out = settings
                   ->saveConfig(tenant(tenantId), std::get<NewConfig>(std::move(prepared)),
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
