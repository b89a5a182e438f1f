#include "sync-store.h"

#include <kj/debug.h>

#include <algorithm>

namespace tenantd {

namespace {
// The three versioned documents share one table shape: (tenant_id, <text>, version, updated_at).
constexpr const char* UPSERT_CONFIG =
    "INSERT INTO tenant_config (tenant_id, doc, version, updated_at) VALUES (?1, ?2, ?3, ?4) "
    "ON CONFLICT DO UPDATE SET doc = excluded.doc, version = excluded.version, "
    "updated_at = excluded.updated_at";
constexpr const char* UPSERT_RBAC =
    "INSERT INTO tenant_rbac (tenant_id, doc, version, updated_at) VALUES (?1, ?2, ?3, ?4) "
    "ON CONFLICT DO UPDATE SET doc = excluded.doc, version = excluded.version, "
    "updated_at = excluded.updated_at";
constexpr const char* UPSERT_RULES =
    "INSERT INTO tenant_rules (tenant_id, rules, version, updated_at) VALUES (?1, ?2, ?3, ?4) "
    "ON CONFLICT DO UPDATE SET rules = excluded.rules, version = excluded.version, "
    "updated_at = excluded.updated_at";
}  // namespace

SyncStore::SyncStore(Db& db)
    : db_(db),
      selectVersion_(db, "SELECT version FROM sync_counter WHERE id = 1"),
      selectChanged_(db,
                     "SELECT tenant_id, version FROM sync_changes WHERE version > ?1 "
                     "ORDER BY tenant_id"),
      selectApplied_(db, "SELECT central, version, applied_at FROM sync_applied WHERE id = 1"),
      upsertApplied_(db,
                     "INSERT INTO sync_applied (id, central, version, applied_at) "
                     "VALUES (1, ?1, ?2, ?3) ON CONFLICT DO UPDATE SET central = excluded.central, "
                     "version = excluded.version, applied_at = excluded.applied_at"),
      upsertTenant_(db,
                    "INSERT INTO tenants (id, name, plan, timezone, created_at, api_calls_limit, "
                    "llm_tokens_limit, storage_limit) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) "
                    "ON CONFLICT (id) DO UPDATE SET name = excluded.name, plan = excluded.plan, "
                    "timezone = excluded.timezone, created_at = excluded.created_at, "
                    "api_calls_limit = excluded.api_calls_limit, "
                    "llm_tokens_limit = excluded.llm_tokens_limit, "
                    "storage_limit = excluded.storage_limit"),
      deleteTenant_(db, "DELETE FROM tenants WHERE id = ?1"),
      deleteTokens_(db, "DELETE FROM tokens WHERE tenant_id = ?1"),
      insertToken_(db,
                   "INSERT INTO tokens (id, tenant_id, role, hash, created_at, expires_at, "
                   "revoked_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"),
      upsertConfig_(db, UPSERT_CONFIG),
      deleteConfig_(db, "DELETE FROM tenant_config WHERE tenant_id = ?1"),
      upsertRbac_(db, UPSERT_RBAC),
      deleteRbac_(db, "DELETE FROM tenant_rbac WHERE tenant_id = ?1"),
      upsertRules_(db, UPSERT_RULES),
      deleteRules_(db, "DELETE FROM tenant_rules WHERE tenant_id = ?1"),
      upsertSecret_(db,
                    "INSERT INTO secrets (tenant_id, name, version, key_id, nonce, ciphertext, "
                    "created_at, expires_at, seal_format) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, "
                    "?9) ON CONFLICT DO UPDATE SET version = excluded.version, "
                    "key_id = excluded.key_id, nonce = excluded.nonce, "
                    "ciphertext = excluded.ciphertext, created_at = excluded.created_at, "
                    "expires_at = excluded.expires_at, seal_format = excluded.seal_format"),
      selectSecretNames_(db, "SELECT name FROM secrets WHERE tenant_id = ?1"),
      deleteSecret_(db, "DELETE FROM secrets WHERE tenant_id = ?1 AND name = ?2"),
      insertHost_(db,
                  "INSERT INTO hosts (id, token_hash, created_at) VALUES (?1, ?2, ?3) "
                  "ON CONFLICT (id) DO NOTHING"),
      selectHost_(db,
                  "SELECT id, token_hash IS NOT NULL, recipient_key, created_at, seen_at, "
                  "applied_version, last_error, last_success_at FROM hosts WHERE id = ?1"),
      selectHosts_(db,
                   "SELECT id, token_hash IS NOT NULL, recipient_key, created_at, seen_at, "
                   "applied_version, last_error, last_success_at FROM hosts ORDER BY id"),
      selectHostByToken_(db, "SELECT id FROM hosts WHERE token_hash = ?1"),
      updateHostKey_(db, "UPDATE hosts SET recipient_key = ?2 WHERE id = ?1"),
      updateHostStatus_(db,
                        "UPDATE hosts SET seen_at = ?2, applied_version = ?3, last_error = ?4, "
                        "last_success_at = ?5 WHERE id = ?1"),
      selectHostId_(db, "SELECT host_id FROM host_identity WHERE id = 1"),
      insertHostId_(db,
                    "INSERT INTO host_identity (id, host_id) VALUES (1, ?1) "
                    "ON CONFLICT (id) DO UPDATE SET host_id = excluded.host_id") {}

namespace {
HostRecord readHost(Statement& s) {
  HostRecord h;
  h.id = s.columnText(0);
  h.hasToken = s.columnInt(1) != 0;
  if (!s.columnIsNull(2)) {
    auto blob = s.columnBlob(2);
    KJ_ASSERT(blob.size() == 32, "schema CHECK keeps keys 32 bytes");
    std::array<uint8_t, 32> key{};
    std::copy(blob.begin(), blob.end(), key.begin());
    h.recipientKey = key;
  }
  h.createdAt = s.columnInt(3);
  h.seenAt = s.columnOptionalInt(4);
  h.appliedVersion = s.columnOptionalInt(5);
  if (!s.columnIsNull(6)) h.lastError = s.columnText(6);
  h.lastSuccessAt = s.columnOptionalInt(7);
  return h;
}
}  // namespace

bool SyncStore::createHost(std::string_view id, const std::optional<TokenHash>& tokenHash,
                           UnixMillis now) {
  insertHost_.bind(1, id);
  if (tokenHash) {
    insertHost_.bindBlob(2, tokenHash->data(), tokenHash->size());
  } else {
    insertHost_.bindNull(2);
  }
  insertHost_.bind(3, now).run();
  return db_.changes() == 1;
}

std::optional<HostRecord> SyncStore::host(std::string_view id) {
  selectHost_.bind(1, id);
  if (!selectHost_.step()) return std::nullopt;
  HostRecord h = readHost(selectHost_);
  selectHost_.reset();
  return h;
}

std::optional<std::string> SyncStore::hostOfToken(const TokenHash& hash) {
  selectHostByToken_.bindBlob(1, hash.data(), hash.size());
  if (!selectHostByToken_.step()) return std::nullopt;
  std::string id = selectHostByToken_.columnText(0);
  selectHostByToken_.reset();
  return id;
}

void SyncStore::setHostKey(std::string_view id, const std::array<uint8_t, 32>& key) {
  updateHostKey_.bind(1, id).bindBlob(2, key.data(), key.size()).run();
}

void SyncStore::recordStatus(std::string_view id, const HostStatus& status, UnixMillis now) {
  updateHostStatus_.bind(1, id).bind(2, now).bind(3, status.appliedVersion);
  if (status.lastError.empty()) {
    updateHostStatus_.bindNull(4);
  } else {
    updateHostStatus_.bind(4, status.lastError);
  }
  updateHostStatus_.bind(5, status.lastSuccessAt).run();
}

std::vector<HostRecord> SyncStore::hosts() {
  std::vector<HostRecord> out;
  while (selectHosts_.step()) out.push_back(readHost(selectHosts_));
  return out;
}

std::optional<std::string> SyncStore::hostId() {
  if (!selectHostId_.step()) return std::nullopt;
  std::string id = selectHostId_.columnText(0);
  selectHostId_.reset();
  return id;
}

void SyncStore::setHostId(std::string_view id) {
  insertHostId_.bind(1, id).run();
}

int64_t SyncStore::version() {
  KJ_ASSERT(selectVersion_.step(), "migration 7 inserts the counter's row");
  int64_t v = selectVersion_.columnInt(0);
  selectVersion_.reset();
  return v;
}

std::vector<ChangedTenant> SyncStore::changedSince(int64_t since) {
  std::vector<ChangedTenant> out;
  selectChanged_.bind(1, since);
  while (selectChanged_.step()) {
    out.push_back({selectChanged_.columnText(0), selectChanged_.columnInt(1)});
  }
  return out;
}

std::optional<AppliedSync> SyncStore::applied() {
  if (!selectApplied_.step()) return std::nullopt;
  AppliedSync a{selectApplied_.columnText(0), selectApplied_.columnInt(1),
                selectApplied_.columnInt(2)};
  selectApplied_.reset();
  return a;
}

void SyncStore::setApplied(const AppliedSync& applied) {
  upsertApplied_.bind(1, applied.central).bind(2, applied.version).bind(3, applied.appliedAt);
  upsertApplied_.run();
}

void SyncStore::putTenant(const Tenant& t) {
  KJ_REQUIRE(isValidTenantId(t.id), "invalid tenant id");
  upsertTenant_.bind(1, t.id).bind(2, t.name).bind(3, t.plan).bind(4, t.timezone);
  upsertTenant_.bind(5, t.createdAtMs).bind(6, t.apiCallsLimit).bind(7, t.llmTokensLimit);
  upsertTenant_.bind(8, t.storageLimit).run();
}

bool SyncStore::deleteTenant(std::string_view tenantId) {
  deleteTenant_.bind(1, tenantId).run();
  return db_.changes() == 1;
}

void SyncStore::deleteTokens(std::string_view tenantId) {
  deleteTokens_.bind(1, tenantId).run();
}

void SyncStore::insertToken(const TokenRecord& token, const TokenHash& hash) {
  insertToken_.bind(1, token.id).bind(2, token.tenantId).bind(3, roleName(token.role));
  insertToken_.bindBlob(4, hash.data(), hash.size()).bind(5, token.createdAtMs);
  insertToken_.bind(6, token.expiresAtMs).bind(7, token.revokedAtMs).run();
}

void SyncStore::putDocument(MirroredDoc kind, std::string_view tenantId,
                            std::optional<std::string> text, int64_t version, UnixMillis now) {
  Statement& upsert = kind == MirroredDoc::CONFIG ? upsertConfig_
                      : kind == MirroredDoc::RBAC ? upsertRbac_
                                                  : upsertRules_;
  Statement& remove = kind == MirroredDoc::CONFIG ? deleteConfig_
                      : kind == MirroredDoc::RBAC ? deleteRbac_
                                                  : deleteRules_;
  if (!text) {
    remove.bind(1, tenantId).run();
    return;
  }
  upsert.bind(1, tenantId).bind(2, *text).bind(3, version).bind(4, now).run();
}

void SyncStore::putSecret(std::string_view tenantId, std::string_view name, int64_t version,
                          const SecretValue& value, const SecretKey& key,
                          std::optional<UnixMillis> expiresAt, UnixMillis now) {
  SealedValue sealed = seal(key, SecretLabel{tenantId, name, version, expiresAt}, value);
  upsertSecret_.bind(1, tenantId).bind(2, name).bind(3, version).bind(4, sealed.keyId);
  upsertSecret_.bindBlob(5, sealed.nonce.data(), sealed.nonce.size());
  upsertSecret_.bindBlob(6, sealed.ciphertext.data(), sealed.ciphertext.size());
  upsertSecret_.bind(7, now).bind(8, expiresAt).bind(9, int64_t{SEAL_FORMAT}).run();
}

size_t SyncStore::deleteSecretsExcept(std::string_view tenantId,
                                      const std::vector<std::string>& keep) {
  std::vector<std::string> names;
  selectSecretNames_.bind(1, tenantId);
  while (selectSecretNames_.step()) names.push_back(selectSecretNames_.columnText(0));
  size_t removed = 0;
  for (auto& name : names) {
    if (std::binary_search(keep.begin(), keep.end(), name)) continue;
    deleteSecret_.bind(1, tenantId).bind(2, name).run();
    removed += static_cast<size_t>(db_.changes());
  }
  return removed;
}

}  // namespace tenantd
