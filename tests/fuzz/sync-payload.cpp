// Fuzzes the feed's payload parser (sync/document.h): any bytes through parsePayload() with the
// schema's bounds, under ASan and UBSan. It is the second gate after the signature, and the one
// a compromised central's key would reach. A refusal must name why; an accepted payload must
// hold only valid, distinct tenant ids and documents within the bounds.

#include <cstdint>
#include <cstdlib>
#include <set>
#include <string>

#include "sync/document.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tenantd;
  DocumentBounds bounds;
  std::string bytes(reinterpret_cast<const char*>(data), size);
  auto parsed = sync::parsePayload(bytes, bounds);
  if (auto* e = std::get_if<sync::PayloadError>(&parsed)) {
    if (e->message.empty()) std::abort();
    return 0;
  }
  auto& p = std::get<sync::SyncPayload>(parsed);
  if (p.version < 0 || p.central.empty()) std::abort();
  std::set<std::string> ids;
  for (auto& t : p.tenants) {
    if (!isValidTenantId(t.info.id) || !ids.insert(t.info.id).second) std::abort();
    if (t.rules && t.rules->value.size() > bounds.rules) std::abort();
    if (t.rbac && t.rbac->json.size() > bounds.rbacBytes) std::abort();
  }
  for (auto& id : p.deleted) {
    if (!isValidTenantId(id) || ids.count(id)) std::abort();
  }
  return 0;
}
