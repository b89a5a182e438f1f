#include "tenant.h"

#include <date/tz.h>

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
  if (id.empty() || id.size() > contract::MAX_TENANT_ID_BYTES || !isAlnum(id[0])) return false;
  for (char c : id) {
    if (!isAlnum(c) && c != '_' && c != '.' && c != '-') return false;
  }
  return true;
}

bool isValidPlan(std::string_view plan) {
  if (plan.empty() || plan.size() > contract::MAX_PLAN_BYTES || !isLower(plan[0])) return false;
  for (char c : plan) {
    if (!isLower(c) && !isDigit(c) && c != '_' && c != '-') return false;
  }
  return true;
}

bool isValidTenantName(std::string_view name) {
  if (name.empty() || name.size() > contract::MAX_TENANT_NAME_BYTES) return false;
  for (unsigned char c : name) {
    if (c < 0x20 || c == 0x7f) return false;
  }
  return true;
}

bool isKnownTimezone(std::string_view name) {
  if (name == "UTC") return true;
  try {
    date::locate_zone(std::string(name));
    return true;
  } catch (const std::exception&) {
    return false;
  }
}

std::optional<contract::FieldError> checkTenantFields(const TenantFields& f) {
  static_assert(contract::MAX_TENANT_NAME_BYTES == 200 && contract::MAX_PLAN_BYTES == 32);
  if (f.name && !isValidTenantName(*f.name)) {
    return contract::FieldError{"name", "1-200 bytes without control characters"};
  }
  if (f.plan && !isValidPlan(*f.plan)) {
    return contract::FieldError{"plan", "1-32 lowercase letters, digits, '_', '-'"};
  }
  if (f.timezone && !isKnownTimezone(*f.timezone)) {
    return contract::FieldError{"timezone", "an IANA name such as Europe/Berlin"};
  }
  return std::nullopt;
}

}  // namespace tenantd
