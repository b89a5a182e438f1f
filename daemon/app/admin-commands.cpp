#include "admin-commands.h"

#include "app/key-source.h"
#include "store/schema.h"
#include "store/secret-store.h"

#include <sys/stat.h>

#include <kj/debug.h>

#include <unistd.h>

#include <filesystem>
#include <ostream>

namespace tenantd {

namespace {
// Offline changes are audited like the daemon's: who (the CLI's uid), what, never a token.
void audit(Db& db, const std::string& tenantId, const Clock& clock, const char* action,
           const std::string& target) {
  SecretStore(db).audit({0, tenantId, clock.now(), "cli:uid:" + std::to_string(getuid()), action,
                         target, std::nullopt});
}

void applyLimits(const Command& cmd, Tenant& t) {
  if (cmd.apiCalls >= 0) t.apiCallsLimit = cmd.apiCalls;
  if (cmd.llmTokens >= 0) t.llmTokensLimit = cmd.llmTokens;
  if (cmd.storage >= 0) t.storageLimit = cmd.storage;
}

// The contract's refusal in the CLI's words: "tenantd: invalid --plan: 1-32 lowercase …".
bool refused(const contract::Check& problem, std::ostream& err) {
  if (!problem) return false;
  err << "tenantd: invalid --" << problem->field << ": " << problem->message << "\n";
  return true;
}
}  // namespace

kj::Own<Db> openStore(const Config& config) {
  std::filesystem::path dir(config.dataDir);
  if (!std::filesystem::exists(dir)) {
    std::filesystem::create_directories(dir);
    KJ_SYSCALL(chmod(dir.c_str(), 0700), config.dataDir);
  }
  DbOptions options;
  options.sync = config.sync;
  options.busyTimeoutMs = config.busyTimeoutMs;
  auto db = kj::heap<Db>(config.databasePath(), options);
  migrate(*db);
  return db;
}

int runTenantCreate(const Config& config, const Command& cmd, const Clock& clock, std::ostream& out,
                    std::ostream& err) {
  if (!isValidTenantId(cmd.tenantId)) {
    err << "tenantd: invalid tenant id: use 1-64 letters, digits, '_', '.', '-'\n";
    return 2;
  }
  if (refused(checkTenantFields({cmd.tenantName, cmd.plan, cmd.timezone}), err)) return 2;
  auto db = openStore(config);
  Catalog catalog(*db);
  Tenant tenant{cmd.tenantId, cmd.tenantName, cmd.plan, cmd.timezone, clock.now(), {}, {}, {}};
  applyLimits(cmd, tenant);
  if (catalog.createTenant(tenant) == Catalog::Created::ALREADY_EXISTS) {
    err << "tenantd: tenant " << cmd.tenantId << " already exists\n";
    return 1;
  }
  audit(*db, tenant.id, clock, "tenant.create", tenant.id);
  out << "created tenant " << tenant.id << " (" << tenant.name << ", plan " << tenant.plan << ")\n";
  return 0;
}

int runTenantUpdate(const Config& config, const Command& cmd, const Clock& clock, std::ostream& out,
                    std::ostream& err) {
  auto db = openStore(config);
  Catalog catalog(*db);
  auto tenant = catalog.findTenant(cmd.tenantId);
  if (!tenant) {
    err << "tenantd: no such tenant: " << cmd.tenantId << "\n";
    return 1;
  }
  if (!cmd.tenantName.empty()) tenant->name = cmd.tenantName;
  if (!cmd.plan.empty()) tenant->plan = cmd.plan;
  if (cmd.timezoneGiven) tenant->timezone = cmd.timezone;
  if (refused(checkTenantFields({tenant->name, tenant->plan, tenant->timezone}), err)) return 2;
  applyLimits(cmd, *tenant);
  catalog.updateTenant(*tenant);
  audit(*db, tenant->id, clock, "tenant.update", tenant->id);
  out << "updated tenant " << tenant->id << " (" << tenant->name << ", plan " << tenant->plan
      << ")\n";
  return 0;
}

int runTenantList(const Config& config, std::ostream& out) {
  auto db = openStore(config);
  Catalog catalog(*db);
  for (auto& t : catalog.listTenants()) {
    out << t.id << "\t" << t.plan << "\t" << formatIso8601(t.createdAtMs) << "\t" << t.name << "\n";
  }
  return 0;
}

int runTokenCreate(const Config& config, const Command& cmd, const Clock& clock, std::ostream& out,
                   std::ostream& err) {
  auto role = parseRole(cmd.role);
  KJ_ASSERT(role.has_value(), "the CLI validates --role");
  auto db = openStore(config);
  Catalog catalog(*db);
  auto token = createToken(catalog, cmd.tenantId, *role, cmd.ttlSeconds, clock.now());
  if (!token) {
    err << "tenantd: no such tenant: " << cmd.tenantId << "\n";
    return 1;
  }
  audit(*db, cmd.tenantId, clock, "token.create", token->record.id);
  out << "created token " << token->record.id << " for tenant " << cmd.tenantId << " (role "
      << cmd.role;
  if (cmd.ttlSeconds) out << ", expires " << formatIso8601(clock.now() + *cmd.ttlSeconds * 1000);
  out << "); it is shown once:\n" << token->issued.secret << "\n";
  return 0;
}

int runTokenRevoke(const Config& config, const Command& cmd, const Clock& clock, std::ostream& out,
                   std::ostream& err) {
  auto db = openStore(config);
  Catalog catalog(*db);
  auto tenant = catalog.tenantOfToken(cmd.tokenId);
  switch (catalog.revokeToken(cmd.tokenId, clock.now())) {
    case Catalog::Revoked::REVOKED:
      audit(*db, *tenant, clock, "token.revoke", cmd.tokenId);
      out << "revoked " << cmd.tokenId << "\n";
      return 0;
    case Catalog::Revoked::ALREADY_REVOKED:
      out << cmd.tokenId << " was already revoked\n";
      return 0;
    case Catalog::Revoked::NOT_FOUND:
      err << "tenantd: no such token: " << cmd.tokenId << "\n";
      return 1;
  }
  return 1;
}

int runCheckDb(const Config& config, Log& log, std::ostream& out, std::ostream& err) {
  if (!std::filesystem::exists(config.databasePath())) {
    err << "tenantd: no database at " << config.databasePath() << "\n";
    return 1;
  }
  DbOptions options;
  options.open = DbOptions::Open::READ_WRITE;  // Never creates; WAL readers need write access.
  options.busyTimeoutMs = config.busyTimeoutMs;
  Db db(config.databasePath(), options);
  Catalog catalog(db);
  auto problems = catalog.check();
  // Sealed rows are checked by opening them: a tampered row is healthy SQL.
  SecretStore secrets(db);
  size_t sealed = secrets.count();
  if (sealed > 0) {
    auto ring = loadKeyring(config, log);
    if (auto* e = std::get_if<KeyError>(&ring)) {
      problems.push_back(std::to_string(sealed) + " sealed secret(s) not opened: " + e->message);
    } else {
      for (auto& p : secrets.verify(std::get<Keyring>(ring))) {
        problems.push_back("secret " + p.tenantId + "/" + p.name + ": " + p.reason);
      }
    }
  }
  if (problems.empty()) {
    out << "ok: " << config.databasePath() << " (schema " << schemaVersion(db) << ", " << sealed
        << " sealed secret(s) opened)\n";
    return 0;
  }
  for (auto& p : problems) err << "check-db: " << p << "\n";
  return 1;
}

int runKeysGenerate(const Command& cmd, std::ostream& out, std::ostream& err) {
  if (auto e = generateKeyFile(cmd.keyFile)) {
    err << "tenantd: " << e->message << "\n";
    return 1;
  }
  auto key = readKeyFile(cmd.keyFile, true);
  out << "wrote " << cmd.keyFile << " (key " << std::get<0>(key)->id() << ", mode 0600)\n";
  return 0;
}

int runKeysRotate(const Config& config, const Command& cmd, Log& log, std::ostream& out,
                  std::ostream& err) {
  auto ring = loadKeyring(config, log);
  if (auto* e = std::get_if<KeyError>(&ring)) {
    err << "tenantd: " << e->message << "\n";
    return 1;
  }
  auto newKey = readKeyFile(cmd.keyFile, true);
  if (auto* e = std::get_if<KeyError>(&newKey)) {
    err << "tenantd: " << e->message << "\n";
    return 1;
  }
  auto& keyring = std::get<Keyring>(ring);
  std::string newId = std::get<std::unique_ptr<SecretKey>>(newKey)->id();
  // In the ring too, so rows already under the new key (a second run) open as well.
  keyring.addPrevious(std::move(std::get<std::unique_ptr<SecretKey>>(newKey)));
  const SecretKey& next = *keyring.find(newId);
  auto db = openStore(config);
  SecretStore store(*db);
  size_t resealed = 0;
  KJ_IF_MAYBE (e, kj::runCatchingExceptions([&]() { resealed = store.rotate(keyring, next); })) {
    err << "tenantd: rotation failed, nothing changed: " << e->getDescription().cStr() << "\n";
    return 1;
  }
  out << "re-sealed " << resealed << " secret(s) under key " << newId << ".\n"
      << "Next: make " << cmd.keyFile << " the key_file, keep the old key in previous_key_files, "
      << "reload tenantd, run this again to catch writes that raced with it, then run "
      << "`tenantd secrets verify` with only the new key.\n";
  return 0;
}

int runSecretsVerify(const Config& config, Log& log, std::ostream& out, std::ostream& err) {
  auto ring = loadKeyring(config, log);
  if (auto* e = std::get_if<KeyError>(&ring)) {
    err << "tenantd: " << e->message << "\n";
    return 1;
  }
  auto db = openStore(config);
  auto problems = SecretStore(*db).verify(std::get<Keyring>(ring));
  if (problems.empty()) {
    out << "ok: every secret opens\n";
    return 0;
  }
  for (auto& p : problems)
    err << "secrets: " << p.tenantId << "/" << p.name << ": " << p.reason << "\n";
  return 1;
}

}  // namespace tenantd
