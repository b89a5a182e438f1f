#pragma once
// Tenant secrets as the daemon serves them: stored and listed over REST, opened over RPC. Sealing
// and opening run on the writer thread (the keyring is read-only after start), so plaintext
// crosses to the loop thread only for an RPC answer. Every change and every failed open writes
// an audit row in the same transaction; values never reach a log, an error or an audit row.

#include "secrets/keyring.h"
#include "secrets/sealer.h"
#include "store/writer.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/metrics.h"

#include <kj/async.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace tenantd {

// [A-Za-z_][A-Za-z0-9_.-]{0,127}
bool isValidSecretName(std::string_view name);
constexpr size_t MAX_SECRET_BYTES = 64 * 1024;

struct OpenedSecret {
  enum class Outcome { OK, NOT_FOUND, EXPIRED, OPEN_FAILED };
  Outcome outcome = Outcome::NOT_FOUND;
  std::unique_ptr<SecretValue> value;  // Set when OK.
  int64_t version = 0;
};

class SecretsService {
public:
  SecretsService(Writer& writer, const Keyring& keyring, const Clock& clock, Log& log,
                 Metrics& metrics);

  // Stores the next version; resolves with it after the commit.
  kj::Promise<int64_t> put(std::string tenantId, std::string name, SecretValue value,
                           std::optional<UnixMillis> expiresAt, std::string actor);
  kj::Promise<std::vector<std::string>> list(std::string tenantId);
  kj::Promise<bool> remove(std::string tenantId, std::string name, std::string actor);
  kj::Promise<OpenedSecret> open(std::string tenantId, std::string name, std::string actor);
  // Storage upkeep: deletes expired secrets (each audited as secret.expired). Returns how many.
  kj::Promise<size_t> deleteExpired();
  kj::Promise<std::vector<AuditRow>> audit(std::string tenantId, size_t limit,
                                           std::optional<int64_t> before);
  // A change made elsewhere (limits, tokens): recorded in the same way.
  kj::Promise<void> recordAudit(AuditRow row);

private:
  Writer& writer_;
  const Keyring& keyring_;
  const Clock& clock_;
  Log& log_;
  Metrics& metrics_;
};

}  // namespace tenantd
