#pragma once
// The one way a TenantState comes to be: built whole from the store (rules, the usage in their
// current windows, open reservations, the configuration and role documents). Used at start, by
// the catalog reload and by Admin's createTenant (on the writer thread, then adopted on the
// loop thread), and by whatever else brings tenants in. Safe on any thread that owns `db`.

#include "service/tenants.h"
#include "store/sqlite.h"

#include <memory>

namespace tenantd {

std::unique_ptr<TenantState> loadTenant(Db& db, const Tenant& tenant, UnixMillis now, Log& log);
// Every tenant of the catalog, adopted into `tenants`, with their remembered track ids.
void loadTenants(Db& db, Tenants& tenants, UnixMillis now, Log& log);

}  // namespace tenantd
