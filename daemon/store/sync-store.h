#pragma once
// Managed mode's rows in the store (docs/SYNC.md, migration 7).
// - As a central: the change counter that triggers move on every committed change of a tenant's
//   documents, and which tenants changed after a version (deleted ones included).
// - As a sidecar: the payload it applied last, and the writes that mirror the central's
//   documents. Those replace a document whole and keep the central's version numbers, where the
//   daemon's own saves (SettingsStore, UsageStore, SecretStore) number versions themselves.
// Business outcomes are values; SQLite faults are exceptions.

#include "auth/token.h"
#include "core/tenant.h"
#include "secrets/sealer.h"
#include "sqlite.h"
#include "store/catalog.h"
#include "util/clock.h"

#include <array>
#include <optional>
#include <string>
#include <vector>

namespace tenantd {

struct ChangedTenant {
  std::string id;
  int64_t version = 0;  // The counter's value at the tenant's last change.
};

struct AppliedSync {
  std::string central;
  int64_t version = 0;
  UnixMillis appliedAt = 0;
};

// A sidecar as its central knows it.
struct HostRecord {
  std::string id;
  bool hasToken = false;
  std::optional<std::array<uint8_t, 32>> recipientKey;
  UnixMillis createdAt = 0;
  std::optional<UnixMillis> seenAt;
  std::optional<int64_t> appliedVersion;
  std::string lastError;  // Empty: none.
  std::optional<UnixMillis> lastSuccessAt;
};

// What a sidecar reports after each sync (POST /v1/status).
struct HostStatus {
  std::optional<int64_t> appliedVersion;
  std::string lastError;
  std::optional<UnixMillis> lastSuccessAt;
};

// The three versioned documents of a tenant.
enum class MirroredDoc { CONFIG, RBAC, RULES };

class SyncStore {
public:
  explicit SyncStore(Db& db);

  // The central's counter: the version of everything committed so far.
  int64_t version();
  // Tenants whose documents changed after `since` (0: every tenant ever changed), by id. A
  // tenant no longer in the catalog was deleted.
  std::vector<ChangedTenant> changedSince(int64_t since);

  // Hosts, at a central. createHost: false if the id is taken.
  bool createHost(std::string_view id, const std::optional<TokenHash>& tokenHash, UnixMillis now);
  std::optional<HostRecord> host(std::string_view id);
  // The host a token belongs to; nullopt for an unknown token.
  std::optional<std::string> hostOfToken(const TokenHash& hash);
  void setHostKey(std::string_view id, const std::array<uint8_t, 32>& key);
  void recordStatus(std::string_view id, const HostStatus& status, UnixMillis now);
  std::vector<HostRecord> hosts();

  // This sidecar's own host id, once made.
  std::optional<std::string> hostId();
  void setHostId(std::string_view id);

  std::optional<AppliedSync> applied();
  void setApplied(const AppliedSync& applied);

  // Creates or replaces the tenant's catalog row, created_at included.
  void putTenant(const Tenant& tenant);
  // Deletes the tenant and, by cascade, everything it owns. False if there was none.
  bool deleteTenant(std::string_view tenantId);
  // Deletes every token of the tenant (before the new set is inserted: a token never moves).
  void deleteTokens(std::string_view tenantId);
  void insertToken(const TokenRecord& token, const TokenHash& hash);
  // The document with the central's version; nullopt removes it (the tenant has none).
  void putDocument(MirroredDoc kind, std::string_view tenantId, std::optional<std::string> text,
                   int64_t version, UnixMillis now);
  // A secret as version `version`, sealed with the at-rest key `key`.
  void putSecret(std::string_view tenantId, std::string_view name, int64_t version,
                 const SecretValue& value, const SecretKey& key,
                 std::optional<UnixMillis> expiresAt, UnixMillis now);
  // Deletes the tenant's secrets whose names are not in `keep` (sorted).
  size_t deleteSecretsExcept(std::string_view tenantId, const std::vector<std::string>& keep);

private:
  Db& db_;
  Statement selectVersion_, selectChanged_, selectApplied_, upsertApplied_;
  Statement upsertTenant_, deleteTenant_, deleteTokens_, insertToken_;
  Statement upsertConfig_, deleteConfig_, upsertRbac_, deleteRbac_, upsertRules_, deleteRules_;
  Statement upsertSecret_, selectSecretNames_, deleteSecret_;
  Statement insertHost_, selectHost_, selectHosts_, selectHostByToken_, updateHostKey_;
  Statement updateHostStatus_, selectHostId_, insertHostId_;
};

}  // namespace tenantd
