#pragma once
// Sealed tenant secrets and the audit trail in the store. Sealing happens here, inside the
// writer's transaction, because the version number is part of what the seal binds.

#include "secrets/sealer.h"
#include "sqlite.h"
#include "util/clock.h"

#include <optional>
#include <string>
#include <vector>

namespace tenantd {

struct StoredSecret {
  std::string name;
  int64_t version = 0;
  SealedValue sealed;
  std::optional<UnixMillis> expiresAt;
  int format = SEAL_FORMAT;  // How it was sealed: 1 rows await upgradeSeals().
};

// The label `s` was sealed with, from the row itself: opening with any other fails.
SecretLabel labelOf(std::string_view tenantId, const StoredSecret& s);

struct AuditRow {
  int64_t id = 0;
  std::string tenantId;
  UnixMillis at = 0;
  std::string actor;   // "tok_…" or "uid:…"; never a token or a value.
  std::string action;  // "secret.put", "limits.put", "secret.open_failed", …
  std::string target;  // What changed: a secret's name, "limits", …
  std::optional<int64_t> version;
};

// A row that did not open during rotation or verification.
struct SecretProblem {
  std::string tenantId;
  std::string name;
  std::string reason;
};

class SecretStore {
public:
  explicit SecretStore(Db& db);

  // Seals `value` as the next version of `name` under `key`; returns that version.
  int64_t put(std::string_view tenantId, std::string_view name, const SecretValue& value,
              const SecretKey& key, std::optional<UnixMillis> expiresAt, UnixMillis now);
  std::optional<StoredSecret> get(std::string_view tenantId, std::string_view name);
  std::vector<std::string> names(std::string_view tenantId);  // Sorted.
  size_t count();
  // Every key id some stored secret is sealed with, each once (the keyring must hold them all).
  std::vector<std::string> keyIds();
  bool remove(std::string_view tenantId, std::string_view name);

  // Re-seals every secret under `newKey`, opening each with the keyring; one transaction. If any
  // row does not open, throws naming it and changes nothing. Returns rows re-sealed.
  size_t rotate(const Keyring& keyring, const SecretKey& newKey);
  // Opens every secret with the keyring (values are discarded at once); lists what fails,
  // format 1 rows included (they open, but the daemon has not re-sealed them yet).
  std::vector<SecretProblem> verify(const Keyring& keyring);
  // Re-seals rows of format 1 in format 2 under the key they were sealed with, in one
  // transaction. The daemon runs it at start. A row that does not open is left as it is (and is
  // never served: only format 2 rows are).
  struct Upgraded {
    size_t resealed = 0;
    std::vector<SecretProblem> skipped;
  };
  Upgraded upgradeSeals(const Keyring& keyring);
  // Expired rows go: an expired value is never served, and kept it could be brought back.
  // Returns the (tenant, name) pairs deleted.
  std::vector<std::pair<std::string, std::string>> deleteExpired(UnixMillis now);

  void audit(const AuditRow& row);
  // Newest first; rows with id < `before` when given.
  std::vector<AuditRow> auditLog(std::string_view tenantId, size_t limit,
                                 std::optional<int64_t> before);

private:
  Db& db_;
  Statement selectVersion_;
  Statement selectExpired_;
  Statement deleteExpired_;
  Statement upsert_;
  Statement select_;
  Statement selectNames_;
  Statement delete_;
  Statement insertAudit_;
  Statement selectAudit_;
};

}  // namespace tenantd
