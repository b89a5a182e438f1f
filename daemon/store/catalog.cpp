#include "catalog.h"

#include "schema.h"

#include <kj/debug.h>

namespace tenantd {

Catalog::Catalog(Db& db)
    : db_(db),
      insertTenant_(db,
                    "INSERT INTO tenants (id, name, plan, timezone, created_at, "
                    "api_calls_limit, llm_tokens_limit, storage_limit) "
                    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT (id) DO NOTHING"),
      selectTenant_(
          db,
          "SELECT id, name, plan, timezone, created_at, api_calls_limit, llm_tokens_limit, "
          "storage_limit FROM tenants WHERE id = ?1"),
      selectTenants_(
          db,
          "SELECT id, name, plan, timezone, created_at, api_calls_limit, llm_tokens_limit, "
          "storage_limit FROM tenants ORDER BY id"),
      insertToken_(db,
                   "INSERT INTO tokens (id, tenant_id, role, hash, created_at, expires_at) "
                   "SELECT ?1, ?2, ?3, ?4, ?5, ?6 WHERE EXISTS "
                   "(SELECT 1 FROM tenants WHERE id = ?2)"),
      selectRevoked_(db, "SELECT revoked_at FROM tokens WHERE id = ?1"),
      updateRevoked_(db, "UPDATE tokens SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL"),
      selectTokenByHash_(db,
                         "SELECT id, tenant_id, role, created_at, expires_at, revoked_at "
                         "FROM tokens WHERE hash = ?1"),
      selectTokensOfTenant_(db,
                            "SELECT id, tenant_id, role, created_at, expires_at, revoked_at "
                            "FROM tokens WHERE tenant_id = ?1 ORDER BY created_at, id"),
      selectAllTokens_(db,
                       "SELECT id, tenant_id, role, created_at, expires_at, revoked_at, hash "
                       "FROM tokens WHERE ?1 IS NULL OR tenant_id = ?1") {}

namespace {
Tenant readTenant(Statement& stmt) {
  Tenant t;
  t.id = stmt.columnText(0);
  t.name = stmt.columnText(1);
  t.plan = stmt.columnText(2);
  t.timezone = stmt.columnText(3);
  t.createdAtMs = stmt.columnInt(4);
  t.apiCallsLimit = stmt.columnOptionalInt(5);
  t.llmTokensLimit = stmt.columnOptionalInt(6);
  t.storageLimit = stmt.columnOptionalInt(7);
  return t;
}
}  // namespace

Catalog::Created Catalog::createTenant(const Tenant& tenant) {
  KJ_REQUIRE(isValidTenantId(tenant.id), "invalid tenant id");
  KJ_REQUIRE(isValidTenantName(tenant.name), "invalid tenant name");
  KJ_REQUIRE(isValidPlan(tenant.plan), "invalid plan");
  insertTenant_.bind(1, tenant.id).bind(2, tenant.name).bind(3, tenant.plan);
  insertTenant_.bind(4, tenant.timezone).bind(5, tenant.createdAtMs).bind(6, tenant.apiCallsLimit);
  insertTenant_.bind(7, tenant.llmTokensLimit).bind(8, tenant.storageLimit).run();
  return db_.changes() == 1 ? Created::CREATED : Created::ALREADY_EXISTS;
}

bool Catalog::updateTenant(const Tenant& tenant) {
  KJ_REQUIRE(isValidTenantName(tenant.name), "invalid tenant name");
  KJ_REQUIRE(isValidPlan(tenant.plan), "invalid plan");
  Statement update(db_,
                   "UPDATE tenants SET name = ?2, plan = ?3, timezone = ?4, "
                   "api_calls_limit = ?5, llm_tokens_limit = ?6, storage_limit = ?7 "
                   "WHERE id = ?1");
  update.bind(1, tenant.id).bind(2, tenant.name).bind(3, tenant.plan).bind(4, tenant.timezone);
  update.bind(5, tenant.apiCallsLimit).bind(6, tenant.llmTokensLimit).bind(7, tenant.storageLimit);
  update.run();
  return db_.changes() == 1;
}

std::optional<Tenant> Catalog::findTenant(std::string_view id) {
  selectTenant_.bind(1, id);
  if (!selectTenant_.step()) return std::nullopt;
  Tenant t = readTenant(selectTenant_);
  selectTenant_.reset();
  return t;
}

std::vector<Tenant> Catalog::listTenants() {
  std::vector<Tenant> out;
  while (selectTenants_.step()) out.push_back(readTenant(selectTenants_));
  return out;
}

Catalog::TokenAdded Catalog::addToken(const TokenRecord& token, const TokenHash& hash) {
  insertToken_.bind(1, token.id).bind(2, token.tenantId).bind(3, roleName(token.role));
  insertToken_.bindBlob(4, hash.data(), hash.size()).bind(5, token.createdAtMs);
  insertToken_.bind(6, token.expiresAtMs).run();
  return db_.changes() == 1 ? TokenAdded::ADDED : TokenAdded::NO_SUCH_TENANT;
}

Catalog::Revoked Catalog::revokeToken(std::string_view id, int64_t nowMs) {
  updateRevoked_.bind(1, id).bind(2, nowMs).run();
  if (db_.changes() == 1) return Revoked::REVOKED;
  selectRevoked_.bind(1, id);
  if (!selectRevoked_.step()) return Revoked::NOT_FOUND;
  selectRevoked_.reset();
  return Revoked::ALREADY_REVOKED;
}

TokenRecord Catalog::readToken(Statement& stmt) {
  TokenRecord t;
  t.id = stmt.columnText(0);
  t.tenantId = stmt.columnText(1);
  auto role = parseRole(stmt.columnText(2));
  KJ_ASSERT(role.has_value(), "schema CHECK lets only known roles in");
  t.role = *role;
  t.createdAtMs = stmt.columnInt(3);
  t.expiresAtMs = stmt.columnOptionalInt(4);
  t.revokedAtMs = stmt.columnOptionalInt(5);
  return t;
}

std::optional<TokenRecord> Catalog::findTokenByHash(const TokenHash& hash) {
  selectTokenByHash_.bindBlob(1, hash.data(), hash.size());
  if (!selectTokenByHash_.step()) return std::nullopt;
  TokenRecord t = readToken(selectTokenByHash_);
  selectTokenByHash_.reset();
  return t;
}

std::optional<std::string> Catalog::tenantOfToken(std::string_view tokenId) {
  Statement select(db_, "SELECT tenant_id FROM tokens WHERE id = ?1");
  select.bind(1, tokenId);
  if (!select.step()) return std::nullopt;
  std::string tenant = select.columnText(0);
  select.reset();
  return tenant;
}

std::vector<TokenRecord> Catalog::listTokens(std::string_view tenantId) {
  std::vector<TokenRecord> out;
  selectTokensOfTenant_.bind(1, tenantId);
  while (selectTokensOfTenant_.step()) out.push_back(readToken(selectTokensOfTenant_));
  return out;
}

std::vector<std::pair<TokenHash, TokenRecord>> Catalog::listAllTokens() {
  return tokensWithHashes(std::nullopt);
}

std::vector<std::pair<TokenHash, TokenRecord>> Catalog::tokensWithHashes(
    std::optional<std::string_view> tenantId) {
  if (tenantId) {
    selectAllTokens_.bind(1, *tenantId);
  } else {
    selectAllTokens_.bindNull(1);
  }
  std::vector<std::pair<TokenHash, TokenRecord>> out;
  while (selectAllTokens_.step()) {
    auto blob = selectAllTokens_.columnBlob(6);
    TokenHash hash{};
    KJ_ASSERT(blob.size() == hash.size(), "schema CHECK keeps hashes 32 bytes");
    std::copy(blob.begin(), blob.end(), hash.begin());
    out.emplace_back(hash, readToken(selectAllTokens_));
  }
  return out;
}

std::vector<std::string> Catalog::check() {
  std::vector<std::string> problems;
  {
    Statement integrity(db_, "PRAGMA integrity_check");
    while (integrity.step()) {
      std::string row = integrity.columnText(0);
      if (row != "ok") problems.push_back("integrity: " + row);
    }
  }
  {
    Statement fk(db_, "PRAGMA foreign_key_check");
    while (fk.step())
      problems.push_back("foreign key: row in " + fk.columnText(0) + " points at a missing " +
                         fk.columnText(2));
  }
  int version = schemaVersion(db_);
  if (version != latestSchemaVersion()) {
    problems.push_back("schema version " + std::to_string(version) + ", expected " +
                       std::to_string(latestSchemaVersion()));
  }
  for (auto& t : listTenants()) {
    if (!isValidTenantId(t.id)) problems.push_back("tenant with an invalid id");
    if (!isValidPlan(t.plan)) problems.push_back("tenant " + t.id + ": invalid plan");
    if (!isValidTenantName(t.name)) problems.push_back("tenant " + t.id + ": invalid name");
  }
  return problems;
}

}  // namespace tenantd
