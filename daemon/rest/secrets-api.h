#pragma once
// REST endpoints for tenant secrets (store, list names, delete: values never leave over REST)
// and the tenant's audit log.

#include "rest-context.h"
#include "service/secrets-service.h"

namespace tenantd {

void addSecretsRoutes(Router& router, RestContext& ctx, SecretsService& secrets);
void addAuditRoutes(Router& router, RestContext& ctx, SecretsService& secrets);

}  // namespace tenantd
