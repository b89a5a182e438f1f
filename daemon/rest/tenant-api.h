#pragma once
// REST endpoints for the tenant's own settings and reports: /tenant/config (ETag, If-Match),
// /tenant/rbac and its roles, /tenant/info, /usage/summary and /usage/history.

#include "rest-context.h"
#include "service/settings-service.h"

namespace tenantd {

void addTenantRoutes(Router& router, RestContext& ctx, SettingsService& settings);

}  // namespace tenantd
