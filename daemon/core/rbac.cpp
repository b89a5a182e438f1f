#include "rbac.h"

namespace tenantd {

Rbac Rbac::defaults() {
  Rbac r;
  r.roles = {RbacRole{"viewer", "", {"read"}}, RbacRole{"admin", "", {"read", "write", "delete"}}};
  return r;
}

const RbacRole* Rbac::find(std::string_view name) const {
  for (auto& role : roles) {
    if (role.name == name) return &role;
  }
  return nullptr;
}

namespace {
bool grants(std::string_view granted, std::string_view wanted) {
  if (granted == wanted || granted == "*") return true;
  // "prefix*" matches everything that starts with "prefix".
  if (!granted.empty() && granted.back() == '*') {
    std::string_view prefix = granted.substr(0, granted.size() - 1);
    return wanted.substr(0, prefix.size()) == prefix;
  }
  return false;
}

bool lowerStart(char c) {
  return c >= 'a' && c <= 'z';
}
}  // namespace

bool Rbac::hasPermission(std::string_view role, std::string_view permission) const {
  const RbacRole* r = find(role);
  if (r == nullptr) return false;
  for (auto& p : r->permissions) {
    if (grants(p, permission)) return true;
  }
  return false;
}

bool isValidRoleName(std::string_view name) {
  if (name.empty() || name.size() > 64 || !lowerStart(name[0])) return false;
  for (char c : name) {
    if (!lowerStart(c) && !(c >= '0' && c <= '9') && c != '_' && c != '-') return false;
  }
  return true;
}

bool isValidPermission(std::string_view p) {
  if (p.empty() || p.size() > 64) return false;
  if (!lowerStart(p[0]) && p != "*") return false;
  for (char c : p) {
    bool ok = lowerStart(c) || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == ':' ||
              c == '*' || c == '-';
    if (!ok) return false;
  }
  return true;
}

}  // namespace tenantd
