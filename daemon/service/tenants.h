#pragma once
// Every tenant's state, by id: the one owner of TenantState, on the event-loop thread. States are
// built by loadTenant() (any thread, from the store) and adopted here; REST, RPC and the
// services look tenants up here and keep references only while a request runs.

#include "service/tenant-state.h"
#include "util/log.h"

#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace tenantd {

class Tenants {
public:
  explicit Tenants(Log& log) : log_(log) {}

  TenantState* find(std::string_view tenantId);
  // Takes a state built by loadTenant(). If the id is known already (a catalog reload and an
  // Admin create may both build the same new tenant), the one already here is kept.
  void adopt(std::unique_ptr<TenantState> tenant);
  // New name, plan and limits from the catalog; the plan picks tiers at once, a new timezone
  // only at restart (windows already counted stay in the old zone).
  void updateInfo(const Tenant& info);
  // The tenant stops being found (a central deleted it). Its state stays allocated until this
  // is destroyed: a request still running may hold a reference to it.
  bool retire(std::string_view tenantId);
  // Undoes retire() when what deleted the tenant did not commit.
  bool restore(std::string_view tenantId);
  size_t size() const { return tenants_.size(); }
  std::vector<std::string> ids() const;

  template <typename F>
  void forEach(F&& f) {
    for (auto& [id, t] : tenants_) f(*t);
  }

private:
  Log& log_;
  std::unordered_map<std::string, std::unique_ptr<TenantState>> tenants_;
  std::vector<std::unique_ptr<TenantState>> retired_;
};

}  // namespace tenantd
