#include "tenants.h"

namespace tenantd {

TenantState* Tenants::find(std::string_view tenantId) {
  auto it = tenants_.find(std::string(tenantId));
  return it == tenants_.end() ? nullptr : it->second.get();
}

void Tenants::adopt(std::unique_ptr<TenantState> tenant) {
  std::string id = tenant->info.id;
  tenants_.emplace(std::move(id), std::move(tenant));
}

void Tenants::updateInfo(const Tenant& info) {
  TenantState* t = find(info.id);
  if (t == nullptr) return;
  if (info.timezone != t->info.timezone) {
    log_.warn("limits", "tenant " + info.id + ": a new timezone takes effect at restart");
  }
  std::string zone = t->info.timezone;
  if (info.plan != t->info.plan) t->limiter.setPlan(info.plan);
  t->info = info;
  t->info.timezone = zone;
}

std::vector<std::string> Tenants::ids() const {
  std::vector<std::string> ids;
  ids.reserve(tenants_.size());
  for (auto& [id, t] : tenants_) ids.push_back(id);
  return ids;
}

}  // namespace tenantd
