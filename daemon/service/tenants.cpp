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

bool Tenants::retire(std::string_view tenantId) {
  auto it = tenants_.find(std::string(tenantId));
  if (it == tenants_.end()) return false;
  retired_.push_back(std::move(it->second));
  tenants_.erase(it);
  return true;
}

bool Tenants::restore(std::string_view tenantId) {
  for (auto it = retired_.rbegin(); it != retired_.rend(); ++it) {
    if ((*it)->info.id != tenantId || tenants_.count((*it)->info.id)) continue;
    std::string id = (*it)->info.id;
    tenants_.emplace(std::move(id), std::move(*it));
    retired_.erase(std::next(it).base());
    return true;
  }
  return false;
}

std::vector<std::string> Tenants::ids() const {
  std::vector<std::string> ids;
  ids.reserve(tenants_.size());
  for (auto& [id, t] : tenants_) ids.push_back(id);
  return ids;
}

}  // namespace tenantd
