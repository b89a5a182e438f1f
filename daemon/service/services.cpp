#include "services.h"

#include "store/catalog.h"

namespace tenantd {

size_t Services::load(Db& db) {
  limits.loadAll(db);
  auth.replaceAll(Catalog(db).listAllTokens());
  return limits.tenantCount();
}

}  // namespace tenantd
