#include "secrets-service.h"

namespace tenantd {

bool isValidSecretName(std::string_view name) {
  if (name.empty() || name.size() > 128) return false;
  auto letter = [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
  };
  if (!letter(name[0])) return false;
  for (char c : name) {
    if (!letter(c) && !(c >= '0' && c <= '9') && c != '.' && c != '-') return false;
  }
  return true;
}

SecretsService::SecretsService(Writer& writer, const Keyring& keyring, const Clock& clock, Log& log,
                               Metrics& metrics)
    : writer_(writer), keyring_(keyring), clock_(clock), log_(log), metrics_(metrics) {}

kj::Promise<int64_t> SecretsService::put(std::string tenantId, std::string name, SecretValue value,
                                         std::optional<UnixMillis> expiresAt, std::string actor) {
  UnixMillis now = clock_.now();
  const SecretKey& key = keyring_.primary();
  auto version = writer_.submit<int64_t>(
      [tenantId, name, value = std::move(value), expiresAt, actor, now, &key](WriterContext& ctx) {
        int64_t v = ctx.secrets().put(tenantId, name, value, key, expiresAt, now);
        ctx.secrets().audit({0, tenantId, now, actor, "secret.put", name, v});
        return v;
      });
  return version.then([this, tenantId, name, actor](int64_t v) {
    log_.info("audit", "tenant " + tenantId + ": secret " + name + " stored as version " +
                           std::to_string(v) + " by " + actor);
    return v;
  });
}

kj::Promise<std::vector<std::string>> SecretsService::list(std::string tenantId) {
  return writer_.submit<std::vector<std::string>>(
      [tenantId](WriterContext& ctx) { return ctx.secrets().names(tenantId); });
}

kj::Promise<bool> SecretsService::remove(std::string tenantId, std::string name,
                                         std::string actor) {
  UnixMillis now = clock_.now();
  return writer_
      .submit<bool>([tenantId, name, actor, now](WriterContext& ctx) {
        bool removed = ctx.secrets().remove(tenantId, name);
        if (removed) ctx.secrets().audit({0, tenantId, now, actor, "secret.delete", name, {}});
        return removed;
      })
      .then([this, tenantId, name, actor](bool removed) {
        if (removed) {
          log_.info("audit", "tenant " + tenantId + ": secret " + name + " deleted by " + actor);
        }
        return removed;
      });
}

kj::Promise<size_t> SecretsService::deleteExpired() {
  UnixMillis now = clock_.now();
  return writer_.submit<size_t>([now](WriterContext& ctx) {
    auto gone = ctx.secrets().deleteExpired(now);
    for (auto& [tenantId, name] : gone) {
      ctx.secrets().audit({0, tenantId, now, "tenantd", "secret.expired", name, std::nullopt});
    }
    return gone.size();
  });
}

kj::Promise<OpenedSecret> SecretsService::open(std::string tenantId, std::string name,
                                               std::string actor) {
  UnixMillis now = clock_.now();
  const Keyring& keyring = keyring_;
  return writer_
      .submit<OpenedSecret>([tenantId, name, actor, now, &keyring](WriterContext& ctx) {
        OpenedSecret result;
        auto stored = ctx.secrets().get(tenantId, name);
        if (!stored) return result;
        result.version = stored->version;
        if (stored->expiresAt && *stored->expiresAt <= now) {
          result.outcome = OpenedSecret::Outcome::EXPIRED;
          return result;
        }
        const SecretKey* key = keyring.find(stored->sealed.keyId);
        // Format 1 rows are re-sealed at start: one seen now was put back by hand.
        if (key != nullptr && stored->format == SEAL_FORMAT) {
          if (auto opened = tenantd::open(*key, labelOf(tenantId, *stored), stored->sealed)) {
            result.value = std::make_unique<SecretValue>(std::move(*opened));
          }
        }
        if (!result.value) {
          // Tampered with, moved from elsewhere, or sealed under a key we do not hold.
          result.outcome = OpenedSecret::Outcome::OPEN_FAILED;
          ctx.secrets().audit(
              {0, tenantId, now, actor, "secret.open_failed", name, stored->version});
          return result;
        }
        result.outcome = OpenedSecret::Outcome::OK;
        return result;
      })
      .then([this, tenantId, name](OpenedSecret result) {
        const char* outcome = "ok";
        switch (result.outcome) {
          case OpenedSecret::Outcome::OK: break;
          case OpenedSecret::Outcome::NOT_FOUND: outcome = "not_found"; break;
          case OpenedSecret::Outcome::EXPIRED: outcome = "expired"; break;
          case OpenedSecret::Outcome::OPEN_FAILED:
            outcome = "open_failed";
            log_.error("secrets", "tenant " + tenantId + ": secret " + name +
                                      " failed to open (tampered with or moved)");
            break;
        }
        metrics_.secretReads(outcome).Increment();
        return result;
      });
}

kj::Promise<std::vector<AuditRow>> SecretsService::audit(std::string tenantId, size_t limit,
                                                         std::optional<int64_t> before) {
  return writer_.submit<std::vector<AuditRow>>([tenantId, limit, before](WriterContext& ctx) {
    return ctx.secrets().auditLog(tenantId, limit, before);
  });
}

kj::Promise<void> SecretsService::recordAudit(AuditRow row) {
  return writer_.submit<void>([row](WriterContext& ctx) { ctx.secrets().audit(row); });
}

}  // namespace tenantd
