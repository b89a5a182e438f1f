#pragma once
// The feed's payload (docs/SYNC.md, "What travels"): a central's version and the complete
// documents of the tenants that changed. Parsing is where a sidecar decides whether to take a
// payload at all, so every field is checked here by the validators REST input goes through
// (checkTenantFields, parseNewConfig, parseNewRules, parseRole with the host's DocumentBounds):
// a central cannot hand a sidecar what its own API would refuse. The first problem refuses the
// whole payload and names the tenant, the field and why. Writing is the central's side, so the
// format is defined once.

#include "auth/token.h"
#include "core/bounds.h"
#include "core/rbac.h"
#include "core/rules.h"
#include "core/tenant.h"
#include "service/documents.h"
#include "store/catalog.h"
#include "util/clock.h"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace tenantd::sync {

// A versioned document as it will be stored (`json`, canonical) and used (`value`).
template <typename T>
struct Versioned {
  int64_t version = 0;
  T value;
  std::string json;
};

struct SyncedToken {
  TokenRecord record;
  TokenHash hash;
};

// A secret value sealed (crypto_box_seal) to the recipient key named by `recipient`.
struct SyncedSecret {
  std::string name;
  int64_t version = 0;
  std::optional<UnixMillis> expiresAt;
  std::string recipient;  // keyIdOf() of the X25519 public key it is sealed to.
  std::string sealed;
};

struct TenantDocument {
  Tenant info;
  std::optional<Versioned<TenantConfig>> config;  // nullopt: the tenant has none (GET says {}).
  std::optional<Versioned<Rbac>> rbac;            // nullopt: the default roles.
  std::optional<Versioned<std::vector<Rule>>> rules;
  std::vector<SyncedToken> tokens;
  std::vector<SyncedSecret> secrets;  // By name.
};

struct SyncPayload {
  std::string central;  // The central's id: a sidecar follows one central.
  int64_t version = 0;
  bool full = false;  // Every tenant the central holds; any other is to be deleted.
  std::vector<TenantDocument> tenants;
  std::vector<std::string> deleted;
};

// Why a payload was refused: which tenant (empty for the payload itself), which field (as the
// document names it, "tenants[3].rules[0].limit"), and why in words. Never quotes a value.
struct PayloadError {
  std::string tenant;
  std::string field;
  std::string message;
  std::string describe() const;
};

// The payload's bytes (an envelope's, already verified) checked against `bounds`.
std::variant<SyncPayload, PayloadError> parsePayload(std::string_view bytes,
                                                     const DocumentBounds& bounds);

// The central's side: one tenant's document as the feed carries it. `config`, `rbac` and
// `rules` are the stored canonical texts with their versions.
struct StoredDocuments {
  Tenant info;
  std::optional<std::pair<std::string, int64_t>> config, rbac, rules;
  std::vector<std::pair<TokenHash, TokenRecord>> tokens;
  std::vector<SyncedSecret> secrets;
};
std::string writePayload(std::string_view central, int64_t version, bool full,
                         const std::vector<StoredDocuments>& tenants,
                         const std::vector<std::string>& deleted);

}  // namespace tenantd::sync
