#pragma once
// Every service of the daemon, built once over one Writer in the order they depend on each
// other, by the daemon and by the tests alike (so what a test wires is what runs). The daemon
// owns one; REST and RPC handlers hold references to its members, which are never null.
//
// Destruction (reverse order) needs the batcher idle first (`batcher.idle()`): it rejects what
// is still waiting, so the daemon's drain waits for it before destroying this.

#include "loop/worker.h"
#include "service/app-rate-limit.h"
#include "service/auth.h"
#include "service/catalog-service.h"
#include "service/limits-service.h"
#include "service/readiness.h"
#include "service/secrets-service.h"
#include "service/settings-service.h"
#include "service/tenants.h"
#include "service/usage-batcher.h"
#include "store/writer.h"
#include "util/metrics.h"

namespace tenantd {

class Services {
public:
  Services(Writer& writer, const Keyring& keyring, const Clock& clock, Log& log, Metrics& metrics,
           Quotas quotas = {}, DocumentBounds bounds = {})
      : clock(clock),
        log(log),
        metrics(metrics),
        tenants(log),
        auth(clock),
        batcher(writer),
        limits(tenants, batcher, writer, worker, clock, log, quotas, bounds),
        secrets(writer, keyring, clock, log, metrics),
        settings(writer, worker, clock, log, bounds),
        catalog(writer, tenants, auth, clock, log),
        appRateLimits(clock),
        readiness(clock, writer.health()) {}
  KJ_DISALLOW_COPY(Services);

  // Start-up, before serving: every tenant's whole state and the token index, from `db` (a
  // connection of its own; the writer thread is idle). Returns the number of tenants.
  size_t load(Db& db);

  // Large documents are prepared here, off the event loop; destroyed last, after every service
  // that submits to it.
  Worker worker;
  const Clock& clock;
  Log& log;
  Metrics& metrics;  // Each surface resolves its own series in it.
  Tenants tenants;   // Every tenant's state: the one owner.
  Auth auth;
  UsageBatcher batcher;
  LimitsService limits;
  SecretsService secrets;
  SettingsService settings;
  CatalogService catalog;
  AppRateLimiter appRateLimits;  // Tenant.rateLimit: buckets apart from REST's.
  Readiness readiness;
};

}  // namespace tenantd
