#include "tenant.h"

namespace tenantd {

std::string_view roleName(Role role) {
  return role == Role::ADMIN ? "admin" : "reader";
}

std::optional<Role> parseRole(std::string_view text) {
  if (text == "admin") return Role::ADMIN;
  if (text == "reader") return Role::READER;
  return std::nullopt;
}

namespace {
bool isLower(char c) {
  return c >= 'a' && c <= 'z';
}
bool isDigit(char c) {
  return c >= '0' && c <= '9';
}
bool isAlnum(char c) {
  return isLower(c) || isDigit(c) || (c >= 'A' && c <= 'Z');
}
}  // namespace

bool isValidTenantId(std::string_view id) {
  if (id.empty() || id.size() > 64 || !isAlnum(id[0])) return false;
  for (char c : id) {
    if (!isAlnum(c) && c != '_' && c != '.' && c != '-') return false;
  }
  return true;
}

bool isValidPlan(std::string_view plan) {
  if (plan.empty() || plan.size() > 32 || !isLower(plan[0])) return false;
  for (char c : plan) {
    if (!isLower(c) && !isDigit(c) && c != '_' && c != '-') return false;
  }
  return true;
}

bool isValidTenantName(std::string_view name) {
  if (name.empty() || name.size() > 200) return false;
  for (unsigned char c : name) {
    if (c < 0x20 || c == 0x7f) return false;
  }
  return true;
}

}  // namespace tenantd
