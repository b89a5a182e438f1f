#include "secret-store.h"

#include <kj/debug.h>

namespace tenantd {

SecretStore::SecretStore(Db& db)
    : db_(db),
      selectVersion_(db, "SELECT version FROM secrets WHERE tenant_id = ?1 AND name = ?2"),
      selectExpired_(db,
                     "SELECT tenant_id, name FROM secrets WHERE expires_at IS NOT NULL AND "
                     "expires_at <= ?1"),
      deleteExpired_(db, "DELETE FROM secrets WHERE expires_at IS NOT NULL AND expires_at <= ?1"),
      upsert_(db,
              "INSERT INTO secrets (tenant_id, name, version, key_id, nonce, ciphertext, "
              "created_at, expires_at, seal_format) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) "
              "ON CONFLICT DO UPDATE SET version = excluded.version, key_id = excluded.key_id, "
              "nonce = excluded.nonce, ciphertext = excluded.ciphertext, "
              "created_at = excluded.created_at, expires_at = excluded.expires_at, "
              "seal_format = excluded.seal_format"),
      select_(db,
              "SELECT version, key_id, nonce, ciphertext, expires_at, seal_format FROM secrets "
              "WHERE tenant_id = ?1 AND name = ?2"),
      selectNames_(db, "SELECT name FROM secrets WHERE tenant_id = ?1 ORDER BY name"),
      delete_(db, "DELETE FROM secrets WHERE tenant_id = ?1 AND name = ?2"),
      insertAudit_(db,
                   "INSERT INTO audit (tenant_id, at, actor, action, target, version) "
                   "VALUES (?1, ?2, ?3, ?4, ?5, ?6)"),
      selectAudit_(db,
                   "SELECT id, tenant_id, at, actor, action, target, version FROM audit "
                   "WHERE tenant_id = ?1 AND id < ?2 ORDER BY id DESC LIMIT ?3") {}

int64_t SecretStore::put(std::string_view tenantId, std::string_view name, const SecretValue& value,
                         const SecretKey& key, std::optional<UnixMillis> expiresAt,
                         UnixMillis now) {
  int64_t version = 1;
  selectVersion_.bind(1, tenantId).bind(2, name);
  if (selectVersion_.step()) {
    version = selectVersion_.columnInt(0) + 1;
    selectVersion_.reset();
  }
  SealedValue sealed = seal(key, SecretLabel{tenantId, name, version, expiresAt}, value);
  upsert_.bind(1, tenantId).bind(2, name).bind(3, version).bind(4, sealed.keyId);
  upsert_.bindBlob(5, sealed.nonce.data(), sealed.nonce.size());
  upsert_.bindBlob(6, sealed.ciphertext.data(), sealed.ciphertext.size());
  upsert_.bind(7, now).bind(8, expiresAt).bind(9, int64_t{SEAL_FORMAT}).run();
  return version;
}

std::optional<StoredSecret> SecretStore::get(std::string_view tenantId, std::string_view name) {
  select_.bind(1, tenantId).bind(2, name);
  if (!select_.step()) return std::nullopt;
  StoredSecret s;
  s.name = std::string(name);
  s.version = select_.columnInt(0);
  s.sealed.keyId = select_.columnText(1);
  s.sealed.nonce = select_.columnBlob(2);
  s.sealed.ciphertext = select_.columnBlob(3);
  s.expiresAt = select_.columnOptionalInt(4);
  s.format = static_cast<int>(select_.columnInt(5));
  select_.reset();
  return s;
}

SecretLabel labelOf(std::string_view tenantId, const StoredSecret& s) {
  return SecretLabel{tenantId, s.name, s.version, s.expiresAt, s.format};
}

std::vector<std::string> SecretStore::names(std::string_view tenantId) {
  std::vector<std::string> out;
  selectNames_.bind(1, tenantId);
  while (selectNames_.step()) out.push_back(selectNames_.columnText(0));
  return out;
}

size_t SecretStore::count() {
  Statement n(db_, "SELECT count(*) FROM secrets");  // Offline checks only.
  KJ_ASSERT(n.step());
  size_t out = static_cast<size_t>(n.columnInt(0));
  n.reset();
  return out;
}

std::vector<std::string> SecretStore::keyIds() {
  // Start-up only: not worth a prepared member.
  Statement ids(db_, "SELECT DISTINCT key_id FROM secrets ORDER BY key_id");
  std::vector<std::string> out;
  while (ids.step()) out.push_back(ids.columnText(0));
  return out;
}

bool SecretStore::remove(std::string_view tenantId, std::string_view name) {
  delete_.bind(1, tenantId).bind(2, name).run();
  return db_.changes() == 1;
}

namespace {
struct Row {
  std::string tenantId;
  StoredSecret secret;
};

std::vector<Row> allRows(Db& db) {
  std::vector<Row> rows;
  Statement all(db,
                "SELECT tenant_id, name, version, key_id, nonce, ciphertext, expires_at, "
                "seal_format FROM secrets");
  while (all.step()) {
    Row r;
    r.tenantId = all.columnText(0);
    r.secret.name = all.columnText(1);
    r.secret.version = all.columnInt(2);
    r.secret.sealed.keyId = all.columnText(3);
    r.secret.sealed.nonce = all.columnBlob(4);
    r.secret.sealed.ciphertext = all.columnBlob(5);
    r.secret.expiresAt = all.columnOptionalInt(6);
    r.secret.format = static_cast<int>(all.columnInt(7));
    rows.push_back(std::move(r));
  }
  return rows;
}

std::optional<SecretValue> openRow(const Keyring& keyring, const Row& r, std::string* why) {
  const SecretKey* key = keyring.find(r.secret.sealed.keyId);
  if (key == nullptr) {
    *why = "sealed under key " + r.secret.sealed.keyId + ", which is not loaded";
    return std::nullopt;
  }
  auto value = open(*key, labelOf(r.tenantId, r.secret), r.secret.sealed);
  if (!value) *why = "does not open: tampered with or moved";
  return value;
}

// Seals `value` again, in the current format, under `key`: same version and expiry.
void reseal(Db& db, const std::string& tenantId, const StoredSecret& s, const SecretKey& key,
            const SecretValue& value) {
  StoredSecret next = s;
  next.format = SEAL_FORMAT;
  SealedValue sealed = seal(key, labelOf(tenantId, next), value);
  Statement update(db,
                   "UPDATE secrets SET key_id = ?3, nonce = ?4, ciphertext = ?5, seal_format = ?6 "
                   "WHERE tenant_id = ?1 AND name = ?2");
  update.bind(1, tenantId).bind(2, s.name).bind(3, sealed.keyId);
  update.bindBlob(4, sealed.nonce.data(), sealed.nonce.size());
  update.bindBlob(5, sealed.ciphertext.data(), sealed.ciphertext.size());
  update.bind(6, int64_t{SEAL_FORMAT}).run();
}
}  // namespace

size_t SecretStore::rotate(const Keyring& keyring, const SecretKey& newKey) {
  Transaction tx(db_);  // The write lock from the first read: no write can slip in between.
  auto rows = allRows(db_);
  size_t resealed = 0;
  for (auto& r : rows) {
    std::string why;
    auto value = openRow(keyring, r, &why);
    KJ_REQUIRE(value.has_value(), "cannot rotate: a secret", r.tenantId, r.secret.name, why);
    if (r.secret.sealed.keyId == newKey.id() && r.secret.format == SEAL_FORMAT) continue;
    reseal(db_, r.tenantId, r.secret, newKey, *value);
    ++resealed;
  }
  tx.commit();
  return resealed;
}

SecretStore::Upgraded SecretStore::upgradeSeals(const Keyring& keyring) {
  Transaction tx(db_);
  Upgraded out;
  for (auto& r : allRows(db_)) {
    if (r.secret.format == SEAL_FORMAT) continue;
    std::string why;
    auto value = openRow(keyring, r, &why);
    if (!value) {
      out.skipped.push_back({r.tenantId, r.secret.name, why});
      continue;
    }
    reseal(db_, r.tenantId, r.secret, *keyring.find(r.secret.sealed.keyId), *value);
    ++out.resealed;
  }
  tx.commit();
  return out;
}

std::vector<std::pair<std::string, std::string>> SecretStore::deleteExpired(UnixMillis now) {
  std::vector<std::pair<std::string, std::string>> gone;
  selectExpired_.bind(1, now);
  while (selectExpired_.step()) {
    gone.emplace_back(selectExpired_.columnText(0), selectExpired_.columnText(1));
  }
  if (!gone.empty()) deleteExpired_.bind(1, now).run();
  return gone;
}

std::vector<SecretProblem> SecretStore::verify(const Keyring& keyring) {
  std::vector<SecretProblem> problems;
  for (auto& r : allRows(db_)) {
    std::string why;
    if (!openRow(keyring, r, &why)) {
      problems.push_back({r.tenantId, r.secret.name, why});
    } else if (r.secret.format != SEAL_FORMAT) {
      problems.push_back({r.tenantId, r.secret.name,
                          "sealed before its expiry was bound; tenantd re-seals it at start"});
    }
  }
  return problems;
}

void SecretStore::audit(const AuditRow& row) {
  insertAudit_.bind(1, row.tenantId).bind(2, row.at).bind(3, row.actor).bind(4, row.action);
  insertAudit_.bind(5, row.target).bind(6, row.version).run();
}

std::vector<AuditRow> SecretStore::auditLog(std::string_view tenantId, size_t limit,
                                            std::optional<int64_t> before) {
  std::vector<AuditRow> out;
  selectAudit_.bind(1, tenantId).bind(2, before.value_or(INT64_MAX));
  selectAudit_.bind(3, static_cast<int64_t>(limit));
  while (selectAudit_.step()) {
    AuditRow r;
    r.id = selectAudit_.columnInt(0);
    r.tenantId = selectAudit_.columnText(1);
    r.at = selectAudit_.columnInt(2);
    r.actor = selectAudit_.columnText(3);
    r.action = selectAudit_.columnText(4);
    r.target = selectAudit_.columnText(5);
    r.version = selectAudit_.columnOptionalInt(6);
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace tenantd
