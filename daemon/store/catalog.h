#pragma once
// Tenants and API tokens in the store. Used by the offline CLI directly (its own connection, safe
// beside a running daemon thanks to WAL and the busy timeout) and by the daemon through the
// writer. Business outcomes are return values; SQLite faults are exceptions.

#include "auth/token.h"
#include "core/tenant.h"
#include "sqlite.h"

#include <optional>
#include <string>
#include <vector>

namespace tenantd {

struct TokenRecord {
  std::string id;
  std::string tenantId;
  Role role = Role::READER;
  int64_t createdAtMs = 0;
  std::optional<int64_t> expiresAtMs;
  std::optional<int64_t> revokedAtMs;
};

class Catalog {
public:
  explicit Catalog(Db& db);

  enum class Created { CREATED, ALREADY_EXISTS };
  Created createTenant(const Tenant& tenant);
  // Replaces name, plan, timezone and limits; false if there is no such tenant.
  bool updateTenant(const Tenant& tenant);
  std::optional<Tenant> findTenant(std::string_view id);
  std::vector<Tenant> listTenants();

  enum class TokenAdded { ADDED, NO_SUCH_TENANT };
  TokenAdded addToken(const TokenRecord& token, const TokenHash& hash);
  enum class Revoked { REVOKED, NOT_FOUND, ALREADY_REVOKED };
  Revoked revokeToken(std::string_view id, int64_t nowMs);
  std::optional<TokenRecord> findTokenByHash(const TokenHash& hash);
  std::optional<std::string> tenantOfToken(std::string_view tokenId);
  std::vector<TokenRecord> listTokens(std::string_view tenantId);
  // Every token with its hash (the daemon's in-memory index).
  std::vector<std::pair<TokenHash, TokenRecord>> listAllTokens();
  // One tenant's tokens with their hashes (what a central's feed sends).
  std::vector<std::pair<TokenHash, TokenRecord>> tokensWithHashes(
      std::optional<std::string_view> tenantId);

  // PRAGMA integrity_check, foreign keys, schema version and our own invariants. Empty: healthy.
  std::vector<std::string> check();

private:
  TokenRecord readToken(Statement& stmt);

  Db& db_;
  Statement insertTenant_;
  Statement selectTenant_;
  Statement selectTenants_;
  Statement insertToken_;
  Statement selectRevoked_;
  Statement updateRevoked_;
  Statement selectTokenByHash_;
  Statement selectTokensOfTenant_;
  Statement selectAllTokens_;
};

}  // namespace tenantd
