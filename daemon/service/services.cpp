#include "services.h"

#include "service/tenant-loader.h"
#include "store/catalog.h"

namespace tenantd {

size_t Services::load(Db& db) {
  loadTenants(db, tenants, clock.now(), log);
  auth.replaceAll(Catalog(db).listAllTokens());
  return tenants.size();
}

}  // namespace tenantd
